"""Atomic, verified file writes: bytes encoded in memory, written to a temp file beside the target
with every write checked, flushed to disk, then renamed over it; temp files of killed writers
cleaned up. No torch, no Qt."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import BinaryIO


# Temporary files are named by npe and the writing process, not by the target: a legal 254-character
# target name must not overflow the file system's 255-byte limit once a suffix is added.
_TEMP_PATTERN = re.compile(r"^\.npe-(\d+)-[0-9a-f]{8}\.tmp$")
_LEGACY_TEMP = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")  # '.NAME.xxxxxxxx.tmp' from npe <= 0.1
STALE_SECONDS = 24 * 3600  # a temp this old is left over whatever wrote it
_CHUNK = 1 << 24  # bytes per os.write call
_IN_FLIGHT: set[Path] = set()  # temp files this process is writing now (removed if a signal ends it)


def _create_temp(folder: Path) -> tuple[Path, int]:
    """A new hidden file in ``folder``, with the usual umask-derived permissions (mkstemp's
    0600 would leave exported photos unreadable to other users)."""
    for _ in range(100):
        candidate = folder / f".npe-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            handle = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        _IN_FLIGHT.add(candidate)
        return candidate, handle
    raise FileExistsError(errno.EEXIST, "could not create a temporary file", str(folder))


def _process_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process
        return True
    return True


def remove_stale_temps(folder: str | os.PathLike, target_name: str | None = None) -> list[Path]:
    """Delete npe's temporaries left in ``folder`` by a writer that was killed mid-write: those of a
    process that no longer runs (POSIX), or older than a day; and, for ``target_name``, the
    '.NAME.xxxxxxxx.tmp' files of older versions once a day old. Best effort; returns what it removed."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(Path(folder)))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_PATTERN.match(entry.name)
        legacy = target_name is not None and _LEGACY_TEMP.match(entry.name) and entry.name.startswith(f".{target_name}.")
        if not (match or legacy):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
            dead = match is not None and int(match.group(1)) != os.getpid() and not _process_alive(int(match.group(1)))
            if (old or dead) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def atomic_write(target: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(stream)`` on an in-memory stream, then write its bytes to ``target`` with
    ``atomic_write_bytes``. Encoding into memory first matters: an encoder that writes to a file
    descriptor itself (Pillow's JPEG and TIFF encoders do) may not report a short write on a full
    disk, and would leave a truncated file that looks written."""
    buffer = io.BytesIO()
    write(buffer)
    return atomic_write_bytes(target, buffer.getbuffer())


def atomic_write_bytes(target: str | os.PathLike, data: bytes | bytearray | memoryview) -> Path:
    """Write ``data`` to a hidden temp file beside ``target``, checking that every byte was
    written, fsync it, and only then rename it over ``target``: readers see the old file or the new
    one, never half of one. On any failure (a full disk at the write, the fsync, the close or the
    rename; an interrupt) the temp file is removed, an existing ``target`` is untouched, and the
    error propagates (an OSError with its errno: see describe_write_error)."""
    target = Path(target)
    view = memoryview(data).cast("B")
    remove_stale_temps(target.parent, target.name)
    temp_path, handle = _create_temp(target.parent)
    try:
        try:
            _write_all(handle, view)
            os.fsync(handle)  # the bytes must be on disk before the rename makes them visible
            size = os.fstat(handle).st_size
            if size != len(view):
                raise OSError(errno.EIO, f"the temporary file holds {size} of {len(view)} bytes")
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(handle)
            raise
        os.close(handle)  # network file systems may report a full disk only here
        os.replace(temp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp_path.unlink(missing_ok=True)
        raise
    finally:
        _IN_FLIGHT.discard(temp_path)
    return target


def _write_all(handle: int, view: memoryview) -> None:
    """os.write until every byte is written; a write that makes no progress is a full disk."""
    offset = 0
    while offset < len(view):
        written = os.write(handle, view[offset : offset + _CHUNK])
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        offset += written


def remove_in_flight_temps() -> list[Path]:
    """Delete the temp files this process is writing now (from a signal handler: the process is
    about to end). Returns what it removed."""
    removed = []
    for temp_path in list(_IN_FLIGHT):
        try:
            temp_path.unlink()
            removed.append(temp_path)
        except OSError:
            pass
        _IN_FLIGHT.discard(temp_path)
    return removed


def remove_temps_on_signals(signals: tuple[int, ...] | None = None) -> bool:
    """Install handlers that remove this process's in-flight temp files when it is told to end
    (SIGTERM, SIGHUP by default), then do what the signal did before: call the previous Python
    handler, or end the process the default way (the exit status still says which signal).
    Only possible from the main thread (Python's rule): returns False elsewhere. Idempotent.
    SIGINT needs none: KeyboardInterrupt already removes the temp file on its way out."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signals is None:
        signals = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
    for number in signals:
        previous = signal.getsignal(number)
        if getattr(previous, "npe_removes_temps", False):
            continue
        signal.signal(number, _temp_removing_handler(previous))
    return True


def _temp_removing_handler(previous: object) -> Callable[[int, FrameType | None], None]:
    def handler(number: int, frame: FrameType | None) -> None:
        remove_in_flight_temps()
        if callable(previous):
            previous(number, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(number, signal.SIG_DFL)
            os.kill(os.getpid(), number)  # the default action: the process ends by this signal

    handler.npe_removes_temps = True  # type: ignore[attr-defined]
    return handler


def describe_write_error(target: str | os.PathLike, exc: OSError) -> str:
    """One line for people on why writing ``target`` failed, that nothing was saved (an existing
    file is unchanged: every write goes through atomic_write_bytes), and what to do."""
    target = Path(target)
    code = exc.errno
    try:
        existed = target.is_file()
    except OSError:
        existed = False
    if code == errno.ENOSPC or code == getattr(errno, "EDQUOT", None):
        full = "The disk is full" if code == errno.ENOSPC else "Your disk quota is used up"
        saved = f"nothing was saved, '{target}' is unchanged" if existed else f"nothing was saved to '{target}'"
        return f"{full}: {saved}. Free some space or choose another drive."
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = f"the folder '{target.parent}' is read-only or you lack permission to write there"
        advice = "Choose another folder."
    elif code == errno.ENOENT:
        reason = f"the folder '{target.parent}' does not exist"
        advice = "Choose an existing folder."
    elif code == errno.EISDIR or target.is_dir():
        reason = "a folder of that name is in the way"
        advice = "Choose another file name."
    elif code == errno.ENAMETOOLONG:
        reason = "the file name is too long"
        advice = "Choose a shorter name."
    else:
        reason = exc.strerror or str(exc) or type(exc).__name__
        advice = "Choose another location and try again."
    kept = " (the file there is unchanged)" if existed else ""
    return f"Could not save '{target}': {reason}; nothing was saved{kept}. {advice}"
