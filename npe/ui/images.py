"""Conversions between the engine's uint8 numpy images and QImages: the one place they happen."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage


def to_qimage(image: np.ndarray) -> QImage:
    """A uint8 H x W x 3 RGB array as a QImage that owns a copy of the pixels (safe to hand to
    another thread and to keep after the array changes)."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 H x W x 3 image, got {image.dtype} {image.shape}")
    image = np.ascontiguousarray(image)
    height, width = image.shape[:2]
    return QImage(image.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage as a new uint8 H x W x 3 RGB array."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    height, width, stride = rgb.height(), rgb.width(), rgb.bytesPerLine()
    rows = np.frombuffer(rgb.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    return rows[:, : width * 3].reshape(height, width, 3).copy()


def mask_overlay(mask: np.ndarray, color: QColor, opacity: float = 1.0) -> QImage:
    """A float (0..1) or bool H x W mask as a premultiplied-free ARGB32 image in ``color`` whose
    alpha follows the mask (times ``opacity``); for drawing translucent overlays."""
    values = np.clip(np.asarray(mask, dtype=np.float32), 0.0, 1.0)
    height, width = values.shape
    argb = np.empty((height, width, 4), np.uint8)
    # ARGB32 is stored B, G, R, A in memory on little-endian machines; QImage reads it natively.
    argb[..., 0] = color.blue()
    argb[..., 1] = color.green()
    argb[..., 2] = color.red()
    argb[..., 3] = np.round(values * (255.0 * opacity * color.alphaF())).astype(np.uint8)
    if np.little_endian:
        return QImage(argb.data, width, height, 4 * width, QImage.Format.Format_ARGB32).copy()
    return QImage(argb[..., ::-1].copy().data, width, height, 4 * width, QImage.Format.Format_ARGB32).copy()

