"""A simulated full disk for npe's temp files (no root, no tmpfs): os.write stores what space is
left and then fails with ENOSPC, as tmpfs does; or the fsync, the close or the rename fails."""

from __future__ import annotations

import errno
import os

STAGES = ("write", "fsync", "close", "rename")


def _is_temp(path: object) -> bool:
    return os.path.basename(os.fsdecode(path)).startswith(".npe-")


class FullDisk:
    """Patches os.open/write/fsync/close/replace (through ``monkeypatch``) for npe's temp files
    only; ``free``: bytes the disk still takes before a write fails; ``stage``: where the full disk
    shows (write: a short write, then ENOSPC; fsync, close, rename: that call fails with ENOSPC)."""

    def __init__(self, monkeypatch, stage: str = "write", free: int = 1000) -> None:
        if stage not in STAGES:
            raise ValueError(stage)
        self.stage, self.free = stage, free
        self.temp_handles: set[int] = set()
        self.failures = 0
        real = dict(open=os.open, write=os.write, fsync=os.fsync, close=os.close, replace=os.replace)

        def full() -> OSError:
            self.failures += 1
            return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def fake_open(path, flags, *args, **kwargs):
            handle = real["open"](path, flags, *args, **kwargs)
            if _is_temp(path):
                self.temp_handles.add(handle)
            return handle

        def fake_write(handle, data):
            if handle in self.temp_handles and self.stage == "write":
                if self.free <= 0:
                    raise full()
                written = real["write"](handle, bytes(data)[: self.free])
                self.free -= written
                return written
            return real["write"](handle, data)

        def fake_fsync(handle):
            if handle in self.temp_handles and self.stage == "fsync":
                raise full()
            return real["fsync"](handle)

        def fake_close(handle):
            mine = handle in self.temp_handles
            self.temp_handles.discard(handle)
            real["close"](handle)
            if mine and self.stage == "close":
                raise full()

        def fake_replace(source, target, *args, **kwargs):
            if _is_temp(source) and self.stage == "rename":
                raise full()
            return real["replace"](source, target, *args, **kwargs)

        for name, fake in (("open", fake_open), ("write", fake_write), ("fsync", fake_fsync), ("close", fake_close), ("replace", fake_replace)):
            monkeypatch.setattr(os, name, fake)
