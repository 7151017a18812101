"""The history panel: every undo step by name, the current one selected, undone ones dimmed;
clicking a step jumps there (the session's own history is the list, so it always matches). Above
it, after a stroke, the ways the model has to make that stroke's change (iGAN's candidates: a dark
stroke across the eyes as glasses, or as eye shadow): the stroke's own and up to three others,
each a thumbnail to click."""

from __future__ import annotations

import html

from PySide6.QtCore import QAbstractListModel, QBuffer, QByteArray, QIODevice, QModelIndex, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QFont, QIcon, QImage, QPalette, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QApplication, QGridLayout, QLabel, QListView, QToolButton, QVBoxLayout, QWidget

from npe.ui.frames import HistoryInfo

ModelIndex = QModelIndex | QPersistentModelIndex


class HistoryModel(QAbstractListModel):
    """Row 0 is the original; row i is step i. Row ``index`` is the current state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._labels: tuple[str, ...] = ()
        self._index = 0
        self.origin = "Original"

    def set_history(self, history: HistoryInfo, origin: str) -> None:
        self.beginResetModel()
        self._labels = history.labels
        self._index = history.index
        self.origin = origin
        self.endResetModel()

    @property
    def current(self) -> int:
        return self._index

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._labels) + 1

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        row = index.row()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.origin if row == 0 else self._labels[row - 1]
        if role == Qt.ItemDataRole.ToolTipRole:
            if row > self._index:
                return "Undone: click to redo up to here"
            return "Click to go back to this step"
        if role == Qt.ItemDataRole.ForegroundRole and row > self._index:
            return QApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        if role == Qt.ItemDataRole.FontRole and row > self._index:
            font = QFont()
            font.setItalic(True)
            return font
        return None


THUMBNAIL = 48  # pixels of an answer's preview
TOOLTIP_SIZE = 160  # the same preview, larger, in the button's tooltip


def _inline_image(image: QImage, size: int) -> str:
    """``image`` scaled to ``size`` pixels as an HTML <img> with the PNG inline (for a tooltip)."""
    scaled = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    scaled.save(buffer, "PNG")  # type: ignore[call-overload]  # PySide6 takes the format as str; its stubs say bytes
    return f'<img src="data:image/png;base64,{bytes(data.toBase64().data()).decode("ascii")}" width="{scaled.width()}" height="{scaled.height()}">'


BUTTON_WIDTH = 2 * THUMBNAIL + 22  # two a row: room for a name and its move ("Eyeglasses +3.3 σ") under each
COLUMNS = 2


class AlternativesStrip(QWidget):
    """The last stroke's answers as thumbnail buttons, the one shown now checked (hidden when there
    is nothing to choose from)."""

    chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Ways to make this stroke:")
        self.title.setObjectName("alternativesTitle")
        self.row = QGridLayout()
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setHorizontalSpacing(6)
        self.row.setVerticalSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addLayout(self.row)
        self.buttons: list[QToolButton] = []
        self.setVisible(False)

    def set_alternatives(self, alternatives: tuple[tuple[str, QImage, bool], ...]) -> None:
        while self.row.count():  # the old buttons
            item = self.row.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.buttons = []
        for index, (label, image, shown) in enumerate(alternatives):
            button = QToolButton()
            button.setCheckable(True)
            button.setChecked(shown)
            button.setObjectName(f"alternative{index}")
            button.setIcon(QIcon(QPixmap.fromImage(image.scaled(THUMBNAIL, THUMBNAIL, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))))
            button.setIconSize(QSize(THUMBNAIL, THUMBNAIL))
            button.setFixedWidth(BUTTON_WIDTH)
            name, _, move = label.rpartition(" ")[0].rpartition(" ")  # "Eyeglasses +3.3 σ" -> "Eyeglasses", "+3.3"
            button.setText(f"{button.fontMetrics().elidedText(name or label, Qt.TextElideMode.ElideRight, BUTTON_WIDTH - 24)}\n{move} σ" if name else label)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextUnderIcon)
            what = f"{label}: shown now" if shown else f"Paint the stroke as {label} (one undo step)"
            button.setToolTip(f"<p style='white-space:pre'>{html.escape(what)}</p><p>{_inline_image(image, TOOLTIP_SIZE)}</p>")
            button.setAccessibleName(f"Paint as {label}")
            button.clicked.connect(lambda _=False, i=index, b=button, s=shown: b.setChecked(True) if s else self.chosen.emit(i))
            self.row.addWidget(button, index // COLUMNS, index % COLUMNS, Qt.AlignmentFlag.AlignLeft)
            self.buttons.append(button)
        self.row.setColumnStretch(COLUMNS, 1)
        self.setVisible(bool(self.buttons))


class HistoryPanel(QWidget):
    """See the module doc."""

    jumpRequested = Signal(int)
    alternativeChosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = HistoryModel(self)
        self.view = QListView()
        self.view.setObjectName("historyList")
        self.view.setModel(self.model)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setUniformItemSizes(True)
        self.view.setAccessibleName("Edit history")
        self.view.clicked.connect(self._clicked)
        self.alternatives = AlternativesStrip()
        self.alternatives.chosen.connect(self.alternativeChosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addWidget(self.alternatives)
        layout.addWidget(self.view)

    def set_history(self, history: HistoryInfo, origin: str = "Original") -> None:
        self.model.set_history(history, origin)
        current = self.model.index(history.index)
        self.view.setCurrentIndex(current)
        self.view.scrollTo(current)

    def set_alternatives(self, alternatives: tuple[tuple[str, QImage, bool], ...]) -> None:
        self.alternatives.set_alternatives(alternatives)

    def _clicked(self, index: QModelIndex) -> None:
        if index.isValid() and index.row() != self.model.current:
            self.jumpRequested.emit(index.row())
