"""The photo as its file stores it, beyond the editor's uint8 RGB on white (StoredPhoto: bit depth,
alpha, grey, colour profile, EXIF), read when a photo is opened; and an edit put back into that
form for export (merged_samples), so that every untouched pixel is the file's own."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

ORIENTATION = 0x0112  # the EXIF tag; exported photos are stored upright, so it is written as 1
SIXTEEN_BIT_COLOUR_READ_AT_8 = "its 16 bits per channel are read at 8 (npe reads 16-bit colour from PNG files only): exported at 8 bits"


@dataclass(frozen=True)
class StoredPhoto:
    """What export needs to write a photo the way its file had it.

    ``samples``: the file's pixels, upright, H x W x C (C: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA),
    uint8 or uint16, with the colour of semi-transparent pixels as stored (not composited onto
    white); None when the editor's photo is exactly the file's pixels (8-bit RGB, opaque).
    ``icc_profile``: the embedded colour profile; ``exif``: the EXIF block with the orientation
    set to 1; ``notes``: what export should say about how the photo is written (e.g. a palette
    image as RGBA)."""

    samples: np.ndarray | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        samples = self.samples
        if samples is not None:
            if samples.dtype not in (np.uint8, np.uint16) or samples.ndim != 3 or samples.shape[2] not in (1, 2, 3, 4):
                raise ValueError(f"stored samples must be uint8/uint16 H x W x 1..4, got {samples.dtype} {samples.shape}")
            samples.setflags(write=False)

    @property
    def nbytes(self) -> int:
        return (self.samples.nbytes if self.samples is not None else 0) + len(self.icc_profile or b"") + len(self.exif or b"")

    def updated(self, before: np.ndarray, after: np.ndarray, rect: tuple[int, int, int, int]) -> StoredPhoto:
        """After "Update Original" pasted a new region into the photo at ``rect``: the same change
        made to the stored samples there (the pixels of the rectangle that did not change stay as stored)."""
        if self.samples is None:
            return self
        x0, y0, x1, y1 = rect
        samples = np.array(self.samples)
        samples[y0:y1, x0:x1] = merged_samples(self.samples[y0:y1, x0:x1], before[y0:y1, x0:x1], after[y0:y1, x0:x1])
        return StoredPhoto(samples, self.icc_profile, self.exif, self.notes)


def read_stored(source: str | os.PathLike, photo: np.ndarray, *, max_pixels: int) -> StoredPhoto | None:
    """The StoredPhoto of the photo file ``source`` whose editor view (npe.data.image_io.load_image)
    is ``photo``; None when there is nothing to keep (an opaque 8-bit RGB file without profile or
    EXIF) or the file cannot be read again. Samples that do not reproduce ``photo`` exactly are
    dropped (the export then writes the editor's view, as before), never guessed."""
    try:
        with Image.open(os.fspath(source)) as image:
            if image.width * image.height > max_pixels:
                return None
            rawmode = image.tile[0].args if image.tile and isinstance(image.tile[0].args, str) else ""  # gone once loaded
            image.load()
            icc = image.info.get("icc_profile") or None
            exif, orientation = _upright_exif(image)
            samples, notes = _samples(image, rawmode, os.fspath(source))
    except (OSError, ValueError, SyntaxError, struct.error, Image.DecompressionBombError):
        return None
    if samples is not None:
        samples = np.ascontiguousarray(_upright(samples, orientation))
        if samples.shape[:2] != photo.shape[:2] or not np.array_equal(editor_view(samples), photo):
            samples, notes = None, [*notes, "its pixels could not be matched to what npe shows, so they are exported as shown"]
    if samples is None and icc is None and exif is None and not notes:
        return None
    return StoredPhoto(samples, bytes(icc) if icc else None, exif, tuple(notes))


def _upright_exif(image: Image.Image) -> tuple[bytes | None, int]:
    """The EXIF block with Orientation 1 (the editor's pixels are upright), and the orientation the file had."""
    try:
        exif = image.getexif()
        orientation = int(exif.get(ORIENTATION, 1))
        if len(exif) == 0:
            return None, orientation
        if ORIENTATION in exif:
            exif[ORIENTATION] = 1
        return exif.tobytes(), orientation
    except Exception:  # noqa: BLE001 - a broken EXIF block is dropped, never a reason to fail
        return None, 1


def _upright(samples: np.ndarray, orientation: int) -> np.ndarray:
    """``samples`` turned as PIL.ImageOps.exif_transpose turns the image for that orientation."""
    turns = {
        2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1), 7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }
    return turns[orientation](samples) if orientation in turns else samples


def _samples(image: Image.Image, rawmode: str, path: str) -> tuple[np.ndarray | None, list[str]]:
    """The decoded ``image``'s pixels as stored (None for opaque 8-bit RGB) and what to say about
    them; ``rawmode``: how its file packs them (e.g. 'RGB;16B')."""
    mode = image.mode
    keyed = "transparency" in image.info
    if mode in ("RGB", "RGBA") and rawmode in ("RGB;16B", "RGBA;16B") and image.format == "PNG":
        return _png_sixteen_bits(image, path, rawmode), []
    if rawmode.startswith("LA;16"):
        return np.asarray(image.convert("RGBA")), ["its 16-bit grey and alpha are read at 8 bits: exported as 8-bit RGBA"]
    notes = [SIXTEEN_BIT_COLOUR_READ_AT_8] if ";16" in rawmode and mode in ("RGB", "RGBA") else []
    if mode == "RGB" and not keyed:
        return None, notes
    if mode in ("RGBA", "RGBa", "PA") or (mode == "RGB" and keyed):
        return np.asarray(image.convert("RGBA")), notes
    if mode == "P":
        if keyed:
            return np.asarray(image.convert("RGBA")), ["a palette image with transparency: exported as RGBA"]
        return None, ["a palette image: exported as RGB"]
    if mode == "L":
        return (np.asarray(image.convert("LA")), notes) if keyed else (np.asarray(image)[:, :, None], notes)
    if mode in ("LA", "La"):
        return np.asarray(image.convert("LA")), notes
    if mode == "1":
        return np.asarray(image.convert("L"))[:, :, None], ["a 1-bit image: exported as 8-bit grey"]
    if mode.startswith("I;16") or mode == "I":
        values = np.asarray(image)
        if values.size and values.min() >= 0 and values.max() <= 65535:
            return values.astype(np.uint16)[:, :, None], []
        return None, ["its 32-bit grey values are exported as the 8-bit grey npe shows"]
    if mode == "F":
        return None, ["its floating-point values are exported as the 8-bit grey npe shows"]
    if mode == "CMYK":
        return None, ["a CMYK photo: exported as RGB"]
    return None, [f"a {mode} photo: exported as RGB"]


def _png_sixteen_bits(image: Image.Image, path: str, rawmode: str) -> np.ndarray:
    """A 16-bit RGB(A) PNG's full samples: Pillow keeps only the high byte of each, so the file is
    decoded a second time with the little-endian rawmode, which keeps the low byte instead."""
    high = np.asarray(image).astype(np.uint16)
    with Image.open(path) as again:
        tile = again.tile[0]
        again.tile = [tile._replace(args=rawmode.replace("16B", "16L"))]
        again.load()
        low = np.asarray(again).astype(np.uint16)
    return (high << 8) | low


def editor_view(samples: np.ndarray) -> np.ndarray:
    """What npe.data.image_io.load_image makes of these samples: uint8 RGB, alpha composited onto
    white (single-channel 16-bit grey is scaled by 1/257, 16-bit colour keeps its high byte, as Pillow does)."""
    channels = samples.shape[2]
    if samples.dtype == np.uint16:
        if channels == 1:
            samples = np.rint(samples / 257.0).astype(np.uint8)
        else:
            samples = (samples >> 8).astype(np.uint8)
    colour = samples[:, :, :1].repeat(3, axis=2) if channels in (1, 2) else samples[:, :, :3]
    if channels in (1, 3):
        return np.ascontiguousarray(colour)
    alpha = samples[:, :, -1:].astype(np.uint16)
    return ((colour.astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255).astype(np.uint8)


def is_grey(image: np.ndarray) -> bool:
    return bool(np.array_equal(image[:, :, 0], image[:, :, 1]) and np.array_equal(image[:, :, 0], image[:, :, 2]))


def as_colour(samples: np.ndarray) -> np.ndarray:
    """Grey (+ alpha) samples as RGB (+ alpha), values unchanged."""
    if samples.shape[2] not in (1, 2):
        return samples
    grey = samples[:, :, :1].repeat(3, axis=2)
    return np.concatenate([grey, samples[:, :, 1:]], axis=2) if samples.shape[2] == 2 else grey


def merged_samples(samples: np.ndarray, photo: np.ndarray, result: np.ndarray) -> np.ndarray:
    """The stored ``samples`` with the edit ``result - photo`` (uint8 RGB, as npe shows them) put in.

    Pixels where ``result`` equals ``photo`` keep their stored samples bit for bit. Elsewhere the
    change is added to the stored colour (times 257 for 16 bits) and divided by the pixel's alpha,
    so that shown over white the pixel looks as npe showed it (a fully transparent pixel keeps its
    colour); alpha itself never changes. Grey samples take the change's mean (pass colour samples,
    see ``as_colour``, when the result is not grey)."""
    out = np.array(samples)
    ys, xs = np.nonzero(np.any(result != photo, axis=2))
    if ys.size == 0:
        return out
    channels = samples.shape[2]
    colour = 1 if channels in (1, 2) else 3
    top = 65535.0 if samples.dtype == np.uint16 else 255.0
    delta = result[ys, xs].astype(np.float64) - photo[ys, xs].astype(np.float64)
    if colour == 1:
        delta = delta.mean(axis=1, keepdims=True)
    delta *= top / 255.0
    if channels in (2, 4):
        opacity = samples[ys, xs, colour].astype(np.float64) / top
        gain = np.divide(1.0, opacity, out=np.zeros_like(opacity), where=opacity > 0)
        delta *= gain[:, None]
    changed = samples[ys, xs, :colour].astype(np.float64) + delta
    out[ys, xs, :colour] = np.clip(np.rint(changed), 0, top).astype(samples.dtype)
    return out
