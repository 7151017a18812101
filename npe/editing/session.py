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

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from npe.data.faces import CropBox
    from npe.editing.directions import Directions
    from npe.editing.gallery import Gallery
    from npe.model import IAN

EVENT_NAMES = ("image", "latent", "protect", "source", "history")

Color = tuple[int, int, int]
Point = tuple[float, float]


class SessionError(ValueError):
    """A request the session cannot honour (bad colour, position outside the photo, corrupt session
    file...); the message is fit for a dialog or a one-line CLI error."""


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
        """Stop calling ``callback``; unknown callbacks are ignored."""
        self._callbacks = [(cb, names) for cb, names in self._callbacks if cb is not callback]

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
                    callback(name)

    @contextmanager
    def blocked(self) -> Iterator[None]:
        """No events inside the block (the caller emits a summary afterwards)."""
        self._blocked += 1
        try:
            yield
        finally:
            self._blocked -= 1


class EditSession:
    """One photo being edited with an IAN. Create it with a ``from_*`` class method."""

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
    ) -> EditSession:
        """A photo of any size (path or uint8 HxWx3): the face is found, cropped and encoded.

        Raises ``npe.data.image_io.ImageLoadError`` for an unreadable file and
        ``npe.data.faces.NoFaceError`` when no face is found (unless ``whole_image_if_no_face``:
        then the largest centred square of the photo is the crop).
        """
        raise NotImplementedError

    @classmethod
    def from_crop(
        cls, model: IAN, crop: np.ndarray, *, name: str = "face crop", directions: Directions | None = None
    ) -> EditSession:
        """An image that already is a face crop (any size; its largest centred square is used)."""
        raise NotImplementedError

    @classmethod
    def from_latent(
        cls, model: IAN, latent: np.ndarray, *, name: str = "sample", directions: Directions | None = None
    ) -> EditSession:
        """A generated face: the photo is G(latent) at model resolution."""
        raise NotImplementedError

    @classmethod
    def random(cls, model: IAN, seed: int | None = None, *, directions: Directions | None = None) -> EditSession:
        """A random face z ~ N(0, I) (seeded when ``seed`` is given)."""
        raise NotImplementedError

    @classmethod
    def from_gallery(
        cls, model: IAN, index: int, gallery: Gallery | None = None, *, directions: Directions | None = None
    ) -> EditSession:
        """Bundled sample face ``index`` (the model's gallery; seeded random faces if it has none)."""
        raise NotImplementedError

    @classmethod
    def load(cls, path: str | os.PathLike, model: IAN, *, directions: Directions | None = None) -> EditSession:
        """Reopen a session file written by ``save``. Raises SessionError if it is corrupt or made
        for a model with another latent size."""
        raise NotImplementedError

    # --- state (read-only views) ---------------------------------------------------------
    model: IAN
    events: SessionEvents
    name: str  # what the session was opened from (file name, "sample 3", ...)

    @property
    def photo(self) -> np.ndarray:
        """The current original, full resolution (changes only on commit / sample / undo of those)."""
        raise NotImplementedError

    @property
    def photo_size(self) -> tuple[int, int]:
        """(width, height) of the photo in pixels."""
        raise NotImplementedError

    @property
    def box(self) -> CropBox:
        """Where the face crop sits in the photo (photo pixels)."""
        raise NotImplementedError

    @property
    def resolution(self) -> int:
        """The model's image size R (the crop is R x R)."""
        raise NotImplementedError

    @property
    def latent_dim(self) -> int:
        raise NotImplementedError

    @property
    def crop(self) -> np.ndarray:
        """X: the original's face crop at model resolution, uint8 R x R x 3."""
        raise NotImplementedError

    @property
    def reconstruction(self) -> np.ndarray:
        """X̂ = G(z0), uint8 R x R x 3."""
        raise NotImplementedError

    @property
    def generated(self) -> np.ndarray:
        """G(z) for the current latent, uint8 R x R x 3 (before masking)."""
        raise NotImplementedError

    @property
    def latent0(self) -> np.ndarray:
        """z0 = E(X), the original's latent (posterior mean)."""
        raise NotImplementedError

    @property
    def latent(self) -> np.ndarray:
        """The current latent z."""
        raise NotImplementedError

    @property
    def protect_mask(self) -> np.ndarray:
        """bool H x W at photo resolution: True = this pixel never changes."""
        raise NotImplementedError

    def result(self) -> np.ndarray:
        """The edited photo at full resolution (uint8 HxWx3): original + upsampled M·Δ inside the
        face box, feathered at its border; pixels outside the change and protected pixels are
        bit-identical to the original. Cached until the latent or the protect mask changes."""
        raise NotImplementedError

    def result_crop(self) -> np.ndarray:
        """The masked composite at model resolution: Y = X + M·Δ (protect mask applied), uint8 RxRx3."""
        raise NotImplementedError

    def change_mask(self) -> np.ndarray:
        """M = min(scale·g(mean_c |Δ|), 1), float32 R x R in [0, 1] (0 where nothing changes)."""
        raise NotImplementedError

    def to_crop_coords(self, x: float, y: float) -> tuple[float, float]:
        """A photo position in model-crop pixels (continuous, may lie outside [0, R))."""
        raise NotImplementedError

    def to_photo_coords(self, u: float, v: float) -> tuple[float, float]:
        """A model-crop position in photo pixels."""
        raise NotImplementedError

    # --- paintbrush ----------------------------------------------------------------------
    def begin_stroke(self, brush: BrushSettings | None = None, **settings: object) -> None:
        """Start a paint stroke with ``brush`` (fields may be overridden by keyword: color=, radius=,
        strength=, steps=, prior_weight=). ``color`` may also be a string such as '#ff8800'."""
        raise NotImplementedError

    def stroke_to(self, x: float, y: float) -> None:
        """Move the brush to (x, y) (photo pixels): gradient step(s) on z toward the colour under the
        soft brush; emits "latent" and "image". Positions outside the photo raise SessionError."""
        raise NotImplementedError

    def end_stroke(self) -> bool:
        """Finish the stroke: one undo step ("Paint"). Returns False if it changed nothing."""
        raise NotImplementedError

    def cancel_stroke(self) -> None:
        """Abandon the stroke in progress and restore the latent it started from (no undo step)."""
        raise NotImplementedError

    @property
    def stroke_active(self) -> bool:
        raise NotImplementedError

    def paint(self, points: Sequence[Point], brush: BrushSettings | None = None, **settings: object) -> bool:
        """A whole stroke in one call: begin_stroke, stroke_to each point, end_stroke."""
        raise NotImplementedError

    def lighten(self, x: float, y: float, amount: float, radius: float, *, steps: int = 3) -> bool:
        """Brighten (amount > 0) or darken (< 0) under a soft brush at (x, y): the target is the current
        G(z) shifted by ``amount`` (in [0, 1] brightness units, e.g. ±0.1 per wheel notch). One undo
        step per call; wrap a gesture's calls in ``grouped("Lighten")`` for one step per gesture."""
        raise NotImplementedError

    def paint_protect(self, points: Sequence[Point], radius: float, *, erase: bool = False) -> bool:
        """Add (or with ``erase`` remove) discs of ``radius`` along ``points`` to the protect mask
        (photo pixels). One undo step. Returns False if the mask did not change."""
        raise NotImplementedError

    def clear_protect(self) -> bool:
        """Remove the whole protect mask (one undo step)."""
        raise NotImplementedError

    # --- latent edits --------------------------------------------------------------------
    def set_latent_value(self, index: int, value: float) -> None:
        """Set one latent coordinate (the 10x10 grid). One undo step."""
        raise NotImplementedError

    def set_latent(self, latent: np.ndarray, label: str = "Latent") -> None:
        """Replace the whole current latent. One undo step."""
        raise NotImplementedError

    @property
    def directions(self) -> Directions | None:
        """Principal directions for the sliders (None if the model ships none)."""
        raise NotImplementedError

    @directions.setter
    def directions(self, directions: Directions | None) -> None:
        raise NotImplementedError

    def direction_values(self) -> np.ndarray:
        """The current latent's coordinate along each direction, in standard deviations (slider values)."""
        raise NotImplementedError

    def set_direction(self, k: int, value: float) -> None:
        """Move z along direction ``k`` so its coordinate there is ``value`` standard deviations
        (other directions unchanged). One undo step."""
        raise NotImplementedError

    def commit(self) -> bool:
        """"Update": the current result becomes the new original (re-cropped and re-encoded); the
        protect mask stays. One undo step. Returns False if there was nothing to commit."""
        raise NotImplementedError

    def reset(self) -> bool:
        """Back to the original's latent z0 (discards uncommitted edits). One undo step."""
        raise NotImplementedError

    def new_sample(self, seed: int | None = None, latent: np.ndarray | None = None) -> None:
        """Replace the document with a random face (or the face of ``latent``). One undo step."""
        raise NotImplementedError

    def replace_source(self, other: EditSession, label: str = "Open") -> None:
        """Take over ``other``'s original (photo, box, crop, latents, protect mask) as one undo step,
        e.g. when the user picks another gallery face in the same window."""
        raise NotImplementedError

    # --- history -------------------------------------------------------------------------
    def undo(self) -> bool:
        raise NotImplementedError

    def redo(self) -> bool:
        raise NotImplementedError

    @property
    def can_undo(self) -> bool:
        raise NotImplementedError

    @property
    def can_redo(self) -> bool:
        raise NotImplementedError

    @property
    def history(self) -> list[HistoryEntry]:
        """All steps, oldest first (undone steps included, after ``history_index``)."""
        raise NotImplementedError

    @property
    def history_labels(self) -> list[str]:
        raise NotImplementedError

    @property
    def history_index(self) -> int:
        """How many steps are applied (0 = none; len(history) = all)."""
        raise NotImplementedError

    def jump_to(self, index: int) -> None:
        """Undo or redo until ``history_index == index``."""
        raise NotImplementedError

    @contextmanager
    def grouped(self, label: str) -> Iterator[None]:
        """Everything done inside the block is one undo step called ``label``."""
        raise NotImplementedError
        yield  # pragma: no cover

    @property
    def is_modified(self) -> bool:
        """True if the document differs from when it was last saved/exported (or opened)."""
        raise NotImplementedError

    def mark_clean(self) -> None:
        raise NotImplementedError

    # --- files ---------------------------------------------------------------------------
    def export_png(self, path: str | os.PathLike, *, crop_only: bool = False) -> Path:
        """Write the full-resolution result (or with ``crop_only`` the model-resolution composite) as
        a PNG, atomically, with the edit in its text metadata. Marks the session clean. Raises
        ``npe.data.image_io.ImageSaveError`` (any old file is left intact)."""
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> Path:
        """Write the session (original photo, box, latents, protect mask, history) to one file
        (a zip, conventionally ``*.npe``), atomically. Marks the session clean."""
        raise NotImplementedError

    def metadata(self) -> dict[str, str]:
        """What export_png writes into the PNG text chunks."""
        raise NotImplementedError
