"""EditSession's history actions (mixed into npe.editing.session.EditSession): undo, redo, jumping
to a step, and grouping steps into one gesture; plus the decorator that makes a method a user action.
The records themselves and the stack are npe.editing.history."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from npe.editing.errors import SessionError

if TYPE_CHECKING:
    from npe.editing.brush.stroke import Stroke
    from npe.editing.document import Document, SessionEvents
    from npe.editing.history import History

_F = TypeVar("_F", bound=Callable[..., Any])


@dataclass(frozen=True)
class HistoryEntry:
    """One undo step as the history panel shows it."""

    label: str  # e.g. "Paint", "Protect", "Latent 17", "Direction 2", "Commit", "Reset", "Sample"
    index: int  # position in the stack, 0 = oldest



def user_action(method: _F) -> Any:
    """A user action: a stroke still open is ended (one undo step) before it runs."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self._stroke is not None:
            self.end_stroke()
        return method(self, *args, **kwargs)

    return run  # functools.wraps keeps the method's name and signature


class HistoryActions:
    """The history part of EditSession (see the module doc); relies on its document, events,
    history and open stroke."""

    document: Document
    events: SessionEvents
    _history: History
    _stroke: Stroke | None
    end_stroke: Callable[[], bool]

    @user_action
    def undo(self) -> bool:
        return self.jump_to(self._history.index - 1) if self._history.can_undo else self._refuse_in_group("undo")

    @user_action
    def redo(self) -> bool:
        return self.jump_to(self._history.index + 1) if self._history.can_redo else self._refuse_in_group("redo")

    @user_action
    def jump_to(self, index: int) -> bool:
        """Undo or redo until ``history_index == index``; the document's setters emit the events."""
        if not 0 <= index <= len(self._history.records):
            raise SessionError(f"History step {index} does not exist (0-{len(self._history.records)}).")
        self._refuse_in_group("jump in the history")
        with self.events.batch():
            while self._history.index > index:
                undone = self._history.undo()
                assert undone is not None  # the index was above 0
                undone.undo(self.document)
            while self._history.index < index:
                redone = self._history.redo()
                assert redone is not None  # the index was below the end
                redone.redo(self.document)
            self.events.emit("history")
        return True

    can_undo = property(lambda self: self._history.can_undo)
    can_redo = property(lambda self: self._history.can_redo)
    history_labels = property(lambda self: self._history.labels)
    history_index = property(lambda self: self._history.index, doc="How many steps are applied.")
    history_limit = property(lambda self: self._history.limit, doc="The most steps kept.")
    history_nbytes = property(lambda self: self._history.nbytes, doc="Memory held by the undo records.")
    is_modified = property(lambda self: not self._history.is_clean, doc="Changed since saved/opened.")

    @property
    def history(self) -> list[HistoryEntry]:
        """All steps, oldest first (undone steps included, after ``history_index``)."""
        return [HistoryEntry(label, index) for index, label in enumerate(self._history.labels)]

    @contextmanager
    def grouped(self, label: str) -> Iterator[None]:
        """Everything done inside the block is one undo step called ``label``."""
        self.begin_group(label)
        try:
            yield
        finally:
            self.end_group()

    def begin_group(self, label: str) -> None:
        """Merge steps into one called ``label`` until ``end_group`` (a gesture: a drag, a wheel
        spin). Groups nest; undo/redo are refused while one is open."""
        self._history.begin_group(label)

    @user_action
    def end_group(self) -> None:
        if not self._history.grouping:
            raise RuntimeError("end_group() without begin_group()")
        self._history.end_group()
        if not self._history.grouping:
            self.events.emit("history")

    def mark_clean(self) -> None:
        self._history.mark_clean()
        self.events.emit("history")

    def _refuse_in_group(self, what: str) -> bool:
        if self._history.grouping:
            raise RuntimeError(f"{what} inside grouped(): close the group first")
        return False
