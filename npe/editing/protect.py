"""The protect mask's rasterising: discs along a drag set (or clear) pixels of a bool mask at photo
resolution, and the mask's coverage of the model crop."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from npe.data.faces import crop_face
from npe.geometry import CropBox
from npe.editing.brush.footprint import densify

Rect = tuple[int, int, int, int]


@dataclass(frozen=True)
class ProtectChange:
    """The part of the mask a protect stroke changes: ``rect`` (x0, y0, x1, y1), bool regions."""

    rect: Rect
    before: np.ndarray
    after: np.ndarray


def paint_discs(protect: np.ndarray, points: Sequence[tuple[float, float]], radius: float, *, erase: bool = False) -> ProtectChange | None:
    """Set (or with ``erase`` clear) every pixel whose centre lies within ``radius`` of the polyline
    through ``points`` (photo pixels, continuous). None if the mask would not change."""
    if not points:
        return None
    height, width = protect.shape
    dense = densify(list(points), max(0.5, radius / 3))
    xs = np.array([p[0] for p in dense])
    ys = np.array([p[1] for p in dense])
    x0, x1 = max(0, math.floor(xs.min() - radius)), min(width, math.ceil(xs.max() + radius))
    y0, y1 = max(0, math.floor(ys.min() - radius)), min(height, math.ceil(ys.max() + radius))
    before = protect[y0:y1, x0:x1]
    after = before.copy()
    for x, y in dense:
        cx0, cx1 = max(x0, math.floor(x - radius)), min(x1, math.ceil(x + radius))
        cy0, cy1 = max(y0, math.floor(y - radius)), min(y1, math.ceil(y + radius))
        cols = np.arange(cx0, cx1) + 0.5 - x
        rows = np.arange(cy0, cy1) + 0.5 - y
        disc = rows[:, None] ** 2 + cols[None, :] ** 2 <= radius * radius
        after[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0][disc] = not erase
    if np.array_equal(before, after):
        return None
    return ProtectChange((x0, y0, x1, y1), before, after)


def clear_all(protect: np.ndarray) -> ProtectChange | None:
    """The change that removes the whole mask (over its bounding rectangle); None if it is empty."""
    if not protect.any():
        return None
    rows = np.flatnonzero(protect.any(axis=1))
    cols = np.flatnonzero(protect.any(axis=0))
    rect = (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    before = protect[rect[1] : rect[3], rect[0] : rect[2]]
    return ProtectChange(rect, before, np.zeros_like(before))


def crop_coverage(protect: np.ndarray, box: CropBox, resolution: int) -> np.ndarray:
    """The protect mask at model resolution: float R x R, 1 = fully protected."""
    planes = np.repeat((protect.astype(np.uint8) * 255)[..., None], 3, axis=2)
    return crop_face(planes, box, resolution)[..., 0].astype(np.float32) / 255.0
