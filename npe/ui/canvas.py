"""The canvas: draws the current result (scaled smoothly, aspect kept), the overlays and the brush
outline, and turns mouse/keyboard input into editing requests in photo pixel coordinates.

It only renders and forwards: painting goes out as signals, the image comes in via setters.
"""

from __future__ import annotations

import enum
import math

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QCursor, QEnterEvent, QFocusEvent, QImage, QKeyEvent, QMouseEvent, QPainter, QPaintEvent, QPixmap, QResizeEvent, QTransform, QWheelEvent
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QSizePolicy, QWidget

from npe.ui.decor import paint_badge, paint_brush, paint_picker, paint_shadow
from npe.ui.facebox import PICK_HINT, FaceBoxOverlay, box_transform

MARGIN = 20  # free space around the fitted image, in widget pixels
ZOOM_STEP = 1.25
MIN_ZOOM, MAX_ZOOM = 0.05, 64.0
FACE_VIEW = 1.8  # Zoom to Face: the view's shorter side shows this many face-box sides (hair and chin too)
SMALL_FACE = 0.3  # a photo whose face box, fitted, spans less than this share of the view opens zoomed to the face
OPEN_ZOOM = (1.5, 1.0)  # ...if that enlarges it at least this much over the fit, and then at most to actual pixels
WHEEL_NOTCH = 120


class Tool(enum.Enum):
    PAINT = "paint"
    PROTECT = "protect"
    UNPROTECT = "unprotect"
    PICK = "pick"
    FACE_BOX = "face-box"


class Canvas(QWidget):
    """See the module doc. Coordinates in signals are photo pixels (continuous, as the session's)."""

    strokeStarted = Signal(float, float)
    strokeMoved = Signal(float, float)
    strokeFinished = Signal()
    protectStarted = Signal(bool)  # erase
    protectMoved = Signal(object)  # list of (x, y): the segment since the last call
    protectFinished = Signal()
    lightenRequested = Signal(float, float, float)  # x, y, wheel notches (+ = lighter)
    colorPicked = Signal(QColor)
    boxEdited = Signal(object)  # (center_x, center_y, size, angle): the Face box tool's drag ended
    faceClicked = Signal(int)  # another face found was clicked (face_box.face_at): edit that one
    faceHovered = Signal(object)  # the index of the face a click would pick, or None
    compareChanged = Signal(bool)
    zoomChanged = Signal(float)
    hoverMoved = Signal(object)  # (x, y) in photo pixels, or None outside the photo
    firstPainted = Signal()  # once, after the first paint (startup is measured to here)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(240, 200)
        self._image: QImage | None = None
        self._original: QImage | None = None
        self._protect: QImage | None = None
        self._change_mask: QImage | None = None
        self._photo_size: tuple[int, int] | None = None
        self._box: tuple[float, float, float, float] | None = None
        self._resolution = 1
        self._scaled_cache: tuple[tuple[int, QSize], QPixmap] | None = None
        self._zoom: float | None = None  # None: fit to the view
        self._center: QPointF | None = None  # photo point at the view centre when zoomed
        self._hover: QPointF | None = None  # widget position of the mouse, while over the canvas
        self._drag: str | None = None  # "paint", "protect", "pan"
        self._last_photo_point: tuple[float, float] | None = None
        self._pan_anchor: tuple[QPointF, QPointF] | None = None
        self._compare_held = False
        self._compare_toggled = False
        self._show_change_mask = False
        self._show_protect = True
        self._tool = Tool.PAINT
        self.brush_color = QColor("#e0ac8c")
        self.brush_radius = 4.0  # photo pixels
        self.background = QColor("#18191b")
        self.placeholder = "Loading the model…"
        self._painted_once = False
        self.face_box = FaceBoxOverlay()  # the face square over the photo and its drags (facebox.py)
        self._hovered_face: int | None = None

    # --- content -------------------------------------------------------------------------
    def set_source(self, original: QImage, photo_size: tuple[int, int], box: tuple[float, float, float, float], resolution: int) -> None:
        new_size = photo_size != self._photo_size
        self._original = original
        self._photo_size = photo_size
        self._box = box
        self.face_box.set_box(box)
        self._resolution = max(1, resolution)
        if new_size:
            self.fit()
            several = len(self.face_box.candidates) > 1 or self.face_box.doubtful  # the face bar asks: show them all
            if not several and self._face_extent() * self.fit_scale() < SMALL_FACE * self._view_side():
                self.zoom_to_face(most=OPEN_ZOOM[1], least=OPEN_ZOOM[0] * self.fit_scale())  # show the face, not the room
        self.update()

    def set_image(self, image: QImage | None, change_mask: QImage | None = None) -> None:
        self._image = image
        self._change_mask = change_mask
        self.update()

    def set_protect(self, overlay: QImage | None) -> None:
        self._protect = overlay
        self.update()

    @property
    def protect_overlay(self) -> QImage | None:
        """The protected areas as drawn (None when nothing is protected)."""
        return self._protect

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.update()

    def displayed_image(self) -> QImage | None:
        """What is drawn now (the original while comparing)."""
        return self._original if self.comparing else self._image

    @property
    def photo_size(self) -> tuple[int, int] | None:
        return self._photo_size

    # --- modes ---------------------------------------------------------------------------
    @property
    def tool(self) -> Tool:
        return self._tool

    def set_tool(self, tool: Tool) -> None:
        self._tool = tool
        self.face_box.editing = tool is Tool.FACE_BOX
        self._update_cursor()
        self.update()

    @property
    def comparing(self) -> bool:
        return self._compare_held or self._compare_toggled

    def set_compare(self, on: bool) -> None:
        """The Compare toggle (Space compares only while held)."""
        before = self.comparing
        self._compare_toggled = on
        if self.comparing != before:
            self.compareChanged.emit(self.comparing)
        self.update()

    def set_show_change_mask(self, on: bool) -> None:
        self._show_change_mask = on
        self.update()

    def set_show_face_box(self, on: bool) -> None:
        self.face_box.visible = on
        self.update()

    def set_show_protect(self, on: bool) -> None:
        self._show_protect = on
        self.update()

    def set_brush(self, color: QColor, radius: float) -> None:
        self.brush_color = QColor(color)
        self.brush_radius = max(0.5, float(radius))
        self.update()

    # --- view geometry ---------------------------------------------------------------------
    def fit_scale(self) -> float:
        if self._photo_size is None:
            return 1.0
        width, height = self._photo_size
        available_w = max(1, self.width() - 2 * MARGIN)
        available_h = max(1, self.height() - 2 * MARGIN)
        return max(1e-3, min(available_w / width, available_h / height))

    def scale(self) -> float:
        return self._zoom if self._zoom is not None else self.fit_scale()

    def image_rect(self) -> QRectF:
        """Where the photo is drawn, in widget coordinates."""
        if self._photo_size is None:
            return QRectF()
        width, height = self._photo_size
        scale = self.scale()
        if self._zoom is None or self._center is None:
            left = (self.width() - width * scale) / 2
            top = (self.height() - height * scale) / 2
        else:
            left = self.width() / 2 - self._center.x() * scale
            top = self.height() / 2 - self._center.y() * scale
        return QRectF(left, top, width * scale, height * scale)

    def to_photo(self, position: QPointF) -> tuple[float, float]:
        rect = self.image_rect()
        scale = self.scale()
        return (position.x() - rect.left()) / scale, (position.y() - rect.top()) / scale

    def to_widget(self, x: float, y: float) -> QPointF:
        rect = self.image_rect()
        scale = self.scale()
        return QPointF(rect.left() + x * scale, rect.top() + y * scale)

    def inside_photo(self, x: float, y: float) -> bool:
        if self._photo_size is None:
            return False
        width, height = self._photo_size
        return 0 <= x <= width and 0 <= y <= height

    def fit(self) -> None:
        self._zoom = None
        self._center = None
        self._scaled_cache = None
        self.update()
        self.zoomChanged.emit(self.scale())

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the photo point under ``anchor`` (default: the view centre) in place."""
        if self._photo_size is None:
            return
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        before = self.to_photo(anchor)
        zoom = min(MAX_ZOOM, max(MIN_ZOOM, self.scale() * factor))
        self._zoom = zoom
        # Choose the centre so `before` stays under the anchor.
        cx = before[0] - (anchor.x() - self.width() / 2) / zoom
        cy = before[1] - (anchor.y() - self.height() / 2) / zoom
        self._set_center(cx, cy)
        self.zoomChanged.emit(zoom)

    def _face_extent(self) -> float:
        """The side of the upright square around the (turned) face box, in photo pixels (0: no box)."""
        if self._box is None:
            return 0.0
        _, _, size, angle = self._box
        turn = math.radians(angle)
        return size * (abs(math.cos(turn)) + abs(math.sin(turn)))

    def _view_side(self) -> float:
        return max(1.0, min(self.width(), self.height()) - 2 * MARGIN)

    def zoom_to_face(self, most: float = MAX_ZOOM, least: float = 0.0) -> None:
        """Zoom so the face box and some of what is around it (FACE_VIEW box sides) fill the view,
        centred on the box; never smaller than the whole photo fitted, nor larger than ``most``. Nothing
        changes if that zoom would be under ``least``."""
        if self._photo_size is None or self._box is None or self._face_extent() <= 0:
            return
        zoom = min(MAX_ZOOM, most, max(self.fit_scale(), self._view_side() / (FACE_VIEW * self._face_extent())))
        if zoom < least:
            return
        self._zoom = zoom
        self._set_center(self._box[0], self._box[1])
        self.zoomChanged.emit(zoom)

    def set_zoom(self, zoom: float) -> None:
        """Zoom to ``zoom`` (1 = one photo pixel per screen pixel) around the view centre."""
        self.zoom_by(zoom / self.scale())

    def _set_center(self, cx: float, cy: float) -> None:
        width, height = self._photo_size or (1, 1)
        self._center = QPointF(min(max(cx, 0.0), width), min(max(cy, 0.0), height))
        self.update()

    # --- painting --------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:  # Qt naming
        painter = QPainter(self)
        painter.fillRect(event.rect(), self.background)
        image = self.displayed_image()
        if image is None or image.isNull() or self._photo_size is None:
            self._paint_placeholder(painter)
            painter.end()
            self._first_paint()
            return
        rect = self.image_rect()
        paint_shadow(painter, rect)
        self._paint_image(painter, image, rect)
        if not self.comparing:
            if self._show_change_mask and self._change_mask is not None and self._box is not None:
                self._paint_change_mask(painter, self._box, self._change_mask)
            if self._show_protect and self._protect is not None and not self._protect.isNull():
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale() < 1)
                painter.drawImage(rect, self._protect)
            self.face_box.paint(painter, self)
        else:
            paint_badge(painter, "Original", self.image_rect().topLeft())
        if self._hover is not None and self._drag != "pan" and self._tool is not Tool.FACE_BOX and self._hovered_face is None:
            self._paint_brush(painter, self._hover)
        painter.end()
        self._first_paint()

    def _first_paint(self) -> None:
        if not self._painted_once:
            self._painted_once = True
            self.firstPainted.emit()

    def _paint_placeholder(self, painter: QPainter) -> None:
        color = QColor(self.palette().color(self.palette().ColorRole.PlaceholderText))
        painter.setPen(color)
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)

    def _paint_image(self, painter: QPainter, image: QImage, rect: QRectF) -> None:
        target = QSize(max(1, round(rect.width())), max(1, round(rect.height())))
        # Smoothly scaled copies are cached while they are not much larger than the view; a deep
        # zoom is drawn directly (clipped), which costs less than a huge cached copy.
        if target.width() * target.height() <= 4 * max(1, self.width() * self.height()):
            key = (image.cacheKey(), target)
            if self._scaled_cache is None or self._scaled_cache[0] != key:
                scaled = image.scaled(target, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
                self._scaled_cache = (key, QPixmap.fromImage(scaled))
            painter.drawPixmap(QPointF(round(rect.left()), round(rect.top())), self._scaled_cache[1])
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(rect, image)

    def _paint_change_mask(self, painter: QPainter, box: tuple[float, float, float, float], change_mask: QImage) -> None:
        rect = self.image_rect()
        scale = self.scale()
        photo_to_widget = QTransform(scale, 0, 0, scale, rect.left(), rect.top())
        crop_to_widget = box_transform(box, self._resolution) * photo_to_widget
        painter.save()
        painter.setClipRect(rect)
        painter.setTransform(crop_to_widget)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(QRectF(0, 0, self._resolution, self._resolution), change_mask)
        painter.restore()

    def _paint_brush(self, painter: QPainter, position: QPointF) -> None:
        if self._tool is Tool.PICK and self._drag is None:
            paint_picker(painter, position, self.color_at(*self.to_photo(position)))
            return
        protecting = self._tool in (Tool.PROTECT, Tool.UNPROTECT) or self._drag == "protect"
        paint_brush(painter, position, max(2.0, self.brush_radius * self.scale()), self.brush_color, protecting)

    def color_at(self, x: float, y: float) -> QColor | None:
        """The displayed colour at photo point (x, y), or None outside the photo."""
        image = self.displayed_image()
        if image is None or self._photo_size is None or not self.inside_photo(x, y):
            return None
        width, height = self._photo_size
        px = min(image.width() - 1, int(x * image.width() / width))
        py = min(image.height() - 1, int(y * image.height() / height))
        return image.pixelColor(px, py)

    # --- input -----------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        position = event.position()
        self._hover = position
        if self._drag is not None or self._photo_size is None:
            return
        button, modifiers = event.button(), event.modifiers()
        if button == Qt.MouseButton.MiddleButton:
            self._drag = "pan"
            self._pan_anchor = (position, QPointF(*self._current_center()))
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        x, y = self.to_photo(position)
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        face = self._face_under(position) if button == Qt.MouseButton.LeftButton and not modifiers else None
        if face is not None:
            self.faceClicked.emit(face)
            return
        if self._tool is Tool.FACE_BOX:
            grabbed = self.face_box.hit(position, self) if button == Qt.MouseButton.LeftButton else None
            if grabbed is not None:
                self._drag = "box"
                self.face_box.press((x, y), grabbed, rotate=shift)
            return
        if not self.inside_photo(x, y):
            return
        if button == Qt.MouseButton.LeftButton and (self._tool is Tool.PICK or modifiers & Qt.KeyboardModifier.ControlModifier):
            color = self.color_at(x, y)
            if color is not None:
                self.colorPicked.emit(color)
            return
        if button == Qt.MouseButton.RightButton or (button == Qt.MouseButton.LeftButton and (shift or self._tool in (Tool.PROTECT, Tool.UNPROTECT))):
            erase = self._tool is Tool.UNPROTECT or (button == Qt.MouseButton.RightButton and shift)
            self._drag = "protect"
            self._last_photo_point = (x, y)
            self.protectStarted.emit(erase)
            self.protectMoved.emit([(x, y)])
        elif button == Qt.MouseButton.LeftButton:
            self._drag = "paint"
            self._last_photo_point = (x, y)
            self.strokeStarted.emit(x, y)
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        position = event.position()
        previous = self._hover
        self._hover = position
        if self._drag == "pan" and self._pan_anchor is not None:
            start, center = self._pan_anchor
            scale = self.scale()
            if self._zoom is None:
                self._zoom = scale
            self._set_center(center.x() - (position.x() - start.x()) / scale, center.y() - (position.y() - start.y()) / scale)
            return
        x, y = self.to_photo(position)
        if self._drag == "box":
            self.face_box.move((x, y))
            self.update()
            return
        inside = self.inside_photo(x, y)
        self.hoverMoved.emit((x, y) if inside else None)
        if self._drag == "paint" and inside:
            self._last_photo_point = (x, y)
            self.strokeMoved.emit(x, y)
        elif self._drag == "protect" and inside:
            # Segments, so a fast movement leaves no gaps between the discs.
            self.protectMoved.emit([self._last_photo_point or (x, y), (x, y)])
            self._last_photo_point = (x, y)
        self._update_cursor()
        self._update_brush_area(previous, position)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        button = event.button()
        if self._drag == "box" and button == Qt.MouseButton.LeftButton:
            self._drag = None
            box = self.face_box.release()
            if box is not None:
                self.boxEdited.emit(box)
        elif self._drag == "paint" and button == Qt.MouseButton.LeftButton:
            self._drag = None
            self.strokeFinished.emit()
        elif self._drag == "protect" and button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            self._drag = None
            self.protectFinished.emit()
        elif self._drag == "pan" and button == Qt.MouseButton.MiddleButton:
            self._drag = None
            self._pan_anchor = None
        self._update_cursor()
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / WHEEL_NOTCH
        if notches == 0 or self._photo_size is None:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(ZOOM_STEP**notches, event.position())
            event.accept()
            return
        x, y = self.to_photo(event.position())
        if self.inside_photo(x, y) and self._drag is None:
            self.lightenRequested.emit(x, y, notches)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            before = self.comparing
            self._compare_held = True
            if not before:
                self.compareChanged.emit(True)
            self.update()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._compare_held = False
            if not self.comparing:
                self.compareChanged.emit(False)
            self.update()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        if self._compare_held:
            self._compare_held = False
            self.compareChanged.emit(self.comparing)
            self.update()
        super().focusOutEvent(event)

    def enterEvent(self, event: QEnterEvent) -> None:
        # Take the keyboard (Space compares) unless the user is typing somewhere.
        focused = QApplication.focusWidget()
        if not isinstance(focused, (QLineEdit, QAbstractSpinBox)):
            self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.hoverMoved.emit(None)
        self.update()
        super().leaveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._scaled_cache = None
        super().resizeEvent(event)
        if self._zoom is None:
            self.zoomChanged.emit(self.scale())

    # --- helpers ---------------------------------------------------------------------------
    def _current_center(self) -> tuple[float, float]:
        return self.to_photo(QPointF(self.width() / 2, self.height() / 2))

    def _update_cursor(self) -> None:
        if self._drag == "pan":
            return
        over_photo = self._hover is not None and self.inside_photo(*self.to_photo(self._hover))
        face = self._face_under(self._hover) if self._drag is None else None
        if face != self._hovered_face:
            self._hovered_face = face
            self.setToolTip(PICK_HINT if face is not None else "")
            self.faceHovered.emit(face)
        if face is not None:
            self.setCursor(QCursor(Qt.CursorShape.PointingHandCursor))
            return
        if self._tool is Tool.FACE_BOX:
            self.setCursor(QCursor(self.face_box.cursor(self._hover, self)))
            return
        self.setCursor(QCursor(Qt.CursorShape.BlankCursor if over_photo else Qt.CursorShape.ArrowCursor))

    def _face_under(self, position: QPointF | None) -> int | None:
        """The other face a plain left click at ``position`` picks (never with the eyedropper)."""
        return None if position is None or self._tool is Tool.PICK else self.face_box.face_at(position, self)

    def _update_brush_area(self, previous: QPointF | None, current: QPointF) -> None:
        """Repaint only around the old and new brush outline (cheap hover on large photos)."""
        radius = math.ceil(max(2.0, self.brush_radius * self.scale())) + 48
        for point in (previous, current):
            if point is not None:
                self.update(QRect(int(point.x()) - radius, int(point.y()) - radius, 2 * radius, 2 * radius))
