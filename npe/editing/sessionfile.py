"""The session file format (Orange keeps its scheme reader and writer apart from the commands
likewise): the document's states and every history record as plain values, the table of record
types, the checks that a file fits the model before it is opened, saving and loading a document,
and the metadata an exported PNG carries. The zip they travel in is npe.editing.sessionzip's.

Each state and record becomes a dict of JSON values whose arrays go into an ArrayStore (stored once
however many records share them). Adding a record type means one RecordFormat here (how it is
written, read back and checked) beside its class in npe.editing.history.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from npe import __version__
from npe.data.original import StoredPhoto
from npe.editing.document import CommitState, SourceState
from npe.editing.errors import OtherModelError, SessionError
from npe.editing.history import DEFAULT_LIMIT, CommitRecord, GroupRecord, History, LatentRecord, ProtectRecord, Record, SourceRecord
from npe.editing.sessionzip import read_session, write_session
from npe.geometry import CropBox


# --- states and records <-> plain values ------------------------------------------------------------


class ArrayStore:
    """Arrays of states and records on their way to or from a session file, each stored once even
    when several records share it. ``put`` returns a key; ``get`` gives the array back, checked."""

    def __init__(self, arrays: dict[str, np.ndarray] | None = None) -> None:
        self.arrays: dict[str, np.ndarray] = dict(arrays or {})
        self._keys: dict[int, str] = {}

    def put(self, array: np.ndarray | None) -> str | None:
        if array is None:
            return None
        key = self._keys.get(id(array))
        if key is None:
            key = f"a{len(self.arrays)}"
            self.arrays[key] = array
            self._keys[id(array)] = key
        return key

    def get(self, key: str | None, dtype: Any = None, ndim: int | None = None) -> np.ndarray | None:
        """The array of ``key`` (None for None); ValueError if it is missing or of another dtype or ndim."""
        if key is None:
            return None
        return self.need(key, dtype, ndim)

    def need(self, key: str, dtype: Any = None, ndim: int | None = None) -> np.ndarray:
        """``get`` for an array that must be there."""
        if not isinstance(key, str) or key not in self.arrays:
            raise ValueError(f"missing array {key!r}")
        array = self.arrays[key]
        if dtype is not None and array.dtype != np.dtype(dtype):
            raise ValueError(f"array {key!r} is {array.dtype}, expected {np.dtype(dtype)}")
        if ndim is not None and array.ndim != ndim:
            raise ValueError(f"array {key!r} has {array.ndim} dimensions, expected {ndim}")
        return array


def _rect(value: Any) -> tuple[int, int, int, int]:
    rect = tuple(int(v) for v in value)
    if len(rect) != 4 or rect[2] < rect[0] or rect[3] < rect[1] or min(rect) < 0:
        raise ValueError(f"bad rectangle {value!r}")
    return rect[0], rect[1], rect[2], rect[3]


def source_to_state(source: SourceState, store: ArrayStore) -> dict[str, Any]:
    return {
        "photo": store.put(source.photo), "box": dict(source.box), "crop": store.put(source.crop),
        "latent0": store.put(source.latent0), "latent": store.put(source.latent),
        "protect": store.put(source.protect), "is_sample": source.is_sample, "name": source.name,
        "tuned": None if source.tuned is None else {name: store.put(a) for name, a in source.tuned.items()},
        "limit": store.put(source.limit),
        **({"tint": store.put(source.tint)} if source.tint is not None else {}),
        **({"alpha": store.put(source.alpha)} if source.alpha is not None else {}),
        **({"stored": _stored_to_state(source.stored, store)} if source.stored is not None else {}),
    }


def source_from_state(state: dict[str, Any], store: ArrayStore) -> SourceState:
    tuned = state.get("tuned")  # absent in files from before per-photo tuning: untuned
    return SourceState(
        photo=store.need(state["photo"], np.uint8, 3), box={k: float(v) for k, v in dict(state["box"]).items()},
        crop=store.need(state["crop"], np.uint8, 3), latent0=store.need(state["latent0"], np.float32, 1),
        latent=store.need(state["latent"], np.float32, 1), protect=store.get(state["protect"], np.bool_, 2),
        is_sample=bool(state["is_sample"]), name=str(state["name"]),
        tuned=None if tuned is None else {str(name): store.need(key, np.float16) for name, key in dict(tuned).items()},
        limit=store.get(state.get("limit"), np.uint8, 2),
        tint=store.get(state.get("tint"), np.float16, 3),  # absent in files from before hue strokes: none
        alpha=store.get(state.get("alpha"), np.uint8, 2),
        stored=_stored_from_state(state.get("stored"), store),
    )


def _commit_state_to_state(commit: CommitState, store: ArrayStore) -> dict[str, Any]:
    return {
        "crop": store.put(commit.crop), "latent0": store.put(commit.latent0), "latent": store.put(commit.latent), "limit": store.put(commit.limit),
        **({"tint": store.put(commit.tint)} if commit.tint is not None else {}),
        **({"stored": _stored_to_state(commit.stored, store)} if commit.stored is not None else {}),
    }


def _commit_state_from_state(state: dict[str, Any], store: ArrayStore) -> CommitState:
    return CommitState(
        store.need(state["crop"], np.uint8, 3), store.need(state["latent0"], np.float32, 1), store.need(state["latent"], np.float32, 1),
        store.get(state.get("limit"), np.uint8, 2), store.get(state.get("tint"), np.float16, 3), _stored_from_state(state.get("stored"), store),
    )


def _stored_to_state(stored: StoredPhoto, store: ArrayStore) -> dict[str, Any]:
    def blob(data: bytes | None) -> str | None:
        return store.put(np.frombuffer(data, dtype=np.uint8)) if data else None

    return {"samples": store.put(stored.samples), "icc_profile": blob(stored.icc_profile), "exif": blob(stored.exif), "notes": list(stored.notes)}


def _stored_from_state(state: Any, store: ArrayStore) -> StoredPhoto | None:
    """Absent in files from before the photo's stored form was kept: the export then writes the editor's view, as it did."""
    if state is None:
        return None
    samples = store.get(state.get("samples"), ndim=3)

    def blob(key: str | None) -> bytes | None:
        array = store.get(key, np.uint8, 1)
        return None if array is None else array.tobytes()

    notes = state.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise ValueError("bad notes of the stored photo")
    return StoredPhoto(samples, blob(state.get("icc_profile")), blob(state.get("exif")), tuple(notes))


@dataclass(frozen=True)
class Fit:
    """What every record of a file must fit: the model's latent size and crop resolution, and the
    photo sizes (height, width) the file's sources hold (photos change size only through them)."""

    latent_dim: int
    resolution: int
    photo_shapes: frozenset[tuple[int, ...]]


@dataclass(frozen=True)
class RecordFormat:
    """One record type in a file: its "type" name, its class, how it is written and read back, and
    the check that it can be undone and redone with this model (a damaged file must fail at open,
    not later). ``sources``: the SourceStates it holds (the photo sizes a file may refer to)."""

    kind: str
    record: type
    to_state: Callable[[Any, ArrayStore], dict[str, Any]]
    from_state: Callable[[dict[str, Any], ArrayStore], Any]
    check: Callable[[Any, Fit], None]
    sources: Callable[[Any], Iterable[SourceState]] = lambda record: ()


def _latent_to_state(record: LatentRecord, store: ArrayStore) -> dict[str, Any]:
    return {
        "type": "latent", "label": record.label, "before": store.put(record.before), "after": store.put(record.after),
        "limit_before": store.put(record.limit_before), "limit_after": store.put(record.limit_after),
        **({"tint_before": store.put(record.tint_before)} if record.tint_before is not None else {}),
        **({"tint_after": store.put(record.tint_after)} if record.tint_after is not None else {}),
    }


def _latent_from_state(state: dict[str, Any], store: ArrayStore) -> LatentRecord:
    # Files written before the reach limit existed have no limits: the change shows everywhere, as then.
    return LatentRecord(
        str(state["label"]), store.need(state["before"], np.float32, 1), store.need(state["after"], np.float32, 1),
        store.get(state.get("limit_before"), np.uint8, 2), store.get(state.get("limit_after"), np.uint8, 2),
        store.get(state.get("tint_before"), np.float16, 3), store.get(state.get("tint_after"), np.float16, 3),
    )


def _check_latent(record: LatentRecord, fit: Fit) -> None:
    if record.before.size != fit.latent_dim or record.after.size != fit.latent_dim:
        raise ValueError("a history step with latents of the wrong size")
    if any(limit is not None and limit.shape != (fit.resolution, fit.resolution) for limit in (record.limit_before, record.limit_after)):
        raise ValueError("a history step whose reach limit does not fit this model")
    _check_tint(record.tint_before, fit.resolution, "a history step")
    _check_tint(record.tint_after, fit.resolution, "a history step")
    _finite(record.before, "a history step with latents")
    _finite(record.after, "a history step with latents")


def _check_tint(tint: np.ndarray | None, resolution: int, what: str) -> None:
    if tint is not None:
        if tint.shape != (resolution, resolution, 3):
            raise ValueError(f"{what} whose tint does not fit this model")
        _finite(tint, f"{what} with a tint")


def _protect_to_state(record: ProtectRecord, store: ArrayStore) -> dict[str, Any]:
    return {"type": "protect", "label": record.label, "rect": list(record.rect), "before": store.put(record.before), "after": store.put(record.after)}


def _protect_from_state(state: dict[str, Any], store: ArrayStore) -> ProtectRecord:
    record = ProtectRecord(str(state["label"]), _rect(state["rect"]), store.need(state["before"], np.uint8, 1), store.need(state["after"], np.uint8, 1))
    x0, y0, x1, y1 = record.rect
    needed = ((x1 - x0) * (y1 - y0) + 7) // 8
    if record.before.size != needed or record.after.size != needed:
        raise ValueError("protect record size does not match its rectangle")
    return record


def _check_protect(record: ProtectRecord | CommitRecord, fit: Fit) -> None:
    x0, y0, x1, y1 = record.rect
    if not any(x1 <= shape[1] and y1 <= shape[0] for shape in fit.photo_shapes):
        raise ValueError("a history step outside the photo")


def _source_record_to_state(record: SourceRecord, store: ArrayStore) -> dict[str, Any]:
    return {"type": "source", "label": record.label, "before": source_to_state(record.before, store), "after": source_to_state(record.after, store)}


def _source_record_from_state(state: dict[str, Any], store: ArrayStore) -> SourceRecord:
    return SourceRecord(str(state["label"]), source_from_state(state["before"], store), source_from_state(state["after"], store))


def _check_source_record(record: SourceRecord, fit: Fit) -> None:
    _check_source(record.before, fit.latent_dim, fit.resolution)
    _check_source(record.after, fit.latent_dim, fit.resolution)


def _commit_to_state(record: CommitRecord, store: ArrayStore) -> dict[str, Any]:
    return {
        "type": "commit", "label": record.label, "rect": list(record.rect),
        "region_before": store.put(record.region_before), "region_after": store.put(record.region_after),
        "before": _commit_state_to_state(record.before, store), "after": _commit_state_to_state(record.after, store),
    }


def _commit_from_state(state: dict[str, Any], store: ArrayStore) -> CommitRecord:
    record = CommitRecord(
        str(state["label"]), _rect(state["rect"]),
        store.need(state["region_before"], np.uint8, 3), store.need(state["region_after"], np.uint8, 3),
        _commit_state_from_state(state["before"], store), _commit_state_from_state(state["after"], store),
    )
    x0, y0, x1, y1 = record.rect
    if record.region_before.shape[:2] != (y1 - y0, x1 - x0) or record.region_after.shape != record.region_before.shape:
        raise ValueError("commit record regions do not match their rectangle")
    return record


def _check_commit(record: CommitRecord, fit: Fit) -> None:
    _check_protect(record, fit)  # the same rule for its rectangle
    for state in (record.before, record.after):
        if state.latent0.size != fit.latent_dim or state.latent.size != fit.latent_dim or state.crop.shape != (fit.resolution, fit.resolution, 3):
            raise ValueError("a commit step that does not fit this model")
        if state.limit is not None and state.limit.shape != (fit.resolution, fit.resolution):
            raise ValueError("a commit step whose reach limit does not fit this model")
        _check_tint(state.tint, fit.resolution, "a commit step")
        _finite(state.latent0, "a commit step with latents")
        _finite(state.latent, "a commit step with latents")


def _group_to_state(record: GroupRecord, store: ArrayStore) -> dict[str, Any]:
    return {"type": "group", "label": record.label, "records": [record_to_state(child, store) for child in record.records]}


def _group_from_state(state: dict[str, Any], store: ArrayStore) -> GroupRecord:
    return GroupRecord(str(state["label"]), [record_from_state(child, store) for child in state["records"]])


def _check_group(record: GroupRecord, fit: Fit) -> None:
    for child in record.records:
        check_record(child, fit)


RECORD_FORMATS: tuple[RecordFormat, ...] = (
    RecordFormat("latent", LatentRecord, _latent_to_state, _latent_from_state, _check_latent),
    RecordFormat("protect", ProtectRecord, _protect_to_state, _protect_from_state, _check_protect),
    RecordFormat("source", SourceRecord, _source_record_to_state, _source_record_from_state, _check_source_record,
                 sources=lambda record: (record.before, record.after)),
    RecordFormat("commit", CommitRecord, _commit_to_state, _commit_from_state, _check_commit),
    RecordFormat("group", GroupRecord, _group_to_state, _group_from_state, _check_group,
                 sources=lambda record: [source for child in record.records for source in record_sources(child)]),
)
_BY_KIND = {format.kind: format for format in RECORD_FORMATS}
_BY_CLASS = {format.record: format for format in RECORD_FORMATS}


def record_to_state(record: Record, store: ArrayStore) -> dict[str, Any]:
    return _BY_CLASS[type(record)].to_state(record, store)


def record_from_state(state: dict[str, Any], store: ArrayStore) -> Record:
    """Rebuild a record from ``record_to_state`` output; ValueError/KeyError/TypeError if it is malformed."""
    kind = state.get("type") if isinstance(state, dict) else None
    if kind not in _BY_KIND:
        raise ValueError(f"unknown history record type {kind!r}")
    return _BY_KIND[kind].from_state(state, store)


def check_record(record: Record, fit: Fit) -> None:
    """ValueError unless ``record`` could be undone and redone with this model and these photos."""
    _BY_CLASS[type(record)].check(record, fit)


def record_sources(record: Record) -> Iterable[SourceState]:
    return _BY_CLASS[type(record)].sources(record)


def history_to_state(history: History, store: ArrayStore) -> dict[str, Any]:
    return {
        "limit": history.limit, "index": history.index, "clean": history.clean_index,
        "records": [record_to_state(record, store) for record in history.records],
    }


def history_from_state(state: dict[str, Any], store: ArrayStore) -> History:
    history = History(int(state.get("limit", DEFAULT_LIMIT)))
    for record in (record_from_state(r, store) for r in state["records"]):
        history.records.append(record)
    history.index = int(state["index"])
    if not 0 <= history.index <= len(history.records):
        raise ValueError("history index out of range")
    return history


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
        "source": source_to_state(source, store),
        "history": history_to_state(history, store),
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
    recorded = manifest.get("model")
    made_for: dict[str, Any] = recorded if isinstance(recorded, dict) else {}
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
        source = source_from_state(manifest["source"], store)
        _check_source(source, latent_dim, resolution)
        history = history_from_state(manifest["history"], store)
        shapes = {source.photo.shape[:2]} | {state.photo.shape[:2] for record in history.records for state in record_sources(record)}
        fit = Fit(latent_dim, resolution, frozenset(shapes))
        for record in history.records:
            check_record(record, fit)
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
    _check_tint(source.tint, resolution, "a photo")
    if source.alpha is not None and source.alpha.shape != source.photo.shape[:2]:
        raise ValueError("an alpha channel that does not match its photo")
    if source.stored is not None and source.stored.samples is not None and source.stored.samples.shape[:2] != source.photo.shape[:2]:
        raise ValueError("stored samples that do not match their photo")
    height, width = source.photo.shape[:2]
    # A face finder's box has its centre on the photo and is neither tinier than a few pixels nor
    # many times the photo; anything else would make one stroke change far more than the face.
    if not (0 <= box.center_x <= width and 0 <= box.center_y <= height and 4 <= box.size <= 4 * max(width, height)):
        raise ValueError(f"a face box {box.to_dict()} that does not fit its {width}x{height} photo")


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
