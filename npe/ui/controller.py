"""The GUI thread's side of the document: turns the window's requests into jobs for the model
worker and passes on what the worker reports as signals that carry their data. The application's
rules (loading the model, opening faces, open-or-replace) live in npe.editing.workspace.

Widgets never touch the EditSession: it belongs to the worker thread (see workers.py). The
controller keeps only what the window's logic needs to decide things (the source's description,
the history, the model's summary); images go straight to the widgets that show them.

Gestures: ``begin_gesture(label, key)`` / ``end_gesture()`` make everything between them one undo
step. Strokes, protect drags, wheel spins, slider and tile drags all use it; a new gesture (or any
other action) ends the one before.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, Signal
from PySide6.QtGui import QImage

from npe.editing.brush import DEFAULT_REACH, BrushSettings
from npe.ui.failures import Failure
from npe.ui.frames import Frame, HistoryInfo, SourceInfo
from npe.ui.workers import (
    BrushJob,
    EditorWorker,
    GestureJob,
    Job,
    LatentJob,
    LightenJob,
    ProtectJob,
    SessionJob,
)

if TYPE_CHECKING:
    from npe.editing.session import EditSession
    from npe.editing.workspace import ModelSummary, Workspace

Point = tuple[float, float]


class EditorController(QObject):
    """See the module doc. All methods are called on the GUI thread and return at once."""

    modelLoaded = Signal(object)  # ModelSummary
    modelFailed = Signal(object)  # Failure
    imageChanged = Signal(QImage, QImage)  # result, change-mask overlay
    sourceChanged = Signal(object)  # SourceInfo
    latentChanged = Signal(object, object)  # latent, direction values (numpy)
    attributesChanged = Signal(object)  # the named attributes' values (numpy, standard deviations)
    protectChanged = Signal(object)  # the protect overlay QImage, or None when nothing is protected
    historyChanged = Signal(object)  # HistoryInfo
    failed = Signal(object)  # Failure
    busyChanged = Signal(bool)
    updateTimed = Signal(float)  # milliseconds of the last model update
    fittingProgress = Signal(float)  # fitting the model to an opened photo: 0-1; -1 when it ends
    warned = Signal(str)  # a one-line warning for the status bar (a damaged companion file...)
    hinted = Signal(str)  # a passing hint for the status bar (a colour painted on skin carried nothing)
    facesFound = Signal(object)  # npe.editing.face_choice.FaceReport of the photo just opened
    alternativesChanged = Signal(object)  # the last stroke's answers: tuple of (label, QImage preview, shown now), () for none

    def __init__(self, workspace: Workspace | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = EditorWorker(workspace)
        self.worker.frameReady.connect(self._apply_frame)
        self.worker.failed.connect(self._on_failed)
        self.worker.idle.connect(self._on_idle)
        self.worker.jobDone.connect(self._on_job_done)
        self.worker.modelLoaded.connect(self._on_model_loaded)
        self.worker.fittingProgress.connect(self.fittingProgress)
        self.worker.warned.connect(self.warned)
        self.model_info: ModelSummary | None = None
        self.source: SourceInfo | None = None
        self.history = HistoryInfo((), 0, False, False, False)
        self._idle_seq = 0
        self._busy = False
        self._callbacks: dict[int, Callable[[bool], None]] = {}
        self._gesture: Hashable | None = None
        self._strokes = itertools.count(1)
        self._stroke = False
        self.worker.start()

    # --- state ---------------------------------------------------------------------------------------
    @property
    def session(self) -> EditSession | None:
        """The worker's session, for tests and tools: read it only while ``is_idle()``."""
        return self.worker.session

    @property
    def has_document(self) -> bool:
        return self.source is not None

    @property
    def modified(self) -> bool:
        return self.history.modified

    def is_idle(self) -> bool:
        """True when every submitted job is done and its results have reached this thread."""
        return self._idle_seq >= self.worker.last_submitted

    def wait_idle(self, timeout_ms: int = 60_000) -> bool:
        """Process events until idle (for scripted use: screenshots, tests). False on timeout."""
        timer = QElapsedTimer()
        timer.start()
        loop = QEventLoop()
        while not self.is_idle():
            if timer.elapsed() > timeout_ms or not self.worker.isRunning():
                return False
            loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents | QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 50)
        return True

    def shutdown(self) -> bool:
        """Stop the worker thread (dropping queued jobs); True when it has ended."""
        return self.worker.stop()

    # --- gestures ------------------------------------------------------------------------------------------
    def begin_gesture(self, label: str, key: Hashable | None = None) -> None:
        """Start one undo step called ``label``; a call with the ``key`` of the open gesture
        continues it, any other ends it first."""
        key = key if key is not None else label
        if self._gesture == key:
            return
        self.end_gesture()
        self._gesture = key
        self._submit(GestureJob(label=label))

    def end_gesture(self, key: Hashable | None = None) -> None:
        """Close the open gesture's undo step (only if it is ``key``'s, when given)."""
        if self._gesture is None or (key is not None and key != self._gesture):
            return
        if self._stroke:
            self._stroke = False
            self._submit(SessionJob("finishing the stroke", self._finish_stroke))
        self._gesture = None
        self._submit(GestureJob())

    def _finish_stroke(self, session: EditSession) -> None:
        """(On the worker) end the stroke; pass on what it should tell the user."""
        session.end_stroke()
        if session.stroke_hint:
            self.hinted.emit(session.stroke_hint)

    # --- model and documents --------------------------------------------------------------------------------
    def load_model(self, weights: str | None, device: str = "auto") -> int:
        return self._submit(Job("loading the model", lambda ws: self.worker.modelLoaded.emit(ws.load_model(weights, device)), fail_kind="model"))

    def open_sample(self, index: int, on_done: Callable[[bool], None] | None = None) -> int:
        return self._open(f"opening sample face {index}", lambda ws: ws.open_sample(index), on_done)

    def open_dataset_face(self, dataset: str, index: int, on_done: Callable[[bool], None] | None = None) -> int:
        """Face ``index`` of the user's own collection (a zip archive or folder of face photos)."""
        fit = self.worker.fitting
        return self._open(f"opening face {index} of '{Path(dataset).name}'", lambda ws: ws.open_collection_face(dataset, index, tune=fit()), on_done, fits=True)

    def open_random(self, seed: int | None = None, on_done: Callable[[bool], None] | None = None) -> int:
        return self._open("making a random face", lambda ws: ws.open_random(seed), on_done)

    def open_photo(self, path: str, whole_image: bool = False, on_done: Callable[[bool], None] | None = None) -> int:
        """Open a photo; a doubtful face is opened too (with its box shown the window asks), and
        ``facesFound`` says what was found. The model is fitted to it on the worker (cancellable)."""
        fit = self.worker.fitting  # called on the worker, when the job starts

        def run(workspace: Workspace) -> None:
            workspace.open_photo(path, whole_image, accept_doubtful=True, tune=fit())
            self.facesFound.emit(workspace.faces)

        return self._open(f"opening '{Path(path).name}'", run, on_done, path, fits=True)

    def set_face_box(self, box: Sequence[float], label: str = "Move face box") -> int:
        """Move the face square (center_x, center_y, size, angle): re-cropped and re-encoded, one undo step."""
        self.end_gesture()
        return self._submit(Job("re-encoding the face box", lambda ws: ws.set_face_box(tuple(box), label)))

    def cancel_fitting(self) -> None:
        """Stop fitting the model to the photo being opened: it opens with the encoder's face."""
        self.worker.cancel_fitting()

    def open_session(self, path: str, on_done: Callable[[bool], None] | None = None, *, allow_other_model: bool = False) -> int:
        """``allow_other_model``: open it even if other weights made it (after asking the user)."""
        return self._open(f"opening the session '{Path(path).name}'", lambda ws: ws.open_session_file(path, allow_other_model=allow_other_model), on_done, path)

    def save_session(self, path: str, on_done: Callable[[bool], None] | None = None) -> int:
        return self._open(f"saving the session to '{Path(path).name}'", lambda ws: ws.save_session(path), on_done, path)

    def export_png(self, path: str, on_done: Callable[[bool], None] | None = None, *, strip_metadata: bool = False) -> int:
        """``strip_metadata``: leave EXIF and npe's edit notes out (Workspace.export_png)."""
        return self._open(f"exporting '{Path(path).name}'", lambda ws: ws.export_png(path, strip_metadata=strip_metadata), on_done, path)

    # --- painting ------------------------------------------------------------------------------------------
    def begin_stroke(
        self, x: float, y: float, color: tuple[int, int, int], radius: float, strength: float, view_scale: float = 1.0, reach: float | None = None
    ) -> None:
        """Start a brush stroke at (x, y) (photo pixels), one gesture; follow with stroke_to / end_stroke.
        ``reach``: crop pixels the change may spread beyond the brush (None: the brush's default)."""
        self.begin_gesture("Paint", ("stroke", next(self._strokes)))
        self._stroke = True
        brush = BrushSettings(color=(color[0], color[1], color[2]), radius=float(radius), strength=float(strength),
                              reach=float(DEFAULT_REACH if reach is None else reach))
        self._submit(BrushJob(x=x, y=y, brush=brush, scale=view_scale))

    def stroke_to(self, x: float, y: float, view_scale: float = 1.0) -> None:
        """Move the brush. Only the latest position waits while a step runs."""
        if self._stroke:
            self._submit(BrushJob(x=x, y=y, scale=view_scale))

    def end_stroke(self) -> None:
        if self._stroke:
            self.end_gesture()

    def protect(self, points: Sequence[Point], radius: float, erase: bool) -> None:
        """Paint (or erase) the protect mask along ``points``; inside a gesture (begin_gesture at
        the press, end_gesture at the release) all calls are one undo step."""
        self._submit(ProtectJob(points=[(float(x), float(y)) for x, y in points], radius=radius, erase=erase))

    def lighten(self, x: float, y: float, amount: float, radius: float, view_scale: float = 1.0, reach: float | None = None) -> None:
        """One wheel notch: brighten (amount > 0) or darken. A spin is one gesture (ended by
        ``end_gesture("wheel")`` when the pointer moves, or by any other action)."""
        self.begin_gesture("Lighten" if amount > 0 else "Darken", ("wheel", amount > 0))
        self._submit(LightenJob(x=x, y=y, amount=amount, radius=radius, scale=view_scale, reach=None if reach is None else float(reach)))

    def end_wheel(self) -> None:
        """The pointer moved: a wheel spin in progress is finished."""
        if isinstance(self._gesture, tuple) and self._gesture[0] == "wheel":
            self.end_gesture()

    def clear_protect(self) -> None:
        self._action("clearing the protect mask", lambda session: session.clear_protect())

    # --- latent edits -------------------------------------------------------------------------------------
    def set_latent_value(self, index: int, value: float) -> None:
        """Set z[index]; the values of one drag (until end_gesture) are one undo step."""
        self.begin_gesture(f"Latent {index}", ("latent", index))
        self._submit(LatentJob("changing a latent", lambda session: session.set_latent_value(index, value), key=("latent", index)))

    def set_direction(self, k: int, value: float) -> None:
        """Move along principal direction k; the values of one slider drag are one undo step."""
        self.begin_gesture(f"Direction {k}", ("direction", k))
        self._submit(LatentJob("moving along a direction", lambda session: session.set_direction(k, value), key=("direction", k)))

    def set_attribute(self, name: str, value: float) -> None:
        """Move named attribute ``name`` to ``value`` std; one drag (until end_attribute) is one undo step."""
        self.begin_gesture(name, ("attribute", name))
        self._submit(LatentJob("moving an attribute", lambda session: session.set_attribute(name, value), key=("attribute", name)))

    def end_attribute(self, name: str) -> None:
        self.end_gesture(("attribute", name))

    def reset_attribute(self, name: str) -> None:
        from npe.editing.attributes import display_name

        self._action(f"resetting {name}", lambda session: session.set_attribute(name, 0.0, label=f"Reset {display_name(name)}"))

    def reset_attributes(self) -> None:
        self._action("resetting the attributes", lambda session: session.reset_attributes())

    # --- document commands ---------------------------------------------------------------------------------
    def undo(self) -> None:
        self._action("undoing", lambda session: session.undo())

    def redo(self) -> None:
        self._action("redoing", lambda session: session.redo())

    def use_alternative(self, index: int) -> None:
        """Make the last stroke the model's ``index``-th other answer (EditSession.use_alternative)."""
        self._action("painting it another way", lambda session: session.use_alternative(index))

    def jump_to(self, index: int) -> None:
        self._action("going back in the history", lambda session: session.jump_to(index))

    def commit(self) -> None:
        self._action("updating the original", lambda session: session.commit())

    def reset(self) -> None:
        self._action("resetting", lambda session: session.reset())

    # --- internals -----------------------------------------------------------------------------------------
    def _action(self, name: str, run: Callable[[EditSession], object]) -> int:
        self.end_gesture()
        return self._submit(SessionJob(name, run))

    def _open(
        self, name: str, run: Callable[[Workspace], object], on_done: Callable[[bool], None] | None, path: str | None = None, fits: bool = False
    ) -> int:
        self.end_gesture()
        return self._submit(Job(name, run, path=path, fits=fits), on_done)

    def _submit(self, job: Job, on_done: Callable[[bool], None] | None = None) -> int:
        seq = self.worker.submit(job)
        if on_done is not None:
            self._callbacks[seq] = on_done
        self._set_busy(True)
        return seq

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busyChanged.emit(busy)

    def _on_idle(self, seq: int) -> None:
        self._idle_seq = max(self._idle_seq, seq)
        if self.is_idle():
            self._set_busy(False)

    def _on_job_done(self, seq: int, ok: bool) -> None:
        callback = self._callbacks.pop(seq, None)
        if callback is not None:
            callback(ok)

    def _on_model_loaded(self, info: ModelSummary) -> None:
        self.model_info = info
        self.modelLoaded.emit(info)

    def _on_failed(self, failure: Failure) -> None:
        (self.modelFailed if failure.kind == "model" else self.failed).emit(failure)

    def _apply_frame(self, frame: Frame) -> None:
        if frame.source is not None:
            self.source = frame.source
        if frame.history is not None:
            self.history = frame.history
        if frame.source is not None:
            self.sourceChanged.emit(frame.source)
        if frame.image is not None:
            self.imageChanged.emit(frame.image, frame.change_mask if frame.change_mask is not None else QImage())
        if frame.protect is not None:
            self.protectChanged.emit(None if frame.protect.isNull() else frame.protect)
        if frame.latent is not None:
            values = frame.direction_values if frame.direction_values is not None else np.zeros(0, np.float32)
            self.latentChanged.emit(frame.latent, values)
        if frame.attribute_values is not None:
            self.attributesChanged.emit(frame.attribute_values)
        if frame.history is not None:
            self.historyChanged.emit(frame.history)
        if frame.alternatives is not None:
            self.alternativesChanged.emit(frame.alternatives)
        if frame.timed:
            self.updateTimed.emit(frame.elapsed_ms)
