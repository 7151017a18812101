"""The samples panel: open bundled sample face N, a random face, a photo, or a recent file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from npe.ui import icons


class SamplesPanel(QWidget):
    """See the module doc."""

    sampleRequested = Signal(int)
    recentRequested = Signal(str)

    def __init__(self, random_action: QAction, open_action: QAction, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spin = QSpinBox()
        self.spin.setPrefix("Sample ")
        self.spin.setRange(0, 9999)
        self.spin.setAccessibleName("Sample face number")
        self.spin.setToolTip("Number of a sample face made by the model")
        self.spin.setToolTip(self.spin.toolTip() + "; drop a photo on the window to open it")
        self.spin.setKeyboardTracking(False)
        # No arrows (the ‹ › buttons step and open); hidden in the stylesheet, because NoButtons
        # makes a styled QSpinBox lose its text.
        self.spin.setObjectName("sampleSpin")
        self.previous_button = QToolButton()
        self.next_button = QToolButton()
        for button, name, step, tip in ((self.previous_button, "previous", -1, "Previous sample face"), (self.next_button, "next", 1, "Next sample face")):
            icons.bind(button, name)
            button.setToolTip(tip)
            button.setAccessibleName(tip)
            button.setObjectName("stepButton")
            button.clicked.connect(lambda _=False, s=step: self._step(s))
        self.show_button = QPushButton("Show")
        self.show_button.setToolTip("Open this sample face")
        self.show_button.clicked.connect(lambda: self.sampleRequested.emit(self.spin.value()))
        self.spin.editingFinished.connect(self._spin_committed)
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.previous_button)
        row.addWidget(self.spin, 1)
        row.addWidget(self.next_button)
        row.addWidget(self.show_button)

        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        for action in (random_action, open_action):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button, 1)

        recent_title = QLabel("Recent")
        recent_title.setObjectName("sectionLabel")
        self.recent = QListWidget()
        self.recent.setObjectName("recentList")
        self.recent.setAccessibleName("Recent files")
        self.recent.itemActivated.connect(self._recent_activated)
        self.recent.itemClicked.connect(self._recent_activated)
        self.recent.setMaximumHeight(84)
        self.recent_title = recent_title

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(6)
        layout.addLayout(row)
        layout.addLayout(buttons)
        layout.addWidget(recent_title)
        layout.addWidget(self.recent)
        layout.addStretch(1)

    def set_sample_count(self, count: int, exact: bool) -> None:
        """A generated gallery has ``count`` faces; a fallback one accepts any number."""
        self.spin.setMaximum(max(0, count - 1) if exact else 99999)
        self.spin.setToolTip(f"Sample faces 0-{count - 1}" if exact else "Any number picks a different random face")

    def set_dataset(self, name: str) -> None:
        """Numbers pick faces of the collection ``name`` (its size is known once it is read)."""
        self.spin.setPrefix("Face ")
        self.spin.setMaximum(999_999)
        self.spin.setToolTip(f"Number of a face photo in {name}")

    def show_source(self, name: str) -> None:
        """Name what is open: a photo's file name (or a random face) instead of a sample number;
        the arrows and the number still open sample faces."""
        is_sample = name.startswith("sample ") or name.startswith("face ")
        shown = name if len(name) <= 28 else name[:12] + "…" + name[-15:]
        self.spin.blockSignals(True)
        self.spin.setSpecialValueText("" if is_sample else shown)
        if not is_sample:
            self.spin.setValue(self.spin.minimum())  # the special text shows at the minimum only
        self.spin.blockSignals(False)
        self.spin.setToolTip(name if not is_sample else self.spin.toolTip())

    def set_current_sample(self, index: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(index)
        self.spin.blockSignals(False)

    def set_recent(self, files: list[str]) -> None:
        self.recent.clear()
        for path in files:
            item = QListWidgetItem(Path(path).name)
            item.setToolTip(path)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent.addItem(item)
        self.recent_title.setVisible(bool(files))
        self.recent.setVisible(bool(files))

    def _step(self, step: int) -> None:
        value = self.spin.value() + step
        if self.spin.minimum() <= value <= self.spin.maximum():
            self.spin.setValue(value)
            self.sampleRequested.emit(value)

    def _spin_committed(self) -> None:
        if self.spin.hasFocus():
            self.sampleRequested.emit(self.spin.value())

    def _recent_activated(self, item: QListWidgetItem) -> None:
        self.recentRequested.emit(str(item.data(Qt.ItemDataRole.UserRole)))
