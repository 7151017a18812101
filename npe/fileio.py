"""Atomic file writes: a temp file beside the target, flushed to disk, then renamed over it. No torch, no Qt."""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def _create_temp(folder: Path, name: str) -> tuple[Path, int]:
    """A new hidden file beside the target, with the usual umask-derived permissions (mkstemp's
    0600 would leave exported photos unreadable to other users)."""
    for _ in range(100):
        candidate = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            handle = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        return candidate, handle
    raise FileExistsError(errno.EEXIST, "could not create a temporary file", str(folder))


def atomic_write(target: str | os.PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(stream)`` on a hidden temp file beside ``target``, fsync it, then rename it over
    ``target``: readers see the old file or the new one, never half of one. On any failure the temp
    file is removed, an existing ``target`` is untouched, and the error propagates."""
    target = Path(target)
    temp_path, handle = _create_temp(target.parent, target.name)
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
