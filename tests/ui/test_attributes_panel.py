"""The Attributes panel end to end: named sliders over the tiny model with hand-made attribute
directions; a drag is one undo step, Reset all takes z back, the panel follows undo and new faces."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from tests.editing.test_attribute_edits import NAMES, SCALES, save_with_attributes, tiny_attributes
from tests.ui.helpers import wait


@pytest.fixture
def attribute_weights(tmp_path, calibrated_model) -> str:
    return save_with_attributes(calibrated_model, tmp_path / "tiny", tiny_attributes(calibrated_model))


@pytest.fixture
def attr_editor(make_editor, attribute_weights):
    return make_editor(weights=attribute_weights, index=0)


def slider_drag(editor, row: int, positions: list[int]) -> None:
    """Hold slider ``row`` down, move it through ``positions`` (slider units: 1/100 σ), release."""
    slider = editor.window.attributes_panel.sliders[row].slider
    slider.setSliderDown(True)
    for position in positions:
        slider.setValue(position)
    slider.setSliderDown(False)  # emits sliderReleased
    wait(editor)


def test_the_panel_shows_one_named_slider_per_attribute(attr_editor):
    panel = attr_editor.window.attributes_panel
    assert [s.name for s in panel.sliders] == list(NAMES)
    assert [s.label.text() for s in panel.sliders] == ["Smiling", "Eyeglasses", "Male"]
    assert [s.value.text() for s in panel.sliders] == ["0 σ"] * 3
    assert not panel.unavailable.isVisible() and panel.reset_all.isVisible() and not panel.reset_all.isEnabled()
    latent_panel = attr_editor.window.latent_panel
    assert not latent_panel.slider_scroll.isVisible()  # the principal directions start folded away
    latent_panel.directions_title.click()
    assert latent_panel.slider_scroll.isVisible() and len(latent_panel.sliders) == 3


def test_a_slider_drag_is_one_undo_step_and_undo_restores_z_exactly(attr_editor):
    controller, panel = attr_editor.controller, attr_editor.window.attributes_panel
    z0 = controller.session.latent
    slider_drag(attr_editor, 0, [20, 80, 150])
    assert controller.history.labels == ("Smiling +1.5 σ",)
    attributes = controller.session.attributes
    np.testing.assert_allclose(controller.session.latent, z0 + 1.5 * SCALES[0] * attributes.vectors[0].astype(np.float64), atol=1e-6)
    assert panel.sliders[0].value.text() == "+1.5 σ" and panel.sliders[0].reset.isEnabled()
    assert attr_editor.window.named_actions["undo"].text() == "&Undo Smiling +1.5 σ"
    attr_editor.window.named_actions["undo"].trigger()
    wait(attr_editor)
    assert np.array_equal(controller.session.latent, z0)
    assert panel.sliders[0].slider.value() == 0 and panel.sliders[0].value.text() == "0 σ"


def test_reset_all_takes_z_back_and_a_reset_button_resets_one(attr_editor):
    controller, panel = attr_editor.controller, attr_editor.window.attributes_panel
    z0 = controller.session.latent
    slider_drag(attr_editor, 1, [100, 200])
    slider_drag(attr_editor, 2, [-120])
    assert controller.history.labels == ("Eyeglasses +2 σ", "Male −1.2 σ")
    panel.sliders[2].reset.click()
    wait(attr_editor)
    assert controller.history.labels[-1] == "Reset Male" and panel.sliders[2].value.text() == "0 σ"
    assert panel.reset_all.isEnabled()
    panel.reset_all.click()
    wait(attr_editor)
    assert controller.history.labels[-1] == "Reset attributes"
    np.testing.assert_allclose(controller.session.latent, z0, atol=1e-5)
    assert [s.slider.value() for s in panel.sliders] == [0, 0, 0] and not panel.reset_all.isEnabled()


def test_a_burst_of_key_presses_is_one_undo_step(attr_editor, qtbot):
    controller, panel = attr_editor.controller, attr_editor.window.attributes_panel
    slider = panel.sliders[1].slider
    slider.setFocus()
    for _ in range(3):
        qtbot.keyClick(slider, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: controller.history.labels == ("Eyeglasses +0.3 σ",), timeout=5000)
    wait(attr_editor)
    np.testing.assert_allclose(controller.session.attribute_values(), [0, 0.3, 0], atol=1e-5)


def test_opening_another_face_puts_the_sliders_back_to_zero(attr_editor):
    panel = attr_editor.window.attributes_panel
    slider_drag(attr_editor, 0, [250])
    assert panel.sliders[0].slider.value() == 250
    attr_editor.window.open_sample(1)
    wait(attr_editor)
    assert [s.slider.value() for s in panel.sliders] == [0, 0, 0]


def test_without_attribute_directions_the_panel_says_so_in_one_line(editor):
    panel = editor.window.attributes_panel
    assert panel.sliders == [] and panel.unavailable.isVisible() and not panel.reset_all.isVisible()
    assert "has no attribute directions" in panel.unavailable.toolTip()
    assert "No attribute sliders" in editor.window.statusBar().currentMessage()
