"""The face box over the photo: drawing the rotated square (and the other faces found), and the
Face box tool's drags: inside moves it, a corner resizes it (the opposite corner stays), the handle
above the top edge (or Shift + drag) rotates it. The canvas forwards its mouse events here; the
box only changes in the document when the drag ends (the window asks the worker to re-encode).

When several faces were found, the others (the candidates) are drawn as thin dashed numbered
squares while the face bar asks which face to edit (``offering``) or the Face box tool is on, and
``candidate_at`` says which one a click picks: the smallest box under the pointer, so a click
inside the chosen face stays a brush stroke.

Boxes are (center_x, center_y, size, angle) in photo pixels and degrees, counter-clockwise on
screen: the fields of npe.geometry.CropBox, whose affine map every computation here goes through
(``box_transform`` is that map as a QTransform, for drawing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF, QTransform

from npe.geometry import CropBox

Box = tuple[float, float, float, float]
Point = tuple[float, float]

HANDLE_GAP = 26.0  # widget pixels from the top edge's middle to the rotation handle
GRAB = 9.0  # widget pixels: how close a press must be to a corner or the handle
MIN_SIDE = 8.0  # photo pixels: the smallest square a resize makes
UNIT_CORNERS = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))  # TL, TR, BR, BL as seen in the crop (CropBox.corners)
BOX_COLOR = QColor(255, 214, 64)
DOUBTFUL_COLOR = QColor(255, 120, 64)
OTHER_COLOR = QColor(255, 255, 255, 170)
PICK_HINT = "Click to edit this face"  # the tooltip and status text over a candidate


class View(Protocol):
    """What the overlay needs from the canvas: its photo <-> widget maps."""

    def to_widget(self, x: float, y: float) -> QPointF: ...

    def to_photo(self, position: QPointF) -> tuple[float, float]: ...

    def scale(self) -> float: ...


def box_transform(box: Box, resolution: float = 1.0) -> QTransform:
    """The map from a ``resolution``-pixel crop of ``box`` to photo pixels: CropBox.crop_to_photo as a QTransform."""
    (a, b, c), (d, e, f) = CropBox(*box).crop_to_photo(resolution)[:2].tolist()
    return QTransform(a, d, b, e, c, f)  # Qt's (m11, m12, m21, m22, dx, dy): x' = m11 x + m21 y + dx


def corners(box: Box) -> list[Point]:
    """TL, TR, BR, BL of the square in photo pixels."""
    return [(x, y) for x, y in CropBox(*box).corners().tolist()]


def _pointing(dx: float, dy: float) -> float:
    """The roll that makes the square's top point along (dx, dy) (photo direction), in degrees."""
    return math.degrees(math.atan2(-dx, -dy))


def moved(box: Box, dx: float, dy: float) -> Box:
    return box[0] + dx, box[1] + dy, box[2], box[3]


def resized(box: Box, corner: int, point: Point) -> Box:
    """``box`` with corner ``corner`` (0-3, TL TR BR BL) dragged to ``point``, its opposite corner fixed."""
    fixed = corners(box)[(corner + 2) % 4]
    (ux, uy), (vx, vy) = CropBox(*box).axes
    sign_u = UNIT_CORNERS[corner][0] - UNIT_CORNERS[(corner + 2) % 4][0]  # from the fixed corner outwards
    sign_v = UNIT_CORNERS[corner][1] - UNIT_CORNERS[(corner + 2) % 4][1]
    dx, dy = point[0] - fixed[0], point[1] - fixed[1]
    along_u = sign_u * (dx * ux + dy * uy)
    along_v = sign_v * (dx * vx + dy * vy)
    side = max(MIN_SIDE, (along_u + along_v) / 2)  # a square: the mean of the two extents
    center_x = fixed[0] + (sign_u * ux + sign_v * vx) * side / 2
    center_y = fixed[1] + (sign_u * uy + sign_v * vy) * side / 2
    return center_x, center_y, side, box[3]


def rotated(box: Box, start: Point, point: Point) -> Box:
    """``box`` turned about its centre by the angle the pointer swept from ``start`` to ``point``."""
    turn = _pointing(point[0] - box[0], point[1] - box[1]) - _pointing(start[0] - box[0], start[1] - box[1])
    angle = (box[3] + turn + 180.0) % 360.0 - 180.0
    return box[0], box[1], box[2], angle


@dataclass
class _Drag:
    mode: str  # "move", "resize", "rotate"
    start_box: Box
    start: Point  # photo pixels
    corner: int = 0


class FaceBoxOverlay:
    """The box and candidates the canvas draws, and the drag in progress (see module doc)."""

    def __init__(self) -> None:
        self.box: Box | None = None  # the document's box
        self.shown_box: Box | None = None  # what is drawn: the document's, or the one being dragged
        self.candidates: list[Box] = []  # every face found, largest first
        self.visible = False
        self.doubtful = False
        self.editing = False  # the Face box tool is on: handles are drawn and drags accepted
        self.offering = False  # the face bar asks which face: the candidates are drawn and clickable
        self._drag: _Drag | None = None

    @property
    def dragging(self) -> bool:
        return self._drag is not None

    def set_box(self, box: Box | None) -> None:
        """The document's box (a new source, or an undo); ends no drag in progress."""
        self.box = box
        if self._drag is None:
            self.shown_box = box

    def revert(self) -> None:
        """Forget a released box the document did not take (its job failed)."""
        self._drag = None
        self.shown_box = self.box

    # --- input (``view``: the canvas, with to_widget(x, y), to_photo(point) and scale()) --------
    def hit(self, widget_point: QPointF, view: View) -> tuple[str, int] | None:
        """What a press at ``widget_point`` grabs: ("resize", corner), ("rotate", 0), ("move", 0) or None."""
        if self.shown_box is None:
            return None
        for index, (x, y) in enumerate(corners(self.shown_box)):
            if _near(view.to_widget(x, y), widget_point):
                return "resize", index
        if _near(self._handle(view), widget_point):
            return "rotate", 0
        return ("move", 0) if contains(self.shown_box, view.to_photo(widget_point)) else None

    def candidates_shown(self) -> bool:
        """The other faces are drawn and clickable: several were found, and the bar asks which one
        (with the box shown) or the Face box tool is on."""
        return len(self.candidates) > 1 and self.shown_box is not None and ((self.offering and self.visible) or self.editing)

    def candidate_at(self, photo_point: Point) -> int | None:
        """The candidate (its index, largest first) a click at ``photo_point`` picks, or None: the
        smallest box under the point decides, and the chosen box wins a tie, so a click inside the
        chosen face is never taken from the brush (unless a smaller face lies inside it)."""
        shown = self.shown_box
        if shown is None or not self.candidates_shown():
            return None
        under = [(box[2], index) for index, box in enumerate(self.candidates)
                 if not same_box(box, shown) and contains(box, photo_point)]
        if not under:
            return None
        side, index = min(under)
        return None if contains(shown, photo_point) and shown[2] <= side else index

    def face_at(self, widget_point: QPointF, view: View) -> int | None:
        """``candidate_at`` for a press at ``widget_point``; with the Face box tool, the chosen
        box's corners and rotation handle come first."""
        grabbed = self.hit(widget_point, view) if self.editing else None
        if grabbed is not None and grabbed[0] != "move":
            return None
        return self.candidate_at(view.to_photo(widget_point))

    def cursor(self, widget_point: QPointF | None, view: View) -> Qt.CursorShape:
        """The pointer's shape over ``widget_point``: what a press there would do."""
        grabbed = self.hit(widget_point, view) if widget_point is not None else None
        shapes = {"move": Qt.CursorShape.SizeAllCursor, "resize": Qt.CursorShape.SizeFDiagCursor, "rotate": Qt.CursorShape.CrossCursor}
        return shapes[grabbed[0]] if grabbed else Qt.CursorShape.ArrowCursor

    def press(self, photo_point: Point, grabbed: tuple[str, int], rotate: bool) -> None:
        mode, corner = grabbed
        assert self.shown_box is not None  # hit() grabbed it
        self._drag = _Drag("rotate" if rotate else mode, self.shown_box, photo_point, corner)

    def move(self, photo_point: Point) -> None:
        drag = self._drag
        if drag is None:
            return
        if drag.mode == "move":
            self.shown_box = moved(drag.start_box, photo_point[0] - drag.start[0], photo_point[1] - drag.start[1])
        elif drag.mode == "resize":
            self.shown_box = resized(drag.start_box, drag.corner, photo_point)
        else:
            self.shown_box = rotated(drag.start_box, drag.start, photo_point)

    def release(self) -> Box | None:
        """End the drag: the new box, or None when it did not change."""
        drag, self._drag = self._drag, None
        if drag is None or self.shown_box == drag.start_box:
            return None
        return self.shown_box

    # --- drawing ---------------------------------------------------------------------------
    def paint(self, painter: QPainter, view: View) -> None:
        shown = self.shown_box
        if shown is None or not (self.visible or self.editing):
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        chosen = None
        if self.candidates_shown():
            for number, other in enumerate(self.candidates):
                if same_box(other, shown):
                    chosen = number
                else:
                    self._outline(painter, other, view, OTHER_COLOR, 1.2, Qt.PenStyle.DashLine, str(number))
        color = DOUBTFUL_COLOR if self.doubtful else BOX_COLOR
        label = ("Face" if chosen is None else f"Face {chosen}") + ("?" if self.doubtful else "")
        self._outline(painter, shown, view, color, 2.0, Qt.PenStyle.SolidLine, label)
        if self.editing:
            top_middle = view.to_widget(*_mean(corners(shown)[:2]))
            handle = self._handle(view)
            painter.setPen(QPen(color, 1.5))
            painter.drawLine(top_middle, handle)
            painter.setBrush(color)
            painter.drawEllipse(handle, 5, 5)
            for x, y in corners(shown):
                corner = view.to_widget(x, y)
                painter.drawRect(QRectF(corner.x() - 4, corner.y() - 4, 8, 8))
        painter.restore()

    def _outline(self, painter: QPainter, box: Box, view: View, color: QColor, width: float, style: Qt.PenStyle, label: str) -> None:
        points = [view.to_widget(x, y) for x, y in corners(box)]
        polygon = QPolygonF(points)
        painter.setPen(QPen(QColor(0, 0, 0, 150), width + 2.0))  # a dark halo keeps it visible on any photo
        painter.drawPolygon(polygon)
        painter.setPen(QPen(color, width, style))
        painter.drawPolygon(polygon)
        painter.setPen(QColor(0, 0, 0, 200))  # a shadow, so the label reads on light hair or sky
        painter.drawText(points[0] + QPointF(5, -5), label)
        painter.setPen(QColor(color.red(), color.green(), color.blue()))
        painter.drawText(points[0] + QPointF(4, -6), label)

    def _handle(self, view: View) -> QPointF:
        """The rotation handle: HANDLE_GAP widget pixels above the top edge's middle, along the box's up."""
        box = self.shown_box
        assert box is not None  # callers check
        _, (vx, vy) = CropBox(*box).axes
        x, y = _mean(corners(box)[:2])
        gap = HANDLE_GAP / max(view.scale(), 1e-6)
        return view.to_widget(x - vx * gap, y - vy * gap)

    def handle_position(self, view: View) -> QPointF | None:
        """Where the rotation handle is drawn (widget pixels), or None without a box."""
        return None if self.shown_box is None else self._handle(view)


def contains(box: Box, point: Point) -> bool:
    """Whether photo point ``point`` lies inside the (rotated) square ``box``, edges included."""
    u, v = CropBox(*box).to_crop([point])[0].tolist()
    return 0 <= u <= 1 and 0 <= v <= 1


def _near(a: QPointF, b: QPointF) -> bool:
    return math.hypot(a.x() - b.x(), a.y() - b.y()) <= GRAB


def _mean(points: list[Point]) -> Point:
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def same_box(a: Box, b: Box) -> bool:
    """Whether two boxes are the same square (up to float noise)."""
    return all(abs(x - y) < 1e-6 for x, y in zip(a, b))
