"""The GUI thread's view of the document: forwards edits to the model worker as jobs and mirrors
what the worker reports (image, latent, history...) as Qt signals the widgets subscribe to.

Widgets never touch the EditSession: it belongs to the worker thread (see workers.py). The mirror
here holds only plain copies the worker handed over.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, QTimer, Signal
from PySide6.QtGui import QImage

from npe.errors import UserError
from npe.ui.workers import EditorWorker, Failure, Frame, HistoryInfo, Job, ModelInfo, SilentFailure, SourceInfo

if TYPE_CHECKING:
    from npe.editing.session import EditSession

Point = tuple[float, float]
GESTURE_TIMEOUT_MS = 600  # a wheel/slider gesture without input for this long is one finished undo step


class EditorController(QObject):
    """See the module doc. All methods are called on the GUI thread and return at once."""

    modelLoaded = Signal(object)  # ModelInfo
    modelFailed = Signal(object)  # Failure
    imageChanged = Signal()
    sourceChanged = Signal()
    latentChanged = Signal()
    protectChanged = Signal()
    historyChanged = Signal()
    failed = Signal(object)  # Failure
    busyChanged = Signal(bool)
    updateTimed = Signal(float)  # milliseconds of the last model update

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker = EditorWorker()
        self.worker.frameReady.connect(self._apply_frame)
        self.worker.failed.connect(self._on_failed)
        self.worker.idle.connect(self._on_idle)
        self.worker.jobDone.connect(self._on_job_done)
        self.worker.modelLoaded.connect(self._on_model_loaded)
        self.model_info: ModelInfo | None = None
        self.source: SourceInfo | None = None
        self.image: QImage | None = None
        self.change_mask: QImage | None = None
        self.protect_overlay: QImage | None = None
        self.protect_any = False
        self.latent: np.ndarray | None = None
        self.direction_values: np.ndarray = np.zeros(0, np.float32)
        self.history = HistoryInfo((), 0, False, False, False)
        self._idle_seq = 0
        self._busy = False
        self._callbacks: dict[int, Callable[[bool], None]] = {}
        self._gestures = itertools.count(1)
        self._gesture: tuple[str, int] | None = None
        self._gesture_key: Any = None
        self._gesture_timer = QTimer(self)
        self._gesture_timer.setSingleShot(True)
        self._gesture_timer.setInterval(GESTURE_TIMEOUT_MS)
        self._gesture_timer.timeout.connect(self.end_gesture)
        self._stroke: int | None = None
        self.worker.start()

    # --- state ---------------------------------------------------------------------------
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
        self._gesture_timer.stop()
        return self.worker.stop()

    # --- model and documents ----------------------------------------------------------------
    def load_model(self, weights: str | None, device: str = "auto") -> int:
        def run(worker: EditorWorker) -> None:
            info = _load_model(worker, weights, device)
            worker.modelLoaded.emit(info)

        return self._submit(Job("loading the model", run, needs_session=False, fail_kind="model"))

    def open_sample(self, index: int, on_done: Callable[[bool], None] | None = None) -> int:
        def run(worker: EditorWorker) -> None:
            from npe.editing.session import EditSession

            _require_model(worker)
            session = EditSession.from_gallery(worker.model, int(index), worker.gallery, directions=worker.directions)
            _adopt(worker, session, f"Sample {index}")

        return self._submit(Job(f"opening sample face {index}", run, needs_session=False), on_done)

    def open_dataset_face(self, dataset: str, index: int, on_done: Callable[[bool], None] | None = None) -> int:
        """Face ``index`` of the user's own collection (a zip archive or folder of face photos)."""

        def run(worker: EditorWorker) -> None:
            from npe.editing.session import EditSession

            _require_model(worker)
            crops = _dataset_crops(worker, dataset)
            if not 0 <= index < len(crops.names):
                raise UserError(f"'{dataset}' has {len(crops.names)} usable face photos; pick a number from 0 to {len(crops.names) - 1}.")
            name = Path(str(crops.names[index])).name
            session = EditSession.from_crop(worker.model, np.ascontiguousarray(crops.images[index]), name=name, directions=worker.directions)
            _adopt(worker, session, f"Open {name}")

        return self._submit(Job(f"opening face {index} of '{Path(dataset).name}'", run, needs_session=False), on_done)

    def open_random(self, seed: int | None = None, on_done: Callable[[bool], None] | None = None) -> int:
        def run(worker: EditorWorker) -> None:
            from npe.editing.session import EditSession

            _require_model(worker)
            session = EditSession.random(worker.model, seed, directions=worker.directions)
            _adopt(worker, session, "Random face")

        return self._submit(Job("making a random face", run, needs_session=False), on_done)

    def open_photo(self, path: str, whole_image: bool = False, on_done: Callable[[bool], None] | None = None) -> int:
        name = Path(path).name

        def run(worker: EditorWorker) -> None:
            from npe.editing.session import EditSession

            _require_model(worker)
            session = EditSession.from_photo(worker.model, path, whole_image_if_no_face=whole_image, directions=worker.directions)
            _adopt(worker, session, f"Open {name}")

        return self._submit(Job(f"opening '{name}'", run, needs_session=False, path=path), on_done)

    def open_session(self, path: str, on_done: Callable[[bool], None] | None = None) -> int:
        def run(worker: EditorWorker) -> None:
            from npe.editing.session import EditSession

            _require_model(worker)
            worker.set_session(EditSession.load(path, worker.model, directions=worker.directions))

        return self._submit(Job(f"opening the session '{Path(path).name}'", run, needs_session=False, path=path), on_done)

    def save_session(self, path: str, on_done: Callable[[bool], None] | None = None) -> int:
        return self._submit(Job(f"saving the session to '{Path(path).name}'", lambda w: w.session.save(path), path=path), on_done)

    def export_png(self, path: str, on_done: Callable[[bool], None] | None = None) -> int:
        return self._submit(Job(f"exporting '{Path(path).name}'", lambda w: w.session.export_png(path), path=path), on_done)

    # --- painting ----------------------------------------------------------------------------
    def begin_stroke(self, x: float, y: float, color: tuple[int, int, int], radius: float, strength: float, view_scale: float = 1.0) -> None:
        """Start a brush stroke at (x, y) (photo pixels); follow with stroke_to / end_stroke."""
        self.end_gesture()
        self._stroke = next(self._gestures)

        def run(worker: EditorWorker) -> None:
            worker.session.begin_stroke(color=color, radius=radius, strength=strength)
            worker.session.stroke_to(x, y)

        self._submit(Job("painting", run, view_scale=view_scale, timed=True))

    def stroke_to(self, x: float, y: float, view_scale: float = 1.0) -> None:
        """Move the brush. Only the latest position waits while a step runs (coalesced)."""
        if self._stroke is None:
            return

        def run(worker: EditorWorker) -> None:
            if worker.session.stroke_active:
                worker.session.stroke_to(x, y)

        self._submit(Job("painting", run, coalesce=f"stroke:{self._stroke}", view_scale=view_scale, timed=True))

    def end_stroke(self) -> None:
        if self._stroke is None:
            return
        self._stroke = None
        self._submit(Job("finishing the stroke", lambda w: w.session.end_stroke()))

    def protect(self, points: Sequence[Point], radius: float, erase: bool, gesture: int) -> None:
        """Paint (or erase) the protect mask along ``points``; calls with one ``gesture`` id are one undo step."""
        self._submit(_protect_job([(float(x), float(y)) for x, y in points], radius, erase, gesture))

    def new_gesture(self) -> int:
        """An id for a protect stroke (its calls become one undo step)."""
        self.end_gesture()
        return next(self._gestures)

    def finish_protect(self) -> None:
        """Close the protect stroke's undo step."""
        self._submit(Job("finishing the protect stroke", lambda w: None))

    def lighten(self, x: float, y: float, amount: float, radius: float, view_scale: float = 1.0) -> None:
        """One wheel notch: brighten (amount > 0) or darken; notches in quick succession are one step
        (and notches that arrive while a step runs are added into the next one)."""
        gesture = self._begin_gesture("Lighten" if amount > 0 else "Darken", key="lighten")
        self._submit(_lighten_job(x, y, amount, radius, gesture, view_scale))

    def clear_protect(self) -> None:
        self._submit(Job("clearing the protect mask", lambda w: w.session.clear_protect()))

    # --- latent edits ------------------------------------------------------------------------
    def set_latent_value(self, index: int, value: float) -> None:
        """Set z[index]; calls in quick succession (a drag) are one undo step."""
        gesture = self._begin_gesture(f"Latent {index}", key=("latent", index))
        self._submit(Job(
            "changing a latent", lambda w: w.session.set_latent_value(index, value),
            coalesce=f"latent:{gesture[1]}", group=gesture, timed=True,
        ))

    def set_direction(self, k: int, value: float) -> None:
        """Move along principal direction k; calls in quick succession (a slider drag) are one undo step."""
        gesture = self._begin_gesture(f"Direction {k}", key=("direction", k))
        self._submit(Job(
            "moving along a direction", lambda w: w.session.set_direction(k, value),
            coalesce=f"direction:{gesture[1]}", group=gesture, timed=True,
        ))

    def end_gesture(self) -> None:
        """Close the undo step of a drag/wheel gesture now (else it closes after a short pause)."""
        self._gesture_timer.stop()
        if self._gesture is not None:
            self._gesture = None
            self._submit(Job("finishing the edit", lambda w: None))

    # --- document commands -----------------------------------------------------------------
    def undo(self) -> None:
        self.end_gesture()
        self._submit(Job("undoing", lambda w: w.session.undo()))

    def redo(self) -> None:
        self.end_gesture()
        self._submit(Job("redoing", lambda w: w.session.redo()))

    def jump_to(self, index: int) -> None:
        self.end_gesture()
        self._submit(Job("going back in the history", lambda w: w.session.jump_to(index)))

    def commit(self) -> None:
        self.end_gesture()
        self._submit(Job("updating the original", lambda w: w.session.commit()))

    def reset(self) -> None:
        self.end_gesture()
        self._submit(Job("resetting", lambda w: w.session.reset()))

    # --- internals ---------------------------------------------------------------------------
    def _submit(self, job: Job, on_done: Callable[[bool], None] | None = None) -> int:
        seq = self.worker.submit(job)
        if on_done is not None:
            self._callbacks[seq] = on_done
        self._set_busy(True)
        return seq

    def _begin_gesture(self, label: str, key: Any = None) -> tuple[str, int]:
        key = key if key is not None else label
        if self._gesture is None or self._gesture_key != key:
            self.end_gesture()
            self._gesture = (label, next(self._gestures))
            self._gesture_key = key
        self._gesture_timer.start()
        return self._gesture

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

    def _on_model_loaded(self, info: ModelInfo) -> None:
        self.model_info = info
        self.modelLoaded.emit(info)

    def _on_failed(self, failure: Failure) -> None:
        if failure.kind == "model":
            self.modelFailed.emit(failure)
        else:
            self.failed.emit(failure)

    def _apply_frame(self, frame: Frame) -> None:
        if frame.source is not None:
            self.source = frame.source
        if frame.image is not None:
            self.image = frame.image
            self.change_mask = frame.change_mask
        if frame.protect is not None:
            self.protect_overlay = frame.protect if frame.protect_any else None
            self.protect_any = frame.protect_any
        if frame.latent is not None:
            self.latent = frame.latent
            self.direction_values = frame.direction_values if frame.direction_values is not None else np.zeros(0, np.float32)
        if frame.history is not None:
            self.history = frame.history
        if frame.source is not None:
            self.sourceChanged.emit()
        if frame.image is not None:
            self.imageChanged.emit()
        if frame.protect is not None:
            self.protectChanged.emit()
        if frame.latent is not None:
            self.latentChanged.emit()
        if frame.history is not None:
            self.historyChanged.emit()
        if frame.timed:
            self.updateTimed.emit(frame.elapsed_ms)


def _protect_job(points: list[Point], radius: float, erase: bool, gesture: int) -> Job:
    return Job(
        "painting the protect mask",
        lambda w: w.session.paint_protect(points, radius, erase=erase),
        coalesce=f"protect:{gesture}",
        merge=lambda queued, new: _protect_job(queued.payload + new.payload, radius, erase, gesture),
        group=("Unprotect" if erase else "Protect", gesture),
        payload=points,
    )


def _lighten_job(x: float, y: float, amount: float, radius: float, gesture: tuple[str, int], view_scale: float) -> Job:
    return Job(
        "lightening",
        lambda w: w.session.lighten(x, y, amount, radius),
        coalesce=f"lighten:{gesture[1]}",
        merge=lambda queued, new: _lighten_job(x, y, queued.payload + amount, radius, gesture, view_scale),
        group=gesture,
        view_scale=view_scale,
        timed=True,
        payload=amount,
    )


# --- jobs' helpers (worker thread) ----------------------------------------------------------------


def _require_model(worker: EditorWorker) -> None:
    if worker.model is None:
        raise SilentFailure("no model")  # its loading failed, and that was reported


def _adopt(worker: EditorWorker, session: EditSession, label: str) -> None:
    """Show ``session``: as a fresh document if the current one has no unsaved edits, else as one
    undoable step of the current document (so nothing is ever lost by opening another face)."""
    current = worker.session
    if current is None or not current.is_modified:
        worker.set_session(session)
    else:
        current.replace_source(session, label)


def _dataset_crops(worker: EditorWorker, dataset: str) -> Any:
    """The collection's face crops, loaded once per worker (they are reused for every face number)."""
    cache = getattr(worker, "dataset_crops", None)
    if cache is not None and cache[0] == dataset:
        return cache[1]
    try:
        from npe.data.datasets import load_face_crops
    except ImportError:
        raise UserError("This installation of npe cannot read face collections (npe.data.datasets is missing); open a photo instead.") from None
    try:
        crops = load_face_crops([dataset], worker.model.config.resolution)  # type: ignore[union-attr]
    except (OSError, ValueError) as exc:  # the loader's errors say what is wrong with the collection
        raise UserError(f"Cannot read the face collection '{dataset}': {exc}") from None
    worker.dataset_crops = (dataset, crops)  # type: ignore[attr-defined]
    return crops


def resolve_device(device: str) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("CUDA was requested (--device cuda) but no usable NVIDIA GPU was found; use --device cpu.")
    return device


def cpu_threads() -> int:
    """Threads for one brush step on the CPU. A step is a batch of one small image: beyond a few
    threads it gets no faster, and on a busy machine extra threads spin-wait for each other (a
    step went from 20 ms to 2 s with 2 threads on 2 busy cores). Half the cores, at most 4."""
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def _warm_up(model: object) -> None:
    """One forward and backward pass, so the user's first brush step is as quick as the rest."""
    import torch

    model.eval()  # type: ignore[attr-defined]
    for parameter in model.parameters():  # type: ignore[attr-defined]
        parameter.requires_grad_(False)  # as the session does: gradients only with respect to z
    latent = torch.zeros(1, model.config.latent_dim, device=next(model.parameters()).device, requires_grad=True)  # type: ignore[attr-defined]
    with torch.enable_grad():
        model.decode(latent).mean().backward()  # type: ignore[attr-defined]


def _load_model(worker: EditorWorker, weights: str | None, device: str) -> ModelInfo:
    import torch

    from npe.editing.directions import find_directions
    from npe.editing.gallery import find_gallery
    from npe.model import load_default, load_weights

    resolved = resolve_device(device)
    if resolved == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(cpu_threads())
    model = load_weights(weights, device=resolved) if weights else load_default(resolved)
    _warm_up(model)
    worker.model = model
    worker.weights = weights
    worker.directions = find_directions(model, weights)
    worker.gallery = find_gallery(model, weights)
    if resolved.startswith("cuda"):
        label = f"CUDA ({torch.cuda.get_device_name(torch.device(resolved))})"
    else:
        label = "CPU"
    name = getattr(model, "name", None) or "unnamed model"
    return ModelInfo(
        name=str(name),
        resolution=int(model.config.resolution),
        latent_dim=int(model.config.latent_dim),
        device=label,
        gallery_size=len(worker.gallery),
        gallery_generated=bool(getattr(worker.gallery, "generated", True)),
    )
