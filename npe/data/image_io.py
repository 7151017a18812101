"""Reading any photo safely as uint8 RGB, and writing PNGs atomically (other exports: npe.data.export)."""

from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, PngImagePlugin, UnidentifiedImageError

from npe.errors import UserError
from npe.fileio import atomic_write_bytes, describe_write_error

DEFAULT_MAX_PIXELS = 80_000_000

_SUPPORTED = "JPEG, PNG, BMP, WebP, TIFF or GIF"


class ImageLoadError(UserError, ValueError):
    """A photo that cannot be read; the message says why and what to do, fit for a dialog."""


class ImageSaveError(UserError, OSError):
    """An image that could not be written; the message says why and what to do. Any old file is intact."""


ImageSource = str | os.PathLike | bytes | BinaryIO


def load_image(
    source: ImageSource, *, max_pixels: int = DEFAULT_MAX_PIXELS, name: str | None = None
) -> np.ndarray:
    """Decode a photo fully into a new uint8 HxWx3 RGB array, upright as its EXIF orientation says.

    Grayscale, palette, CMYK and 16-bit/float images become RGB (16-bit is scaled, not clipped);
    transparent pixels are composited onto white; of a multi-frame GIF/TIFF the first frame is used.
    ``max_pixels`` is checked from the header before anything is decoded, so a decompression bomb
    costs nothing. Pillow's own hard limit (2 x ``PIL.Image.MAX_IMAGE_PIXELS``) still applies.
    ``name`` is how messages refer to the image (defaults to the path, or the stream's name).

    Raises ImageLoadError for anything that is not a complete, readable image.
    """
    label = name if name is not None else _label(source)
    stream = _open_stream(source, label)
    try:
        return _decode(stream, label, max_pixels)
    finally:
        if stream is not source:
            stream.close()


def load_alpha(source: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray | None:
    """The alpha channel of a transparent photo (RGBA, LA, PA or a transparency key) as uint8 HxW,
    upright like ``load_image``; None for an opaque one. Call after ``load_image`` succeeded (it
    has checked the file); any problem reading it again gives None."""
    try:
        with Image.open(os.fspath(source)) as image:
            if image.width * image.height > max_pixels:
                return None
            has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode in ("P", "L", "RGB", "1") and "transparency" in image.info)
            if not has_alpha:
                return None
            image = ImageOps.exif_transpose(image)
            return np.array(image.convert("RGBA"), dtype=np.uint8)[:, :, 3].copy()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _label(source: ImageSource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "the image data"
    return str(getattr(source, "name", "the image"))


def _open_stream(source: ImageSource, label: str) -> BinaryIO:
    """A binary stream for the source; path problems become ImageLoadError with a specific reason."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise ImageLoadError(f"Could not read {label}: it is empty (0 bytes). Choose another photo.")
        return io.BytesIO(bytes(source))
    if not isinstance(source, (str, os.PathLike)):
        return source  # an open stream: the caller owns it, we only read
    path = Path(os.fspath(source))
    if path.is_dir():
        raise ImageLoadError(f"'{label}' is a folder, not an image file. Choose a photo file inside it.")
    try:
        mode = path.stat().st_mode
    except OSError:
        mode = None  # missing or unreadable: open() below says which
    if mode is not None and not stat.S_ISREG(mode):
        # Opening a named pipe blocks until a writer appears, a device can stream forever: refuse
        # them before open(), which would hang.
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else (
            "a socket" if stat.S_ISSOCK(mode) else "not a regular file"
        )
        raise ImageLoadError(f"Could not read '{label}': it is {kind}, not an image file. Choose a photo file.")
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed by load_image
    except FileNotFoundError:
        raise ImageLoadError(f"Could not read '{label}': the file does not exist. Check the path.") from None
    except PermissionError:
        raise ImageLoadError(
            f"Could not read '{label}': permission denied. Check the file's permissions or copy it elsewhere."
        ) from None
    except OSError as exc:
        raise ImageLoadError(f"Could not read '{label}': {exc.strerror or exc}. Check the file.") from exc
    try:
        empty = os.fstat(stream.fileno()).st_size == 0
    except OSError:
        empty = False
    if empty:
        stream.close()
        raise ImageLoadError(f"Could not read '{label}': the file is empty (0 bytes). Choose another photo.")
    return stream


def _decode(stream: BinaryIO, label: str, max_pixels: int) -> np.ndarray:
    # A truncated file must fail loudly, never come back half grey; this flag is Pillow-global, so
    # refuse to run rather than silently accept damaged training data or photos.
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set; npe needs it False to detect damaged files")
    damaged = f"Could not read '{label}': the file is truncated or damaged. Re-export it or choose another photo."
    with warnings.catch_warnings():
        # Our own limit below is the one that counts; Pillow's softer warning would only be noise.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream)  # lazy: reads the header only
        except Image.DecompressionBombError:
            raise ImageLoadError(
                f"Could not open '{label}': its declared size is far too large to be a photo "
                "(possibly a decompression bomb). Choose another photo."
            ) from None
        except UnidentifiedImageError:
            raise ImageLoadError(
                f"Could not read '{label}': it is not an image npe can read (expected {_SUPPORTED}). "
                "Choose another file."
            ) from None
        except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted bytes is 'damaged'
            raise ImageLoadError(damaged) from exc
    with image:
        width, height = image.size
        if width < 1 or height < 1:
            raise ImageLoadError(damaged)
        if width * height > max_pixels:
            raise ImageLoadError(
                f"Could not open '{label}': it is {width} x {height} pixels ({width * height / 1e6:.0f} "
                f"megapixels), more than the limit of {max_pixels / 1e6:.0f} megapixels. "
                "Scale it down in an image editor and try again."
            )
        try:
            image.load()  # full decode now, so truncation is found here and not later
        except Exception as exc:  # noqa: BLE001 - OSError, SyntaxError, struct.error... all mean damaged
            raise ImageLoadError(damaged) from exc
        try:
            upright = ImageOps.exif_transpose(image)
        except Exception:  # noqa: BLE001 - broken EXIF must not make a good photo unreadable
            upright = image
        try:
            return _to_rgb(upright)
        except (ValueError, OSError) as exc:
            raise ImageLoadError(
                f"Could not read '{label}': its colour mode ({image.mode}) is not supported. "
                "Re-export it as an 8-bit RGB JPEG or PNG."
            ) from exc


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Any Pillow mode as a new, writable uint8 HxWx3 RGB array."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        gray = _scale_to_uint8(np.asarray(image), mode)
        return np.repeat(gray[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        mode in ("P", "L", "RGB", "1") and "transparency" in image.info
    )
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.uint16)
        alpha = rgba[:, :, 3:4]
        # Composite onto white: a transparent logo or cut-out portrait should not turn black.
        blended = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
        return blended.astype(np.uint8)
    # RGB, L, 1, P, CMYK, YCbCr...; 16-bit RGB files arrive here already reduced by Pillow to their
    # high byte (a scaling, within one level of exact rounding, never a clip).
    return np.array(image.convert("RGB"), dtype=np.uint8)


def _scale_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """Single-channel 16-bit, 32-bit int or float pixels scaled (never clipped) to 0..255."""
    data = values.astype(np.float64)
    if mode.startswith("I;16"):
        scaled = data / 257.0  # 65535 -> 255 exactly, 257 -> 1
    elif mode == "I" and data.size and data.min() >= 0 and data.max() <= 65535:
        scaled = data / 257.0  # 16-bit data that Pillow stores as 32-bit int
    elif mode == "F" and data.size and np.nanmin(data) >= 0 and np.nanmax(data) <= 1:
        scaled = data * 255.0  # the usual [0, 1] float convention
    else:
        # Any other range (signed or high dynamic range data): stretch what is there to 0..255.
        finite = data[np.isfinite(data)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        scaled = (data - low) * (255.0 / (high - low)) if high > low else np.zeros_like(data)
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def checked_image(image: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """``image`` as a uint8 HxWx3 array (and ``alpha``, if given, a matching uint8 HxW); ValueError otherwise."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 HxWx3 image, got {image.dtype} with shape {image.shape}")
    if alpha is not None and (alpha.dtype != np.uint8 or alpha.shape != image.shape[:2]):
        raise ValueError(f"expected a uint8 alpha of shape {image.shape[:2]}, got {alpha.dtype} {alpha.shape}")
    return image


def _pil(image: np.ndarray, alpha: np.ndarray | None) -> Image.Image:
    if alpha is None:
        return Image.fromarray(image, mode="RGB")
    return Image.fromarray(np.ascontiguousarray(np.concatenate([image, alpha[:, :, None]], axis=2)), mode="RGBA")


def write_encoded(target: Path, encode: Callable[[], bytes]) -> None:
    """Encode the file in memory (``encode()``), then write it atomically and verified
    (npe.fileio.atomic_write_bytes); an OSError from either becomes ImageSaveError with one line
    for people (the old file is untouched)."""
    try:
        atomic_write_bytes(target, encode())
    except OSError as exc:
        raise _save_error(target, exc) from exc
    _fsync_folder(target.parent)


def save_png(path: str | os.PathLike, image: np.ndarray, metadata: dict[str, str] | None = None, *, alpha: np.ndarray | None = None) -> None:
    """Write a uint8 HxWx3 image as a PNG, atomically: readers see the old file or the new one, never half.

    ``metadata`` goes into text chunks (tEXt, or iTXt for non-Latin-1 text). The PNG is written to a
    hidden temporary file in the same folder, flushed to disk, then renamed over ``path``; on any
    failure the temporary file is removed, an existing file at ``path`` is left untouched, and an
    OSError becomes ImageSaveError with a message for people.
    """
    image = checked_image(image, alpha)
    info = png_text(metadata or {})

    def encode() -> bytes:  # in memory first: see npe.fileio.atomic_write
        buffer = io.BytesIO()
        _pil(image, alpha).save(buffer, format="PNG", pnginfo=info)
        return buffer.getvalue()

    write_encoded(Path(os.fspath(path)), encode)


def png_text(metadata: dict[str, str]) -> PngImagePlugin.PngInfo:
    """PNG text chunks for ``metadata`` (tEXt, or iTXt for non-Latin-1 values); ValueError for a bad key."""
    info = PngImagePlugin.PngInfo()
    for key, value in metadata.items():
        # PNG keywords are 1-79 Latin-1 characters; a bad key is a programming error, not a user one.
        if not isinstance(key, str) or not 1 <= len(key) <= 79:
            raise ValueError(f"PNG metadata keys must be 1 to 79 characters, got {key!r}")
        try:
            key.encode("latin-1")
        except UnicodeEncodeError:
            raise ValueError(f"PNG metadata keys must be Latin-1 text, got {key!r}") from None
        info.add_text(key, str(value))  # Pillow writes iTXt (UTF-8) when the value is not Latin-1
    return info


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the OS allows it (POSIX); best effort."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _save_error(target: Path, exc: OSError) -> ImageSaveError:
    error = ImageSaveError(describe_write_error(target, exc))
    error.errno = exc.errno  # kept for callers that branch on it; the message stays the readable one
    return error
