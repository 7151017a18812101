"""The model's thread: one QThread owns the model and the EditSession and runs every job on them.

Why one owner: the session is thread-safe, but its events fire on the thread that changed it and a
brush step holds its lock for tens of milliseconds; letting only this thread touch it keeps the GUI
thread free (it never waits on the lock) and the order of edits exact. The GUI submits ``Job``s;
the worker answers with plain records: a ``Frame`` (QImages built here as copies the GUI owns, numpy
copies, strings) after each job that changed something, a ``Failure`` when a job fails, and
``idle(seq)`` when the queue is empty.

Responsiveness: a job with a ``coalesce`` key replaces the queued job with the same key at the
tail of the queue, so while one brush step runs, the mouse positions that arrive only update the
*next* step's position; at most one step is ever waiting (iGAN does the same).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QThread, Signal
from PySide6.QtGui import QColor, QImage

if TYPE_CHECKING:
    from npe.editing.session import EditSession
    from npe.model import IAN

PROTECT_COLOR = QColor(64, 200, 255, 110)  # translucent cyan over protected pixels
CHANGE_COLOR = QColor(255, 120, 40, 170)  # orange where the change mask M lets the edit through
PREVIEW_PIXELS = 1_500_000  # larger photos show a scaled preview while a stroke is in progress

_workers: "weakref.WeakSet[EditorWorker]" = weakref.WeakSet()


def running_workers() -> list[EditorWorker]:
    """Workers whose thread is still running (tests check none is left behind)."""
    return [worker for worker in list(_workers) if worker.isRunning()]


# --- records the worker hands to the GUI -------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    name: str
    resolution: int
    latent_dim: int
    device: str  # "CPU" or "CUDA (device name)"
    gallery_size: int  # sample faces offered (a fallback gallery accepts any index)
    gallery_generated: bool


@dataclass(frozen=True)
class SourceInfo:
    """What the view needs to know about the current original."""

    name: str
    photo_size: tuple[int, int]  # (width, height)
    box: tuple[float, float, float, float]  # center_x, center_y, size, angle (photo pixels, degrees)
    resolution: int
    latent_dim: int
    is_sample: bool
    default_radius: float
    direction_count: int
    original: QImage


@dataclass(frozen=True)
class HistoryInfo:
    labels: tuple[str, ...]
    index: int
    can_undo: bool
    can_redo: bool
    modified: bool


@dataclass(frozen=True)
class Frame:
    """What changed after one job; None fields did not change."""

    seq: int
    job: str
    elapsed_ms: float
    image: QImage | None = None  # the result (or, mid-stroke on a large photo, a scaled preview)
    change_mask: QImage | None = None  # M as an overlay at model resolution (map it through the box)
    protect: QImage | None = None  # the protect mask as an overlay at photo resolution
    protect_any: bool = False
    latent: np.ndarray | None = None
    direction_values: np.ndarray | None = None
    source: SourceInfo | None = None
    history: HistoryInfo | None = None
    timed: bool = False  # a model update (brush/latent step): its time goes to the status bar


class SilentFailure(Exception):
    """A job that cannot run for a reason already reported (e.g. no model): nothing more is shown."""


@dataclass(frozen=True)
class Failure:
    """A job that failed: ``message`` is fit for a dialog (no traceback)."""

    job: str
    title: str
    message: str
    kind: str = "error"  # "error", "no-face" (the GUI may offer the whole image), "model"
    path: str | None = None


@dataclass
class Job:
    """One piece of work on the session. ``run(worker)`` is called on the worker thread."""

    name: str  # for messages: "painting", "opening photo.jpg"
    run: Callable[[EditorWorker], Any]
    coalesce: str | None = None  # see module doc
    merge: Callable[[Job, Job], Job] | None = None  # (queued, new) -> job; default: new replaces queued
    group: tuple[str, int] | None = None  # (undo label, gesture id): consecutive jobs form one undo step
    view_scale: float = 1.0  # display scale, for previews
    timed: bool = False
    needs_session: bool = True  # silently skipped while there is no session yet
    fail_kind: str = "error"
    path: str | None = None
    payload: Any = None  # what a ``merge`` needs to combine two jobs (e.g. points, amounts)
    seq: int = field(default=0, compare=False)


class EditorWorker(QThread):
    """Runs jobs one after another on its own thread; see the module doc."""

    frameReady = Signal(object)  # Frame
    failed = Signal(object)  # Failure
    idle = Signal(int)  # seq of the last job done when the queue became empty
    jobDone = Signal(int, bool)  # seq, succeeded (after its frame)
    modelLoaded = Signal(object)  # ModelInfo

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self.setObjectName("npe-model-worker")
        self._condition = threading.Condition()
        self._queue: deque[Job] = deque()
        self._stopping = False
        self._seq = 0
        self._done = 0
        # Owned by the worker thread (read elsewhere only while idle, e.g. by tests).
        self.model: IAN | None = None
        self.weights: str | None = None
        self.directions: object = None
        self.gallery: object = None
        self.session: EditSession | None = None
        self._changed: set[str] = set()
        self._group: tuple[str, int] | None = None
        _workers.add(self)

    # --- GUI side -----------------------------------------------------------------------
    def submit(self, job: Job) -> int:
        """Queue ``job`` (coalescing it with the queue's tail, see module doc); returns its seq."""
        with self._condition:
            if self._stopping:
                return self._seq
            self._seq += 1
            job.seq = self._seq
            if job.coalesce is not None and self._queue and self._queue[-1].coalesce == job.coalesce:
                queued = self._queue.pop()
                if job.merge is not None:
                    merged = job.merge(queued, job)
                    merged.seq = job.seq
                    job = merged
            self._queue.append(job)
            self._condition.notify()
        return job.seq

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

    # --- worker thread ------------------------------------------------------------------
    def run(self) -> None:
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
                    self._done = job.seq
                    empty = not self._queue
                if empty:
                    self.idle.emit(job.seq)
        finally:
            self._close_group()
            if self.session is not None and self.session.stroke_active:
                try:
                    self.session.end_stroke()
                except Exception:  # noqa: BLE001 - shutting down: nothing to tell
                    traceback.print_exc()

    def _run_job(self, job: Job) -> None:
        if job.needs_session and self.session is None:
            self.jobDone.emit(job.seq, False)
            return
        started = time.perf_counter()
        ok = True
        try:
            if job.group != self._group:
                self._close_group()
                if job.group is not None and self.session is not None:
                    self.session.begin_group(job.group[0])
                    self._group = job.group
            job.run(self)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a message
            if self.session is not None and self.session.stroke_active:
                self.session.cancel_stroke()
            ok = False
            if not isinstance(exc, SilentFailure):
                self.failed.emit(describe_failure(job, exc))
        self._emit_frame(job, started)
        self.jobDone.emit(job.seq, ok)

    def _close_group(self) -> None:
        if self._group is not None and self.session is not None:
            self._group = None
            try:
                self.session.end_group()
            except Exception as exc:  # noqa: BLE001
                self.failed.emit(describe_failure(Job("finishing the edit", lambda _: None), exc))

    def set_session(self, session: EditSession) -> None:
        """Make ``session`` the document (called by jobs)."""
        self._close_group()
        if self.session is not None:
            self.session.events.disconnect(self._on_event)
        self.session = session
        session.events.connect(self._on_event)
        self._changed.update(("image", "latent", "protect", "source", "history"))

    def _on_event(self, name: str) -> None:
        self._changed.add(name)

    def _emit_frame(self, job: Job, started: float) -> None:
        changed, self._changed = self._changed, set()
        session = self.session
        if session is None or not changed:
            return
        try:
            frame = build_frame(session, changed, job, started)
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(describe_failure(Job("showing the result", lambda _: None), exc))
            return
        self.frameReady.emit(frame)


# --- helpers (worker thread) ----------------------------------------------------------------------


def build_frame(session: EditSession, changed: set[str], job: Job, started: float) -> Frame:
    """A Frame with copies of what ``changed`` says is new."""
    from npe.ui.images import mask_overlay, to_qimage

    image = change = protect = None
    protect_any = False
    latent = values = None
    source = history = None
    if "source" in changed:
        box = session.box
        directions = session.directions
        source = SourceInfo(
            name=session.name,
            photo_size=session.photo_size,
            box=(float(box.center_x), float(box.center_y), float(box.size), float(box.angle)),
            resolution=session.resolution,
            latent_dim=session.latent_dim,
            is_sample=session.is_sample,
            default_radius=float(session.default_radius),
            direction_count=0 if directions is None else len(directions),
            original=to_qimage(session.photo),
        )
    if "image" in changed or "source" in changed:
        width, height = session.photo_size
        scale = min(1.0, _bucket(job.view_scale))
        if session.stroke_active and width * height > PREVIEW_PIXELS and scale < 1.0:
            image = to_qimage(session.preview(scale))
        else:
            image = to_qimage(session.result())
        change = mask_overlay(session.change_mask(), CHANGE_COLOR)
    if "protect" in changed or "source" in changed:
        mask = session.protect_mask
        protect_any = bool(mask.any())
        protect = mask_overlay(mask, PROTECT_COLOR) if protect_any else QImage()
    if "latent" in changed or "source" in changed:
        latent = session.latent
        values = np.array(session.direction_values(), dtype=np.float32)
    if "history" in changed or "source" in changed:
        history = HistoryInfo(
            labels=tuple(session.history_labels),
            index=session.history_index,
            can_undo=session.can_undo,
            can_redo=session.can_redo,
            modified=session.is_modified,
        )
    return Frame(
        seq=job.seq, job=job.name, elapsed_ms=(time.perf_counter() - started) * 1000.0,
        image=image, change_mask=change, protect=protect, protect_any=protect_any,
        latent=latent, direction_values=values, source=source, history=history, timed=job.timed,
    )


def _bucket(scale: float) -> float:
    """Round a display scale down to a power of two, so previews are cached across zoom steps."""
    if not scale > 0:
        return 1.0
    bucket = 1.0
    while bucket / 2 >= scale and bucket > 1 / 64:
        bucket /= 2
    return bucket


def describe_failure(job: Job, exc: BaseException) -> Failure:
    """A dialog-ready account of ``exc``: the exception's own message for the errors people can fix,
    a short note (and the traceback on stderr) for everything else."""
    from npe.errors import UserError

    expected: tuple[type[BaseException], ...] = (UserError,)
    no_face: tuple[type[BaseException], ...] = ()
    try:
        from npe.data.faces import NoFaceError
        from npe.data.image_io import ImageLoadError, ImageSaveError
        from npe.editing.errors import SessionError

        expected += (ImageLoadError, ImageSaveError, SessionError)
        no_face = (NoFaceError,)
    except ImportError:  # pragma: no cover - engine not importable: everything is unexpected
        pass
    try:
        from npe.model import WeightsError

        expected += (WeightsError,)
    except ImportError:  # pragma: no cover
        pass
    for module, name in (("npe.editing.gallery", "GalleryError"), ("npe.editing.directions", "DirectionsError")):
        try:
            expected += (getattr(__import__(module, fromlist=[name]), name),)
        except (ImportError, AttributeError):  # pragma: no cover
            pass
    title = f"Problem {job.name}"
    if no_face and isinstance(exc, no_face):
        return Failure(job.name, "No face found", str(exc), "no-face", job.path)
    if isinstance(exc, expected):
        return Failure(job.name, title, str(exc), job.fail_kind, job.path)
    if isinstance(exc, MemoryError):
        return Failure(job.name, title, "There is not enough memory for this. Close other programs or use a smaller photo.", job.fail_kind, job.path)
    if isinstance(exc, OSError):
        where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
        reason = exc.strerror or str(exc)
        return Failure(job.name, title, f"Could not access{where}: {reason}. Check the file and try again.", job.fail_kind, job.path)
    print(f"npe: unexpected error while {job.name}:", file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return Failure(
        job.name,
        title,
        f"Something unexpected went wrong while {job.name} ({type(exc).__name__}). Your edit so far is kept; "
        "the details were written to the terminal. Please report them if this happens again.",
        job.fail_kind,
        job.path,
    )
