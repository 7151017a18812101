"""Atomic file writes for the editing package (session files, directions, galleries)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write_bytes(target: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a hidden temp file beside ``target``, flush it to disk, then rename it over
    ``target``: readers see the old file or the new one, never half; on failure the temp file is
    removed and any old file is untouched. OSError propagates."""
    target = Path(target)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return target
