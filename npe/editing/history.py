"""Undo/redo of small records: latents before/after, protect-mask deltas, and for commits only the
changed photo region. A bounded stack (napari keeps paint atoms in a bounded deque likewise).

Records do not know the session; they call the document's public setters (``Restorable``), the
same path as doing the action, so do, undo and redo emit the same events. Undo and redo put back
exactly the stored values: an undo followed by a redo is bit-identical. How records are written to
and read from a session file, and checked when one is opened, is npe.editing.sessionfile's.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from npe.editing.document import CommitState, SourceState

DEFAULT_LIMIT = 500


class Restorable(Protocol):
    """What records need from the document they change (npe.editing.document.Document)."""

    def set_latent(self, latent: np.ndarray, *, limit: np.ndarray | None = None, tint: np.ndarray | None = None) -> None: ...

    def set_protect_region(self, rect: tuple[int, int, int, int], values: np.ndarray) -> None: ...

    def set_source(self, source: SourceState) -> None: ...

    def apply_commit(self, state: CommitState, rect: tuple[int, int, int, int], region: np.ndarray) -> None: ...


# --- records --------------------------------------------------------------------------------


@dataclass
class LatentRecord:
    """The current latent changed (a stroke, a latent value, a direction, lighten, reset), with the
    composite's reach limit before and after (uint8 R x R, 255 = may change; None = everywhere) and
    the hue strokes' tint before and after (float16 R x R x 3; None = none)."""

    label: str
    before: np.ndarray
    after: np.ndarray
    limit_before: np.ndarray | None = None
    limit_after: np.ndarray | None = None
    tint_before: np.ndarray | None = None
    tint_after: np.ndarray | None = None

    def undo(self, target: Restorable) -> None:
        target.set_latent(self.before, limit=self.limit_before, tint=self.tint_before)

    def redo(self, target: Restorable) -> None:
        target.set_latent(self.after, limit=self.limit_after, tint=self.tint_after)

    @property
    def nbytes(self) -> int:
        arrays = (self.before, self.after, self.limit_before, self.limit_after, self.tint_before, self.tint_after)
        return sum(a.nbytes for a in arrays if a is not None)


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


@dataclass
class GroupRecord:
    """Several records undone and redone as one step."""

    label: str
    records: list[Record] = field(default_factory=list)

    def undo(self, target: Restorable) -> None:
        for record in reversed(self.records):
            record.undo(target)

    def redo(self, target: Restorable) -> None:
        for record in self.records:
            record.redo(target)

    @property
    def nbytes(self) -> int:
        return sum(record.nbytes for record in self.records)


Record = LatentRecord | ProtectRecord | SourceRecord | CommitRecord | GroupRecord


def merge(label: str, records: list[Record]) -> Record:
    """One record for a group: consecutive latent changes collapse into one (a slider drag of a
    hundred moves costs one record); anything else becomes a GroupRecord. A group of one record
    that names itself more closely ("Paint: Smiling +1.8 σ" in a "Paint" gesture) keeps its name."""
    if len(records) == 1 and records[0].label.startswith(f"{label}: "):
        label = records[0].label
    latents = [r for r in records if isinstance(r, LatentRecord)]
    if len(latents) == len(records):
        return LatentRecord(label, latents[0].before, latents[-1].after, latents[0].limit_before, latents[-1].limit_after,
                            latents[0].tint_before, latents[-1].tint_after)
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
    def clean_index(self) -> int | None:
        """The index of the state last saved (None: it fell off the stack or was overwritten)."""
        return self._clean

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
