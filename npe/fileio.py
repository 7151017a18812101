"""Atomic file writes: a temp file beside the target, flushed to disk, then renamed over it. No torch, no Qt."""

from __future__ import annotations

import errno
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


# Temporary files are named by npe and the writing process, not by the target: a legal 254-character
# target name must not overflow the file system's 255-byte limit once a suffix is added.
_TEMP_PATTERN = re.compile(r"^\.npe-(\d+)-[0-9a-f]{8}\.tmp$")
_LEGACY_TEMP = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")  # '.NAME.xxxxxxxx.tmp' from npe <= 0.1
STALE_SECONDS = 24 * 3600  # a temp this old is left over whatever wrote it


def _create_temp(folder: Path) -> tuple[Path, int]:
    """A new hidden file in ``folder``, with the usual umask-derived permissions (mkstemp's
    0600 would leave exported photos unreadable to other users)."""
    for _ in range(100):
        candidate = folder / f".npe-{os.getpid()}-{secrets.token_hex(4)}.tmp"
        try:
            handle = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
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
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_PATTERN.match(entry.name)
        legacy = target_name is not None and _LEGACY_TEMP.match(entry.name) and entry.name.startswith(f".{target_name}.")
        if not (match or legacy):
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
            dead = bool(match) and int(match.group(1)) != os.getpid() and not _process_alive(int(match.group(1)))
            if (old or dead) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def atomic_write(target: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(stream)`` on a hidden temp file beside ``target``, fsync it, then rename it over
    ``target``: readers see the old file or the new one, never half of one. On any failure the temp
    file is removed, an existing ``target`` is untouched, and the error propagates."""
    target = Path(target)
    remove_stale_temps(target.parent, target.name)
    temp_path, handle = _create_temp(target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())  # the bytes must be on disk before the rename makes them visible
        os.replace(temp_path, target)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    return target


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see atomic_write)."""
    return atomic_write(target, lambda stream: stream.write(data))


def describe_write_error(target: str | os.PathLike, exc: OSError) -> str:
    """A sentence for people on why writing ``target`` failed and what to do."""
    target = Path(target)
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = f"the folder '{target.parent}' is read-only or you lack permission to write there"
        advice = "Choose another folder."
    elif code == errno.ENOSPC or code == getattr(errno, "EDQUOT", None):
        reason = "the disk is full"
        advice = "Free some space or choose another drive."
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
    return f"Could not save '{target}': {reason}. {advice}"
