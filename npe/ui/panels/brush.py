"""The brush panel: colour (dialog, swatches, eyedropper), size and strength, and the tool buttons."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from npe.editing.brush import DEFAULT_REACH, REACH_RANGE

# (name, colour): common targets when editing faces.
SWATCHES: tuple[tuple[str, str], ...] = (
    ("Light skin", "#f1c7a8"),
    ("Skin", "#e0ac8c"),
    ("Tan skin", "#b7805a"),
    ("Deep skin", "#6f4631"),
    ("Lips red", "#b8404e"),
    ("Teeth white", "#f4efe6"),
    ("Blond hair", "#d9b877"),
    ("Dark hair", "#3a2619"),
    ("Grey hair", "#a9a6a2"),
    ("Blue eyes", "#4f7bb0"),
    ("Shadow", "#4a3b36"),
    ("Dark", "#18181b"),
)

SIZE_RANGE = (1, 30)  # brush radius, percent of the face width
STRENGTH_RANGE = (10, 300)  # percent of the engine's default step


def color_icon(color: QColor, size: int = 18, radius: float = 4.0) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(0, 0, 0, 90))
    painter.setBrush(color)
    painter.drawRoundedRect(QRectF(0.5, 0.5, size - 1, size - 1), radius, radius)
    painter.end()
    return QIcon(pixmap)


class ValueSlider(QWidget):
    """A labelled horizontal slider with its value shown on the right."""

    valueChanged = Signal(int)

    def __init__(self, title: str, minimum: int, maximum: int, value: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setObjectName("fieldLabel")
        self.value_label = QLabel()
        self.value_label.setObjectName("valueLabel")
        self.value_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.value_label.setMinimumWidth(84)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(minimum, maximum)
        self.slider.setValue(value)
        self.slider.setAccessibleName(title)
        self.formatter: Callable[[int], str] = str
        layout = QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setHorizontalSpacing(8)
        layout.setVerticalSpacing(2)
        layout.addWidget(self.title, 0, 0)
        layout.addWidget(self.value_label, 0, 1)
        layout.addWidget(self.slider, 1, 0, 1, 2)
        self.slider.valueChanged.connect(self._changed)

    def value(self) -> int:
        return self.slider.value()

    def setValue(self, value: int) -> None:  # Qt naming
        self.slider.setValue(value)

    def refresh(self) -> None:
        self.value_label.setText(self.formatter(self.slider.value()))

    def _changed(self, value: int) -> None:
        self.refresh()
        self.valueChanged.emit(value)


class BrushPanel(QWidget):
    """See the module doc. Holds the brush state; the window passes it to the canvas and model."""

    colorChanged = Signal(QColor)
    sizeChanged = Signal(int)  # percent of the face width
    strengthChanged = Signal(int)  # percent
    reachChanged = Signal(int)  # crop pixels

    def __init__(self, tool_actions: Sequence[QAction] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._color = QColor("#e0ac8c")
        self._face_size = 64.0
        self._resolution = 64  # the model's crop size (reach is in its pixels)

        self.tools = QHBoxLayout()
        self.tools.setSpacing(3)
        for action in tool_actions:
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
            button.setIconSize(QSize(18, 18))
            button.setObjectName("toolChoice")
            self.tools.addWidget(button)
        self.tools.addStretch(1)

        self.color_button = QToolButton()
        self.color_button.setObjectName("colorButton")
        self.color_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.color_button.setIconSize(QSize(18, 18))
        self.color_button.setToolTip("Choose the brush colour")
        self.color_button.setAccessibleName("Brush colour")
        self.color_button.clicked.connect(self.choose_color)

        swatches = QGridLayout()
        swatches.setSpacing(5)
        self.swatch_buttons: list[QToolButton] = []
        for index, (name, value) in enumerate(SWATCHES):
            button = QToolButton()
            button.setObjectName("swatch")
            button.setIcon(color_icon(QColor(value), 18, 5))
            button.setIconSize(QSize(18, 18))
            button.setToolTip(f"{name} ({value})")
            button.setAccessibleName(name)
            button.clicked.connect(lambda _=False, v=value: self.set_color(QColor(v)))
            swatches.addWidget(button, index // 6, index % 6)
            self.swatch_buttons.append(button)

        self.size_slider = ValueSlider("Size", *SIZE_RANGE, 6)
        self.size_slider.formatter = self._format_size
        self.size_slider.slider.setToolTip("Brush radius, as a share of the face width ( [ and ] )")
        self.size_slider.valueChanged.connect(self.sizeChanged)
        self.strength = ValueSlider("Strength", *STRENGTH_RANGE, 100)
        self.strength.formatter = lambda value: f"{value} %"
        self.strength.slider.setToolTip("How far each brush movement pushes the face toward the colour")
        self.strength.valueChanged.connect(self.strengthChanged)
        self.reach = ValueSlider("Reach", *REACH_RANGE, DEFAULT_REACH)
        self.reach.formatter = self._format_reach
        self.reach.slider.setToolTip("How far a change may spread beyond the brush: local (a mouth) to wide (hair from a forehead)")
        self.reach.valueChanged.connect(self.reachChanged)

        hint = QLabel("Drag: paint · right-drag: protect · wheel: lighter/darker · Ctrl-click: pick colour · Space: compare")
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(8)
        self.tools.addWidget(self.color_button)
        layout.addLayout(self.tools)
        layout.addLayout(swatches)
        layout.addWidget(self.size_slider)
        layout.addWidget(self.strength)
        layout.addWidget(self.reach)
        layout.addWidget(hint)
        layout.addStretch(1)
        self._show_color()
        self.size_slider.refresh()
        self.strength.refresh()
        self.reach.refresh()

    # --- state -------------------------------------------------------------------------------
    @property
    def color(self) -> QColor:
        return QColor(self._color)

    def set_color(self, color: QColor) -> None:
        if not color.isValid():
            return
        color = QColor(color.red(), color.green(), color.blue())
        if color == self._color:
            return
        self._color = color
        self._show_color()
        self.colorChanged.emit(QColor(color))

    def size_percent(self) -> int:
        return self.size_slider.value()

    def strength_percent(self) -> int:
        return self.strength.value()

    def reach_crop_pixels(self) -> int:
        return self.reach.value()

    def set_face_size(self, pixels: float, resolution: int | None = None) -> None:
        """The current face width in photo pixels and the model's crop size (the size and reach
        labels show photo pixels too)."""
        self._face_size = max(1.0, float(pixels))
        self._resolution = int(resolution or self._resolution)
        self.size_slider.refresh()
        self.reach.refresh()

    def radius_pixels(self) -> float:
        return max(0.5, self._face_size * self.size_slider.value() / 100.0)

    def choose_color(self) -> None:
        color = QColorDialog.getColor(self._color, self, "Brush colour")
        if color.isValid():
            self.set_color(color)

    # --- helpers -------------------------------------------------------------------------------
    def _format_size(self, value: int) -> str:
        return f"{value} % · {self._face_size * value / 100:.3g} px"

    def _format_reach(self, value: int) -> str:
        word = "Local" if value <= 6 else "Wide" if value >= 14 else "Medium"
        return f"{word} · {self._face_size * value / self._resolution:.3g} px"

    def _show_color(self) -> None:
        self.color_button.setIcon(color_icon(self._color, 18, 5))
        self.color_button.setText(self._color.name())
