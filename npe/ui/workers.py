"""The model's thread: one QThread owns the Workspace (model + current EditSession) and runs every
job on it, in order. Only this thread touches the session, so it needs no lock, its events fire
here, and the GUI thread never waits for a brush step.

The GUI submits small typed jobs; the worker answers with signals that carry plain records: a
``Frame`` (frames.py) after each job that changed something, a ``Failure`` (failures.py) when one
fails, ``idle(seq)`` when the queue is empty.

Responsiveness: a job may absorb the job queued just before it (``absorb``): while one brush step
runs, the mouse positions that arrive only update the *next* step's position, protect segments
join, wheel notches add up; at most one such job is ever waiting (iGAN does the same).

Gestures: ``GestureJob`` opens and closes an undo group on the session, so a drag, a wheel spin or
a slider drag is one undo step (the controller decides when a gesture starts and ends).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import QObject, QThread, Signal

from npe.editing.brush import BrushSettings
from npe.editing.errors import NoModelError
from npe.ui.failures import describe_failure

if TYPE_CHECKING:
    from npe.editing.session import EditSession
    from npe.editing.sources import Fitting
    from npe.editing.workspace import Workspace

_workers: weakref.WeakSet[EditorWorker] = weakref.WeakSet()
Point = tuple[float, float]


def running_workers() -> list[EditorWorker]:
    """Workers whose thread is still running (tests check none is left behind)."""
    return [worker for worker in list(_workers) if worker.isRunning()]


# --- jobs ----------------------------------------------------------------------------------------------


@dataclass
class Job:
    """Work on the workspace: ``run(workspace)`` on the worker thread. ``name`` words it for
    messages ("opening photo.jpg"); ``path`` is the file it concerns (a no-face failure offers to
    open it whole); ``fail_kind`` "model" marks the model's loading."""

    name: str
    run: Callable[[Workspace], object]
    path: str | None = None
    fail_kind: str = "error"
    seq: int = field(default=0, compare=False)
    fits: bool = False  # it may fit the model to a photo (the status bar shows its progress)
    timed: ClassVar[bool] = False  # a model update: its time goes to the status bar

    def view_scale(self) -> float:
        """The display scale the job's frame is for (previews are cheaper when zoomed out)."""
        return 1.0

    def absorb(self, queued: Job) -> Job | None:
        """This job merged with ``queued`` (the job waiting before it), or None to queue both."""
        return None

    def execute(self, workspace: Workspace) -> None:
        self.run(workspace)


@dataclass
class SessionJob(Job):
    """An action on the current session: ``run(session)``; skipped (reported as not done) while
    nothing is open."""

    run: Callable[[EditSession], object]  # type: ignore[assignment]  # a session job's run takes the session, not the workspace

    def execute(self, workspace: Workspace) -> None:
        if workspace.session is None:
            raise _NothingOpen
        self.run(workspace.session)


@dataclass
class GestureJob(Job):
    """Opens (``label`` given) or closes (``label`` None) one gesture's undo group."""

    name: str = "finishing the edit"
    run: Callable[[Workspace], object] = field(default=lambda workspace: None)
    label: str | None = None


@dataclass
class _BrushAt(SessionJob):
    """A soft brush at (x, y) (photo pixels), drawn at display ``scale``."""

    run: Callable[[EditSession], object] = field(default=lambda session: None)
    x: float = 0.0
    y: float = 0.0
    scale: float = 1.0
    timed: ClassVar[bool] = True

    def view_scale(self) -> float:
        return self.scale


@dataclass
class BrushJob(_BrushAt):
    """The paintbrush at (x, y); ``brush`` (colour, radius, strength) starts the stroke there."""

    name: str = "painting"
    brush: BrushSettings | None = None  # set for the stroke's first position

    def absorb(self, queued: Job) -> Job | None:
        if isinstance(queued, BrushJob) and queued.brush is None and self.brush is None:
            return self  # only the latest position of a moving brush matters
        return None

    def execute(self, workspace: Workspace) -> None:
        session = workspace.session
        if session is None:
            raise _NothingOpen
        if self.brush is not None:
            session.begin_stroke(self.brush)
        if session.stroke_active:
            session.stroke_to(self.x, self.y)


@dataclass
class ProtectJob(SessionJob):
    name: str = "painting the protect mask"
    run: Callable[[EditSession], object] = field(default=lambda session: None)
    points: Sequence[Point] = ()
    radius: float = 1.0
    erase: bool = False

    def absorb(self, queued: Job) -> Job | None:
        if isinstance(queued, ProtectJob) and (queued.radius, queued.erase) == (self.radius, self.erase):
            return replace(self, points=[*queued.points, *self.points])
        return None

    def execute(self, workspace: Workspace) -> None:
        if workspace.session is None:
            raise _NothingOpen
        workspace.session.paint_protect(self.points, self.radius, erase=self.erase)


@dataclass
class LightenJob(_BrushAt):
    """Wheel notches at (x, y): brighten by ``amount`` (darken if negative) under ``radius``."""

    name: str = "lightening"
    amount: float = 0.0
    radius: float = 1.0
    reach: float | None = None  # crop pixels (None: the brush's default)

    def absorb(self, queued: Job) -> Job | None:
        if isinstance(queued, LightenJob):  # notches that arrive while a step runs add up
            return replace(self, amount=queued.amount + self.amount)
        return None

    def execute(self, workspace: Workspace) -> None:
        if workspace.session is None:
            raise _NothingOpen
        extra = {} if self.reach is None else {"reach": self.reach}
        workspace.session.lighten(self.x, self.y, self.amount, self.radius, **extra)


@dataclass
class LatentJob(SessionJob):
    """A latent or direction value from a drag: ``key`` names the control; the latest value wins."""

    key: object = None
    timed: ClassVar[bool] = True

    def absorb(self, queued: Job) -> Job | None:
        return self if isinstance(queued, LatentJob) and queued.key == self.key else None


class _NothingOpen(Exception):
    """A session job while no session is open: skipped without a message."""


# --- the worker ------------------------------------------------------------------------------------------


class EditorWorker(QThread):
    """Runs jobs one after another on its own thread; see the module doc."""

    frameReady = Signal(object)  # Frame
    failed = Signal(object)  # Failure
    idle = Signal(int)  # seq of the last job done when the queue became empty
    jobDone = Signal(int, bool)  # seq, succeeded (after its frame)
    modelLoaded = Signal(object)  # npe.editing.workspace.ModelSummary
    fittingProgress = Signal(float)  # fitting the model to a photo: fraction done 0-1; -1 when it ends
    warned = Signal(str)  # a one-line warning the workspace kept (npe.editing.workspace.Workspace.warn)

    def __init__(self, workspace: Workspace | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("npe-model-worker")
        self._condition = threading.Condition()
        self._queue: deque[Job] = deque()
        self._stopping = False
        self._seq = 0
        # Owned by the worker thread (read elsewhere only while idle, e.g. by tests). Made there
        # when not given: it imports torch, which the window must not wait for.
        self._workspace = workspace
        self._connected: EditSession | None = None
        self._changed: set[str] = set()
        self._groups = 0  # gesture groups open on the current session
        self._cancel_fitting = threading.Event()  # set from the GUI thread (Cancel, Esc)
        _workers.add(self)

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            from npe.editing.workspace import Workspace

            self._workspace = Workspace()
        return self._workspace

    @property
    def session(self) -> EditSession | None:
        return self._workspace.session if self._workspace is not None else None

    # --- GUI side -----------------------------------------------------------------------------------------
    def submit(self, job: Job) -> int:
        """Queue ``job`` (merged with the queue's tail if it absorbs it, see module doc); its seq."""
        with self._condition:
            if self._stopping:
                return self._seq
            self._seq += 1
            job.seq = self._seq
            if self._queue:
                merged = job.absorb(self._queue[-1])
                if merged is not None:
                    self._queue.pop()
                    merged.seq = job.seq
                    job = merged
            self._queue.append(job)
            self._condition.notify()
        return job.seq

    def cancel_fitting(self) -> None:
        """Stop fitting the model to the photo being opened (any thread); it opens untuned."""
        self._cancel_fitting.set()

    def fitting(self) -> Fitting:
        """A fresh sources.Fitting for a job opening a photo (worker thread): progress goes to
        ``fittingProgress``, ``cancel_fitting`` stops it."""
        from npe.editing.sources import Fitting

        self._cancel_fitting.clear()
        return Fitting(progress=lambda fraction, stage: self.fittingProgress.emit(float(fraction)), cancelled=self._cancel_fitting.is_set)

    @property
    def last_submitted(self) -> int:
        with self._condition:
            return self._seq

    @property
    def pending(self) -> int:
        with self._condition:
            return len(self._queue)

    def stop(self, timeout_ms: int = 30_000) -> bool:
        """Drop queued jobs, let the current one finish, end the thread. True if it ended."""
        with self._condition:
            self._stopping = True
            self._queue.clear()
            self._condition.notify_all()
        if not self.isRunning():
            return True
        return self.wait(timeout_ms)

    # --- worker thread ----------------------------------------------------------------------------------
    def run(self) -> None:
        self.workspace.on_session(self._session_changed)
        self.workspace.on_warning(self.warned.emit)
        try:
            while True:
                with self._condition:
                    while not self._queue and not self._stopping:
                        self._condition.wait()
                    if self._stopping:
                        return
                    job = self._queue.popleft()
                self._run_job(job)
                with self._condition:
                    empty = not self._queue
                if empty:
                    self.idle.emit(job.seq)
        finally:
            self._close_groups()

    def _run_job(self, job: Job) -> None:
        started = time.perf_counter()
        ok = True
        try:
            if isinstance(job, GestureJob):
                self._gesture(job.label)
            else:
                job.execute(self.workspace)
                if job.fits:
                    self.fittingProgress.emit(-1.0)
        except (_NothingOpen, NoModelError):  # nothing open yet / the model's failure was reported
            ok = False
        except BaseException as exc:  # every failure becomes a message
            ok = False
            if job.fits:
                self.fittingProgress.emit(-1.0)
            session = self.workspace.session
            if session is not None and session.stroke_active:
                session.cancel_stroke()  # a failed brush step must not leave a half stroke open
            self.failed.emit(describe_failure(job.name, exc, kind=job.fail_kind, path=job.path))
        self._emit_frame(job, started)
        self.jobDone.emit(job.seq, ok)

    def _gesture(self, label: str | None) -> None:
        session = self.workspace.session
        if session is None:
            return
        if label is not None:
            session.begin_group(label)
            self._groups += 1
        elif self._groups:
            self._groups -= 1
            session.end_group()

    def _close_groups(self) -> None:
        while self._groups:
            try:
                self._gesture(None)
            except Exception as exc:  # shutting down or switching: say so, keep going
                self._groups = 0
                self.failed.emit(describe_failure("finishing the edit", exc))

    def _session_changed(self, session: EditSession) -> None:
        if self._connected is not None:
            self._connected.events.disconnect(self._on_event)
        self._groups = 0  # groups opened on the old session end with it
        self._connected = session
        session.events.connect(self._on_event)
        self._changed.update(("image", "latent", "protect", "source", "history"))

    def _on_event(self, name: str) -> None:
        self._changed.add(name)

    def _emit_frame(self, job: Job, started: float) -> None:
        changed, self._changed = self._changed, set()
        session = self.workspace.session
        if session is None or not changed:
            return
        from npe.ui.frames import (
            build_frame,  # imports the session (torch): on this thread
        )

        try:
            frame = build_frame(session, changed, seq=job.seq, job=job.name, started=started, view_scale=job.view_scale(), timed=job.timed)
        except Exception as exc:
            self.failed.emit(describe_failure("showing the result", exc))
            return
        self.frameReady.emit(frame)
