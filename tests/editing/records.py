"""Small records and states for the history and session-file tests (no model)."""

from __future__ import annotations

import numpy as np

from npe.editing.document import CommitState, SourceState
from npe.editing.history import CommitRecord, LatentRecord


class Target:
    """A Restorable that writes down what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.tints: list[np.ndarray | None] = []  # the tint of each set_latent call

    def set_latent(self, latent, *, limit=None, tint=None):
        self.calls.append(("latent", np.array(latent), None if limit is None else np.array(limit)))
        self.tints.append(None if tint is None else np.array(tint))

    def set_protect_region(self, rect, values):
        self.calls.append(("protect", tuple(rect), np.array(values)))

    def set_source(self, source):
        self.calls.append(("source", source))

    def apply_commit(self, state, rect, region):
        self.calls.append(("commit", state, tuple(rect), np.array(region)))


def latent(label: str, a: float, b: float, limit_a: np.ndarray | None = None, limit_b: np.ndarray | None = None) -> LatentRecord:
    return LatentRecord(label, np.full(3, a, np.float32), np.full(3, b, np.float32), limit_a, limit_b)


def source_state(value: int, *, protect: bool = True, limit: bool = True, alpha: bool = False, tuned: bool = False) -> SourceState:
    return SourceState(
        photo=np.full((6, 8, 3), value, np.uint8), box={"center_x": 4.0, "center_y": 3.0, "size": 6.0, "angle": 0.0},
        crop=np.full((4, 4, 3), value + 1, np.uint8), latent0=np.full(3, value, np.float32), latent=np.full(3, value + 0.5, np.float32),
        protect=np.eye(6, 8, dtype=bool) if protect else None, is_sample=bool(value % 2), name=f"photo {value}",
        tuned={"w": np.full(2, value, np.float16)} if tuned else None,
        limit=np.full((4, 4), 200, np.uint8) if limit else None, alpha=np.full((6, 8), 128, np.uint8) if alpha else None,
    )


def commit_record() -> CommitRecord:
    before = CommitState(np.zeros((4, 4, 3), np.uint8), np.zeros(3, np.float32), np.ones(3, np.float32), np.full((4, 4), 255, np.uint8))
    after = CommitState(np.ones((4, 4, 3), np.uint8), np.full(3, 2, np.float32), np.full(3, 2, np.float32), None)
    return CommitRecord("Update", (1, 2, 4, 5), np.zeros((3, 3, 3), np.uint8), np.full((3, 3, 3), 9, np.uint8), before, after)
