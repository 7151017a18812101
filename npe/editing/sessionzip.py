"""The session file's container: one zip holding session.json (the manifest), the photos and crops
as PNG (images/KEY.png) and every other array in arrays.safetensors, written atomically and read
with limits that a damaged or hostile file cannot get past. Never pickle. What the manifest says
(states, history records, their checks) is npe.editing.sessionfile's.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from npe.editing.errors import SessionError
from npe.fileio import atomic_write_bytes

FORMAT = "npe-session"
VERSION = 1
MANIFEST = "session.json"
ARRAYS = "arrays.safetensors"
MAX_MEMBER_BYTES = 1 << 30  # refuse to inflate anything larger (a damaged or hostile file)
MAX_MANIFEST_BYTES = 64 << 20
# A member may inflate at most this many times its compressed size once it is past BOMB_FLOOR: real
# sessions hold PNGs (stored, ratio 1) and arrays of latents and packed masks, far below it; a
# zip bomb (a few MB declaring hundreds of MB of zeros) is far above it.
MAX_RATIO = 200
BOMB_FLOOR = 64 << 20
_CHUNK = 1 << 20


def _is_image(array: np.ndarray) -> bool:
    return array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3 and array.size > 0


def write_session(path: str | os.PathLike, document: dict[str, Any], arrays: dict[str, np.ndarray]) -> Path:
    """Write the document and its arrays atomically (any old file survives a failed write).
    OSError propagates (the caller words it)."""
    from safetensors.numpy import save

    tensors = {key: np.ascontiguousarray(a) for key, a in arrays.items() if not _is_image(a)}
    images = {key: a for key, a in arrays.items() if _is_image(a)}
    manifest = dict(document, format=FORMAT, version=VERSION, images=sorted(images), tensors=sorted(tensors))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))
        archive.writestr(ARRAYS, save(tensors) if tensors else b"")
        for key, image in images.items():
            png = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(image), mode="RGB").save(png, format="PNG", compress_level=6)
            archive.writestr(zipfile.ZipInfo(f"images/{key}.png"), png.getvalue(), compress_type=zipfile.ZIP_STORED)
    return atomic_write_bytes(path, buffer.getvalue())


def _read_member(archive: zipfile.ZipFile, name: str, damaged: str, cap: int = MAX_MEMBER_BYTES) -> bytes:
    """The bytes of member ``name``, read in small chunks that stop at its declared size (and at
    ``cap``): a member whose data inflates past what its header says fails before memory grows
    (zipfile alone decompresses a whole member in one call before cutting it to size)."""
    info = archive.getinfo(name)
    limit = min(info.file_size, cap)
    if info.file_size > cap:
        raise SessionError(f"{damaged}: its member '{name}' is implausibly large.")
    parts, total = [], 0
    with archive.open(info) as stream:
        while True:
            # read1 inflates at most about _CHUNK bytes per call, whatever the member claims.
            chunk = stream.read1(_CHUNK)  # type: ignore[attr-defined]  # a ZipExtFile; typeshed says IO[bytes]
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise SessionError(f"{damaged}: its member '{name}' holds more data than it declares.")
            parts.append(chunk)
    return b"".join(parts)


def read_session(path: str | os.PathLike, max_pixels: int | None = None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The document and its arrays; SessionError with a readable message for anything wrong.
    ``max_pixels``: the largest photo accepted (default: what opening a photo accepts)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    from npe.data.image_io import DEFAULT_MAX_PIXELS

    max_pixels = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels

    target = Path(path)
    damaged = f"'{target}' is not a readable npe session file"
    if target.is_dir():
        raise SessionError(f"'{target}' is a folder, not a session file. Choose an .npe file.")
    try:
        with zipfile.ZipFile(target) as archive:
            for info in archive.infolist():
                if info.file_size > MAX_MEMBER_BYTES or (info.file_size > BOMB_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1)):
                    raise SessionError(f"{damaged}: its member '{info.filename}' is implausibly large.")
            manifest = json.loads(_read_member(archive, MANIFEST, damaged, MAX_MANIFEST_BYTES).decode("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise SessionError(f"{damaged}: it is a zip file but not an npe session.")
            version = manifest.get("version")
            if not isinstance(version, int) or version > VERSION:
                raise SessionError(f"'{target}' was written by a newer npe (session format {version}); update npe to open it.")
            raw = _read_member(archive, ARRAYS, damaged)
            arrays: dict[str, np.ndarray] = dict(load(raw)) if raw else {}
            if sorted(arrays) != sorted(manifest.get("tensors", [])):
                raise SessionError(f"{damaged}: its arrays do not match its manifest (the file is damaged).")
            for key in manifest.get("images", []):
                if not isinstance(key, str) or "/" in key:
                    raise SessionError(f"{damaged}: bad image name {key!r}.")
                with Image.open(io.BytesIO(_read_member(archive, f"images/{key}.png", damaged))) as image:
                    if image.mode != "RGB" or image.format != "PNG":
                        raise SessionError(f"{damaged}: image '{key}' is not an RGB PNG.")
                    if image.width * image.height > max_pixels:
                        # The limit opening a photo enforces: a session must not smuggle a bigger one in.
                        raise SessionError(
                            f"'{target}' holds a {image.width}x{image.height} photo ({image.width * image.height / 1e6:.0f} MP), "
                            f"more than the {max_pixels / 1e6:.0f} million pixels npe opens."
                        )
                    image.load()
                    arrays[key] = np.asarray(image).copy()
    except SessionError:
        raise
    except FileNotFoundError:
        raise SessionError(f"Could not open '{target}': the file does not exist. Check the path.") from None
    except PermissionError:
        raise SessionError(f"Could not open '{target}': permission denied.") from None
    except zipfile.BadZipFile:
        raise SessionError(f"{damaged}: it is not a zip archive or it is truncated. It may be damaged.") from None
    except KeyError as exc:
        raise SessionError(f"{damaged}: a part is missing ({exc}). It may be damaged.") from None
    except (OSError, EOFError, ValueError, UnicodeDecodeError, SafetensorError, Image.DecompressionBombError) as exc:
        raise SessionError(f"{damaged}: {exc}. It may be damaged.") from None
    for array in arrays.values():
        array.setflags(write=False)
    return manifest, arrays
