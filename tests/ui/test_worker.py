"""The model worker: coalescing, plain results, failures as messages, cancelled strokes, stopping."""

from __future__ import annotations

import threading

import numpy as np

from npe.editing.brush import BrushSettings
from npe.ui.failures import describe_failure
from npe.ui.workers import (
    BrushJob,
    EditorWorker,
    GestureJob,
    Job,
    LightenJob,
    ProtectJob,
    SessionJob,
)


def _blocked(worker: EditorWorker) -> threading.Event:
    gate = threading.Event()
    worker.submit(Job("blocking", lambda workspace: gate.wait(10)))
    return gate


def test_queued_brush_positions_keep_only_the_latest(qtbot):
    worker = EditorWorker()
    worker.start()
    try:
        gate = _blocked(worker)
        for position in range(200):  # mouse moves arriving while a step runs
            worker.submit(BrushJob(x=float(position), y=1.0))
        assert worker.pending == 2
        with qtbot.waitSignal(worker.idle, timeout=10_000):
            gate.set()
    finally:
        assert worker.stop()


def test_absorbing_combines_queued_jobs_of_the_same_kind_only():
    first, second = LightenJob(amount=0.1), LightenJob(amount=0.25)
    assert second.absorb(first).amount == 0.35
    assert BrushJob(x=3).absorb(BrushJob(x=1)).x == 3
    assert BrushJob(x=3).absorb(BrushJob(x=1, brush=BrushSettings(color=(0, 0, 0)))) is None  # a stroke's start stays
    joined = ProtectJob(points=[(2, 2)], radius=3).absorb(ProtectJob(points=[(1, 1)], radius=3))
    assert list(joined.points) == [(1, 1), (2, 2)]
    assert ProtectJob(points=[(2, 2)], radius=3, erase=True).absorb(ProtectJob(points=[(1, 1)], radius=3)) is None
    assert LightenJob(amount=0.1).absorb(GestureJob()) is None


def test_failures_become_messages_without_traceback(qtbot, capsys):
    from npe.editing.errors import SessionError

    worker = EditorWorker()
    worker.start()
    try:
        def bad(workspace):
            raise SessionError("The brush position (5, 5) is outside the image.")

        with qtbot.waitSignal(worker.failed, timeout=10_000) as blocker:
            worker.submit(Job("painting", bad))
        failure = blocker.args[0]
        assert failure.message == "The brush position (5, 5) is outside the image."
        assert failure.title == "Problem painting"

        def crash(workspace):
            raise ZeroDivisionError("boom")

        with qtbot.waitSignal(worker.failed, timeout=10_000) as blocker:
            worker.submit(Job("painting", crash))
        assert "Traceback" not in blocker.args[0].message and "ZeroDivisionError" in blocker.args[0].message
        assert "Traceback" in capsys.readouterr().err  # the details go to stderr
    finally:
        worker.stop()


def test_session_jobs_are_skipped_without_a_session(qtbot):
    worker = EditorWorker()
    worker.start()
    try:
        with qtbot.waitSignal(worker.jobDone, timeout=10_000) as blocker:
            worker.submit(SessionJob("undoing", lambda session: session.undo()))
        assert blocker.args[1] is False
    finally:
        worker.stop()


def test_a_failing_job_cancels_the_open_stroke(qtbot, smooth_tiny_model):
    """After a job fails mid-stroke the latent is back where the stroke began and no step is kept."""
    from npe.editing.workspace import Workspace

    workspace = Workspace()
    workspace.use_model(smooth_tiny_model, None, None)
    session = workspace.open_random(seed=3)
    start = session.latent
    worker = EditorWorker(workspace)
    worker.start()
    try:
        def fail(session):
            raise RuntimeError("the GPU fell over")

        brush = BrushSettings(color=(0, 0, 0), radius=6.0, strength=6.0)
        painted = []
        worker.submit(BrushJob(x=16.0, y=16.0, brush=brush))
        worker.submit(SessionJob("looking", lambda session: painted.append(session.latent)))
        worker.submit(SessionJob("painting", fail))
        with qtbot.waitSignal(worker.idle, timeout=10_000):
            worker.submit(BrushJob(x=20.0, y=16.0))  # the stroke is gone: this position paints nothing
    finally:
        assert worker.stop()
    assert not np.array_equal(painted[0], start)  # the stroke had moved z
    assert not session.stroke_active
    np.testing.assert_array_equal(session.latent, start)
    assert session.history_labels == []


def test_a_gesture_is_one_undo_step(qtbot, smooth_tiny_model):
    from npe.editing.workspace import Workspace

    workspace = Workspace()
    workspace.use_model(smooth_tiny_model, None, None)
    session = workspace.open_random(seed=4)
    worker = EditorWorker(workspace)
    worker.start()
    try:
        worker.submit(GestureJob(label="Protect"))
        worker.submit(ProtectJob(points=[(2.0, 2.0)], radius=2.0))
        gate = _blocked(worker)  # the next two segments wait and join
        worker.submit(ProtectJob(points=[(10.0, 10.0)], radius=2.0))
        worker.submit(ProtectJob(points=[(20.0, 20.0)], radius=2.0))
        gate.set()
        with qtbot.waitSignal(worker.idle, timeout=10_000):
            worker.submit(GestureJob())
    finally:
        assert worker.stop()
    assert session.history_labels == ["Protect"]
    mask = session.protect_mask
    assert mask[2, 2] and mask[10, 10] and mask[20, 20] and not mask[30, 2]


def test_stop_drops_queued_work_and_ends_the_thread():
    worker = EditorWorker()
    ran: list[int] = []
    worker.start()
    worker.submit(Job("blocking", lambda workspace: threading.Event().wait(0.5)))
    for index in range(10):
        worker.submit(Job("work", lambda workspace, i=index: ran.append(i)))
    assert worker.stop()
    assert not worker.isRunning() and ran == []


def test_describe_failure_knows_no_face():
    from npe.errors import NoFaceError

    failure = describe_failure("opening 'x.jpg'", NoFaceError("No face found in this photo."), path="x.jpg")
    assert failure.kind == "no-face" and failure.path == "x.jpg" and "No face" in failure.message


def test_fitting_a_photo_reports_progress_and_cancelling_still_opens_it(qtbot, smooth_tiny_model, tmp_path):
    """The controller's open_photo fits the model on the worker; Cancel (cancel_fitting) stops it
    and the photo opens with the encoder's face."""
    from PIL import Image
    from PySide6.QtCore import Qt
    from skimage import data

    from npe.editing.workspace import Workspace
    from npe.ui.controller import EditorController

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    workspace = Workspace()
    workspace.use_model(smooth_tiny_model, None, None)
    controller = EditorController(workspace)
    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        if len(seen) == 3:
            controller.cancel_fitting()  # as the status bar's Cancel button (or Esc) does

    # On the worker's thread, so the cancel lands before the next fitting step (deterministic).
    controller.worker.fittingProgress.connect(progress, Qt.ConnectionType.DirectConnection)
    shown: list[float] = []
    controller.fittingProgress.connect(shown.append)  # what the status bar gets
    done: list[bool] = []
    try:
        controller.open_photo(str(path), on_done=done.append)
        qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    finally:
        assert controller.worker.stop()
    assert done == [True]
    session = workspace.session
    assert session is not None and session.document.tuned is None  # cancelled: untuned, but open
    assert seen[:3] == [1 / 80, 2 / 80, 3 / 80] and seen[3:] == [-1.0]  # stopped at once; progress ended
    qtbot.waitUntil(lambda: shown[-1:] == [-1.0], timeout=10_000)
    assert workspace.open_photo(path, tune=True).document.tuned is not None  # not cancelled: tuned


def test_a_colour_painted_on_skin_tells_the_user_why_nothing_changed(qtbot, smooth_tiny_model):
    """Red on a cheek carries nothing and asks nothing of the model (npe.editing.brush.tint): the
    controller passes the stroke's hint on for the status bar; a white stroke there has none."""
    from npe.editing import EditSession
    from npe.editing.workspace import Workspace
    from npe.geometry import CropBox
    from npe.ui.controller import EditorController

    photo = np.empty((160, 200, 3), np.uint8)
    photo[:] = (205, 160, 135)  # skin
    photo[82:90, 87:112] = (165, 85, 85)  # lips
    workspace = Workspace()
    workspace.use_model(smooth_tiny_model, None, None)
    workspace.set_session(EditSession.from_photo(smooth_tiny_model, photo, box=CropBox(100.0, 70.0, 80.0), name="skin"))
    controller = EditorController(workspace)
    hints: list[str] = []
    controller.hinted.connect(hints.append)
    done: list[bool] = []

    def stroke(color: tuple[int, int, int]) -> None:
        controller.begin_stroke(90.0, 55.0, color, radius=6.0, strength=1.0, reach=4.0)
        for x in range(91, 110):
            controller.stroke_to(float(x), 55.0)
        controller.end_stroke()
        controller.worker.submit(SessionJob("looking", lambda session: done.append(True)))
        qtbot.waitUntil(lambda: bool(done), timeout=20_000)
        done.clear()

    try:
        stroke((190, 25, 45))
        qtbot.waitUntil(lambda: bool(hints), timeout=10_000)
        assert "skin" in hints[0] and workspace.session.history_labels == []  # nothing changed, nothing to undo
        stroke((255, 255, 255))
        qtbot.wait(50)
        assert len(hints) == 1 and len(workspace.session.history_labels) == 1
    finally:
        assert controller.worker.stop()
