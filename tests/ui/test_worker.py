"""The model worker: coalescing, plain results, failures as messages, stopping."""

from __future__ import annotations

import threading

from npe.ui.workers import EditorWorker, Job, describe_failure


def test_coalesced_jobs_keep_only_the_latest(qtbot):
    worker = EditorWorker()
    gate = threading.Event()
    ran: list[int] = []
    worker.start()
    try:
        worker.submit(Job("blocking", lambda w: gate.wait(10), needs_session=False))
        for position in range(200):  # mouse moves arriving while a step runs
            worker.submit(Job("painting", lambda w, p=position: ran.append(p), coalesce="stroke:1", needs_session=False))
        assert worker.pending <= 2
        with qtbot.waitSignal(worker.idle, timeout=10_000):
            gate.set()
        assert ran == [199]
    finally:
        assert worker.stop()


def test_merge_combines_queued_jobs(qtbot):
    worker = EditorWorker()
    gate = threading.Event()
    totals: list[float] = []

    def lighten(amount: float) -> Job:
        return Job("lightening", lambda w: totals.append(amount), coalesce="lighten", needs_session=False, payload=amount,
                   merge=lambda queued, new: lighten(queued.payload + new.payload))

    worker.start()
    try:
        worker.submit(Job("blocking", lambda w: gate.wait(10), needs_session=False))
        for _ in range(5):
            worker.submit(lighten(0.1))
        with qtbot.waitSignal(worker.idle, timeout=10_000):
            gate.set()
        assert len(totals) == 1 and abs(totals[0] - 0.5) < 1e-9
    finally:
        worker.stop()


def test_failures_become_messages_without_traceback(qtbot, capsys):
    from npe.editing.errors import SessionError

    worker = EditorWorker()
    worker.start()
    try:
        def bad(w):
            raise SessionError("The brush position (5, 5) is outside the image.")

        with qtbot.waitSignal(worker.failed, timeout=10_000) as blocker:
            worker.submit(Job("painting", bad, needs_session=False))
        failure = blocker.args[0]
        assert failure.message == "The brush position (5, 5) is outside the image."
        assert failure.title == "Problem painting"

        def crash(w):
            raise ZeroDivisionError("boom")

        with qtbot.waitSignal(worker.failed, timeout=10_000) as blocker:
            worker.submit(Job("painting", crash, needs_session=False))
        assert "Traceback" not in blocker.args[0].message and "ZeroDivisionError" in blocker.args[0].message
        assert "Traceback" in capsys.readouterr().err  # the details go to stderr
    finally:
        worker.stop()


def test_jobs_needing_a_session_are_skipped_without_one(qtbot):
    worker = EditorWorker()
    worker.start()
    try:
        with qtbot.waitSignal(worker.jobDone, timeout=10_000) as blocker:
            worker.submit(Job("painting", lambda w: w.session.undo()))
        assert blocker.args[1] is False
    finally:
        worker.stop()


def test_stop_drops_queued_work_and_ends_the_thread():
    worker = EditorWorker()
    gate = threading.Event()
    ran: list[int] = []
    worker.start()
    worker.submit(Job("blocking", lambda w: gate.wait(0.5), needs_session=False))
    for index in range(10):
        worker.submit(Job("work", lambda w, i=index: ran.append(i), needs_session=False))
    assert worker.stop()
    assert not worker.isRunning() and ran == []


def test_describe_failure_knows_no_face():
    from npe.data.faces import NoFaceError

    failure = describe_failure(Job("opening 'x.jpg'", lambda w: None, path="x.jpg"), NoFaceError())
    assert failure.kind == "no-face" and failure.path == "x.jpg" and "No face" in failure.message
