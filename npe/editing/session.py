"""The edit session: a facade with one method per user action over the document (source, z,
protect mask), the renderer, the brush and the undo history. An evented model: no Qt.

Conventions (every public method follows them):

* Images handed out are uint8 HxWx3 numpy arrays (read-only; copy before modifying).
* Positions and radii are in the *displayed photo's* pixels, continuous (pixel (0, 0) spans
  [0, 1) x [0, 1)), i.e. what the user sees in `result()`; the session maps them into the
  model's crop through the face box.
* Latents are float32 numpy arrays of shape (latent_dim,).
* Every user action that changes the document is exactly one undo step; `grouped(label)` (or
  begin_group/end_group) merges several calls (a wheel spin, a slider drag) into one.
* After each change the listeners (`session.events.connect(callback)`) get event names, on the
  thread that made the change (see npe.editing.document); "history" comes last.
* One thread uses a session at a time (the GUI's worker thread owns it): there is no lock.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from npe.editing import sources
from npe.editing.attribute_actions import AttributeActions
from npe.editing.brush.settings import BrushSettings, Color, make_brush
from npe.editing.brush.stroke import Stroke, lighten_latent, prepare_stroke
from npe.editing.companions import weights_name
from npe.editing.compose import MaskSettings
from npe.editing.document import EVENT_NAMES, KEEP, CommitState, Document, KeepTint, SessionEvents, SourceState, readonly
from npe.editing.errors import SessionError
from npe.editing.history import CommitRecord, History, LatentRecord, ProtectRecord, Record, SourceRecord
from npe.editing.history_actions import HistoryActions, HistoryEntry
from npe.editing.history_actions import user_action as _action
from npe.editing.protect import ProtectChange, clear_all, paint_discs
from npe.editing.render import Renderer
from npe.editing.sessionfile import (
    load_document,
    model_summary,
    png_metadata,
    save_document,
)
from npe.geometry import CropBox
from npe.model.runtime import encode_images

if TYPE_CHECKING:
    from npe.data.original import StoredPhoto
    from npe.editing.attributes import AttributeDirections
    from npe.editing.directions import Directions
    from npe.editing.gallery import Gallery
    from npe.model import IAN

__all__ = ["EVENT_NAMES", "BrushSettings", "EditSession", "HistoryEntry", "SessionError", "SessionEvents"]

Point = tuple[float, float]


class EditSession(HistoryActions, AttributeActions):
    """One photo being edited with an IAN. Create it with a ``from_*`` class method (or ``load``)."""

    def __init__(
        self,
        model: IAN,
        source: SourceState,
        *,
        directions: Directions | None = None,
        history: History | None = None,
        mask_settings: MaskSettings = MaskSettings(),
        attributes: AttributeDirections | None = None,
    ) -> None:
        """Low level: prefer the ``from_*`` class methods. ``directions`` None looks for the
        model's shipped directions file."""
        self.document = Document(model, source)
        self.model = self.document.model
        self.events: SessionEvents = self.document.events
        self.renderer = Renderer(self.document, mask_settings)
        self._history = history if history is not None else History()
        self._stroke: Stroke | None = None
        self.stroke_hint: str | None = None  # what the last finished stroke should tell the user (Stroke.hint)
        # The last stroke's answers (label, latent; its own first) and the source they were made on:
        # they hold while the document shows one of them (after the stroke, after one is chosen, and
        # after undo or redo between those).
        self._alternatives: list[tuple[str, np.ndarray]] = []
        self._alternatives_source = -1
        if directions is None:
            from npe.editing.directions import find_directions

            directions = find_directions(model)
        self._directions = self._check_directions(directions)
        self._attributes = self._check_attributes(attributes)  # named sliders: see AttributeActions
        self._found_attributes: tuple[AttributeDirections | None] | None = None  # the brush's, when no sliders
        self.load_warnings: tuple[str, ...] = ()  # set by load(): what the user should be told
        self.export_notes: tuple[str, ...] = ()  # set by export_png: how the last export was written

    # --- creation (npe.editing.sources builds the SourceState) ------------------------------------
    @classmethod
    def from_photo(
        cls, model: IAN, photo: str | os.PathLike | np.ndarray, *, whole_image_if_no_face: bool = False,
        name: str | None = None, directions: Directions | None = None, box: CropBox | None = None,
        tune: sources.Tuning = None, alpha: np.ndarray | None = None, stored: StoredPhoto | None = None,
    ) -> EditSession:
        """A photo (path or uint8 HxWx3): the face is found (or ``box`` used), cropped, encoded and,
        with ``tune`` (True or InversionSettings), the model fitted to it (sources.photo_source).
        ``alpha``, ``stored``: an array photo's transparency and its file's form (npe.data.original;
        a file's own are read from it)."""
        source = sources.open_photo(model, photo, whole_image_if_no_face=whole_image_if_no_face, name=name, box=box, tune=tune, alpha=alpha, stored=stored)
        return cls(model, source, directions=directions)

    @classmethod
    def from_crop(cls, model: IAN, crop: np.ndarray, *, name: str = "face crop", directions: Directions | None = None, tune: sources.Tuning = None) -> EditSession:
        return cls(model, sources.open_crop(model, crop, name, tune=tune), directions=directions)

    @classmethod
    def from_latent(cls, model: IAN, latent: np.ndarray, *, name: str = "sample", directions: Directions | None = None) -> EditSession:
        return cls(model, sources.open_latent(model, latent, name), directions=directions)

    @classmethod
    def random(cls, model: IAN, seed: int | None = None, *, directions: Directions | None = None) -> EditSession:
        return cls(model, sources.open_random(model, seed), directions=directions)

    @classmethod
    def from_gallery(cls, model: IAN, index: int, gallery: Gallery | None = None, *, directions: Directions | None = None) -> EditSession:
        """Bundled sample face ``index`` (the model's gallery; seeded random faces if it has none)."""
        from npe.editing.gallery import find_gallery

        gallery = gallery if gallery is not None else find_gallery(model)
        return cls(model, sources.open_gallery_face(model, index, gallery), directions=directions)

    @classmethod
    def load(cls, path: str | os.PathLike, model: IAN, *, directions: Directions | None = None, allow_other_model: bool = False) -> EditSession:
        """Reopen a session file written by ``save`` (SessionError if damaged or for another model;
        sessionfile.OtherModelError if made with other weights of the same size, unless
        ``allow_other_model``). What the user should hear is in ``load_warnings``."""
        notes: list[str] = []
        summary = _model_summary(model)
        source, history = load_document(path, model.config.latent_dim, model.config.resolution, model=summary, allow_other_model=allow_other_model, notes=notes)
        session = cls(model, source, directions=directions, history=history)
        session.load_warnings = tuple(notes)
        return session

    # --- state (read-only views) --------------------------------------------------------------------
    name = property(lambda self: self.document.name, doc="What the session was opened from.")
    photo = property(lambda self: self.document.photo, doc="The current original, full resolution.")
    photo_size = property(lambda self: self.document.photo_size, doc="(width, height) in pixels.")
    box = property(lambda self: self.document.box, doc="Where the face crop sits in the photo.")
    is_sample = property(lambda self: self.document.is_sample, doc="A generated face (no masking).")
    resolution = property(lambda self: self.document.resolution, doc="The model's image size R.")
    latent_dim = property(lambda self: self.document.latent_dim)
    crop = property(lambda self: self.document.crop, doc="X: the face crop, uint8 R x R x 3.")
    latent0 = property(lambda self: self.document.latent0, doc="z0 = E(X), the original's latent.")
    latent = property(lambda self: self.document.latent, doc="The current latent z (a copy).")
    protect_mask = property(lambda self: self.document.protect, doc="bool H x W: True never changes.")
    stroke_active = property(lambda self: self._stroke is not None)
    mask_settings = property(lambda self: self.renderer.mask_settings)

    @property
    def editable_rect(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1): the photo rectangle edits can change (the face box, clipped)."""
        return self.box.pixel_bounds(*self.photo_size) or (0, 0, 0, 0)

    @property
    def default_radius(self) -> float:
        """A sensible brush radius: 1/16 of the face box, in photo pixels."""
        return max(1.0, self.box.size / 16)

    @property
    def reconstruction(self) -> np.ndarray:
        """X̂ = G(z0), uint8 R x R x 3."""
        from npe.data.convert import to_uint8

        return readonly(to_uint8(self.document.recon[0]))

    @property
    def generated(self) -> np.ndarray:
        """G(z) for the current latent, uint8 R x R x 3 (before masking)."""
        from npe.data.convert import to_uint8

        return readonly(to_uint8(self.document.generated[0]))

    def snapshot(self) -> SourceState:
        """The document as a SourceState (e.g. to start another session from it)."""
        return self.document.snapshot()

    def result(self) -> np.ndarray:
        """The edited photo at full resolution: original + M·Δ in the face box; protected pixels
        and those outside the change are bit-identical to the original."""
        return self.renderer.result()

    def preview(self, scale: float = 1.0) -> np.ndarray:
        """The result at ``scale`` x photo size, fast (for drawing while painting)."""
        return self.renderer.preview(scale)

    def result_crop(self) -> np.ndarray:
        """Y = X + M·Δ at model resolution (protect mask applied), uint8 R x R x 3."""
        return self.renderer.result_crop()

    def change_mask(self) -> np.ndarray:
        """M = min(gain·g(mean_c |Δ|), 1), float32 R x R in [0, 1] (ones for a generated sample)."""
        return readonly(self.renderer.delta_mask()[1].numpy().copy())

    def to_crop_coords(self, x: float, y: float) -> tuple[float, float]:
        return self.document.to_crop_coords(x, y)

    # --- paintbrush ---------------------------------------------------------------------------------
    @_action
    def begin_stroke(self, brush: BrushSettings | Color | str | None = None, radius: float | None = None, strength: float | None = None, **settings: object) -> None:
        """Start a paint stroke (a BrushSettings or a colour, fields overridable by keyword)."""
        self._stroke = Stroke(self.document, make_brush(brush, radius, strength, **settings), self._brush_attributes())

    def _brush_attributes(self) -> AttributeDirections | None:
        """The named directions the brush steps along: the sliders' (set by the Workspace), else
        the model's shipped ones, looked up once (None: the brush uses principal directions only)."""
        if self._attributes is not None:
            return self._attributes
        if self._found_attributes is None:
            from npe.editing.attributes import AttributeDirectionsError
            from npe.editing.directions import find_attributes

            try:
                self._found_attributes = (find_attributes(self.model),)
            except AttributeDirectionsError:
                self._found_attributes = (None,)
        return self._found_attributes[0]

    def stroke_to(self, x: float, y: float) -> None:
        """Move the brush to (x, y): gradient step(s) on z; emits "latent" and "image" if z moved."""
        if self._stroke is None:
            raise SessionError("No stroke in progress: call begin_stroke() first.")
        self._stroke.move_to(x, y)

    def end_stroke(self) -> bool:
        """Finish the stroke: one undo step, named by its brush and what it did ("Paint: Smiling +1.8 σ"). False if it changed nothing."""
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return False
        self.stroke_hint = stroke.hint
        before, after = stroke.latents()
        tint = self.document.tint
        if np.array_equal(before, after) and tint is stroke.start_tint:
            # The canonical image again (strokes show graph passes).
            self.document.set_latent(after, limit=stroke.start_limit, tint=stroke.start_tint)
            return False
        alternatives = stroke.alternatives()
        # Decoded again: the stroke's images came from graph-building passes.
        summary = stroke.summary()
        label = stroke.brush.label if summary is None else f"{stroke.brush.label}: {summary}"  # "Paint: Smiling +1.8 σ"
        pushed = self._push(LatentRecord(label, readonly(before), readonly(after), stroke.start_limit, self.document.limit,
                                         stroke.start_tint, tint))
        self._alternatives = [(label, readonly(latent)) for label, latent in alternatives]
        self._alternatives_source = self.document.source_revision
        if stroke.brush.objective == "semantic":
            prepare_stroke(self.document, self._brush_attributes())  # the next stroke starts from here
        return pushed

    @property
    def stroke_alternatives(self) -> list[tuple[str, np.ndarray]]:
        """The ways the model can make the last stroke's change (iGAN's candidates): the stroke's
        own answer first, then the others, as (a label naming the direction each leads with, its
        latent), while the document shows one of them (the stroke's, or one chosen, undone to or
        redone); empty otherwise. A dark stroke across the eyes may read as glasses or as shadow:
        the stroke picks one, these are the others."""
        return list(self._alternatives) if self.current_alternative is not None else []

    @property
    def current_alternative(self) -> int | None:
        """Which of the last stroke's answers the document shows now (None: none of them, and then
        stroke_alternatives is empty)."""
        if self.document.source_revision != self._alternatives_source:
            return None
        latent = self.latent
        return next((i for i, (_, other) in enumerate(self._alternatives) if np.array_equal(other, latent)), None)

    @_action
    def use_alternative(self, index: int) -> bool:
        """Make the last stroke the model's ``index``-th answer (stroke_alternatives), keeping its reach
        and colour: one undo step, "Paint as <label>" (none if it is the one shown). The others stay
        on offer."""
        alternatives = self.stroke_alternatives
        if not 0 <= index < len(alternatives):
            raise SessionError(f"There is no alternative {index} for the last stroke (there are {len(alternatives)}).")
        label, latent = alternatives[index]
        changed = self._set_latent(latent, f"Paint as {label}", limit=self.document.limit)
        if changed:
            prepare_stroke(self.document, self._brush_attributes())  # the next stroke starts from here, as after a stroke
        return changed

    def alternative_previews(self) -> list[np.ndarray]:
        """The result of each of stroke_alternatives at model resolution (as result_crop: uint8
        R x R x 3), the document unchanged: the one shown is result_crop itself, each other one
        generator forward and one crop composite."""
        current = self.current_alternative
        if current is None:
            return []
        return [self.renderer.result_crop() if i == current else self.renderer.crop_for(self.document.decode(latent))
                for i, (_, latent) in enumerate(self._alternatives)]

    def cancel_stroke(self) -> None:
        """Abandon the stroke in progress and restore the latent it started from (no undo step)."""
        stroke, self._stroke = self._stroke, None
        if stroke is not None:
            self.document.set_latent(stroke.start, limit=stroke.start_limit, tint=stroke.start_tint)

    def paint(self, points: Sequence[Point], brush: BrushSettings | Color | str | None = None, radius: float | None = None, strength: float | None = None, **settings: object) -> bool:
        """A whole stroke in one call (every point checked first). True if it changed z."""
        for x, y in points:
            self.document.check_position(x, y, "stroke point")
        self.begin_stroke(make_brush(brush, radius, strength, **settings))
        try:
            for x, y in points:
                self.stroke_to(x, y)
        except BaseException:
            self.cancel_stroke()
            raise
        return self.end_stroke()

    @_action
    def lighten(self, x: float, y: float, amount: float, radius: float, *, steps: int = 3, reach: float = BrushSettings.reach) -> bool:
        """Brighten (amount > 0) or darken under a soft brush at (x, y), changing the photo within
        ``reach`` crop pixels of the brush (as a stroke does). One undo step."""
        found = lighten_latent(self.document, x, y, amount, radius, steps, reach)
        return found is not None and self._set_latent(found[0], "Lighten" if amount > 0 else "Darken", found[1])

    @_action
    def paint_protect(self, points: Sequence[Point], radius: float, *, erase: bool = False) -> bool:
        """Add (or ``erase``) discs of ``radius`` along ``points`` to the protect mask. One undo step."""
        if not radius > 0 or not math.isfinite(radius):
            raise SessionError(f"The protect brush radius must be a positive number of pixels, got {radius}.")
        points = [(float(x), float(y)) for x, y in points]
        for x, y in points:
            self.document.check_position(x, y, "protect point")
        return self._change_protect("Unprotect" if erase else "Protect", paint_discs(self.document.protect, points, radius, erase=erase))

    @_action
    def clear_protect(self) -> bool:
        """Remove the whole protect mask (one undo step)."""
        return self._change_protect("Clear protect", clear_all(self.document.protect))

    # --- latent edits ---------------------------------------------------------------------------------
    def set_latent_value(self, index: int, value: float) -> None:
        """Set one latent coordinate (the 10x10 grid). One undo step."""
        if not 0 <= int(index) < self.latent_dim:
            raise SessionError(f"Latent {index} does not exist; there are {self.latent_dim} (0-{self.latent_dim - 1}).")
        if not math.isfinite(value):
            raise SessionError(f"A latent value must be a finite number, got {value}.")
        latent = self.latent
        latent[int(index)] = value
        self.set_latent(latent, f"Latent {int(index)}")

    @_action
    def set_latent(self, latent: np.ndarray, label: str = "Latent") -> None:
        """Replace the whole current latent. One undo step."""
        self._set_latent(sources.check_latent(latent, self.latent_dim), label)

    @property
    def directions(self) -> Directions | None:
        """Principal directions for the sliders (None if the model ships none)."""
        return self._directions

    @directions.setter
    def directions(self, directions: Directions | None) -> None:
        self._directions = self._check_directions(directions)
        self.events.emit("latent")

    def direction_values(self) -> np.ndarray:
        """The current latent's coordinate along each direction, in standard deviations."""
        return np.zeros(0, dtype=np.float32) if self._directions is None else self._directions.values(self.latent)

    def set_direction(self, k: int, value: float) -> None:
        """Move z along direction ``k`` to ``value`` standard deviations. One undo step."""
        if self._directions is None:
            raise SessionError(
                "This model has no principal directions (NAME.directions.safetensors beside its weights); "
                "create them with 'npe directions --weights W --data ARCHIVE'."
            )
        if not 0 <= int(k) < len(self._directions):
            raise SessionError(f"Direction {k} does not exist; there are {len(self._directions)} (0-{len(self._directions) - 1}).")
        if not math.isfinite(value):
            raise SessionError(f"A direction value must be a finite number, got {value}.")
        self.set_latent(self._directions.moved(self.latent, int(k), float(value)), f"Direction {int(k)}")

    # --- named attributes (Smiling, Eyeglasses...): npe.editing.attribute_actions -------------------
    move_attributes = _action(AttributeActions.move_attributes)
    set_attribute = _action(AttributeActions.set_attribute)
    reset_attributes = _action(AttributeActions.reset_attributes)

    @_action
    def commit(self) -> bool:
        """"Update": the result becomes the new original (re-cropped and re-encoded); the protect
        mask stays. One undo step. False if there was nothing to commit."""
        from npe.data.faces import crop_face

        doc, result, latent = self.document, self.result(), self.latent
        changed = np.any(result != doc.photo, axis=2)
        if not changed.any() and np.array_equal(latent, doc.latent0):
            return False
        rect = (0, 0, 0, 0)
        if changed.any():
            rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
            rect = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
        x0, y0, x1, y1 = rect
        if doc.is_sample:  # a generated face stays one: its photo is (the rounding of) G(z)
            new_crop, new_latent0 = result, latent
        else:
            new_crop = crop_face(result, doc.box, self.resolution)
            # A tuned generator was fitted around the photo's z: the edited z is the new original's
            # code (its tuned G(z) is the composite where it changed); untuned, the encoder's.
            new_latent0 = latent if doc.tuned is not None else encode_images(self.model, new_crop)
        # Nothing has changed since the commit yet: the reach limit starts empty again.
        limit = None if doc.limit is None else readonly(np.zeros_like(doc.limit))
        stored = doc.stored.updated(doc.photo, result, rect) if doc.stored is not None else None
        # The tint is in the new original now: none is left to add.
        after = CommitState(readonly(np.ascontiguousarray(new_crop)), readonly(new_latent0), readonly(new_latent0.copy()), limit, stored=stored)
        before = CommitState(doc.crop, doc.latent0, readonly(latent), doc.limit, doc.tint, doc.stored)
        region_before, region_after = readonly(doc.photo[y0:y1, x0:x1].copy()), readonly(result[y0:y1, x0:x1].copy())
        return self._push(CommitRecord("Commit", rect, region_before, region_after, before, after))

    @_action
    def reset(self) -> bool:
        """Back to the original's latent z0 (discards uncommitted edits). One undo step."""
        return self._set_latent(self.document.latent0, "Reset", tint=None)

    @_action
    def new_sample(self, seed: int | None = None, latent: np.ndarray | None = None) -> None:
        """Replace the document with a random face (or the face of ``latent``). One undo step."""
        source = sources.open_random(self.model, seed) if latent is None else sources.open_latent(self.model, latent)
        self._push(SourceRecord("Sample", self.snapshot(), source))

    @_action
    def replace_source(self, other: EditSession | SourceState, label: str = "Open") -> None:
        """Take over ``other``'s original (a session or a SourceState) as one undo step."""
        source = other.snapshot() if isinstance(other, EditSession) else other
        if source.latent.size != self.latent_dim or source.crop.shape[0] != self.resolution:
            raise SessionError("Cannot take over a session made with a different model.")
        self._push(SourceRecord(label, self.snapshot(), source))

    @_action
    def set_box(self, box: CropBox | Sequence[float], label: str = "Move face box") -> bool:
        """Move the face square (a CropBox or center_x, center_y, size[, angle] in photo pixels):
        cropped and encoded again, edits of z carried over, the protect mask kept (see
        sources.moved_box). One undo step; False if the box is the same."""
        from npe.editing.face_choice import as_box

        if self.document.is_sample:
            raise SessionError("A generated face has no face box to move: it is the whole picture.")
        new_box = as_box(box)
        if new_box == self.box:
            return False
        before = self.snapshot()
        return self._push(SourceRecord(label, before, sources.moved_box(self.model, before, new_box)))

    # --- files ------------------------------------------------------------------------------------------
    @_action
    def export_png(self, path: str | os.PathLike, *, crop_only: bool = False, strip_metadata: bool = False) -> Path:
        """Write the result (or ``crop_only``: the model-resolution composite) atomically, in the
        format the name's extension says (PNG with the edit in its metadata, JPEG, WebP, TIFF; see
        npe.data.export.save_image): untouched pixels as the photo's file stores them (alpha
        colours, 16 bits, grey), its colour profile and EXIF (orientation 1) kept, unless
        ``strip_metadata`` (no EXIF, no text chunks). What the user should be told about how it
        was written is left in ``export_notes``. Marks the session clean. Raises ImageSaveError."""
        from npe.data.export import save_image

        doc = self.document
        metadata = self.metadata()
        if crop_only:
            metadata["npe-image"] = f"model-resolution crop ({self.resolution}x{self.resolution})"
            # The crop keeps the colour profile (same colours); alpha, samples and EXIF are the photo's.
            notes = save_image(path, self.result_crop(), metadata, stored=doc.stored, strip_metadata=strip_metadata)
        else:
            # A transparent photo keeps its alpha unchanged (edits change colour only).
            notes = save_image(path, self.result(), metadata, alpha=doc.alpha, photo=doc.photo, stored=doc.stored, strip_metadata=strip_metadata)
        self.export_notes = tuple(notes)
        self.mark_clean()
        return Path(path)

    @_action
    def save(self, path: str | os.PathLike) -> Path:
        """Write the session (photo, box, latents, protect mask, history) to one file, atomically;
        marks it clean. SessionError with a readable reason if it cannot be written."""
        written = save_document(path, self.snapshot(), self._history, _model_summary(self.model))
        self.mark_clean()
        return written

    def metadata(self) -> dict[str, str]:
        """What export_png writes into the PNG text chunks."""
        doc = self.document
        applied = self._history.labels[: self._history.index]
        return png_metadata(source_name=doc.name, model_name=_model_name(self.model), latent=doc.latent, latent0=doc.latent0, applied=applied, box=doc.box)

    # --- internals ----------------------------------------------------------------------------------------
    def _push(self, record: Record) -> bool:
        """Do ``record`` (through the document's setters, as undo/redo will) and keep it."""
        with self.events.batch():
            record.redo(self.document)
            self._history.push(record)
            self.events.emit("history")
        return True

    def _set_latent(self, after: np.ndarray, label: str, limit: np.ndarray | None = None, tint: np.ndarray | None | KeepTint = KEEP) -> bool:
        """``limit``: the composite's reach limit afterwards; None (a slider, a direction, reset):
        the change may show everywhere. ``tint``: the hue strokes' colour afterwards (KEEP: as it is;
        reset: None)."""
        doc = self.document
        before = readonly(self.latent)
        after = readonly(np.array(after, dtype=np.float32))
        tint_after = doc.tint if isinstance(tint, KeepTint) else tint
        if np.array_equal(before, after) and tint_after is doc.tint:
            return False
        return self._push(LatentRecord(label, before, after, doc.limit, limit, doc.tint, tint_after))

    def _change_protect(self, label: str, change: ProtectChange | None) -> bool:
        return change is not None and self._push(ProtectRecord.from_regions(label, change.rect, change.before, change.after))

    def _check_directions(self, directions: Directions | None) -> Directions | None:
        if directions is not None and directions.latent_dim != self.latent_dim:
            raise SessionError(f"These directions are for a model with {directions.latent_dim} latents, not {self.latent_dim}.")
        return directions


def _model_summary(model: IAN) -> dict[str, Any]:
    from npe.editing.attributes import model_identifier

    return model_summary(_model_name(model), int(model.config.latent_dim), int(model.config.resolution), model_identifier(model))


def _model_name(model: IAN) -> str:
    return weights_name(model) or "unnamed model"
