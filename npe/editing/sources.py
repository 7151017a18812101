"""Opening something to edit: a photo (face found, cropped and encoded), a face crop, a latent, a
random face or a gallery face, each as the SourceState a document starts from."""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from npe.data import faces
from npe.data.convert import to_uint8
from npe.editing.errors import SessionError
from npe.editing.gallery import sample_latent
from npe.editing.document import SourceState
from npe.editing.inversion import InversionCancelled, InversionSettings, Progress, TunedGenerator, decode, invert
from npe.errors import NoFaceError
from npe.geometry import CropBox
from npe.model.runtime import decode_latents, encode_images, model_device, prepare

if TYPE_CHECKING:
    from npe.data.original import StoredPhoto
    from npe.editing.gallery import Gallery
    from npe.model import IAN

@dataclass
class Fitting:
    """Per-photo inversion with a progress callback and a cancel check (the GUI's worker)."""

    settings: InversionSettings | None = None
    progress: Progress | None = None
    cancelled: Callable[[], bool] | None = None
    was_cancelled: bool = False  # set when the fitting was cancelled: the photo opened untuned


# How to fit the model to a photo when it is opened: None/False (the encoder only), True (the
# default InversionSettings), an InversionSettings, or a Fitting (settings + progress + cancel).
Tuning = bool | InversionSettings | Fitting | None


def fresh_seed() -> int:
    return secrets.randbits(31)


def check_image(image: np.ndarray, what: str) -> np.ndarray:
    """A read-only copy of a uint8 H x W x 3 image; SessionError for anything else."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise SessionError(f"The {what} must be a uint8 H x W x 3 RGB image, got {getattr(image, 'dtype', type(image))} {getattr(image, 'shape', '')}.")
    copy = np.array(image)
    copy.setflags(write=False)
    return copy


def check_latent(latent: np.ndarray, dim: int) -> np.ndarray:
    array = np.array(latent, dtype=np.float32).reshape(-1)
    if array.size != dim:
        raise SessionError(f"A latent for this model has {dim} values, got {array.size}.")
    if not np.isfinite(array).all():
        raise SessionError("A latent must contain only finite numbers.")
    return array


def photo_source(model: IAN, image: np.ndarray, box: CropBox, name: str, tune: Tuning = None) -> SourceState:
    """``image`` (uint8, checked) with its face at ``box``: cropped, encoded and, with ``tune``, the
    model fitted to this crop (npe.editing.inversion: refined z0 and a tuned generator, so G(z0)
    is the face the user sees). A cancelled fitting leaves the encoder's z0, untuned."""
    prepare(model)
    resolution = model.config.resolution
    crop = faces.crop_face(image, box, resolution)
    latent0 = encode_images(model, crop)
    tuned = None
    fitting = tune if isinstance(tune, Fitting) else Fitting(tune if isinstance(tune, InversionSettings) else None) if tune else None
    if fitting is not None:
        try:
            found = invert(model, crop, fitting.settings or InversionSettings(), latent=latent0, progress=fitting.progress, cancelled=fitting.cancelled)
        except InversionCancelled:
            fitting.was_cancelled = True
        else:
            latent0, tuned = found.latent, found.tuned.to_arrays(prefix="")
    # Nothing is edited yet, so the composite may change nothing: strokes add their reach.
    limit = np.zeros((resolution, resolution), dtype=np.uint8)
    return SourceState(
        photo=image, box=box.to_dict(), crop=crop, latent0=latent0, latent=latent0.copy(), protect=None, is_sample=False, name=name,
        tuned=tuned, limit=limit,
    )


def read_photo(photo: str | os.PathLike | np.ndarray, name: str | None = None) -> tuple[np.ndarray, str]:
    """The photo (upright as its EXIF orientation says, checked) and its name. ImageLoadError if unreadable."""
    from npe.data.image_io import load_image

    if isinstance(photo, np.ndarray):
        return check_image(photo, "photo"), name or "photo"
    return load_image(photo), name or Path(os.fspath(photo)).name


def read_alpha(photo: str | os.PathLike | np.ndarray) -> np.ndarray | None:
    """A photo file's alpha channel (uint8 H x W) if it has one, else None (also for arrays)."""
    if isinstance(photo, np.ndarray):
        return None
    from npe.data.image_io import load_alpha

    return load_alpha(photo)


def read_stored(photo: str | os.PathLike | np.ndarray, image: np.ndarray) -> StoredPhoto | None:
    """How a photo file stores ``image`` (its editor view) beyond uint8 RGB on white: alpha colours,
    16 bits, grey, colour profile, EXIF (npe.data.original); None for arrays and plain files."""
    if isinstance(photo, np.ndarray):
        return None
    from npe.data.image_io import DEFAULT_MAX_PIXELS
    from npe.data.original import read_stored as read

    return read(photo, image, max_pixels=DEFAULT_MAX_PIXELS)


def moved_box(model: IAN, current: SourceState, box: CropBox) -> SourceState:
    """``current`` with its face square at ``box``: the same photo cropped there and encoded; the
    edits of the latent carry over as the offset z - z0, and the protect mask (photo pixels) stays."""
    fresh = photo_source(model, current.photo, box, current.name)
    latent = np.array(fresh.latent0 + (current.latent - current.latent0), dtype=np.float32)
    # Untuned (the fitted generator was fitted to the old crop) and no reach limit (the carried-over
    # edit may lie anywhere in the new crop); the photo's transparency stays.
    return SourceState(photo=current.photo, box=fresh.box, crop=fresh.crop, latent0=fresh.latent0, latent=latent,
                       protect=current.protect, is_sample=False, name=current.name, alpha=current.alpha, stored=current.stored)


def open_photo(
    model: IAN, photo: str | os.PathLike | np.ndarray, *, whole_image_if_no_face: bool = False, name: str | None = None, box: CropBox | None = None,
    tune: Tuning = None, alpha: np.ndarray | None = None, stored: StoredPhoto | None = None,
) -> SourceState:
    """A photo of any size (path or uint8 HxWx3): the face is found (unless ``box`` is given),
    cropped and encoded. Raises ImageLoadError for an unreadable file and NoFaceError when no face
    is found (unless ``whole_image_if_no_face``: then the largest centred square is the crop).
    ``alpha``, ``stored``: the transparency and the file's form of an array photo (a file's own
    are read from it)."""
    image, label = read_photo(photo, name)
    if alpha is None:
        alpha = read_alpha(photo)
    if box is None:
        try:
            box = faces.find_face(image)
        except NoFaceError:
            if not whole_image_if_no_face:
                raise
            box = CropBox.whole_image(image.shape[1], image.shape[0])
    source = photo_source(model, image, box, label, tune)
    if alpha is not None and alpha.shape == image.shape[:2]:
        source = dataclasses.replace(source, alpha=alpha)
    if stored is None:
        stored = read_stored(photo, image)
    return dataclasses.replace(source, stored=stored) if stored is not None else source


def open_crop(model: IAN, crop: np.ndarray, name: str = "face crop", tune: Tuning = None) -> SourceState:
    """An image that already is a face crop (any size; its largest centred square is used)."""
    image = check_image(crop, "face crop")
    return photo_source(model, image, CropBox.whole_image(image.shape[1], image.shape[0]), name, tune)


def opened_reconstruction(model: IAN, crop: np.ndarray, tune: Tuning = True) -> np.ndarray:
    """The face the editor starts from when the face crop ``crop`` is opened with ``tune``: G(z0)
    through this photo's tuned generator (if any), uint8 R x R x 3 at model resolution. It runs the
    editor's own opening path (open_crop), so `npe reconstruct --tune` and `npe eval --tune` show
    what a user sees after opening the photo, not a second copy of the fitting."""
    source = open_crop(model, crop, tune=tune)
    tuned = TunedGenerator.from_arrays(source.tuned, model, prefix="") if source.tuned else None
    latent = torch.from_numpy(np.array(source.latent0, dtype=np.float32)).reshape(1, -1).to(model_device(model))
    with torch.no_grad():
        return to_uint8(decode(model, latent, tuned))[0]


def open_latent(model: IAN, latent: np.ndarray, name: str = "sample") -> SourceState:
    """A generated face: the photo is G(latent) at model resolution."""
    prepare(model)
    latent = check_latent(latent, model.config.latent_dim)
    photo = decode_latents(model, latent)
    resolution = model.config.resolution
    box = CropBox.whole_image(resolution, resolution)
    # Strokes on a generated face stay within their reach too (an empty limit that strokes grow).
    limit = np.zeros((resolution, resolution), dtype=np.uint8)
    return SourceState(photo=photo, box=box.to_dict(), crop=photo, latent0=latent, latent=latent.copy(), protect=None,
                       is_sample=True, name=name, limit=limit)


def open_random(model: IAN, seed: int | None = None) -> SourceState:
    """A random face from the model's sampling distribution (seeded when ``seed`` is given)."""
    seed = fresh_seed() if seed is None else int(seed)
    return open_latent(model, sample_latent(model, seed), name=f"random face (seed {seed})")


def open_gallery_face(model: IAN, index: int, gallery: Gallery) -> SourceState:
    """Sample face ``index`` of ``gallery``."""
    if gallery.latent_dim != model.config.latent_dim:
        raise SessionError(f"This gallery is for a model with {gallery.latent_dim} latents, not {model.config.latent_dim}.")
    try:
        latent = gallery.latent(int(index))
    except IndexError as exc:
        raise SessionError(f"Cannot open sample {index}: {exc}.") from None
    return open_latent(model, latent, name=f"sample {index}")
