"""Writing an edited photo in the format its name says, the way the original file stored it: grey
or colour, alpha, 16 bits where the format holds them, the colour profile and EXIF. 16-bit PNGs
come from a small encoder of our own (Pillow writes 8-bit colour only)."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from npe.data.image_io import ImageSaveError, checked_image, png_text, write_encoded
from npe.data.original import StoredPhoto, as_colour, is_grey, merged_samples

# What an export's file name may end in, and the format each names.
EXPORT_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
_ALPHA_FORMATS = ("PNG", "WEBP", "TIFF")
_OPTIONS: dict[str, dict[str, object]] = {
    "PNG": {}, "JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"lossless": True}, "TIFF": {"compression": "tiff_deflate"},
}
_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "TIFF": "TIFF"}
_IDAT_BYTES = 1 << 20


def export_format(path: str | os.PathLike) -> str:
    """The Pillow format the file name's extension names (case-insensitive); ImageSaveError for
    any other name, listing the ones npe writes."""
    suffix = Path(os.fspath(path)).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        known = ", ".join(EXPORT_FORMATS)
        shown = f"'{suffix}'" if suffix else "no extension"
        raise ImageSaveError(f"Cannot export to '{os.fspath(path)}': {shown} is not an image type npe writes. End the name with one of {known}.")
    return EXPORT_FORMATS[suffix]


def save_image(
    path: str | os.PathLike, image: np.ndarray, metadata: dict[str, str] | None = None, alpha: np.ndarray | None = None, *,
    photo: np.ndarray | None = None, stored: StoredPhoto | None = None, strip_metadata: bool = False,
) -> list[str]:
    """Write the uint8 HxWx3 ``image`` (the editor's result) in the format the name's extension
    says (see ``export_format``), encoded in memory, then written atomically and verified
    (npe.fileio.atomic_write_bytes). Returns what the user should be told about how it was written.

    ``photo`` and ``stored``: the original as the editor shows it and as its file stores it
    (npe.data.original): pixels where ``image`` equals ``photo`` are written as stored (alpha
    colours, 16 bits, grey), the edit is put into the others; the colour profile and EXIF
    (orientation 1) are written back. Without them, ``alpha`` (uint8 HxW) is written as the
    alpha channel. A JPEG cannot hold alpha, so that is refused rather than flattened silently;
    16 bits are kept in PNG (any layout) and TIFF (grey), said and reduced elsewhere.
    ``metadata`` goes into a PNG's text chunks. ``strip_metadata``: no EXIF and no text chunks
    (the colour profile stays: it is how the pixels are meant to look).
    Raises ImageSaveError (the old file is then untouched)."""
    kind = export_format(path)
    image = checked_image(image, alpha)
    notes = list(stored.notes) if stored is not None and photo is not None else []
    pixels = _pixels(image, alpha, photo, stored, notes)
    if pixels.shape[2] in (2, 4) and kind not in _ALPHA_FORMATS:
        raise ImageSaveError(
            f"Cannot export to '{os.fspath(path)}': the photo is transparent and JPEG has no transparency. "
            "Use .png, .webp or .tif to keep it."
        )
    if pixels.dtype == np.uint16 and not (kind == "PNG" or (kind == "TIFF" and pixels.shape[2] == 1)):
        pixels = np.rint(pixels / 257.0).astype(np.uint8)
        if kind == "TIFF":
            notes.append("npe writes 16-bit TIFF for grey photos only: this one is exported at 8 bits per channel (export as .png to keep 16)")
        else:
            notes.append(f"{_NAMES[kind]} holds 8 bits per channel: the 16-bit photo is exported at 8 bits (export as .png to keep 16)")
    if kind == "WEBP":
        pixels = as_colour(pixels)  # WebP has no grey: the same values on three channels
    icc = _fitting_profile(stored.icc_profile if stored is not None else None, pixels, notes)
    exif = None if strip_metadata or stored is None or photo is None else stored.exif
    text = {} if strip_metadata else dict(metadata or {})
    write_encoded(Path(os.fspath(path)), lambda: _encode(pixels, kind, icc, exif, text))
    return notes


def _pixels(image: np.ndarray, alpha: np.ndarray | None, photo: np.ndarray | None, stored: StoredPhoto | None, notes: list[str]) -> np.ndarray:
    """The samples to write: the stored ones with the edit put in, or the editor's RGB (+ alpha)."""
    samples = stored.samples if stored is not None else None
    if samples is None or photo is None or photo.shape != image.shape or samples.shape[:2] != image.shape[:2]:
        return image if alpha is None else np.concatenate([image, alpha[:, :, None]], axis=2)
    if samples.shape[2] in (1, 2) and not is_grey(image):
        samples = as_colour(samples)
        notes.append("the edit added colour to a grey photo: exported in colour")
    return merged_samples(samples, photo, image)


def _fitting_profile(icc: bytes | None, pixels: np.ndarray, notes: list[str]) -> bytes | None:
    """``icc`` if it describes pixels like these (an RGB profile for colour, a grey one for grey)."""
    if not icc:
        return None
    space = icc[16:20] if len(icc) >= 20 else b""
    wanted = b"GRAY" if pixels.shape[2] in (1, 2) else b"RGB "
    if space == wanted:
        return icc
    shown = space.decode("latin-1").strip() or "unknown"
    notes.append(f"its {shown} colour profile cannot describe the {'grey' if wanted == b'GRAY' else 'RGB'} pixels written: exported without it")
    return None


def _encode(pixels: np.ndarray, kind: str, icc: bytes | None, exif: bytes | None, text: dict[str, str]) -> bytes:
    if kind == "PNG" and pixels.dtype == np.uint16:
        return encode_png16(pixels, icc, exif, text)
    image = Image.fromarray(np.ascontiguousarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels))
    options = dict(_OPTIONS[kind])
    if kind == "TIFF" and exif:
        # libtiff (which Pillow uses to compress) refuses EXIF with sub-IFDs (date, GPS): Pillow's
        # own writer stores them, uncompressed.
        options.pop("compression")
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    if kind == "PNG":
        options["pnginfo"] = png_text(text)
    buffer = io.BytesIO()
    image.save(buffer, format=kind, **options)
    return buffer.getvalue()


def encode_png16(pixels: np.ndarray, icc: bytes | None = None, exif: bytes | None = None, text: dict[str, str] | None = None) -> bytes:
    """A 16-bit PNG (grey, grey + alpha, RGB or RGBA by the channel count) of uint16 H x W x C
    ``pixels``, with an iCCP profile, an eXIf block and text chunks. Rows use the Sub filter."""
    height, width, channels = pixels.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = np.ascontiguousarray(pixels, dtype=">u2").view(np.uint8).reshape(height, width * channels * 2)
    step = 2 * channels  # bytes per pixel: Sub subtracts the byte one pixel to the left
    filtered = rows.copy()
    filtered[:, step:] = rows[:, step:] - rows[:, :-step]  # uint8 arithmetic wraps, as PNG's does
    raw = np.concatenate([np.ones((height, 1), dtype=np.uint8), filtered], axis=1).tobytes()
    chunks = [(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))]
    if icc:
        chunks.append((b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if exif:
        chunks.append((b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif))
    chunks += [(chunk_id, data) for chunk_id, data, *_ in png_text(text or {}).chunks]
    compressed = zlib.compress(raw, 6)
    chunks += [(b"IDAT", compressed[start : start + _IDAT_BYTES]) for start in range(0, len(compressed), _IDAT_BYTES)] or [(b"IDAT", b"")]
    chunks.append((b"IEND", b""))
    body = b"".join(struct.pack(">I", len(data)) + name + data + struct.pack(">I", zlib.crc32(name + data)) for name, data in chunks)
    return b"\x89PNG\r\n\x1a\n" + body

