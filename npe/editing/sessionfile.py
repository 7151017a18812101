"""The session file: one zip holding session.json (the document and its history), the photos and
crops as PNG (images/KEY.png) and every other array in arrays.safetensors. Never pickle. Also the
checks that a file fits the model before it is opened, and the metadata an exported PNG carries.
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

from npe import __version__
from npe.editing.errors import OtherModelError, SessionError
from npe.editing.history import ArrayStore, CommitRecord, GroupRecord, History, LatentRecord, ProtectRecord, SourceRecord, SourceState
from npe.fileio import atomic_write_bytes
from npe.geometry import CropBox

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
            chunk = stream.read1(_CHUNK)
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


# --- documents <-> files ----------------------------------------------------------------------------


def model_summary(name: str, latent_dim: int, resolution: int, weights_id: str | None = None) -> dict[str, Any]:
    """What a session records of its model; ``weights_id``: npe.editing.attributes.model_identifier."""
    summary: dict[str, Any] = {"name": name, "latent_dim": latent_dim, "resolution": resolution}
    if weights_id is not None:
        summary["weights_id"] = weights_id
    return summary


def save_document(path: str | os.PathLike, source: SourceState, history: History, model: dict[str, Any]) -> Path:
    """Write ``source`` and ``history`` (made with ``model``, see ``model_summary``) atomically.
    SessionError with a readable reason if it cannot be written (any old file is left intact)."""
    store = ArrayStore()
    document = {
        "software": f"npe {__version__}",
        "model": model,
        "source": source.to_state(store),
        "history": history.to_state(store),
    }
    try:
        return write_session(path, document, store.arrays)
    except OSError as exc:
        raise SessionError(f"Could not save the session to '{path}': {exc.strerror or exc}. Choose another location.") from exc


def load_document(
    path: str | os.PathLike, latent_dim: int, resolution: int, *, model: dict[str, Any] | None = None,
    allow_other_model: bool = False, notes: list[str] | None = None,
) -> tuple[SourceState, History]:
    """The source and history of a session file, checked against a model with ``latent_dim`` latents
    at ``resolution`` px: SessionError if it is damaged or made for another model. ``model`` (see
    ``model_summary``, with its weights_id): OtherModelError if the file names other weights,
    unless ``allow_other_model``; what the caller should be told is appended to ``notes``."""
    manifest, arrays = read_session(path)
    made_for = manifest.get("model") if isinstance(manifest.get("model"), dict) else {}
    if made_for.get("latent_dim") not in (None, latent_dim) or made_for.get("resolution") not in (None, resolution):
        raise SessionError(
            f"'{path}' was made with a model of {made_for.get('latent_dim')} latents at "
            f"{made_for.get('resolution')} px ('{made_for.get('name')}'); this model has {latent_dim} latents at "
            f"{resolution} px. Open it with that model (--weights)."
        )
    if model is not None and model.get("weights_id"):
        note = _other_model_note(path, made_for, model)
        if note is not None and isinstance(made_for.get("weights_id"), str) and not allow_other_model:
            raise OtherModelError(note)
        if note is not None and notes is not None:
            notes.append(note)
    store = ArrayStore(arrays)
    try:
        source = SourceState.from_state(manifest["source"], store)
        _check_source(source, latent_dim, resolution)
        history = History.from_state(manifest["history"], store)
        shapes = {source.photo.shape[:2]} | {state.photo.shape[:2] for record in history.records for state in _source_states(record)}
        for record in history.records:
            _check_record(record, latent_dim, resolution, shapes)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SessionError(f"'{path}' is not a readable npe session file: {exc}. It may be damaged.") from None
    history.mark_clean()
    return source, history


def _other_model_note(path: str | os.PathLike, made_for: dict[str, Any], model: dict[str, Any]) -> str | None:
    """Why the file may not fit ``model`` (None if it does). A file without a weights hash (older
    npe) is only a note: refusing it would lock people out of their own old sessions."""
    stored = made_for.get("weights_id")
    if not isinstance(stored, str):
        return (
            f"'{Path(path).name}' does not record which weights made it (an older npe), so npe cannot check "
            f"it was made with '{model.get('name')}'; if it was not, its edits will look different."
        )
    if stored != model["weights_id"]:
        return (
            f"'{Path(path).name}' was made with another model ('{made_for.get('name')}', weights {stored}); "
            f"this one is '{model.get('name')}' (weights {model['weights_id']}), so its edits will look different."
        )
    return None


def _finite(array: np.ndarray, what: str) -> None:
    if not np.isfinite(array).all():
        raise ValueError(f"{what} that are not finite numbers")


def _check_source(source: SourceState, dim: int, resolution: int) -> None:
    box = CropBox.from_dict(source.box)
    if source.latent0.size != dim or source.latent.size != dim:
        raise ValueError(f"latents of size {source.latent0.size}, the model has {dim}")
    _finite(source.latent0, "latents")
    _finite(source.latent, "latents")
    if source.crop.shape != (resolution, resolution, 3):
        raise ValueError(f"a crop of shape {source.crop.shape}, the model needs {resolution}x{resolution}")
    if source.protect is not None and source.protect.shape != source.photo.shape[:2]:
        raise ValueError("a protect mask that does not match its photo")
    if source.limit is not None and source.limit.shape != (resolution, resolution):
        raise ValueError("a reach limit that does not match the model's crop")
    if source.alpha is not None and source.alpha.shape != source.photo.shape[:2]:
        raise ValueError("an alpha channel that does not match its photo")
    if source.stored is not None and source.stored.samples is not None and source.stored.samples.shape[:2] != source.photo.shape[:2]:
        raise ValueError("stored samples that do not match their photo")
    height, width = source.photo.shape[:2]
    # A face finder's box has its centre on the photo and is neither tinier than a few pixels nor
    # many times the photo; anything else would make one stroke change far more than the face.
    if not (0 <= box.center_x <= width and 0 <= box.center_y <= height and 4 <= box.size <= 4 * max(width, height)):
        raise ValueError(f"a face box {box.to_dict()} that does not fit its {width}x{height} photo")


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
        if any(limit is not None and limit.shape != (resolution, resolution) for limit in (record.limit_before, record.limit_after)):
            raise ValueError("a history step whose reach limit does not fit this model")
        _finite(record.before, "a history step with latents")
        _finite(record.after, "a history step with latents")
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
                if state.limit is not None and state.limit.shape != (resolution, resolution):
                    raise ValueError("a commit step whose reach limit does not fit this model")
                _finite(state.latent0, "a commit step with latents")
                _finite(state.latent, "a commit step with latents")


def png_metadata(*, source_name: str, model_name: str, latent: np.ndarray, latent0: np.ndarray, applied: list[str], box: CropBox) -> dict[str, str]:
    """What an exported PNG carries in its text chunks: software, source, model, the applied edit
    steps (their labels, cut at 2000 characters), the latent's norm and largest changes, the face box."""
    change = latent - latent0
    largest = np.argsort(-np.abs(change))[:5]
    summary = {
        "norm": round(float(np.linalg.norm(latent)), 4),
        "change_norm": round(float(np.linalg.norm(change)), 4),
        "largest_changes": [[int(i), round(float(change[i]), 4)] for i in largest if change[i] != 0],
    }
    edits = "; ".join(applied)
    if len(edits) > 2000:
        edits = edits[:2000] + " ..."
    return {
        "Software": f"npe {__version__}",
        "Source": source_name,
        "npe-model": model_name,
        "npe-steps": str(len(applied)),
        "npe-edits": edits,
        "npe-latent": json.dumps(summary),
        "npe-box": json.dumps({k: round(v, 3) for k, v in box.to_dict().items()}),
    }
