"""The history panel: every undo step by name, the current one selected, undone ones dimmed;
clicking a step jumps there (the session's own history is the list, so it always matches)."""

from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QAbstractItemView, QApplication, QListView, QVBoxLayout, QWidget

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


class HistoryPanel(QWidget):
    """See the module doc."""

    jumpRequested = Signal(int)

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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.addWidget(self.view)

    def set_history(self, history: HistoryInfo, origin: str = "Original") -> None:
        self.model.set_history(history, origin)
        current = self.model.index(history.index)
        self.view.setCurrentIndex(current)
        self.view.scrollTo(current)

    def _clicked(self, index: QModelIndex) -> None:
        if index.isValid() and index.row() != self.model.current:
            self.jumpRequested.emit(index.row())
