"""The Attributes panel (top of the latent dock): one named slider per attribute direction (Smiling,
Eyeglasses, Male...) in standard deviations, with a reset each and "Reset all". A drag, or a burst of
key presses on one slider, is one undo step; the positions come from the worker (derived from z), so
they follow undo, redo and opening another face."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSlider, QToolButton, QVBoxLayout, QWidget

from npe.editing.attributes import display_name, format_sigma
from npe.ui import icons

if TYPE_CHECKING:
    from npe.editing.workspace import ModelSummary
    from npe.ui.controller import EditorController

ATTRIBUTE_RANGE = 3.0  # sliders span ±3 standard deviations
SLIDER_STEPS = 100  # slider units per standard deviation
KEY_STEP = 10  # arrow keys: 0.1 σ; Page Up/Down: 0.5 σ
PAGE_STEP = 50
KEYS_PAUSE_MS = 700  # key presses on one slider closer together than this are one undo step
ZERO = 0.005  # |value| below this shows as 0 and has nothing to reset


class AttributeSlider(QWidget):
    """One attribute: icon, name, value ("+1.5 σ") and a reset button over a full-width slider
    (a docked panel is narrow: one row would leave the slider a few pixels)."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        label = display_name(name)
        self.icon = QToolButton()  # a button only so that icons.refresh() recolours it
        self.icon.setObjectName("inlineIcon")
        self.icon.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.icon.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        icons.bind(self.icon, icons.attribute_icon_name(name))
        self.label = QLabel(label)
        self.label.setObjectName("fieldLabel")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-int(ATTRIBUTE_RANGE * SLIDER_STEPS), int(ATTRIBUTE_RANGE * SLIDER_STEPS))
        self.slider.setSingleStep(KEY_STEP)
        self.slider.setPageStep(PAGE_STEP)
        self.slider.setAccessibleName(label)
        self.slider.setToolTip(f"{label}, in standard deviations of the training faces (−3 … +3 σ)")
        self.value = QLabel(format_sigma(0.0))
        self.value.setObjectName("valueLabel")
        self.value.setMinimumWidth(52)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.reset = QToolButton()
        self.reset.setObjectName("inlineButton")
        self.reset.setToolTip(f"Reset {label} to 0")
        icons.bind(self.reset, "reset")
        row = QHBoxLayout()
        row.setSpacing(6)
        for widget, stretch in ((self.icon, 0), (self.label, 1), (self.value, 0), (self.reset, 0)):
            row.addWidget(widget, stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 2)
        layout.setSpacing(0)
        layout.addLayout(row)
        layout.addWidget(self.slider)
        self.show_value(0.0)

    def show_value(self, value: float, move_slider: bool = True) -> None:
        """Show ``value`` (standard deviations); the slider keeps the user's position while held."""
        shown = 0.0 if abs(value) < ZERO else float(value)
        self.value.setText(format_sigma(round(shown, 2)))
        self.reset.setEnabled(shown != 0.0)
        if move_slider and not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(round(max(-ATTRIBUTE_RANGE, min(ATTRIBUTE_RANGE, shown)) * SLIDER_STEPS))
            self.slider.blockSignals(False)

    def position(self) -> float:
        return self.slider.value() / SLIDER_STEPS


class AttributesPanel(QWidget):
    """See the module doc. ``follow(controller)`` connects it both ways."""

    attributeEdited = Signal(str, float)  # name, value in standard deviations (during a gesture)
    attributeFinished = Signal(str)  # the gesture on that slider ended
    attributeReset = Signal(str)
    resetAllRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sliders: list[AttributeSlider] = []
        self.title = QLabel("Attributes")
        self.title.setObjectName("sectionLabel")
        self.reset_all = QToolButton()
        self.reset_all.setText("Reset all")
        self.reset_all.setToolTip("Take every attribute back to 0 (other edits stay)")
        self.reset_all.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        icons.bind(self.reset_all, "reset")
        self.reset_all.clicked.connect(self.resetAllRequested)
        self.unavailable = QLabel("This model has no attribute directions.")
        self.unavailable.setObjectName("hint")
        self.unavailable.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._keys = QTimer(self)  # ends a burst of key presses (one undo step)
        self._keys.setSingleShot(True)
        self._keys.setInterval(KEYS_PAUSE_MS)
        self._keys.timeout.connect(self._keys_paused)
        self._key_slider: AttributeSlider | None = None
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.reset_all)
        self._rows = QVBoxLayout()
        self._rows.setSpacing(2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.unavailable)
        layout.addLayout(self._rows)
        self.set_attributes((), None)

    def follow(self, controller: EditorController) -> None:
        """Edits go to ``controller``; its model and latent updates come back here."""
        self.attributeEdited.connect(controller.set_attribute)
        self.attributeFinished.connect(controller.end_attribute)
        self.attributeReset.connect(controller.reset_attribute)
        self.resetAllRequested.connect(controller.reset_attributes)
        controller.modelLoaded.connect(self.set_model)
        controller.attributesChanged.connect(self.set_values)

    def set_model(self, info: ModelSummary) -> None:
        self.set_attributes(info.attribute_names, info.attribute_warning)

    def set_attributes(self, names: Sequence[str], warning: str | None) -> None:
        """One slider per name; none (and one line saying so, ``warning`` as its tooltip) if empty."""
        self._finish_keys()
        for slider in self.sliders:
            slider.deleteLater()
        self.sliders = []
        for name in names:
            slider = AttributeSlider(name)
            slider.slider.valueChanged.connect(lambda _value, s=slider: self._moved(s))
            slider.slider.sliderReleased.connect(lambda s=slider: self.attributeFinished.emit(s.name))
            slider.reset.clicked.connect(lambda _=False, s=slider: self.attributeReset.emit(s.name))
            self._rows.addWidget(slider)
            self.sliders.append(slider)
        self.unavailable.setVisible(not self.sliders)
        self.unavailable.setToolTip(warning or "")
        self.reset_all.setVisible(bool(self.sliders))
        self.reset_all.setEnabled(False)

    def set_values(self, values: np.ndarray | None) -> None:
        """The current latent's position along each attribute (the worker's attribute_values())."""
        values = np.zeros(0) if values is None else np.asarray(values, dtype=np.float64)
        for index, slider in enumerate(self.sliders):
            # During a burst of key presses the slider is ahead of the worker: leave it where it is.
            slider.show_value(float(values[index]) if index < values.size else 0.0, slider is not self._key_slider)
        self.reset_all.setEnabled(any(slider.reset.isEnabled() for slider in self.sliders))

    def _moved(self, slider: AttributeSlider) -> None:
        if self._key_slider is not None and self._key_slider is not slider:
            self._finish_keys()
        self.attributeEdited.emit(slider.name, slider.position())
        if not slider.slider.isSliderDown():  # a key, the wheel or a click on the groove: a burst is one step
            self._key_slider = slider
            self._keys.start()

    def _keys_paused(self) -> None:
        self._finish_keys()

    def _finish_keys(self) -> None:
        self._keys.stop()
        slider, self._key_slider = self._key_slider, None
        if slider is not None:
            self.attributeFinished.emit(slider.name)
