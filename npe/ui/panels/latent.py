"""The latent panel: the named Attributes on top (panels/attributes.py, when given), z as a grid of
tiles (red = positive, blue = negative, brighter = larger, as in the original Neural Photo Editor)
that can be dragged or clicked, Reset, and a slider per principal direction in a section that
starts collapsed."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

POSITIVE = QColor("#e5484d")
NEGATIVE = QColor("#3e7bfa")
FULL_SCALE = 2.5  # |z| at which a tile is fully coloured
DRAG_PER_PIXEL = 0.025  # latent units per pixel dragged up
CLICK_STEP = 0.5  # a click pushes the value by this much (right click: down)
DIRECTION_RANGE = 3.0  # sliders span ±3 standard deviations
SLIDER_STEPS = 100  # slider units per standard deviation
MAX_TILE = 26  # px


def grid_shape(count: int) -> tuple[int, int]:
    """(columns, rows) of the most square grid that holds ``count`` tiles (10 x 10 for 100)."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return columns, max(1, math.ceil(count / columns))


def tile_color(value: float, neutral: QColor) -> QColor:
    strength = min(1.0, abs(float(value)) / FULL_SCALE) ** 0.8
    target = POSITIVE if value >= 0 else NEGATIVE

    def mix(a: int, b: int) -> int:
        return round(a + (b - a) * strength)

    return QColor(mix(neutral.red(), target.red()), mix(neutral.green(), target.green()), mix(neutral.blue(), target.blue()))


class LatentGrid(QWidget):
    """Tiles for z. Drag a tile up/down to change its value, click to push it (right click: down)."""

    valueEdited = Signal(int, float)
    editFinished = Signal()
    hovered = Signal(int)  # tile index under the mouse, -1 when none

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(100)
        self.setFixedHeight(200)
        self.setToolTip("Drag a tile up or down to change that latent; click to push it (right click: down)")
        self._values = np.zeros(0, np.float32)
        self._reference: np.ndarray | None = None
        self._hover = -1
        self._press: tuple[int, QPointF, float, Qt.MouseButton] | None = None
        self._dragged = False

    def set_values(self, values: np.ndarray | None) -> None:
        if self._press is not None and self._dragged:
            return  # the tile being dragged shows the user's value until the drag ends
        values = np.zeros(0, np.float32) if values is None else np.asarray(values, np.float32)
        resized = values.size != self._values.size
        self._values = values.copy()
        if resized:
            self.setFixedHeight(self.heightForWidth(self.width()))
        self.update()

    def values(self) -> np.ndarray:
        return self._values.copy()

    def count(self) -> int:
        return int(self._values.size)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        columns, rows = grid_shape(max(1, self.count()))
        return max(40, round(self.tile_size(width) * rows))

    def tile_size(self, width: int | None = None) -> float:
        columns, _ = grid_shape(max(1, self.count()))
        return min(MAX_TILE, (self.width() if width is None else width) / columns)

    def resizeEvent(self, event: QResizeEvent) -> None:
        # Square tiles: the height follows the width (docks do not pass height-for-width on).
        height = self.heightForWidth(self.width())
        if height != self.height():
            self.setFixedHeight(height)
        super().resizeEvent(event)

    def tile_rect(self, index: int) -> QRectF:
        columns, _ = grid_shape(max(1, self.count()))
        size = self.tile_size()
        left = (self.width() - size * columns) / 2
        row, column = divmod(index, columns)
        return QRectF(left + column * size, row * size, size, size)

    def tile_at(self, position: QPointF) -> int:
        for index in range(self.count()):
            if self.tile_rect(index).contains(position):
                return index
        return -1

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        neutral = self.palette().color(self.palette().ColorRole.Base)
        painter.setPen(Qt.PenStyle.NoPen)
        for index, value in enumerate(self._values):
            rect = self.tile_rect(index).adjusted(1, 1, -1, -1)
            painter.setBrush(tile_color(float(value), neutral))
            painter.drawRoundedRect(rect, 3, 3)
        for index in (self._hover, self._press[0] if self._press else -1):
            if 0 <= index < self.count():
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.setPen(QPen(self.palette().color(self.palette().ColorRole.Text), 1.5))
                painter.drawRoundedRect(self.tile_rect(index).adjusted(1, 1, -1, -1), 3, 3)
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.tile_at(event.position())
        if index < 0 or self._press is not None:
            return
        self._press = (index, event.position(), float(self._values[index]), event.button())
        self._dragged = False
        self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            hover = self.tile_at(event.position())
            if hover != self._hover:
                self._hover = hover
                self.hovered.emit(hover)
                self.update()
            return
        index, start, value, _ = self._press
        dy = start.y() - event.position().y()
        if not self._dragged and abs(dy) < 3:
            return
        self._dragged = True
        new_value = round(value + dy * DRAG_PER_PIXEL, 3)
        self._values[index] = new_value
        self.update()
        self.hovered.emit(index)
        self.valueEdited.emit(index, new_value)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return
        index, _, value, button = self._press
        if event.button() != button:
            return
        self._press = None
        if not self._dragged:
            step = -CLICK_STEP if button == Qt.MouseButton.RightButton else CLICK_STEP
            self._values[index] = value + step
            self.valueEdited.emit(index, value + step)
        self._dragged = False
        self.update()
        self.editFinished.emit()

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = -1
        self.hovered.emit(-1)
        self.update()
        super().leaveEvent(event)


class DirectionSlider(QWidget):
    """One principal direction: label, slider (±3 std devs) and value."""

    def __init__(self, k: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.k = k
        self.label = QLabel(f"PC {k + 1}")
        self.label.setObjectName("fieldLabel")
        self.label.setMinimumWidth(40)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-int(DIRECTION_RANGE * SLIDER_STEPS), int(DIRECTION_RANGE * SLIDER_STEPS))
        self.slider.setAccessibleName(f"Principal direction {k + 1}")
        self.slider.setToolTip(f"Principal direction {k + 1}, in standard deviations of the training faces")
        self.value = QLabel("0.00")
        self.value.setObjectName("valueLabel")
        self.value.setMinimumWidth(42)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.label)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.value)

    def show_value(self, value: float) -> None:
        self.value.setText(f"{value:+.2f}")
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(round(max(-DIRECTION_RANGE, min(DIRECTION_RANGE, value)) * SLIDER_STEPS))
            self.slider.blockSignals(False)


class LatentPanel(QWidget):
    """See the module doc."""

    latentEdited = Signal(int, float)
    directionEdited = Signal(int, float)
    editFinished = Signal()

    def __init__(self, reset_action: QAction | None = None, attributes: QWidget | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = LatentGrid()
        self.grid.valueEdited.connect(self.latentEdited)
        self.grid.editFinished.connect(self.editFinished)
        self.grid.hovered.connect(self._show_tile)
        self.readout = QLabel()
        self.readout.setObjectName("hint")
        # Long hints must not widen the dock: the label may be cut rather than push the panel out.
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._show_tile(-1)

        header = QHBoxLayout()
        header.addWidget(self.readout, 1)
        if reset_action is not None:
            reset = QToolButton()
            reset.setDefaultAction(reset_action)
            reset.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            header.addWidget(reset)

        # Principal components mean little to a person: available, but folded away at first.
        self.directions_title = QToolButton()
        self.directions_title.setObjectName("sectionToggle")
        self.directions_title.setText("Principal directions")
        self.directions_title.setCheckable(True)
        self.directions_title.setChecked(False)
        self.directions_title.setAutoRaise(True)
        self.directions_title.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.directions_title.setArrowType(Qt.ArrowType.RightArrow)
        self.directions_title.toggled.connect(self._show_directions)
        self.no_directions = QLabel(
            "This model ships no principal directions. Create them with "
            "'npe directions --weights W --data ARCHIVE'."
        )
        self.no_directions.setObjectName("hint")
        self.no_directions.setWordWrap(True)
        self.sliders: list[DirectionSlider] = []
        self._sliders_box = QWidget()
        self._sliders_layout = QVBoxLayout(self._sliders_box)
        self._sliders_layout.setContentsMargins(0, 0, 4, 0)
        self._sliders_layout.setSpacing(4)
        self._sliders_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self._sliders_box)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.slider_scroll = scroll

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 12)
        layout.setSpacing(8)
        self.attributes = attributes
        if attributes is not None:
            layout.addWidget(attributes)
        layout.addLayout(header)
        layout.addWidget(self.grid)
        layout.addWidget(self.directions_title)
        layout.addWidget(self.no_directions)
        layout.addWidget(scroll, 1)
        self.set_direction_count(0)

    def set_latent(self, latent: np.ndarray | None, direction_values: np.ndarray | None) -> None:
        self.grid.set_values(latent)
        if direction_values is not None:
            for slider, value in zip(self.sliders, direction_values):
                slider.show_value(float(value))

    def set_direction_count(self, count: int) -> None:
        if count == len(self.sliders):
            return
        for slider in self.sliders:
            slider.deleteLater()
        self.sliders = []
        for k in range(count):
            slider = DirectionSlider(k)
            slider.slider.valueChanged.connect(lambda value, s=slider: self._direction_moved(s, value))
            slider.slider.sliderReleased.connect(self.editFinished)
            self._sliders_layout.insertWidget(k, slider)
            self.sliders.append(slider)
        self._show_directions(self.directions_title.isChecked())

    def _show_directions(self, expanded: bool) -> None:
        self.directions_title.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.RightArrow)
        self.no_directions.setVisible(expanded and not self.sliders)
        self.slider_scroll.setVisible(expanded and bool(self.sliders))

    def _direction_moved(self, slider: DirectionSlider, value: int) -> None:
        self.directionEdited.emit(slider.k, value / SLIDER_STEPS)
        if not slider.slider.isSliderDown():  # a key press or a click on the groove: one step each
            self.editFinished.emit()

    def _show_tile(self, index: int) -> None:
        values = self.grid.values()
        if 0 <= index < values.size:
            self.readout.setText(f"z[{index}] = {values[index]:+.3f}")
        else:
            self.readout.setText("Drag a tile up or down, or click it")
