"""`npe --screenshot OUT.png`: render the window offscreen, optionally after painting strokes through
the same input path a user's mouse takes (QMouseEvents on the canvas), and save it."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from npe.errors import UserError

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtGui import QImage

    from npe.ui.failures import Failure

WAIT_MS = 300_000  # model loading and strokes on a slow CPU


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size must look like 1280x800, got '{text}'.") from None
    if not (320 <= width <= 8192 and 240 <= height <= 8192):
        raise UserError(f"--size {text} is out of range; use 320x240 to 8192x8192.")
    return width, height


def parse_points(text: str) -> list[tuple[float, float]]:
    try:
        values = [float(part) for part in text.replace(" ", "").split(",") if part != ""]
    except ValueError:
        raise UserError(f"--paint takes numbers 'X1,Y1,X2,Y2,...' in image pixels, got '{text}'.") from None
    if not values or len(values) % 2:
        raise UserError(f"--paint needs pairs of coordinates 'X1,Y1,X2,Y2,...', got '{text}'.")
    return list(zip(values[0::2], values[1::2]))


def _quiet_offscreen_warnings() -> Callable[..., Any] | None:
    """The offscreen platform warns about window hints it cannot honour; that is not news to a user.
    Returns the previous message handler (to put back)."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(kind: object, context: object, message: str) -> None:
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    return qInstallMessageHandler(handler)


def take_screenshot(args: argparse.Namespace) -> int:
    """See the module doc. Returns 0, or 2 after printing what went wrong to stderr."""
    try:
        return _take_screenshot(args)
    except UserError as exc:
        print(f"npe: {exc}", file=sys.stderr)
        return 2


def _take_screenshot(args: argparse.Namespace) -> int:
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QColor, QMouseEvent
    from PySide6.QtWidgets import QApplication

    from npe.ui.app import _check_arguments, create_editor, model_failure_message, start_editor

    size = parse_size(args.size or "1280x800")
    strokes = [parse_points(text) for text in (args.paint or [])]
    color = QColor(args.color or "#ffffff")
    if not color.isValid():
        raise UserError(f"--color '{args.color}' is not a colour; use e.g. '#ffcc99'.")
    args_without_paint = argparse.Namespace(**{**vars(args), "paint": []})
    _check_arguments(args_without_paint)

    previous_handler = _quiet_offscreen_warnings()
    editor = create_editor(args, read_only_settings=True)
    window, controller = editor.window, editor.controller
    window.headless = True
    try:
        window.resize(*size)
        window.show()
        editor.app.processEvents()
        start_editor(editor, args, defer=False)
        if not controller.wait_idle(WAIT_MS) or not controller.has_document:
            if window.failures:
                raise _reported(window.failures, model_failure_message)
            raise UserError("the editor did not finish opening in time.")
        if window.failures:
            raise _reported(window.failures, model_failure_message)

        if getattr(args, "show_box", False):
            from npe.ui.canvas import Tool

            window.set_tool(Tool.FACE_BOX)
        if strokes:
            window.brush_panel.set_color(color)
        canvas = window.canvas
        width, height = canvas.photo_size or (0, 0)
        for points in strokes:
            for x, y in points:
                if not (0 <= x <= width and 0 <= y <= height):
                    raise UserError(f"--paint point ({x:g}, {y:g}) is outside the image ({width}x{height} pixels).")

        def send(kind: QEvent.Type, x: float, y: float, buttons: Qt.MouseButton) -> None:
            local = canvas.to_widget(x, y)
            button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
            event = QMouseEvent(kind, local, QPointF(canvas.mapToGlobal(local)), button, buttons, Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(canvas, event)
            controller.wait_idle(WAIT_MS)

        for points in strokes:
            send(QEvent.Type.MouseButtonPress, *points[0], Qt.MouseButton.LeftButton)
            for x, y in points[1:]:
                send(QEvent.Type.MouseMove, x, y, Qt.MouseButton.LeftButton)
            send(QEvent.Type.MouseButtonRelease, *points[-1], Qt.MouseButton.NoButton)
        if not controller.wait_idle(WAIT_MS):
            raise UserError("painting did not finish in time.")
        if window.failures:
            raise _reported(window.failures, model_failure_message)
        editor.app.processEvents()
        _save_atomically(window.grab().toImage(), args.screenshot)
        return 0
    finally:
        window.shutdown()
        window.close()
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(previous_handler)


def _reported(failures: list[Failure], model_message: Callable[[Failure], str]) -> UserError:
    """Every failure the window recorded, each said once (the headless window prints none itself)."""
    messages: list[str] = []
    for failure in failures:
        message = model_message(failure).replace("\n\n", " ") if failure.kind == "model" else failure.message
        if message not in messages:
            messages.append(message)
    return UserError("\nnpe: ".join(messages))


def _save_atomically(image: QImage, path: str) -> None:
    """Encode the PNG in memory, then write it through npe's atomic write: a full disk or a read-only
    folder leaves an existing file untouched, and the message says which of them it was."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    from npe.fileio import atomic_write_bytes, describe_write_error

    encoded = QByteArray()
    buffer = QBuffer(encoded)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]  # a QIODevice; PySide's stubs list only file names
        raise UserError(f"could not encode the screenshot '{path}' as PNG.")
    buffer.close()
    try:
        atomic_write_bytes(path, bytes(encoded.data()))
    except OSError as exc:
        raise UserError(describe_write_error(path, exc)) from exc
