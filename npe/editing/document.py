"""The document: the photo source (original, face box, crop, z0), the current latent z and the
protect mask, and the states it is rebuilt from (SourceState, CommitState). Each public setter
emits its own events, so doing an action and undoing or redoing it (history records call the same
setters) tell the views the same thing.

Event names (``document.events.connect(callback)``; callbacks get the name):
    "image"    result()/result_crop()/change_mask() changed: repaint
    "latent"   the current latent changed
    "protect"  the protect mask changed
    "source"   the original changed (photo, box, crop, reconstruction)
    "history"  the undo stack changed (emitted by the session)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from npe.editing.compose import is_greyscale
from npe.editing.errors import SessionError
from npe.editing.inversion import EditingGenerator, TunedGenerator, anchor_for
from npe.geometry import CropBox
from npe.model.runtime import model_device, prepare

if TYPE_CHECKING:
    from npe.data.original import StoredPhoto
    from npe.model import IAN

_log = logging.getLogger(__name__)

EVENT_NAMES = ("image", "latent", "protect", "source", "history")
Rect = tuple[int, int, int, int]


class SessionEvents:
    """A tiny observer list: ``connect(callback)``; callbacks get the event name (see module doc)."""

    def __init__(self) -> None:
        self._callbacks: list[tuple[Callable[[str], object], frozenset[str] | None]] = []
        self._batches: list[list[str]] = []

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
        """Call the listeners for each name, in order, once each (inside ``batch`` they are collected)."""
        if self._batches:
            self._batches[-1].extend(names)
            return
        for name in dict.fromkeys(names):
            for callback, wanted in list(self._callbacks):
                if wanted is None or name in wanted:
                    try:
                        callback(name)
                    except Exception:  # a broken view must not undo a finished edit
                        _log.exception("event listener %r failed on %r", callback, name)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Collect the events emitted inside the block and emit each once at its end ("history" last)."""
        self._batches.append([])
        try:
            yield
        finally:
            names = self._batches.pop()
        ordered = [name for name in dict.fromkeys(names) if name != "history"] + (["history"] if "history" in names else [])
        self.emit(*ordered)


def readonly(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


class KeepTint:
    """The type of KEEP: Document.set_latent leaves the tint as it is."""


KEEP = KeepTint()


@dataclass
class SourceState:
    """Everything that defines the original: photo (shared, read-only), face box, crop, z0, the
    current z, the protect mask, whether it is a generated sample, and its name."""

    photo: np.ndarray
    box: dict[str, float]
    crop: np.ndarray
    latent0: np.ndarray
    latent: np.ndarray
    protect: np.ndarray | None
    is_sample: bool
    name: str
    # The per-photo tuned generator (npe.editing.inversion.TunedGenerator.to_arrays(prefix=""): fp16
    # deltas by parameter name, shared between snapshots) or None: the shared generator.
    tuned: dict[str, np.ndarray] | None = None
    # The composite's reach limit (uint8 R x R, 255 = may change) or None: everywhere.
    limit: np.ndarray | None = None
    # The colour hue strokes carried onto the face's parts (float16 R x R x 3, [-1, 1] units, added to the
    # composite beside the model's change; npe.editing.brush.tint) or None: none.
    tint: np.ndarray | None = None
    alpha: np.ndarray | None = None  # uint8 H x W: a transparent photo's alpha, exported unchanged
    # How the photo's file stores it (alpha colours, 16 bits, grey, colour profile, EXIF): what
    # export writes back (npe.data.original); None for generated faces and plain 8-bit RGB files.
    stored: StoredPhoto | None = None

    def __post_init__(self) -> None:
        for array in self._arrays():
            readonly(array)

    def _arrays(self) -> list[np.ndarray]:
        arrays = (self.photo, self.crop, self.latent0, self.latent, self.protect, self.limit, self.tint, self.alpha, *(self.tuned or {}).values())
        return [array for array in arrays if array is not None]

    @property
    def nbytes(self) -> int:
        return sum(array.nbytes for array in self._arrays()) + (self.stored.nbytes if self.stored is not None else 0)


@dataclass
class CommitState:
    """The small part of the document a commit changes besides the photo region."""

    crop: np.ndarray
    latent0: np.ndarray
    latent: np.ndarray
    limit: np.ndarray | None = None  # the reach limit (see SourceState); None: everywhere
    tint: np.ndarray | None = None  # the hue strokes' colour (see SourceState); None: none
    stored: StoredPhoto | None = None  # the file's form of the photo (see SourceState), changed alike


class Document:
    """See the module doc. Tensors stay on the model's device; arrays handed out are read-only."""

    tint: np.ndarray | None  # the hue strokes' colour (see SourceState); set with the latent

    def __init__(self, model: IAN, source: SourceState, events: SessionEvents | None = None) -> None:
        self.model = prepare(model)
        self.events = events if events is not None else SessionEvents()
        self.device = model_device(model)
        # Revisions let the renderer key its cache without being told about every change.
        self.source_revision = self.latent_revision = self.protect_revision = 0
        self._load(source)

    # --- reading ----------------------------------------------------------------------------
    @property
    def resolution(self) -> int:
        return int(self.model.config.resolution)

    @property
    def latent_dim(self) -> int:
        return int(self.model.config.latent_dim)

    @property
    def photo_size(self) -> tuple[int, int]:
        """(width, height) of the photo in pixels."""
        return int(self.photo.shape[1]), int(self.photo.shape[0])

    @property
    def latent(self) -> np.ndarray:
        """The current latent z (a copy)."""
        return self.z[0].detach().cpu().numpy().copy()

    @property
    def protect_any(self) -> bool:
        return self._protect_any

    def snapshot(self) -> SourceState:
        """Everything needed to rebuild this document (what a "source" undo record stores)."""
        return SourceState(
            photo=self.photo, box=self.box.to_dict(), crop=self.crop, latent0=self.latent0,
            latent=readonly(self.latent), protect=self.protect if self._protect_any else None,
            is_sample=self.is_sample, name=self.name, tuned=self.tuned_arrays, limit=self.limit, tint=self.tint, alpha=self.alpha,
            stored=self.stored,
        )

    def to_crop_coords(self, x: float, y: float) -> tuple[float, float]:
        """Photo position (continuous pixels) -> position in the model's crop (u, v in [0, R] inside the box)."""
        u, v = self.box.to_crop([(x, y)], self.resolution)[0]
        return float(u), float(v)

    def check_position(self, x: float, y: float, what: str) -> None:
        width, height = self.photo_size
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= width and 0 <= y <= height):
            raise SessionError(f"The {what} ({x:g}, {y:g}) is outside the image ({width}x{height} pixels).")

    def decode(self, latent: np.ndarray | torch.Tensor) -> torch.Tensor:
        """G(latent) as a 1 x 3 x R x R tensor, no graph (anchored on this photo's tuned face, if any)."""
        tensor = torch.as_tensor(np.array(latent, dtype=np.float32) if isinstance(latent, np.ndarray) else latent)
        with torch.no_grad():
            return self.generator(tensor.reshape(1, -1).to(self.device, torch.float32))

    def generate(self, latent: torch.Tensor) -> torch.Tensor:
        """G(latent) differentiable in ``latent`` (1 x D): what the brush optimises through."""
        return self.generator(latent)

    # --- setters (each emits its own events) --------------------------------------------------
    def set_latent(
        self, latent: np.ndarray | torch.Tensor, generated: torch.Tensor | None = None, *, limit: np.ndarray | None = None,
        tint: np.ndarray | None | KeepTint = KEEP,
    ) -> None:
        """Make ``latent`` the current z. ``generated`` is G(latent) when the caller already has it
        (a brush step's forward pass); otherwise it is decoded here. ``limit``: where the composite
        may show the change (uint8 R x R, 255 = fully; the brush strokes' reach), None everywhere.
        ``tint``: the hue strokes' colour afterwards (float16 R x R x 3 or None); KEEP: unchanged."""
        tensor = torch.as_tensor(np.array(latent, dtype=np.float32) if isinstance(latent, np.ndarray) else latent)
        checked_tint = self.tint if isinstance(tint, KeepTint) else self._check_tint(tint)
        self.z = tensor.detach().clone().reshape(1, -1).to(self.device, torch.float32)
        self.generated = generated.detach() if generated is not None else self.decode(self.z)
        self.limit = self._check_limit(limit)
        self.tint = checked_tint
        self.latent_revision += 1
        self.events.emit("latent", "image")

    def set_protect_region(self, rect: Rect, values: np.ndarray) -> None:
        """Overwrite the protect mask inside ``rect`` (x0, y0, x1, y1) with ``values`` (bool)."""
        x0, y0, x1, y1 = rect
        protect = self.protect.copy()  # never modified in place: records and snapshots share masks
        protect[y0:y1, x0:x1] = values
        self._set_protect(protect)
        self.events.emit("protect", "image")

    def set_source(self, source: SourceState) -> None:
        """Replace the whole original (a new sample, another face, a loaded file)."""
        self._load(source)
        self.events.emit("source", "latent", "protect", "image")

    def apply_commit(self, state: CommitState, rect: Rect, region: np.ndarray) -> None:
        """The photo with ``region`` pasted at ``rect``, and the crop and latents of ``state``."""
        x0, y0, x1, y1 = rect
        photo = self.photo.copy()
        photo[y0:y1, x0:x1] = region
        self._load(SourceState(
            photo=photo, box=self.box.to_dict(), crop=state.crop, latent0=state.latent0, latent=state.latent,
            protect=self.protect if self._protect_any else None, is_sample=self.is_sample, name=self.name,
            tuned=self.tuned_arrays, limit=state.limit, tint=state.tint, alpha=self.alpha, stored=state.stored,
        ))
        self.events.emit("source", "latent", "image")

    # --- internals ------------------------------------------------------------------------------
    def _load(self, source: SourceState) -> None:
        self.photo = source.photo
        self.box = CropBox.from_dict(source.box)
        self.crop = source.crop
        self.latent0 = source.latent0
        self.is_sample = source.is_sample
        self.name = source.name
        # The photo's own generator (per-photo tuning; SessionError if saved for another model).
        self.tuned_arrays = source.tuned
        self.tuned = TunedGenerator.from_arrays(source.tuned, self.model, prefix="") if source.tuned else None
        latent0 = torch.from_numpy(np.array(source.latent0, dtype=np.float32)).reshape(1, -1).to(self.device)
        self.anchor = anchor_for(self.model, latent0, self.tuned)  # the tuned face at z0 (inversion docs)
        self.generator = EditingGenerator(self.model, self.anchor)  # anchored_decode, folded where that is faster
        # A grey photo gets grey changes and a brush that compares brightness: colour would show as a stain.
        self.grey = not source.is_sample and is_greyscale(source.photo)
        self.limit = self._check_limit(source.limit)
        self.tint = self._check_tint(source.tint)
        self.alpha = source.alpha
        self.stored = source.stored
        height, width = self.photo.shape[:2]
        self.recon = self.decode(self.latent0)
        self.source_revision += 1
        self._set_protect(source.protect if source.protect is not None else np.zeros((height, width), dtype=bool))
        self.z = torch.from_numpy(np.array(source.latent, dtype=np.float32)).reshape(1, -1).to(self.device)
        self.generated = self.decode(self.z)
        self.latent_revision += 1

    def _check_limit(self, limit: np.ndarray | None) -> np.ndarray | None:
        if limit is not None and (limit.dtype != np.uint8 or limit.shape != (self.resolution, self.resolution)):
            raise SessionError(f"A reach limit must be uint8 {self.resolution}x{self.resolution}, got {limit.dtype} {limit.shape}.")
        return limit

    def _check_tint(self, tint: np.ndarray | None) -> np.ndarray | None:
        if tint is not None and (tint.dtype != np.float16 or tint.shape != (self.resolution, self.resolution, 3)):
            raise SessionError(f"A tint must be float16 {self.resolution}x{self.resolution}x3, got {tint.dtype} {tint.shape}.")
        if tint is not None and not np.isfinite(tint).all():
            raise SessionError("A tint must be finite.")
        return tint

    def _set_protect(self, protect: np.ndarray) -> None:
        self.protect = readonly(protect)
        self._protect_any = bool(protect.any())
        self.protect_revision += 1
