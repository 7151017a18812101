"""Small drawings of the canvas that depend on no state of it: the photo's shadow, a badge, the
brush outline, the eyedropper's ring and swatch."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen


def paint_shadow(painter: QPainter, rect: QRectF) -> None:
    painter.setPen(Qt.PenStyle.NoPen)
    for spread, alpha in ((10, 18), (6, 28), (3, 40)):
        painter.setBrush(QColor(0, 0, 0, alpha))
        painter.drawRoundedRect(rect.adjusted(-spread, -spread + 2, spread, spread + 2), spread, spread)
    painter.setBrush(Qt.BrushStyle.NoBrush)


def paint_badge(painter: QPainter, text: str, corner: QPointF) -> None:
    """``text`` in a dark rounded box just inside ``corner`` (the photo's top-left)."""
    metrics = painter.fontMetrics()
    box = QRect(0, 0, metrics.horizontalAdvance(text) + 20, metrics.height() + 10)
    box.moveTopLeft(corner.toPoint() + QPointF(12, 12).toPoint())
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(0, 0, 0, 160))
    painter.drawRoundedRect(box, 6, 6)
    painter.setPen(QColor("#ffffff"))
    painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)


def paint_picker(painter: QPainter, position: QPointF, color: QColor | None) -> None:
    """The eyedropper: a ring at ``position`` and a swatch of the colour under it."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 160), 3))
    painter.drawEllipse(position, 9, 9)
    painter.setPen(QPen(QColor("#ffffff"), 1.5))
    painter.drawEllipse(position, 9, 9)
    if color is not None:
        swatch = QRectF(position.x() + 14, position.y() + 14, 26, 26)
        painter.setPen(QPen(QColor("#ffffff"), 1.5))
        painter.setBrush(color)
        painter.drawRoundedRect(swatch, 5, 5)


def paint_brush(painter: QPainter, position: QPointF, radius: float, color: QColor, protecting: bool) -> None:
    """The brush outline at ``position`` (``radius`` widget pixels): a ring in the brush colour, or
    a dashed blue one for the protect brush, with a small cross at its centre."""
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    # A dark halo under the coloured ring keeps the outline visible on any colour.
    painter.setPen(QPen(QColor(0, 0, 0, 150), 3.5))
    painter.drawEllipse(position, radius, radius)
    painter.setPen(QPen(QColor(64, 200, 255), 1.6, Qt.PenStyle.DashLine) if protecting else QPen(color, 1.8))
    painter.drawEllipse(position, radius, radius)
    painter.setPen(QPen(QColor(255, 255, 255, 200), 1))
    painter.drawLine(position + QPointF(-3, 0), position + QPointF(3, 0))
    painter.drawLine(position + QPointF(0, -3), position + QPointF(0, 3))
