"""Undo/redo of small records: latents before/after, protect-mask deltas, and for commits only the
changed photo region. A bounded stack (napari keeps paint atoms in a bounded deque likewise).

Records do not know the session; they call the document's public setters (``Restorable``), the
same path as doing the action, so do, undo and redo emit the same events. Undo and redo put back
exactly the stored values: an undo followed by a redo is bit-identical.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from npe.data.original import StoredPhoto

DEFAULT_LIMIT = 500


class Restorable(Protocol):
    """What records need from the document they change (npe.editing.document.Document)."""

    def set_latent(self, latent: np.ndarray, *, limit: np.ndarray | None = None) -> None: ...

    def set_protect_region(self, rect: tuple[int, int, int, int], values: np.ndarray) -> None: ...

    def set_source(self, source: SourceState) -> None: ...

    def apply_commit(self, state: CommitState, rect: tuple[int, int, int, int], region: np.ndarray) -> None: ...


class ArrayStore:
    """Arrays of records on their way to or from a session file, each stored once even when
    several records share it. ``put`` returns a key; ``get`` gives the array back."""

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
        if key is None:
            return None
        if not isinstance(key, str) or key not in self.arrays:
            raise ValueError(f"missing array {key!r}")
        array = self.arrays[key]
        if dtype is not None and array.dtype != np.dtype(dtype):
            raise ValueError(f"array {key!r} is {array.dtype}, expected {np.dtype(dtype)}")
        if ndim is not None and array.ndim != ndim:
            raise ValueError(f"array {key!r} has {array.ndim} dimensions, expected {ndim}")
        return array


def _readonly(array: np.ndarray | None) -> np.ndarray | None:
    if array is not None:
        array.setflags(write=False)
    return array


def _rect(value: Any) -> tuple[int, int, int, int]:
    rect = tuple(int(v) for v in value)
    if len(rect) != 4 or rect[2] < rect[0] or rect[3] < rect[1] or min(rect) < 0:
        raise ValueError(f"bad rectangle {value!r}")
    return rect


# --- records --------------------------------------------------------------------------------


@dataclass
class LatentRecord:
    """The current latent changed (a stroke, a latent value, a direction, lighten, reset), with the
    composite's reach limit before and after (uint8 R x R, 255 = may change; None = everywhere)."""

    label: str
    before: np.ndarray
    after: np.ndarray
    limit_before: np.ndarray | None = None
    limit_after: np.ndarray | None = None

    def undo(self, target: Restorable) -> None:
        target.set_latent(self.before, limit=self.limit_before)

    def redo(self, target: Restorable) -> None:
        target.set_latent(self.after, limit=self.limit_after)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.before, self.after, self.limit_before, self.limit_after) if a is not None)

    def to_state(self, store: ArrayStore) -> dict[str, Any]:
        return {
            "type": "latent", "label": self.label, "before": store.put(self.before), "after": store.put(self.after),
            "limit_before": store.put(self.limit_before), "limit_after": store.put(self.limit_after),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], store: ArrayStore) -> LatentRecord:
        # Files written before the reach limit existed have no limits: the change shows everywhere, as then.
        return cls(
            str(state["label"]), store.get(state["before"], np.float32, 1), store.get(state["after"], np.float32, 1),
            store.get(state.get("limit_before"), np.uint8, 2), store.get(state.get("limit_after"), np.uint8, 2),
        )


@dataclass
class ProtectRecord:
    """The protect mask changed inside ``rect`` (x0, y0, x1, y1); before/after as packed bits."""

    label: str
    rect: tuple[int, int, int, int]
    before: np.ndarray  # np.packbits of the bool region
    after: np.ndarray

    @classmethod
    def from_regions(cls, label: str, rect: tuple[int, int, int, int], before: np.ndarray, after: np.ndarray) -> ProtectRecord:
        return cls(label, rect, np.packbits(before, axis=None), np.packbits(after, axis=None))

    def _unpack(self, bits: np.ndarray) -> np.ndarray:
        x0, y0, x1, y1 = self.rect
        count = (x1 - x0) * (y1 - y0)
        return np.unpackbits(bits, count=count).astype(bool).reshape(y1 - y0, x1 - x0)

    def undo(self, target: Restorable) -> None:
        target.set_protect_region(self.rect, self._unpack(self.before))

    def redo(self, target: Restorable) -> None:
        target.set_protect_region(self.rect, self._unpack(self.after))

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes

    def to_state(self, store: ArrayStore) -> dict[str, Any]:
        return {
            "type": "protect", "label": self.label, "rect": list(self.rect),
            "before": store.put(self.before), "after": store.put(self.after),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], store: ArrayStore) -> ProtectRecord:
        record = cls(str(state["label"]), _rect(state["rect"]), store.get(state["before"], np.uint8, 1), store.get(state["after"], np.uint8, 1))
        x0, y0, x1, y1 = record.rect
        needed = ((x1 - x0) * (y1 - y0) + 7) // 8
        if record.before.size != needed or record.after.size != needed:
            raise ValueError("protect record size does not match its rectangle")
        return record


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
    alpha: np.ndarray | None = None  # uint8 H x W: a transparent photo's alpha, exported unchanged
    # How the photo's file stores it (alpha colours, 16 bits, grey, colour profile, EXIF): what
    # export writes back (npe.data.original); None for generated faces and plain 8-bit RGB files.
    stored: StoredPhoto | None = None

    def __post_init__(self) -> None:
        for array in (self.photo, self.crop, self.latent0, self.latent, self.protect, self.limit, self.alpha, *(self.tuned or {}).values()):
            _readonly(array)

    @property
    def nbytes(self) -> int:
        arrays = (self.photo, self.crop, self.latent0, self.latent, self.protect, self.limit, self.alpha, *(self.tuned or {}).values())
        return sum(a.nbytes for a in arrays if a is not None) + (self.stored.nbytes if self.stored is not None else 0)

    def to_state(self, store: ArrayStore) -> dict[str, Any]:
        return {
            "photo": store.put(self.photo), "box": dict(self.box), "crop": store.put(self.crop),
            "latent0": store.put(self.latent0), "latent": store.put(self.latent),
            "protect": store.put(self.protect), "is_sample": self.is_sample, "name": self.name,
            "tuned": None if self.tuned is None else {name: store.put(a) for name, a in self.tuned.items()},
            "limit": store.put(self.limit),
            **({"alpha": store.put(self.alpha)} if self.alpha is not None else {}),
            **({"stored": _stored_state(self.stored, store)} if self.stored is not None else {}),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], store: ArrayStore) -> SourceState:
        tuned = state.get("tuned")  # absent in files from before per-photo tuning: untuned
        return cls(
            photo=store.get(state["photo"], np.uint8, 3), box={k: float(v) for k, v in dict(state["box"]).items()},
            crop=store.get(state["crop"], np.uint8, 3), latent0=store.get(state["latent0"], np.float32, 1),
            latent=store.get(state["latent"], np.float32, 1), protect=store.get(state["protect"], np.bool_, 2),
            is_sample=bool(state["is_sample"]), name=str(state["name"]),
            tuned=None if tuned is None else {str(name): store.get(key, np.float16) for name, key in dict(tuned).items()},
            limit=store.get(state.get("limit"), np.uint8, 2),
            alpha=store.get(state.get("alpha"), np.uint8, 2),
            stored=_stored_from_state(state.get("stored"), store),
        )


def _stored_state(stored: StoredPhoto, store: ArrayStore) -> dict[str, Any]:
    def blob(data: bytes | None) -> str | None:
        return store.put(np.frombuffer(data, dtype=np.uint8)) if data else None

    return {"samples": store.put(stored.samples), "icc_profile": blob(stored.icc_profile), "exif": blob(stored.exif), "notes": list(stored.notes)}


def _stored_from_state(state: Any, store: ArrayStore) -> StoredPhoto | None:
    """Absent in files from before issue 22: the export then writes the editor's view, as it did."""
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


@dataclass
class SourceRecord:
    """The whole original was replaced (a new sample, another gallery face, another photo)."""

    label: str
    before: SourceState
    after: SourceState

    def undo(self, target: Restorable) -> None:
        target.set_source(self.before)

    def redo(self, target: Restorable) -> None:
        target.set_source(self.after)

    @property
    def nbytes(self) -> int:
        # Photos are shared with the document (and with neighbouring records), not copies.
        return self.before.crop.nbytes + self.after.crop.nbytes + 4 * self.before.latent.nbytes

    def to_state(self, store: ArrayStore) -> dict[str, Any]:
        return {"type": "source", "label": self.label, "before": self.before.to_state(store), "after": self.after.to_state(store)}

    @classmethod
    def from_state(cls, state: dict[str, Any], store: ArrayStore) -> SourceRecord:
        return cls(str(state["label"]), SourceState.from_state(state["before"], store), SourceState.from_state(state["after"], store))


@dataclass
class CommitState:
    """The small part of the document a commit changes besides the photo region."""

    crop: np.ndarray
    latent0: np.ndarray
    latent: np.ndarray
    limit: np.ndarray | None = None  # the reach limit (see SourceState); None: everywhere
    stored: StoredPhoto | None = None  # the file's form of the photo (see SourceState), changed alike

    def to_state(self, store: ArrayStore) -> dict[str, Any]:
        return {
            "crop": store.put(self.crop), "latent0": store.put(self.latent0), "latent": store.put(self.latent), "limit": store.put(self.limit),
            **({"stored": _stored_state(self.stored, store)} if self.stored is not None else {}),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], store: ArrayStore) -> CommitState:
        return cls(
            store.get(state["crop"], np.uint8, 3), store.get(state["latent0"], np.float32, 1), store.get(state["latent"], np.float32, 1),
            store.get(state.get("limit"), np.uint8, 2), _stored_from_state(state.get("stored"), store),
        )


@dataclass
class CommitRecord:
    """"Update": the result became the original. Stores only the photo rectangle that changed
    (uint8, before and after) plus crops and latents."""

    label: str
    rect: tuple[int, int, int, int]
    region_before: np.ndarray
    region_after: np.ndarray
    before: CommitState
    after: CommitState

    def undo(self, target: Restorable) -> None:
        target.apply_commit(self.before, self.rect, self.region_before)

    def redo(self, target: Restorable) -> None:
        target.apply_commit(self.after, self.rect, self.region_after)

    @property
    def nbytes(self) -> int:
        return self.region_before.nbytes + self.region_after.nbytes + 2 * (self.before.crop.nbytes + 2 * self.before.latent.nbytes)

    def to_state(self, store: ArrayStore) -> dict[str, Any]:
        return {
            "type": "commit", "label": self.label, "rect": list(self.rect),
            "region_before": store.put(self.region_before), "region_after": store.put(self.region_after),
            "before": self.before.to_state(store), "after": self.after.to_state(store),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], store: ArrayStore) -> CommitRecord:
        record = cls(
            str(state["label"]), _rect(state["rect"]),
            store.get(state["region_before"], np.uint8, 3), store.get(state["region_after"], np.uint8, 3),
            CommitState.from_state(state["before"], store), CommitState.from_state(state["after"], store),
        )
        x0, y0, x1, y1 = record.rect
        if record.region_before.shape[:2] != (y1 - y0, x1 - x0) or record.region_after.shape != record.region_before.shape:
            raise ValueError("commit record regions do not match their rectangle")
        return record


@dataclass
class GroupRecord:
    """Several records undone and redone as one step."""

    label: str
    records: list[Any] = field(default_factory=list)

    def undo(self, target: Restorable) -> None:
        for record in reversed(self.records):
            record.undo(target)

    def redo(self, target: Restorable) -> None:
        for record in self.records:
            record.redo(target)

    @property
    def nbytes(self) -> int:
        return sum(record.nbytes for record in self.records)

    def to_state(self, store: ArrayStore) -> dict[str, Any]:
        return {"type": "group", "label": self.label, "records": [r.to_state(store) for r in self.records]}

    @classmethod
    def from_state(cls, state: dict[str, Any], store: ArrayStore) -> GroupRecord:
        return cls(str(state["label"]), [record_from_state(r, store) for r in state["records"]])


Record = LatentRecord | ProtectRecord | SourceRecord | CommitRecord | GroupRecord

_TYPES: dict[str, Callable[[dict[str, Any], ArrayStore], Any]] = {
    "latent": LatentRecord.from_state,
    "protect": ProtectRecord.from_state,
    "source": SourceRecord.from_state,
    "commit": CommitRecord.from_state,
    "group": GroupRecord.from_state,
}


def record_from_state(state: dict[str, Any], store: ArrayStore) -> Record:
    """Rebuild a record from ``to_state`` output; ValueError/KeyError/TypeError if it is malformed."""
    kind = state.get("type") if isinstance(state, dict) else None
    if kind not in _TYPES:
        raise ValueError(f"unknown history record type {kind!r}")
    return _TYPES[kind](state, store)


def merge(label: str, records: list[Record]) -> Record:
    """One record for a group: consecutive latent changes collapse into one (a slider drag of a
    hundred moves costs one record); anything else becomes a GroupRecord."""
    if all(isinstance(r, LatentRecord) for r in records):
        return LatentRecord(label, records[0].before, records[-1].after, records[0].limit_before, records[-1].limit_after)
    if len(records) == 1:
        records[0].label = label
        return records[0]
    return GroupRecord(label, list(records))


# --- the stack ------------------------------------------------------------------------------


class History:
    """A bounded undo stack. ``index`` records are applied; those after it can be redone. The
    oldest records fall off beyond ``limit``. ``clean`` marks the state last saved."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if limit < 1:
            raise ValueError(f"the history needs room for at least one step, got {limit}")
        self.limit = limit
        self.records: deque[Record] = deque()
        self.index = 0
        self._clean: int | None = 0  # None: the saved state fell off the stack or was overwritten
        self._groups: list[tuple[str, list[Record]]] = []

    # grouping
    def begin_group(self, label: str) -> None:
        self._groups.append((label, []))

    def end_group(self) -> Record | None:
        """Close the innermost group; returns the merged record it pushed (None if empty)."""
        label, records = self._groups.pop()
        if not records:
            return None
        record = merge(label, records)
        self.push(record)
        return record

    @property
    def grouping(self) -> bool:
        return bool(self._groups)

    def open_records(self) -> list[Record]:
        """The records of the innermost open group so far (empty outside a group)."""
        return list(self._groups[-1][1]) if self._groups else []

    def relabel_group(self, label: str) -> None:
        """Rename the innermost open group (a slider drag names its net change); no-op outside one."""
        if self._groups:
            self._groups[-1] = (label, self._groups[-1][1])

    def push(self, record: Record) -> None:
        if self._groups:
            self._groups[-1][1].append(record)
            return
        while len(self.records) > self.index:  # a new step discards what could be redone
            self.records.pop()
        if self._clean is not None and self._clean > self.index:
            self._clean = None
        self.records.append(record)
        self.index += 1
        while len(self.records) > self.limit:
            self.records.popleft()
            self.index -= 1
            if self._clean is not None:
                self._clean = self._clean - 1 if self._clean > 0 else None

    def undo(self) -> Record | None:
        """The record to undo (the caller applies ``record.undo``), or None."""
        if self.index == 0:
            return None
        self.index -= 1
        return self.records[self.index]

    def redo(self) -> Record | None:
        if self.index >= len(self.records):
            return None
        self.index += 1
        return self.records[self.index - 1]

    @property
    def labels(self) -> list[str]:
        return [record.label for record in self.records]

    @property
    def can_undo(self) -> bool:
        return self.index > 0

    @property
    def can_redo(self) -> bool:
        return self.index < len(self.records)

    def mark_clean(self) -> None:
        self._clean = self.index

    @property
    def is_clean(self) -> bool:
        return self._clean == self.index

    @property
    def nbytes(self) -> int:
        return sum(record.nbytes for record in self.records)

    def clear(self) -> None:
        self.records.clear()
        self.index = 0
        self._clean = 0

    # session files
    def to_state(self, store: ArrayStore) -> dict[str, Any]:
        return {
            "limit": self.limit, "index": self.index, "clean": self._clean,
            "records": [record.to_state(store) for record in self.records],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], store: ArrayStore) -> History:
        history = cls(int(state.get("limit", DEFAULT_LIMIT)))
        history.records = deque(record_from_state(r, store) for r in state["records"])
        history.index = int(state["index"])
        if not 0 <= history.index <= len(history.records):
            raise ValueError("history index out of range")
        return history
