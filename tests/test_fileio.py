"""Atomic writes: all or nothing, and files get the usual permissions."""

from __future__ import annotations

import os
import stat

import errno
import signal
import subprocess
import sys

import pytest

from npe.fileio import atomic_write, atomic_write_bytes, describe_write_error
from tests.full_disk import STAGES, FullDisk


def test_replaces_the_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_failing_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")

    def half_then_fail(stream):
        stream.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_new_files_follow_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "photo.png", b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_legal_long_name_gets_a_short_temporary(tmp_path):
    """A 254-character name is legal; the temporary beside it must not overflow the 255-byte limit."""
    target = tmp_path / ("p" * 250 + ".png")
    atomic_write_bytes(target, b"png")
    assert target.read_bytes() == b"png"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


def test_temporaries_of_a_killed_writer_are_removed_on_the_next_write(tmp_path):
    """A writer killed mid-write (SIGKILL: no cleanup ran) leaves its hidden temp; the next write removes it."""
    import subprocess
    import sys

    code = (
        "import os, signal, sys\n"
        "from npe.fileio import atomic_write_bytes\n"
        "os.fsync = lambda handle: os.kill(os.getpid(), signal.SIGKILL)  # killed once the bytes are written\n"
        "atomic_write_bytes(sys.argv[1], b'x' * 1000)\n"
    )
    target = tmp_path / "photo.png"
    result = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True)
    assert result.returncode != 0
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".npe-") and leftovers[0].endswith(".tmp")
    atomic_write_bytes(tmp_path / "other.png", b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.png"]


def test_a_live_writers_temporary_and_other_files_are_kept(tmp_path):
    from npe.fileio import remove_stale_temps

    mine = tmp_path / f".npe-{os.getpid()}-0123abcd.tmp"  # this process is alive: in use
    mine.write_bytes(b"x")
    stranger = tmp_path / ".someone-else.tmp"
    stranger.write_bytes(b"y")
    assert remove_stale_temps(tmp_path) == []
    assert mine.exists() and stranger.exists()


def test_old_style_temporaries_go_once_a_day_old(tmp_path):
    from npe.fileio import STALE_SECONDS, remove_stale_temps

    legacy = tmp_path / ".photo.png.0123abcd.tmp"
    legacy.write_bytes(b"x")
    assert remove_stale_temps(tmp_path, "photo.png") == []  # fresh: maybe an old npe still writing
    old = legacy.stat().st_mtime - STALE_SECONDS - 60
    os.utime(legacy, (old, old))
    assert remove_stale_temps(tmp_path, "photo.png") == [legacy]


@pytest.mark.parametrize("stage", STAGES)
def test_a_full_disk_at_any_stage_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, stage):
    target = tmp_path / "photo.jpg"
    target.write_bytes(b"the only copy" * 100)
    disk = FullDisk(monkeypatch, stage, free=700)
    with pytest.raises(OSError) as caught:
        atomic_write_bytes(target, b"new" * 10_000)
    assert caught.value.errno == errno.ENOSPC and disk.failures == 1
    assert target.read_bytes() == b"the only copy" * 100
    assert [p.name for p in tmp_path.iterdir()] == ["photo.jpg"]


def test_a_short_write_is_continued_not_taken_for_the_whole(tmp_path, monkeypatch):
    """os.write may store fewer bytes than asked for; the rest must still be written (or fail)."""
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda handle, data: real_write(handle, bytes(data)[:7]))
    atomic_write_bytes(tmp_path / "out.bin", bytes(range(256)) * 4)
    assert (tmp_path / "out.bin").read_bytes() == bytes(range(256)) * 4


def test_a_write_that_stores_nothing_is_a_full_disk(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "write", lambda handle, data: 0)
    with pytest.raises(OSError) as caught:
        atomic_write_bytes(target, b"new")
    assert caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_an_encoder_writing_to_the_stream_goes_through_memory_first(tmp_path, monkeypatch):
    """Pillow's JPEG encoder writes to a stream's file descriptor itself and ignores short writes;
    atomic_write must hand it an in-memory stream, never the temp file."""
    target = tmp_path / "photo.jpg"
    target.write_bytes(b"old")
    FullDisk(monkeypatch, "write", free=10)
    seen = []

    def encoder(stream):
        seen.append(stream)
        with pytest.raises(OSError):
            stream.fileno()
        stream.write(b"x" * 100)

    with pytest.raises(OSError):
        atomic_write(target, encoder)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["photo.jpg"]


@pytest.mark.parametrize(
    ("code", "existing", "expected"),
    [
        (errno.ENOSPC, True, "The disk is full: nothing was saved, '{target}' is unchanged. Free some space or choose another drive."),
        (errno.ENOSPC, False, "The disk is full: nothing was saved to '{target}'. Free some space or choose another drive."),
        (errno.EIO, True, "Could not save '{target}': Input/output error; nothing was saved (the file there is unchanged). Choose another location and try again."),
    ],
)
def test_write_errors_read_as_one_line_that_says_nothing_was_saved(tmp_path, code, existing, expected):
    target = tmp_path / "photo.jpg"
    if existing:
        target.write_bytes(b"old")
    message = describe_write_error(target, OSError(code, os.strerror(code)))
    assert message == expected.format(target=target)


@pytest.mark.skipif(os.name != "posix", reason="signals and fork semantics of POSIX")
def test_sigterm_during_a_write_removes_the_temp_and_still_ends_the_process(tmp_path):
    code = (
        "import os, signal, sys\n"
        "from npe.fileio import atomic_write_bytes, remove_temps_on_signals\n"
        "assert remove_temps_on_signals()\n"
        "def terminated(handle):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "os.fsync = terminated  # the signal arrives while the temp file is written\n"
        "atomic_write_bytes(sys.argv[1], b'x' * 100000)\n"
        "print('survived')\n"
    )
    target = tmp_path / "photo.png"
    target.write_bytes(b"old")
    result = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGTERM, result.stderr
    assert "survived" not in result.stdout
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["photo.png"]


def test_sigterm_handler_chains_to_a_previous_python_handler(tmp_path):
    code = (
        "import os, signal, sys\n"
        "from npe.fileio import atomic_write_bytes, remove_temps_on_signals\n"
        "signal.signal(signal.SIGTERM, lambda n, f: print('previous handler ran'))\n"
        "assert remove_temps_on_signals() and remove_temps_on_signals()  # idempotent\n"
        "real_fsync = os.fsync\n"
        "def terminated(handle):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    print(sorted(p.name for p in os.scandir(os.path.dirname(sys.argv[1]))))\n"
        "    real_fsync(handle)\n"
        "os.fsync = terminated\n"
        "try:\n"
        "    atomic_write_bytes(sys.argv[1], b'new')\n"
        "except OSError as exc:\n"
        "    print('failed', exc.errno)\n"
    )
    target = tmp_path / "photo.png"
    target.write_bytes(b"old")
    result = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "previous handler ran" in result.stdout
    # the temp was removed before the previous handler ran: this write cannot complete
    assert "['photo.png']" in result.stdout and "failed" in result.stdout
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["photo.png"]
