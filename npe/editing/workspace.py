"""The workspace: the loaded model with its directions and gallery, a user's face collection once
read, and the current edit session, with the rule for opening another face (a fresh document if
nothing is unsaved, else one undoable step of the current one). `npe edit` and the GUI's worker
both use it; its collaborators are injectable so the rules are tested without Qt or real files."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from npe.editing import sources
from npe.editing.companions import weights_name
from npe.editing.errors import NoModelError, SessionError
from npe.editing.face_choice import FaceFinder, FaceReport, choose_face, default_face_finder, report_for_box
from npe.editing.session import EditSession
from npe.errors import UserError

if TYPE_CHECKING:
    from npe.editing.attributes import AttributeDirections
    from npe.geometry import CropBox
    from npe.editing.directions import Directions
    from npe.editing.gallery import Gallery
    from npe.model import IAN


class FaceCollection(Protocol):
    """What a face-collection loader returns (npe.data.datasets.FaceCrops has these)."""

    names: Any  # one name per face
    images: Any  # N x R x R x 3 uint8


ModelLoader = Callable[[str | None, str], "IAN"]  # (weights, device) -> model ready for editing
CollectionLoader = Callable[[str, int], FaceCollection]  # (path, resolution) -> faces


@dataclass(frozen=True)
class ModelSummary:
    """The loaded model, as an About box or a status bar describes it."""

    name: str
    resolution: int
    latent_dim: int
    device: str  # "CPU" or "CUDA (device name)"
    gallery_size: int  # sample faces offered (a generated gallery accepts any index)
    gallery_generated: bool
    attribute_names: tuple[str, ...] = ()  # the named sliders (CelebA names)
    attribute_warning: str | None = None  # why there are none (missing, damaged, another model's file)
    warnings: tuple[str, ...] = ()  # companion files that were there but could not be used


def default_model_loader(weights: str | None, device: str) -> IAN:
    from npe.model.runtime import load_model

    return load_model(weights, device=device)


def default_collection_loader(path: str, resolution: int) -> FaceCollection:
    from npe.data.datasets import load_face_crops

    try:
        return load_face_crops([path], resolution)
    except (OSError, ValueError) as exc:  # the loader's errors say what is wrong with the collection
        raise UserError(f"Cannot read the face collection '{path}': {exc}") from None


class Workspace:
    """See the module doc. Use it from one thread (the GUI's worker, or the `npe edit` command)."""

    def __init__(
        self,
        *,
        model_loader: ModelLoader = default_model_loader,
        collection_loader: CollectionLoader = default_collection_loader,
        face_finder: FaceFinder = default_face_finder,
    ) -> None:
        self._load = model_loader
        self._find_faces = face_finder
        self.faces: FaceReport | None = None  # how the last photo's face box was chosen
        self._load_collection = collection_loader
        self.model: IAN | None = None
        self.weights: str | None = None
        self.directions: Directions | None = None
        self.gallery: Gallery | None = None
        self.session: EditSession | None = None
        self.attributes: AttributeDirections | None = None
        self.attribute_warning: str | None = None  # why ``attributes`` is None, for the status bar and `npe edit`
        self._collection: tuple[str, FaceCollection] | None = None
        self._listeners: list[Callable[[EditSession], object]] = []
        self.warnings: list[str] = []  # what the user should be told (one line each), oldest first
        self._warning_listeners: list[Callable[[str], object]] = []

    # --- the model ----------------------------------------------------------------------------------
    def load_model(self, weights: str | None = None, device: str = "auto") -> ModelSummary:
        """Load the model (None: the bundled one) with the directions and gallery beside it."""
        from npe.editing.directions import find_directions
        from npe.editing.gallery import find_gallery
        from npe.model.runtime import device_label, model_device

        model = self._load(weights, device)
        before = len(self.warnings)
        directions = find_directions(model, weights, self.warn)
        gallery = find_gallery(model, weights, self.warn)  # after the directions: their warnings come in this order
        self.use_model(model, directions, gallery, weights)
        self._find_attributes(model, weights)
        return ModelSummary(
            name=weights_name(model) or "unnamed model",
            resolution=int(model.config.resolution),
            latent_dim=int(model.config.latent_dim),
            device=device_label(str(model_device(model))),
            gallery_size=len(gallery),
            gallery_generated=gallery.generated,
            attribute_names=tuple(self.attributes.names) if self.attributes is not None else (),
            attribute_warning=self.attribute_warning,
            warnings=tuple(self.warnings[before:]),
        )

    def use_model(self, model: IAN, directions: Directions | None, gallery: Gallery, weights: str | None = None) -> None:
        """Use an already loaded model (its directions may be None)."""
        self.model, self.directions, self.gallery, self.weights = model, directions, gallery, weights
        self._collection = None
        self.attributes = self.attribute_warning = None  # another model's would not fit: use_attributes

    def use_attributes(self, attributes: AttributeDirections | None, warning: str | None = None) -> None:
        """Named attribute directions for the sessions from now on (None, with the reason, if none)."""
        self.attributes, self.attribute_warning = attributes, (None if attributes is not None else warning)
        if self.session is not None:
            self.session.attributes = attributes

    def require_attributes(self) -> AttributeDirections:
        """The attribute directions, or an AttributeDirectionsError that says why there are none."""
        from npe.editing.attributes import AttributeDirectionsError

        if self.attributes is None:
            raise AttributeDirectionsError(self.attribute_warning or "This model has no attribute directions.")
        return self.attributes

    def _find_attributes(self, model: IAN, weights: str | None) -> None:
        from npe.editing.attributes import AttributeDirectionsError
        from npe.editing.directions import find_attributes

        try:
            self.use_attributes(find_attributes(model, weights))
        except AttributeDirectionsError as exc:  # not silent: kept for the status bar and `npe edit --attribute`
            self.use_attributes(None, f"No attribute sliders: {exc}")

    def require_model(self) -> IAN:
        if self.model is None:
            raise NoModelError("No model is loaded yet; load one first (--weights).")
        return self.model

    # --- what the user should be told ---------------------------------------------------------------
    def warn(self, message: str) -> None:
        """Keep a one-line warning (a damaged companion file, a session from older weights) and
        pass it to the ``on_warning`` listeners (the GUI's status bar; `npe edit` prints them)."""
        self.warnings.append(message)
        for callback in list(self._warning_listeners):
            callback(message)

    def on_warning(self, callback: Callable[[str], object]) -> None:
        self._warning_listeners.append(callback)

    # --- the current session ------------------------------------------------------------------------
    def on_session(self, callback: Callable[[EditSession], object]) -> None:
        """Call ``callback(session)`` whenever another session becomes the current one."""
        self._listeners.append(callback)

    def set_session(self, session: EditSession) -> EditSession:
        self.session = session
        if session.attributes is None and self.attributes is not None:
            session.attributes = self.attributes  # the model's named sliders, like its directions
        for callback in list(self._listeners):
            callback(session)
        return session

    def adopt(self, session: EditSession, label: str) -> EditSession:
        """The open-or-replace rule: ``session`` becomes the document if the current one has no
        unsaved edits; otherwise the current one takes over its original as one undoable step
        (so opening another face never loses work). Returns the current session."""
        current = self.session
        if current is None or not current.is_modified:
            return self.set_session(session)
        current.replace_source(session, label)
        return current

    # --- opening ------------------------------------------------------------------------------------
    def open_photo(
        self, path: str | os.PathLike, whole_image: bool = False, *, face: int | None = None,
        box: CropBox | Sequence[float] | None = None, accept_doubtful: bool = False, tune: sources.Tuning = True,
    ) -> EditSession:
        """A photo file, its face box chosen first (npe.editing.face_choice.choose_face: ``box`` by
        hand, face number ``face``, the largest confident face; npe.errors.NoFaceError if none unless
        ``whole_image``; DoubtfulFaceError for a doubtful one unless ``accept_doubtful``), then
        cropped, encoded and, unless ``tune`` is False, the model fitted to it (a cancelled fitting
        opens it untuned). ``self.faces`` says how the box was chosen."""
        model = self.require_model()
        image, name = sources.read_photo(path)
        chosen, report = choose_face(image, self._find_faces, face=face, box=box, whole_image=whole_image, accept_doubtful=accept_doubtful)
        session = EditSession.from_photo(model, image, name=name, box=chosen, directions=self.directions, tune=tune,
                                         alpha=sources.read_alpha(path), stored=sources.read_stored(path, image))
        self.faces = report
        return self.adopt(session, f"Open {Path(path).name}")

    def set_face_box(self, box: CropBox | Sequence[float], label: str = "Move face box") -> bool:
        """Move the current photo's face square (re-cropped, re-encoded: one undo step)."""
        session = self.require_session()
        changed = session.set_box(box, label)
        if changed and self.faces is not None:
            self.faces = report_for_box(self.faces, session.box)
        return changed

    def open_sample(self, index: int) -> EditSession:
        """Gallery face ``index``."""
        model = self.require_model()
        assert self.gallery is not None  # set with the model
        return self.adopt(self._session(sources.open_gallery_face(model, int(index), self.gallery)), f"Sample {index}")

    def open_random(self, seed: int | None = None) -> EditSession:
        return self.adopt(self._session(sources.open_random(self.require_model(), seed)), "Random face")

    def open_collection_face(self, path: str, index: int, tune: sources.Tuning = True) -> EditSession:
        """Face ``index`` of the user's own collection (a zip archive or folder of face photos),
        which is read once and kept for the next face numbers."""
        model = self.require_model()
        collection = self.collection(path)
        count = len(collection.names)
        if not 0 <= index < count:
            raise UserError(f"'{path}' has {count} usable face photos; pick a number from 0 to {count - 1}.")
        name = Path(str(collection.names[index])).name
        source = sources.open_crop(model, np.ascontiguousarray(collection.images[index]), name, tune=tune)
        return self.adopt(self._session(source), f"Open {name}")

    def open_session_file(self, path: str | os.PathLike, *, allow_other_model: bool = False) -> EditSession:
        """A saved session replaces the current one (it brings its own history). OtherModelError
        if other weights of the same size made it, unless ``allow_other_model`` (the GUI asks)."""
        session = EditSession.load(path, self.require_model(), directions=self.directions, allow_other_model=allow_other_model)
        for note in session.load_warnings:
            self.warn(note)
        return self.set_session(session)

    def save_session(self, path: str | os.PathLike) -> Path:
        return self.require_session().save(path)

    def export_png(self, path: str | os.PathLike, *, crop_only: bool = False, strip_metadata: bool = False) -> Path:
        """Export the current session (EditSession.export_png); how it was written (a palette image
        as RGBA, 16 bits reduced for JPEG...) is said through ``warn``."""
        session = self.require_session()
        written = session.export_png(path, crop_only=crop_only, strip_metadata=strip_metadata)
        for note in session.export_notes:
            self.warn(f"'{Path(path).name}': {note}")
        return written

    def collection(self, path: str) -> FaceCollection:
        if self._collection is None or self._collection[0] != path:
            self._collection = (path, self._load_collection(path, int(self.require_model().config.resolution)))
        return self._collection[1]

    def require_session(self) -> EditSession:
        if self.session is None:
            raise SessionError("Nothing is open yet: open a photo or a sample face first.")
        return self.session

    def _session(self, source: sources.SourceState) -> EditSession:
        return EditSession(self.require_model(), source, directions=self.directions)
