"""What the worker hands the GUI after a job: a Frame with copies (QImages built on the worker
thread, numpy copies, strings) of whatever the job changed; the GUI owns them."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtGui import QColor, QImage

from npe.ui.images import mask_overlay, to_qimage

if TYPE_CHECKING:
    from npe.editing.session import EditSession

PROTECT_COLOR = QColor(64, 200, 255, 110)  # translucent cyan over protected pixels
CHANGE_COLOR = QColor(255, 120, 40, 170)  # orange where the change mask M lets the edit through
PREVIEW_PIXELS = 1_500_000  # larger photos show a scaled preview while a stroke is in progress


@dataclass(frozen=True)
class SourceInfo:
    """What the view needs to know about the current original."""

    name: str
    photo_size: tuple[int, int]  # (width, height)
    box: tuple[float, float, float, float]  # center_x, center_y, size, angle (photo pixels, degrees)
    resolution: int
    latent_dim: int
    is_sample: bool
    default_radius: float
    direction_count: int
    original: QImage


@dataclass(frozen=True)
class HistoryInfo:
    labels: tuple[str, ...]
    index: int
    can_undo: bool
    can_redo: bool
    modified: bool


@dataclass(frozen=True)
class Frame:
    """What changed after one job; None fields did not change."""

    seq: int
    job: str
    elapsed_ms: float
    image: QImage | None = None  # the result (or, mid-stroke on a large photo, a scaled preview)
    change_mask: QImage | None = None  # M as an overlay at model resolution (map it through the box)
    protect: QImage | None = None  # the protect mask as an overlay at photo resolution (null: none)
    latent: np.ndarray | None = None
    direction_values: np.ndarray | None = None
    attribute_values: np.ndarray | None = None  # the named sliders' positions (derived from z)
    source: SourceInfo | None = None
    history: HistoryInfo | None = None
    alternatives: tuple[tuple[str, QImage, bool], ...] | None = None  # the last stroke's answers (label, preview, shown now)
    timed: bool = False  # a model update (brush/latent step): its time goes to the status bar


def build_frame(session: EditSession, changed: set[str], *, seq: int, job: str, started: float, view_scale: float = 1.0, timed: bool = False) -> Frame:
    """A Frame with copies of what ``changed`` (event names) says is new."""
    image = change = protect = latent = values = attributes = source = history = alternatives = None
    if "source" in changed:
        box = session.box
        source = SourceInfo(
            name=session.name, photo_size=session.photo_size,
            box=(float(box.center_x), float(box.center_y), float(box.size), float(box.angle)),
            resolution=session.resolution, latent_dim=session.latent_dim, is_sample=session.is_sample,
            default_radius=float(session.default_radius),
            direction_count=0 if session.directions is None else len(session.directions),
            original=to_qimage(session.photo),
        )
    if "image" in changed or "source" in changed:
        width, height = session.photo_size
        scale = min(1.0, _bucket(view_scale))
        large = width * height > PREVIEW_PIXELS and scale < 1.0
        image = to_qimage(session.preview(scale) if session.stroke_active and large else session.result())
        change = mask_overlay(session.change_mask(), CHANGE_COLOR)
    if "protect" in changed or "source" in changed:
        mask = session.protect_mask
        protect = mask_overlay(mask, PROTECT_COLOR) if mask.any() else QImage()
    if "latent" in changed or "source" in changed:
        latent = session.latent
        values = np.array(session.direction_values(), dtype=np.float32)
        attributes = np.array(session.attribute_values(), dtype=np.float32)
    if "history" in changed or "source" in changed:
        history = HistoryInfo(
            labels=tuple(session.history_labels), index=session.history_index,
            can_undo=session.can_undo, can_redo=session.can_redo, modified=session.is_modified,
        )
        # After every step (a stroke's end among them): what else the last stroke could have been.
        current = session.current_alternative
        labels = [label for label, _ in session.stroke_alternatives]
        previews = map(to_qimage, session.alternative_previews())
        alternatives = tuple((label, preview, i == current) for i, (label, preview) in enumerate(zip(labels, previews)))
    return Frame(
        seq=seq, job=job, elapsed_ms=(time.perf_counter() - started) * 1000.0, image=image, change_mask=change,
        protect=protect, latent=latent, direction_values=values, attribute_values=attributes, source=source, history=history,
        alternatives=alternatives, timed=timed,
    )


def _bucket(scale: float) -> float:
    """Round a display scale down to a power of two, so previews are cached across zoom steps."""
    if not scale > 0:
        return 1.0
    bucket = 1.0
    while bucket / 2 >= scale and bucket > 1 / 64:
        bucket /= 2
    return bucket
