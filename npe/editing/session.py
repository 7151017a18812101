"""The edit session: one photo being edited (original, face box, crop, latents, protect mask), its
undo history, and the events a view subscribes to. An evented document model: no Qt.

Conventions (every public method follows them):

* Images handed out are uint8 HxWx3 numpy arrays (read-only; copy before modifying).
* Positions and radii are in the *displayed photo's* pixels, continuous (pixel (0, 0) spans
  [0, 1) x [0, 1)), i.e. what the user sees in `result()`; the session maps them into the
  model's crop through the face box.
* Latents are float32 numpy arrays of shape (latent_dim,).
* Every user action that changes the document (a stroke, a latent change, a protect stroke,
  commit, reset, a new sample) is exactly one undo step; `grouped(label)` merges several calls
  (e.g. all scroll-wheel notches of one gesture, or a slider drag) into one.
* After each change the session calls its listeners (`session.events.connect(callback)`) with an
  event name, synchronously on the thread that made the change:
    "image"    result()/result_crop()/change_mask() changed: repaint
    "latent"   the current latent (10x10 grid, direction sliders) changed
    "protect"  the protect mask changed
    "source"   the original changed (photo, box, crop, reconstruction): new sample, commit, load
    "history"  the undo stack changed (labels, index, can_undo/can_redo, is_modified)
  One action may emit several names; "history" comes last.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from npe import __version__
from npe.data.convert import to_model, to_uint8
from npe.editing.brush import StrokeOptimizer, brush_weights, color_target, densify, lighten_target, parse_color
from npe.editing.compose import (
    MaskSettings,
    PreviewCompositor,
    box_rect,
    change_mask,
    crop_composite,
    crop_to_photo,
    feather_for,
    full_result,
    photo_to_crop,
)
from npe.editing.errors import SessionError
from npe.editing.gallery import sample_latent
from npe.editing.history import (
    ArrayStore,
    CommitRecord,
    CommitState,
    GroupRecord,
    History,
    LatentRecord,
    ProtectRecord,
    SourceRecord,
    SourceState,
)
from npe.editing.sessionfile import read_session, write_session

if TYPE_CHECKING:
    from npe.data.faces import CropBox
    from npe.editing.directions import Directions
    from npe.editing.gallery import Gallery
    from npe.model import IAN

_log = logging.getLogger(__name__)

EVENT_NAMES = ("image", "latent", "protect", "source", "history")

Color = tuple[int, int, int]
Point = tuple[float, float]


@dataclass(frozen=True)
class BrushSettings:
    """How the contextual paintbrush paints.

    ``color``: RGB 0-255. ``radius``: in photo pixels (the brush is a soft disc, full strength at
    its centre). ``strength``: scales the step size (1.0 = default; 0 paints nothing).
    ``steps``: gradient steps per brush position. ``prior_weight``: pull toward the latent the
    stroke started from (keeps edits near the photo; 0 = none).
    """

    color: Color = (255, 255, 255)
    radius: float = 8.0
    strength: float = 1.0
    steps: int = 1
    prior_weight: float = 0.05
    label: str = "Paint"  # the undo step's name

    def __post_init__(self) -> None:
        if not (isinstance(self.radius, (int, float)) and math.isfinite(self.radius) and self.radius > 0):
            raise SessionError(f"The brush radius must be a positive number of pixels, got {self.radius!r}.")
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise SessionError(f"The brush strength must be a number >= 0, got {self.strength!r}.")
        if not (isinstance(self.steps, int) and 1 <= self.steps <= 100):
            raise SessionError(f"Steps per brush position must be a whole number from 1 to 100, got {self.steps!r}.")
        if not (math.isfinite(self.prior_weight) and 0 <= self.prior_weight <= 1):
            raise SessionError(f"The brush's pull toward the photo must be between 0 and 1, got {self.prior_weight!r}.")


@dataclass(frozen=True)
class HistoryEntry:
    """One undo step as the history panel shows it."""

    label: str  # e.g. "Paint", "Lighten", "Protect", "Latent 17", "Direction 2", "Commit", "Reset", "Sample"
    index: int  # position in the stack, 0 = oldest


class SessionEvents:
    """A tiny observer list: ``connect(callback)``; callbacks get the event name (see module doc)."""

    def __init__(self) -> None:
        self._callbacks: list[tuple[Callable[[str], object], frozenset[str] | None]] = []
        self._blocked = 0

    def connect(self, callback: Callable[[str], object], names: Sequence[str] | None = None) -> Callable[[str], object]:
        """Call ``callback(name)`` after each change (only for ``names`` if given); returns callback."""
        if names is not None:
            unknown = set(names) - set(EVENT_NAMES)
            if unknown:
                raise ValueError(f"unknown event name(s) {sorted(unknown)}; known: {', '.join(EVENT_NAMES)}")
        self._callbacks.append((callback, frozenset(names) if names is not None else None))
        return callback

    def disconnect(self, callback: Callable[[str], object]) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored. Compared with ==, so a bound
        method (``self.on_event``, a new object at each access) disconnects as expected."""
        self._callbacks = [(cb, names) for cb, names in self._callbacks if cb != callback]

    def emit(self, *names: str) -> None:
        """Call the listeners for each name, in order (no duplicates)."""
        if self._blocked:
            return
        seen: list[str] = []
        for name in names:
            if name not in seen:
                seen.append(name)
        for name in seen:
            for callback, wanted in list(self._callbacks):
                if wanted is None or name in wanted:
                    try:
                        callback(name)
                    except Exception:  # noqa: BLE001 - a broken view must not undo a finished edit
                        _log.exception("event listener %r failed on %r", callback, name)

    @contextmanager
    def blocked(self) -> Iterator[None]:
        """No events inside the block (the caller emits a summary afterwards)."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1


class EditSession:
    """One photo being edited with an IAN. Create it with a ``from_*`` class method (or ``load``).

    The model is put in eval mode and its parameters stop requiring gradients (the brush only needs
    gradients with respect to z). Public methods are thread-safe (one lock), so a worker thread may
    paint while the GUI thread reads ``preview``/``result``.
    """

    model: IAN
    events: SessionEvents
    name: str  # what the session was opened from (file name, "sample 3", ...)

    def __init__(
        self,
        model: IAN,
        source: SourceState,
        *,
        directions: Directions | None = None,
        history: History | None = None,
        mask_settings: MaskSettings = MaskSettings(),
    ) -> None:
        """Low level: prefer the ``from_*`` class methods. ``directions`` None looks for the
        model's shipped directions file."""
        _prepare(model)
        self.model = model
        self.events = SessionEvents()
        self.mask_settings = mask_settings
        self._lock = threading.RLock()
        self._device = next(model.parameters()).device
        self._history = history if history is not None else History()
        self._stroke: _Stroke | None = None
        if directions is None:
            from npe.editing.directions import find_directions

            directions = find_directions(model)
        self._directions = self._check_directions(directions)
        self._set_source(source)

    # --- creation ------------------------------------------------------------------------
    @classmethod
    def from_photo(
        cls,
        model: IAN,
        photo: str | os.PathLike | np.ndarray,
        *,
        whole_image_if_no_face: bool = False,
        name: str | None = None,
        directions: Directions | None = None,
        box: CropBox | None = None,
    ) -> EditSession:
        """A photo of any size (path or uint8 HxWx3): the face is found, cropped and encoded.

        Raises ``npe.data.image_io.ImageLoadError`` for an unreadable file and
        ``npe.data.faces.NoFaceError`` when no face is found (unless ``whole_image_if_no_face``:
        then the largest centred square of the photo is the crop). ``box`` skips face finding and
        crops there (e.g. a box the user adjusted).
        """
        from npe.data import faces
        from npe.data.image_io import load_image

        if isinstance(photo, np.ndarray):
            image = _check_image(photo, "photo")
            label = name or "photo"
        else:
            image = load_image(photo)
            label = name or Path(os.fspath(photo)).name
        height, width = image.shape[:2]
        if box is None:
            try:
                box = faces.find_face(image)
            except faces.NoFaceError:
                if not whole_image_if_no_face:
                    raise
                box = faces.CropBox.whole_image(width, height)
        return cls(model, _photo_source(model, image, box, label), directions=directions)

    @classmethod
    def from_crop(
        cls, model: IAN, crop: np.ndarray, *, name: str = "face crop", directions: Directions | None = None
    ) -> EditSession:
        """An image that already is a face crop (any size; its largest centred square is used)."""
        from npe.data.faces import CropBox

        image = _check_image(crop, "face crop")
        box = CropBox.whole_image(image.shape[1], image.shape[0])
        return cls(model, _photo_source(model, image, box, name), directions=directions)

    @classmethod
    def from_latent(
        cls, model: IAN, latent: np.ndarray, *, name: str = "sample", directions: Directions | None = None
    ) -> EditSession:
        """A generated face: the photo is G(latent) at model resolution."""
        return cls(model, _sample_source(model, _check_latent(latent, model.config.latent_dim), name), directions=directions)

    @classmethod
    def random(cls, model: IAN, seed: int | None = None, *, directions: Directions | None = None) -> EditSession:
        """A random face z ~ N(0, I) (seeded when ``seed`` is given)."""
        seed = _fresh_seed() if seed is None else int(seed)
        return cls.from_latent(model, sample_latent(model, seed), name=f"random face (seed {seed})", directions=directions)

    @classmethod
    def from_gallery(
        cls, model: IAN, index: int, gallery: Gallery | None = None, *, directions: Directions | None = None
    ) -> EditSession:
        """Bundled sample face ``index`` (the model's gallery; seeded random faces if it has none)."""
        from npe.editing.gallery import find_gallery

        gallery = gallery if gallery is not None else find_gallery(model)
        if gallery.latent_dim != model.config.latent_dim:
            raise SessionError(f"This gallery is for a model with {gallery.latent_dim} latents, not {model.config.latent_dim}.")
        try:
            latent = gallery.latent(int(index))
        except IndexError as exc:
            raise SessionError(f"Cannot open sample {index}: {exc}.") from None
        return cls.from_latent(model, latent, name=f"sample {index}", directions=directions)

    @classmethod
    def load(cls, path: str | os.PathLike, model: IAN, *, directions: Directions | None = None) -> EditSession:
        """Reopen a session file written by ``save``. Raises SessionError if it is corrupt or made
        for a model with another latent size or resolution."""
        manifest, arrays = read_session(path)
        damaged = f"'{path}' is not a readable npe session file"
        dim, resolution = model.config.latent_dim, model.config.resolution
        made_for = manifest.get("model") if isinstance(manifest.get("model"), dict) else {}
        if made_for.get("latent_dim") not in (None, dim) or made_for.get("resolution") not in (None, resolution):
            raise SessionError(
                f"'{path}' was made with a model of {made_for.get('latent_dim')} latents at "
                f"{made_for.get('resolution')} px ('{made_for.get('name')}'); this model has {dim} latents at "
                f"{resolution} px. Open it with that model (--weights)."
            )
        store = ArrayStore(arrays)
        try:
            source = SourceState.from_state(manifest["source"], store)
            _check_source(source, dim, resolution)
            history = History.from_state(manifest["history"], store)
            shapes = {source.photo.shape[:2]} | {
                state.photo.shape[:2] for record in history.records for state in _source_states(record)
            }
            for record in history.records:
                _check_record(record, dim, resolution, shapes)
        except SessionError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SessionError(f"{damaged}: {exc}. It may be damaged.") from None
        session = cls(model, source, directions=directions, history=history)
        session._history.mark_clean()
        return session

    # --- state (read-only views) ---------------------------------------------------------
    @property
    def photo(self) -> np.ndarray:
        """The current original, full resolution (changes only on commit / sample / undo of those)."""
        return self._photo

    @property
    def photo_size(self) -> tuple[int, int]:
        """(width, height) of the photo in pixels."""
        return int(self._photo.shape[1]), int(self._photo.shape[0])

    @property
    def box(self) -> CropBox:
        """Where the face crop sits in the photo (photo pixels)."""
        return self._box

    @property
    def editable_rect(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the photo rectangle edits can change (the face box, clipped); a view
        only needs to repaint this part after an "image" event."""
        rect = box_rect(self._box, *self.photo_size)
        return rect if rect is not None else (0, 0, 0, 0)

    @property
    def is_sample(self) -> bool:
        """True for a generated face (no masking: the result is G(z) itself)."""
        return self._is_sample

    @property
    def resolution(self) -> int:
        """The model's image size R (the crop is R x R)."""
        return int(self.model.config.resolution)

    @property
    def latent_dim(self) -> int:
        return int(self.model.config.latent_dim)

    @property
    def default_radius(self) -> float:
        """A sensible brush radius for this photo: 1/16 of the face box, in photo pixels."""
        return max(1.0, self._box.size / 16)

    @property
    def crop(self) -> np.ndarray:
        """X: the original's face crop at model resolution, uint8 R x R x 3."""
        return self._crop

    @property
    def reconstruction(self) -> np.ndarray:
        """X̂ = G(z0), uint8 R x R x 3."""
        with self._lock:
            return _readonly(to_uint8(self._recon[0]))

    @property
    def generated(self) -> np.ndarray:
        """G(z) for the current latent, uint8 R x R x 3 (before masking)."""
        with self._lock:
            return _readonly(to_uint8(self._generated[0]))

    @property
    def latent0(self) -> np.ndarray:
        """z0 = E(X), the original's latent (posterior mean)."""
        return self._latent0

    @property
    def latent(self) -> np.ndarray:
        """The current latent z (a copy)."""
        with self._lock:
            return self._z[0].detach().cpu().numpy().copy()

    @property
    def protect_mask(self) -> np.ndarray:
        """bool H x W at photo resolution: True = this pixel never changes."""
        return self._protect

    def result(self) -> np.ndarray:
        """The edited photo at full resolution (uint8 HxWx3): original + upsampled M·Δ inside the
        face box, feathered at its border; pixels outside the change and protected pixels are
        bit-identical to the original. Cached until the latent or the protect mask changes."""
        with self._lock:
            if self._cache.get("result") is None:
                protect = self._protect if self._protect_any else None
                delta, mask = self._delta_mask()
                feather = feather_for(self.photo_size, self._box)
                self._cache["result"] = _readonly(full_result(self._photo, self._box, delta, mask, protect, feather))
            return self._cache["result"]

    def preview(self, scale: float = 1.0) -> np.ndarray:
        """What to draw while painting: the result at ``scale`` x photo size (uint8), computed fast
        over the face box only. Pixels outside the box and protected ones are exactly the (scaled)
        photo's; inside it may differ from ``result()`` by a level of interpolation. Cached."""
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale}")
        with self._lock:
            previews = self._cache.setdefault("preview", {})
            image = previews.get(scale)
            if image is None:
                delta, mask = self._delta_mask()
                image = previews[scale] = _readonly(self._compositor.render(delta, mask, scale))
            return image

    def result_crop(self) -> np.ndarray:
        """The masked composite at model resolution: Y = X + M·Δ (protect mask applied), uint8 RxRx3."""
        with self._lock:
            if self._cache.get("result_crop") is None:
                delta, mask = self._delta_mask()
                self._cache["result_crop"] = _readonly(crop_composite(self._crop, delta, mask, self._protect_crop()))
            return self._cache["result_crop"]

    def change_mask(self) -> np.ndarray:
        """M = min(gain·g(mean_c |Δ|), 1), float32 R x R in [0, 1] (all ones for a generated sample)."""
        with self._lock:
            return _readonly(self._delta_mask()[1].cpu().numpy().copy())

    def to_crop_coords(self, x: float, y: float) -> tuple[float, float]:
        """A photo position in model-crop pixels (continuous, may lie outside [0, R))."""
        u, v = photo_to_crop(self._box, self.resolution, x, y)
        return float(u), float(v)

    def to_photo_coords(self, u: float, v: float) -> tuple[float, float]:
        """A model-crop position in photo pixels."""
        x, y = crop_to_photo(self._box, self.resolution, u, v)
        return float(x), float(y)

    # --- paintbrush ----------------------------------------------------------------------
    def begin_stroke(
        self,
        brush: BrushSettings | Color | str | None = None,
        radius: float | None = None,
        strength: float | None = None,
        **settings: object,
    ) -> None:
        """Start a paint stroke with ``brush``: a BrushSettings, or just a colour ((r, g, b) or a
        string such as '#ff8800'), with ``radius`` (photo pixels) and ``strength``; any field may
        be overridden by keyword (color=, radius=, strength=, steps=, prior_weight=, label=).
        A stroke still in progress is ended first."""
        brush = _brush(brush, radius, strength, settings)
        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            start = self._z.detach().clone()
            optimizer = StrokeOptimizer(
                self._forward_with_graph, start, strength=brush.strength, prior_weight=brush.prior_weight, anchor=start
            )
            self._stroke = _Stroke(brush=brush, start=start, target=color_target(brush.color, self._device), optimizer=optimizer)

    @property
    def stroke_active(self) -> bool:
        return self._stroke is not None

    def stroke_to(self, x: float, y: float) -> None:
        """Move the brush to (x, y) (photo pixels): gradient step(s) on z toward the colour under the
        soft brush; emits "latent" and "image". Positions outside the photo raise SessionError."""
        with self._lock:
            stroke = self._stroke
            if stroke is None:
                raise SessionError("No stroke in progress: call begin_stroke() first.")
            self._check_position(x, y, "brush position")
            weights = self._brush_weights(x, y, stroke.brush.radius)
            if weights is None:
                return  # the brush lies wholly outside the face box: nothing it could change
            moved = False
            for _ in range(stroke.brush.steps):
                moved |= stroke.optimizer.step(weights, stroke.target).accepted
            if not moved:
                return
            # The optimizer's last forward pass is G(new z): shown now, differentiated next step.
            self._z = stroke.optimizer.latent
            self._generated = stroke.optimizer.image()
            self._invalidate()
        self.events.emit("latent", "image")

    def end_stroke(self) -> bool:
        """Finish the stroke: one undo step ("Paint"). Returns False if it changed nothing."""
        with self._lock:
            stroke, self._stroke = self._stroke, None
            if stroke is None:
                return False
            before = stroke.start[0].cpu().numpy()
            # Canonical image of the final z (the stroke's images came from graph-building passes).
            return self._commit_latent(before, self._z[0].cpu().numpy(), stroke.brush.label, always_redraw=True)

    def cancel_stroke(self) -> None:
        """Abandon the stroke in progress and restore the latent it started from (no undo step)."""
        with self._lock:
            stroke, self._stroke = self._stroke, None
            if stroke is None:
                return
            self._set_latent_tensor(stroke.start)
        self.events.emit("latent", "image")

    def paint(
        self,
        points: Sequence[Point],
        brush: BrushSettings | Color | str | None = None,
        radius: float | None = None,
        strength: float | None = None,
        **settings: object,
    ) -> bool:
        """A whole stroke in one call: begin_stroke, stroke_to each point, end_stroke (arguments as
        for begin_stroke). Every point is checked before anything is painted. True if it changed z."""
        for x, y in points:
            self._check_position(x, y, "stroke point")
        brush = _brush(brush, radius, strength, settings)
        with self._lock:
            self.begin_stroke(brush)
            try:
                for x, y in points:
                    self.stroke_to(x, y)
            except BaseException:
                self.cancel_stroke()
                raise
            return self.end_stroke()

    def lighten(self, x: float, y: float, amount: float, radius: float, *, steps: int = 3) -> bool:
        """Brighten (amount > 0) or darken (< 0) under a soft brush at (x, y): the target is the current
        G(z) shifted by ``amount`` (in [0, 1] brightness units, e.g. ±0.1 per wheel notch). One undo
        step per call; wrap a gesture's calls in ``grouped("Lighten")`` for one step per gesture."""
        if not math.isfinite(amount) or not radius > 0 or steps < 1:
            raise SessionError(f"lighten needs a finite amount, a positive radius and steps >= 1, got {amount}, {radius}, {steps}")
        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            self._check_position(x, y, "brush position")
            weights = self._brush_weights(x, y, radius)
            if weights is None or amount == 0:
                return False
            start = self._z.detach().clone()
            target = lighten_target(self._generated, amount)
            optimizer = StrokeOptimizer(self._forward_with_graph, start)
            for _ in range(steps):
                optimizer.step(weights, target)
            latent = optimizer.latent
            label = "Lighten" if amount > 0 else "Darken"
            return self._commit_latent(start[0].cpu().numpy(), latent[0].cpu().numpy(), label)

    def paint_protect(self, points: Sequence[Point], radius: float, *, erase: bool = False) -> bool:
        """Add (or with ``erase`` remove) discs of ``radius`` along ``points`` to the protect mask
        (photo pixels). One undo step. Returns False if the mask did not change."""
        if not radius > 0 or not math.isfinite(radius):
            raise SessionError(f"The protect brush radius must be a positive number of pixels, got {radius}.")
        points = [(float(x), float(y)) for x, y in points]
        for x, y in points:
            self._check_position(x, y, "protect point")
        if not points:
            return False
        with self._lock:
            width, height = self.photo_size
            dense = densify(points, max(0.5, radius / 3))
            xs = np.array([p[0] for p in dense])
            ys = np.array([p[1] for p in dense])
            x0, x1 = max(0, math.floor(xs.min() - radius)), min(width, math.ceil(xs.max() + radius))
            y0, y1 = max(0, math.floor(ys.min() - radius)), min(height, math.ceil(ys.max() + radius))
            before = self._protect[y0:y1, x0:x1]
            after = before.copy()
            for x, y in dense:
                # Pixels whose centre lies inside the disc.
                cx0, cx1 = max(x0, math.floor(x - radius)), min(x1, math.ceil(x + radius))
                cy0, cy1 = max(y0, math.floor(y - radius)), min(y1, math.ceil(y + radius))
                cols = np.arange(cx0, cx1) + 0.5 - x
                rows = np.arange(cy0, cy1) + 0.5 - y
                disc = rows[:, None] ** 2 + cols[None, :] ** 2 <= radius * radius
                after[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0][disc] = not erase
            if np.array_equal(before, after):
                return False
            record = ProtectRecord.from_regions("Unprotect" if erase else "Protect", (x0, y0, x1, y1), before, after)
            self._restore_protect((x0, y0, x1, y1), after)
            self._history.push(record)
        self.events.emit("protect", "image", "history")
        return True

    def clear_protect(self) -> bool:
        """Remove the whole protect mask (one undo step)."""
        with self._lock:
            if not self._protect_any:
                return False
            rows = np.flatnonzero(self._protect.any(axis=1))
            cols = np.flatnonzero(self._protect.any(axis=0))
            rect = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
            before = self._protect[rect[1] : rect[3], rect[0] : rect[2]]
            after = np.zeros_like(before)
            self._history.push(ProtectRecord.from_regions("Clear protect", rect, before, after))
            self._restore_protect(rect, after)
        self.events.emit("protect", "image", "history")
        return True

    # --- latent edits --------------------------------------------------------------------
    def set_latent_value(self, index: int, value: float) -> None:
        """Set one latent coordinate (the 10x10 grid). One undo step."""
        if not 0 <= int(index) < self.latent_dim:
            raise SessionError(f"Latent {index} does not exist; there are {self.latent_dim} (0-{self.latent_dim - 1}).")
        if not math.isfinite(value):
            raise SessionError(f"A latent value must be a finite number, got {value}.")
        with self._lock:
            latent = self.latent
            latent[int(index)] = value
            self.set_latent(latent, f"Latent {int(index)}")

    def set_latent(self, latent: np.ndarray, label: str = "Latent") -> None:
        """Replace the whole current latent. One undo step."""
        latent = _check_latent(latent, self.latent_dim)
        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            self._commit_latent(self.latent, latent, label)

    @property
    def directions(self) -> Directions | None:
        """Principal directions for the sliders (None if the model ships none)."""
        return self._directions

    @directions.setter
    def directions(self, directions: Directions | None) -> None:
        self._directions = self._check_directions(directions)
        self.events.emit("latent")

    def direction_values(self) -> np.ndarray:
        """The current latent's coordinate along each direction, in standard deviations (slider values)."""
        if self._directions is None:
            return np.zeros(0, dtype=np.float32)
        return self._directions.values(self.latent)

    def set_direction(self, k: int, value: float) -> None:
        """Move z along direction ``k`` so its coordinate there is ``value`` standard deviations
        (other directions unchanged). One undo step."""
        if self._directions is None:
            raise SessionError(
                "This model has no principal directions (NAME.directions.safetensors beside its weights); "
                "create them with 'python -m npe.editing.directions --weights W --data ARCHIVE'."
            )
        if not 0 <= int(k) < len(self._directions):
            raise SessionError(f"Direction {k} does not exist; there are {len(self._directions)} (0-{len(self._directions) - 1}).")
        if not math.isfinite(value):
            raise SessionError(f"A direction value must be a finite number, got {value}.")
        with self._lock:
            self.set_latent(self._directions.moved(self.latent, int(k), float(value)), f"Direction {int(k)}")

    def commit(self) -> bool:
        """"Update": the current result becomes the new original (re-cropped and re-encoded); the
        protect mask stays. One undo step. Returns False if there was nothing to commit."""
        from npe.data.faces import crop_face

        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            result = self.result()
            changed = np.any(result != self._photo, axis=2)
            latent = self.latent
            if not changed.any() and np.array_equal(latent, self._latent0):
                return False
            before = CommitState(self._crop, self._latent0, latent)
            if changed.any():
                rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
                rect = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
            else:
                rect = (0, 0, 0, 0)
            x0, y0, x1, y1 = rect
            region_before = self._photo[y0:y1, x0:x1].copy()
            region_after = result[y0:y1, x0:x1].copy()
            if self._is_sample:
                # A generated face stays one: its photo is (the rounding of) G(z), so z itself is z0.
                new_crop, new_latent0 = result, latent
            else:
                new_crop = crop_face(result, self._box, self.resolution)
                new_latent0 = _encode(self.model, new_crop)
            after = CommitState(_readonly(np.ascontiguousarray(new_crop)), _readonly(new_latent0), _readonly(new_latent0.copy()))
            record = CommitRecord("Commit", rect, _readonly(region_before), _readonly(region_after), before, after)
            record.redo(self)
            self._history.push(record)
        self.events.emit("source", "latent", "image", "history")
        return True

    def reset(self) -> bool:
        """Back to the original's latent z0 (discards uncommitted edits). One undo step."""
        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            return self._commit_latent(self.latent, self._latent0, "Reset")

    def new_sample(self, seed: int | None = None, latent: np.ndarray | None = None) -> None:
        """Replace the document with a random face (or the face of ``latent``). One undo step."""
        if latent is None:
            seed = _fresh_seed() if seed is None else int(seed)
            latent = sample_latent(self.model, seed)
            name = f"random face (seed {seed})"
        else:
            latent = _check_latent(latent, self.latent_dim)
            name = "sample"
        with self._lock:
            self._replace(_sample_source(self.model, latent, name), "Sample")

    def replace_source(self, other: EditSession, label: str = "Open") -> None:
        """Take over ``other``'s original (photo, box, crop, latents, protect mask) as one undo step,
        e.g. when the user picks another gallery face in the same window."""
        if other.latent_dim != self.latent_dim or other.resolution != self.resolution:
            raise SessionError("Cannot take over a session made with a different model.")
        with self._lock:
            self._replace(other._snapshot(), label)

    # --- history -------------------------------------------------------------------------
    def undo(self) -> bool:
        with self._lock:
            if self._history.grouping:
                raise RuntimeError("undo() inside grouped(): close the group first")
            if self._stroke is not None:
                self.end_stroke()
            record = self._history.undo()
            if record is None:
                return False
            record.undo(self)
        self.events.emit(*_record_events(record), "history")
        return True

    def redo(self) -> bool:
        with self._lock:
            if self._history.grouping:
                raise RuntimeError("redo() inside grouped(): close the group first")
            if self._stroke is not None:
                self.end_stroke()
            record = self._history.redo()
            if record is None:
                return False
            record.redo(self)
        self.events.emit(*_record_events(record), "history")
        return True

    @property
    def can_undo(self) -> bool:
        return self._history.can_undo

    @property
    def can_redo(self) -> bool:
        return self._history.can_redo

    @property
    def history(self) -> list[HistoryEntry]:
        """All steps, oldest first (undone steps included, after ``history_index``)."""
        return [HistoryEntry(label, index) for index, label in enumerate(self._history.labels)]

    @property
    def history_labels(self) -> list[str]:
        return self._history.labels

    @property
    def history_index(self) -> int:
        """How many steps are applied (0 = none; len(history) = all)."""
        return self._history.index

    @property
    def history_limit(self) -> int:
        """The most steps kept; older ones fall off."""
        return self._history.limit

    @property
    def history_nbytes(self) -> int:
        """Memory held by the undo records (photos shared with the document not counted)."""
        return self._history.nbytes

    def jump_to(self, index: int) -> None:
        """Undo or redo until ``history_index == index``."""
        if not 0 <= index <= len(self._history.records):
            raise SessionError(f"History step {index} does not exist (0-{len(self._history.records)}).")
        names: list[str] = []
        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            with self.events.blocked():
                while self._history.index > index:
                    record = self._history.undo()
                    record.undo(self)  # type: ignore[union-attr]
                    names += _record_events(record)
                while self._history.index < index:
                    record = self._history.redo()
                    record.redo(self)  # type: ignore[union-attr]
                    names += _record_events(record)
        self.events.emit(*names, "history")

    @contextmanager
    def grouped(self, label: str) -> Iterator[None]:
        """Everything done inside the block is one undo step called ``label`` (begin_group/end_group)."""
        self.begin_group(label)
        try:
            yield
        finally:
            self.end_group()

    def begin_group(self, label: str) -> None:
        """Start merging steps into one called ``label`` until ``end_group`` (e.g. from a slider's
        press to its release: a drag of a hundred moves is one step, stored as one latent pair).
        Groups nest; undo/redo are refused while one is open."""
        with self._lock:
            self._history.begin_group(label)

    def end_group(self) -> None:
        with self._lock:
            if not self._history.grouping:
                raise RuntimeError("end_group() without begin_group()")
            if self._stroke is not None:
                self.end_stroke()
            self._history.end_group()
            done = not self._history.grouping
        if done:
            self.events.emit("history")

    @property
    def is_modified(self) -> bool:
        """True if the document differs from when it was last saved/exported (or opened)."""
        return not self._history.is_clean

    def mark_clean(self) -> None:
        self._history.mark_clean()
        self.events.emit("history")

    # --- files ---------------------------------------------------------------------------
    def export_png(self, path: str | os.PathLike, *, crop_only: bool = False) -> Path:
        """Write the full-resolution result (or with ``crop_only`` the model-resolution composite) as
        a PNG, atomically, with the edit in its text metadata. Marks the session clean. Raises
        ``npe.data.image_io.ImageSaveError`` (any old file is left intact)."""
        from npe.data.image_io import save_png

        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            image = self.result_crop() if crop_only else self.result()
            metadata = self.metadata()
            if crop_only:
                metadata["npe-image"] = f"model-resolution crop ({self.resolution}x{self.resolution})"
            save_png(path, image, metadata)
            self._history.mark_clean()
        self.events.emit("history")
        return Path(path)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the session (original photo, box, latents, protect mask, history) to one file
        (a zip, conventionally ``*.npe``), atomically. Marks the session clean. Raises SessionError
        with a readable reason if it cannot be written (any old file is left intact)."""
        with self._lock:
            if self._stroke is not None:
                self.end_stroke()
            store = ArrayStore()
            document = {
                "software": f"npe {__version__}",
                "model": {"name": _model_name(self.model), "latent_dim": self.latent_dim, "resolution": self.resolution},
                "source": self._snapshot().to_state(store),
                "history": self._history.to_state(store),
            }
            try:
                written = write_session(path, document, store.arrays)
            except OSError as exc:
                raise SessionError(f"Could not save the session to '{path}': {exc.strerror or exc}. Choose another location.") from exc
            self._history.mark_clean()
        self.events.emit("history")
        return written

    def metadata(self) -> dict[str, str]:
        """What export_png writes into the PNG text chunks."""
        with self._lock:
            latent = self.latent
            change = latent - self._latent0
            largest = np.argsort(-np.abs(change))[:5]
            summary = {
                "norm": round(float(np.linalg.norm(latent)), 4),
                "change_norm": round(float(np.linalg.norm(change)), 4),
                "largest_changes": [[int(i), round(float(change[i]), 4)] for i in largest if change[i] != 0],
            }
            applied = self._history.labels[: self._history.index]
            edits = "; ".join(applied)
            if len(edits) > 2000:
                edits = edits[:2000] + " ..."
            return {
                "Software": f"npe {__version__}",
                "Source": self.name,
                "npe-model": _model_name(self.model),
                "npe-steps": str(len(applied)),
                "npe-edits": edits,
                "npe-latent": json.dumps(summary),
                "npe-box": json.dumps({k: round(v, 3) for k, v in self._box.to_dict().items()}),
            }

    # --- internals -----------------------------------------------------------------------
    def _set_source(self, source: SourceState) -> None:
        from npe.data.faces import CropBox

        self._cache: dict[str, object] = {}
        self._photo = source.photo
        self._box = CropBox.from_dict(source.box)
        self._crop = source.crop
        self._latent0 = source.latent0
        self._is_sample = source.is_sample
        self.name = source.name
        height, width = self._photo.shape[:2]
        self._protect = source.protect if source.protect is not None else _readonly(np.zeros((height, width), dtype=bool))
        self._protect_any = bool(self._protect.any())
        self._recon = self._decode(self._latent0)
        self._compositor = PreviewCompositor(self._photo, self._box, self.resolution, feather_for(self.photo_size, self._box))
        self._compositor.set_protect(self._protect if self._protect_any else None)
        self._set_latent_tensor(torch.from_numpy(np.array(source.latent, dtype=np.float32))[None].to(self._device))

    def _snapshot(self) -> SourceState:
        return SourceState(
            photo=self._photo, box=self._box.to_dict(), crop=self._crop, latent0=self._latent0,
            latent=_readonly(self.latent), protect=self._protect if self._protect_any else None,
            is_sample=self._is_sample, name=self.name,
        )

    def _replace(self, source: SourceState, label: str) -> None:
        if self._stroke is not None:
            self.end_stroke()
        record = SourceRecord(label, self._snapshot(), source)
        record.redo(self)
        self._history.push(record)
        self.events.emit("source", "latent", "protect", "image", "history")

    def _decode(self, latent: np.ndarray | torch.Tensor) -> torch.Tensor:
        tensor = torch.as_tensor(np.array(latent, dtype=np.float32) if isinstance(latent, np.ndarray) else latent)
        tensor = tensor.reshape(1, -1).to(self._device, torch.float32)
        with torch.no_grad():
            return self.model.decode(tensor)

    def _forward_with_graph(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        leaf = latent.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            return leaf, self.model.decode(leaf)

    def _set_latent_tensor(self, latent: torch.Tensor) -> None:
        self._z = latent.detach().clone().reshape(1, -1)
        self._generated = self._decode(self._z)
        self._invalidate()

    def _commit_latent(self, before: np.ndarray, after: np.ndarray, label: str, *, always_redraw: bool = False) -> bool:
        """Make ``after`` the current latent with an undo step from ``before``; False if equal."""
        before = _readonly(np.array(before, dtype=np.float32))
        after = _readonly(np.array(after, dtype=np.float32))
        if np.array_equal(before, after):
            if always_redraw:  # a stroke that ended where it began: show the canonical image again
                self._restore_latent(after)
                self.events.emit("latent", "image")
            return False
        record = LatentRecord(label, before, after)
        record.redo(self)
        self._history.push(record)
        self.events.emit("latent", "image", "history")
        return True

    def _invalidate(self) -> None:
        self._cache = {"protect_crop": getattr(self, "_cache", {}).get("protect_crop")}

    def _delta_mask(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._cache.get("delta") is None:
            delta = (self._generated - self._recon).detach()
            if self._is_sample:
                mask = torch.ones(delta.shape[-2:], device=delta.device)
            else:
                mask = change_mask(delta, self.mask_settings)
            self._cache["delta"], self._cache["mask"] = delta.cpu(), mask.cpu()
        return self._cache["delta"], self._cache["mask"]

    def _protect_crop(self) -> np.ndarray | None:
        """The protect mask at model resolution (float R x R; 1 = fully protected), or None."""
        if not self._protect_any:
            return None
        if self._cache.get("protect_crop") is None:
            from npe.data.faces import crop_face

            planes = np.repeat((self._protect.astype(np.uint8) * 255)[..., None], 3, axis=2)
            coverage = crop_face(planes, self._box, self.resolution)[..., 0].astype(np.float32) / 255.0
            self._cache["protect_crop"] = coverage
        return self._cache["protect_crop"]

    def _brush_weights(self, x: float, y: float, radius: float) -> torch.Tensor | None:
        u, v = self.to_crop_coords(x, y)
        weights = brush_weights(self.resolution, u, v, radius * self.resolution / self._box.size)
        if not bool(weights.any()):
            return None
        return weights.to(self._device)

    def _check_position(self, x: float, y: float, what: str) -> None:
        width, height = self.photo_size
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= width and 0 <= y <= height):
            raise SessionError(f"The {what} ({x:g}, {y:g}) is outside the image ({width}x{height} pixels).")

    def _check_directions(self, directions: Directions | None) -> Directions | None:
        if directions is not None and directions.latent_dim != self.model.config.latent_dim:
            raise SessionError(f"These directions are for a model with {directions.latent_dim} latents, not {self.model.config.latent_dim}.")
        return directions

    # restore hooks for history records
    def _restore_latent(self, latent: np.ndarray) -> None:
        self._set_latent_tensor(torch.from_numpy(np.array(latent, dtype=np.float32))[None].to(self._device))

    def _restore_protect(self, rect: tuple[int, int, int, int], values: np.ndarray) -> None:
        x0, y0, x1, y1 = rect
        protect = self._protect.copy()  # never modified in place: records and snapshots share masks
        protect[y0:y1, x0:x1] = values
        self._protect = _readonly(protect)
        self._protect_any = bool(protect.any())
        self._compositor.set_protect(protect if self._protect_any else None)
        self._cache = {}

    def _restore_source(self, source: SourceState) -> None:
        self._set_source(source)

    def _restore_commit(self, state: CommitState, rect: tuple[int, int, int, int], region: np.ndarray) -> None:
        x0, y0, x1, y1 = rect
        photo = self._photo.copy()
        photo[y0:y1, x0:x1] = region
        self._set_source(SourceState(
            photo=photo, box=self._box.to_dict(), crop=state.crop, latent0=state.latent0, latent=state.latent,
            protect=self._protect if self._protect_any else None, is_sample=self._is_sample, name=self.name,
        ))


# --- helpers ------------------------------------------------------------------------------


@dataclass
class _Stroke:
    brush: BrushSettings
    start: torch.Tensor
    target: torch.Tensor
    optimizer: StrokeOptimizer


def _prepare(model: IAN) -> None:
    """Eval mode (batch norm uses its running statistics) and no parameter gradients."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)


def _readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _fresh_seed() -> int:
    return secrets.randbits(31)


def _model_name(model: IAN) -> str:
    name = getattr(model, "name", None)
    return name if isinstance(name, str) and name else "unnamed model"


def _brush(
    brush: BrushSettings | Color | str | None, radius: float | None, strength: float | None, settings: dict[str, object]
) -> BrushSettings:
    if brush is not None and not isinstance(brush, BrushSettings):
        settings = dict(settings, color=brush)
        brush = None
    if radius is not None:
        settings = dict(settings, radius=radius)
    if strength is not None:
        settings = dict(settings, strength=strength)
    brush = brush or BrushSettings()
    unknown = set(settings) - {f.name for f in fields(BrushSettings)}
    if unknown:
        raise TypeError(f"unknown brush setting(s): {', '.join(sorted(unknown))}")
    if "color" in settings:
        settings = dict(settings, color=parse_color(settings["color"]))  # type: ignore[arg-type]
    brush = replace(brush, **settings)  # type: ignore[arg-type]
    return replace(brush, color=parse_color(brush.color))


def _check_image(image: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise SessionError(f"The {what} must be a uint8 H x W x 3 RGB image, got {getattr(image, 'dtype', type(image))} {getattr(image, 'shape', '')}.")
    return _readonly(np.array(image))


def _check_latent(latent: np.ndarray, dim: int) -> np.ndarray:
    array = np.array(latent, dtype=np.float32).reshape(-1)
    if array.size != dim:
        raise SessionError(f"A latent for this model has {dim} values, got {array.size}.")
    if not np.isfinite(array).all():
        raise SessionError("A latent must contain only finite numbers.")
    return array


def _encode(model: IAN, crop: np.ndarray) -> np.ndarray:
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.encode(to_model(np.ascontiguousarray(crop)).to(device))[0].float().cpu().numpy()


def _photo_source(model: IAN, photo: np.ndarray, box: CropBox, name: str) -> SourceState:
    from npe.data.faces import crop_face

    _prepare(model)
    crop = crop_face(photo, box, model.config.resolution)
    latent0 = _encode(model, crop)
    return SourceState(photo=photo, box=box.to_dict(), crop=crop, latent0=latent0, latent=latent0.copy(), protect=None, is_sample=False, name=name)


def _sample_source(model: IAN, latent: np.ndarray, name: str) -> SourceState:
    from npe.data.faces import CropBox

    _prepare(model)
    device = next(model.parameters()).device
    with torch.no_grad():
        photo = to_uint8(model.decode(torch.from_numpy(latent)[None].to(device)))[0]
    resolution = model.config.resolution
    box = CropBox.whole_image(resolution, resolution)
    return SourceState(photo=photo, box=box.to_dict(), crop=photo, latent0=latent, latent=latent.copy(), protect=None, is_sample=True, name=name)


def _record_events(record: object) -> list[str]:
    if isinstance(record, LatentRecord):
        return ["latent", "image"]
    if isinstance(record, ProtectRecord):
        return ["protect", "image"]
    if isinstance(record, GroupRecord):
        return [name for child in record.records for name in _record_events(child)]
    return ["source", "latent", "protect", "image"]


def _check_source(source: SourceState, dim: int, resolution: int) -> None:
    from npe.data.faces import CropBox

    CropBox.from_dict(source.box)
    if source.latent0.size != dim or source.latent.size != dim:
        raise ValueError(f"latents of size {source.latent0.size}, the model has {dim}")
    if source.crop.shape != (resolution, resolution, 3):
        raise ValueError(f"a crop of shape {source.crop.shape}, the model needs {resolution}x{resolution}")
    if source.protect is not None and source.protect.shape != source.photo.shape[:2]:
        raise ValueError("a protect mask that does not match its photo")


def _source_states(record: object) -> list[SourceState]:
    if isinstance(record, SourceRecord):
        return [record.before, record.after]
    if isinstance(record, GroupRecord):
        return [state for child in record.records for state in _source_states(child)]
    return []


def _check_record(record: object, dim: int, resolution: int, photo_shapes: set[tuple[int, ...]]) -> None:
    """Reject records that could not be undone or redone (a damaged file must fail at open, not later)."""
    if isinstance(record, LatentRecord):
        if record.before.size != dim or record.after.size != dim:
            raise ValueError("a history step with latents of the wrong size")
    elif isinstance(record, GroupRecord):
        for child in record.records:
            _check_record(child, dim, resolution, photo_shapes)
    elif isinstance(record, SourceRecord):
        _check_source(record.before, dim, resolution)
        _check_source(record.after, dim, resolution)
    elif isinstance(record, (ProtectRecord, CommitRecord)):
        x0, y0, x1, y1 = record.rect
        # Photos change size only through source records, so the rectangle must fit one of them.
        if not any(x1 <= shape[1] and y1 <= shape[0] for shape in photo_shapes):
            raise ValueError("a history step outside the photo")
        if isinstance(record, CommitRecord):
            for state in (record.before, record.after):
                if state.latent0.size != dim or state.latent.size != dim or state.crop.shape != (resolution, resolution, 3):
                    raise ValueError("a commit step that does not fit this model")
