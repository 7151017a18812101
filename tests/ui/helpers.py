"""Small helpers for driving the editor like a user."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt


def displayed(editor) -> np.ndarray:
    """What the canvas shows now, as uint8 H x W x 3."""
    from npe.ui.images import from_qimage

    image = editor.window.canvas.displayed_image()
    assert image is not None
    return from_qimage(image)


def widget_point(canvas, x: float, y: float) -> QPoint:
    return canvas.to_widget(x, y).toPoint()


def drag(qtbot, editor, points, button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """Press at the first photo point, move through the rest, release; then wait for the model."""
    canvas = editor.window.canvas
    qtbot.mousePress(canvas, button, modifier, widget_point(canvas, *points[0]))
    for x, y in points[1:]:
        qtbot.mouseMove(canvas, widget_point(canvas, x, y))
    qtbot.mouseRelease(canvas, button, modifier, widget_point(canvas, *points[-1]))
    assert editor.controller.wait_idle(30_000)


def wait(editor, timeout_ms: int = 30_000) -> None:
    assert editor.controller.wait_idle(timeout_ms)


def kinds(labels) -> list[str]:
    """Undo steps by kind: a stroke's "Paint: Smiling +1.8 σ" (what it did) reads "Paint"."""
    return ["Paint" if label.startswith("Paint: ") else label for label in labels]
