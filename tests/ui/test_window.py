"""The editor window end to end on a tiny random model: painting, undo, latents, samples, files."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from tests.ui.helpers import displayed, drag, kinds, wait, widget_point


def record_dialogs(monkeypatch, answer=QMessageBox.StandardButton.Ok):
    calls = []

    def fake(kind):
        def show(parent, title, text, *args, **kwargs):
            calls.append((kind, title, text))
            return answer

        return show

    for kind in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, fake(kind))
    return calls


def test_window_opens_with_a_face(editor):
    window, controller = editor.window, editor.controller
    assert window.isVisible()
    assert controller.source is not None and controller.source.name == "sample 0"
    assert "sample 0" in window.windowTitle()
    image = displayed(editor)
    assert image.shape == (32, 32, 3)
    assert window.device_label.text() == "CPU"
    assert "tiny" in window.model_label.text() and "16 latents" in window.model_label.text()
    assert not window.named_actions["undo"].isEnabled()
    assert window.latent_panel.grid.count() == 16
    assert len(window.latent_panel.sliders) == 4


def test_drag_paints_under_the_stroke_and_ctrl_z_restores_exactly(qtbot, editor):
    before = displayed(editor)
    stroke = [(8.0, 16.0), (12.0, 16.0), (16.0, 16.0), (20.0, 16.0), (24.0, 16.0)]
    editor.window.brush_panel.set_color(QColor("#ff0000"))
    drag(qtbot, editor, stroke)
    after = displayed(editor)
    under = (slice(13, 20), slice(6, 27))
    assert np.abs(after[under].astype(int) - before[under].astype(int)).max() > 0
    assert kinds(editor.controller.history.labels) == ["Paint"]
    assert editor.window.isWindowModified()
    np.testing.assert_array_equal(after, editor.controller.session.result())

    qtbot.keyClick(editor.window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait(editor)
    np.testing.assert_array_equal(displayed(editor), before)
    assert editor.controller.history.index == 0

    # Redo: the standard key and both alternatives.
    qtbot.keyClick(editor.window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    wait(editor)
    np.testing.assert_array_equal(displayed(editor), after)
    editor.window.named_actions["undo"].trigger()
    wait(editor)
    qtbot.keyClick(editor.window.canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    wait(editor)
    np.testing.assert_array_equal(displayed(editor), after)


def test_undo_redo_shortcuts_are_standard(editor):
    actions = editor.window.named_actions
    undo_keys = [k.toString() for k in actions["undo"].shortcuts()]
    redo_keys = [k.toString() for k in actions["redo"].shortcuts()]
    assert QKeySequence(QKeySequence.StandardKey.Undo).toString() in undo_keys
    for key in ("Ctrl+Shift+Z", "Ctrl+Y"):
        assert key in redo_keys
    assert [k.toString() for k in actions["export"].shortcuts()] == ["Ctrl+E"]
    assert "Ctrl+S" in [k.toString() for k in actions["save-session"].shortcuts()]  # as editors do
    assert [k.toString() for k in actions["save-session-as"].shortcuts()] == ["Ctrl+Shift+S"]


def test_history_panel_lists_steps_and_jumps(qtbot, editor):
    original = displayed(editor)
    drag(qtbot, editor, [(10.0, 10.0), (14.0, 12.0)])
    first = displayed(editor)
    drag(qtbot, editor, [(20.0, 20.0), (24.0, 22.0)])
    panel = editor.window.history_panel
    model = panel.model
    assert kinds(model.data(model.index(row)) for row in range(model.rowCount())) == ["Original: sample 0", "Paint", "Paint"]
    assert editor.window.named_actions["undo"].text() == f"&Undo {model.data(model.index(2))}"  # the last step, by name
    rect = panel.view.visualRect(model.index(1))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wait(editor)
    assert editor.controller.history.index == 1
    np.testing.assert_array_equal(displayed(editor), first)
    rect = panel.view.visualRect(model.index(0))
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wait(editor)
    np.testing.assert_array_equal(displayed(editor), original)
    assert editor.window.named_actions["redo"].isEnabled()


def test_latent_tile_drag_and_click_change_the_image(qtbot, editor):
    grid = editor.window.latent_panel.grid
    before = displayed(editor)
    latent_before = editor.window.latent_panel.grid.values().copy()
    centre = grid.tile_rect(5).center().toPoint()
    qtbot.mousePress(grid, Qt.MouseButton.LeftButton, pos=centre)
    for dy in (10, 20, 40, 60):
        qtbot.mouseMove(grid, centre - QPoint(0, dy))
    qtbot.mouseRelease(grid, Qt.MouseButton.LeftButton, pos=centre - QPoint(0, 60))
    wait(editor)
    latent = editor.window.latent_panel.grid.values()
    np.testing.assert_array_equal(latent, editor.controller.session.latent)  # the grid shows the document
    assert latent[5] == pytest.approx(latent_before[5] + 60 * 0.025, abs=1e-3)
    np.testing.assert_array_equal(np.delete(latent, 5), np.delete(latent_before, 5))
    assert not np.array_equal(displayed(editor), before)
    assert editor.controller.history.labels == ("Latent 5",)  # the whole drag is one step

    qtbot.mouseClick(grid, Qt.MouseButton.RightButton, pos=grid.tile_rect(2).center().toPoint())
    wait(editor)
    assert editor.controller.session.latent[2] == pytest.approx(latent_before[2] - 0.5, abs=1e-5)
    assert editor.controller.history.labels == ("Latent 5", "Latent 2")


def test_direction_slider_changes_the_image(qtbot, editor):
    slider = editor.window.latent_panel.sliders[0].slider
    before = displayed(editor)
    values_before = editor.controller.session.direction_values().copy()
    slider.setSliderDown(True)
    for value in (50, 100, 150):
        slider.setValue(value)
    slider.setSliderDown(False)
    wait(editor)
    values = editor.controller.session.direction_values()
    assert values[0] == pytest.approx(1.5, abs=1e-3) and values[1] == pytest.approx(values_before[1], abs=1e-3)
    assert editor.window.latent_panel.sliders[0].value.text() == "+1.50"
    assert not np.array_equal(displayed(editor), before)
    assert editor.controller.history.labels == ("Direction 0",)

    editor.window.named_actions["reset"].trigger()
    wait(editor)
    np.testing.assert_array_equal(displayed(editor), before)


def test_loading_sample_n_shows_it(qtbot, editor, weights):
    from npe.editing.session import EditSession
    from npe.model import load_weights

    expected = EditSession.from_gallery(load_weights(weights), 5).result()
    panel = editor.window.samples_panel
    panel.spin.setValue(5)
    qtbot.mouseClick(panel.show_button, Qt.MouseButton.LeftButton)
    wait(editor)
    assert editor.controller.source.name == "sample 5"
    np.testing.assert_array_equal(displayed(editor), expected)
    assert not editor.controller.modified  # nothing was edited: a fresh document, no prompt on close


def test_random_face_after_edits_is_an_undoable_step(qtbot, editor):
    drag(qtbot, editor, [(10.0, 10.0), (14.0, 12.0)])
    painted = displayed(editor)
    editor.window.named_actions["random"].trigger()
    wait(editor)
    assert editor.controller.source.name.startswith("random face")
    assert kinds(editor.controller.history.labels) == ["Paint", "Random face"]
    editor.window.named_actions["undo"].trigger()
    wait(editor)
    np.testing.assert_array_equal(displayed(editor), painted)


def test_export_writes_the_result_as_png(qtbot, editor, tmp_path, monkeypatch):
    drag(qtbot, editor, [(10.0, 10.0), (20.0, 12.0)])
    target = tmp_path / "out"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), "PNG images (*.png)"))
    qtbot.keyClick(editor.window.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    wait(editor)
    written = np.asarray(Image.open(tmp_path / "out.png").convert("RGB"))
    np.testing.assert_array_equal(written, editor.controller.session.result())
    assert not editor.window.isWindowModified()  # exported = saved


def test_save_and_reopen_session(qtbot, editor, tmp_path, monkeypatch):
    drag(qtbot, editor, [(10.0, 10.0), (20.0, 12.0)])
    painted = displayed(editor)
    path = tmp_path / "edit.npe"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    editor.window.named_actions["save-session"].trigger()
    wait(editor)
    assert path.is_file() and not editor.controller.modified
    editor.window.named_actions["random"].trigger()
    wait(editor)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    editor.window.named_actions["open-session"].trigger()
    wait(editor)
    np.testing.assert_array_equal(displayed(editor), painted)
    assert kinds(editor.controller.history.labels) == ["Paint"]
    assert str(path.resolve()) in editor.window.settings.recent_files()


def test_broken_image_shows_an_error_dialog_not_a_crash(qtbot, editor, tmp_path, monkeypatch):
    calls = record_dialogs(monkeypatch)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    before = displayed(editor)
    editor.window.open_path(str(broken))
    wait(editor)
    QApplication.processEvents()
    assert len(calls) == 1
    kind, title, text = calls[0]
    assert kind == "warning"
    assert "broken.jpg" in text and "Traceback" not in text
    np.testing.assert_array_equal(displayed(editor), before)  # the old face is still there
    drag(qtbot, editor, [(10.0, 10.0), (20.0, 12.0)])  # and still editable
    assert kinds(editor.controller.history.labels) == ["Paint"]


def test_photo_without_a_face_offers_the_whole_image(qtbot, editor, tmp_path, monkeypatch):
    calls = record_dialogs(monkeypatch, answer=QMessageBox.StandardButton.Yes)
    flat = tmp_path / "wall.png"
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(flat)
    editor.window.open_path(str(flat))
    wait(editor)
    QApplication.processEvents()
    wait(editor)
    assert [kind for kind, *_ in calls] == ["question"]
    assert "whole image" in calls[0][2]
    assert editor.controller.source.name == "wall.png"
    assert editor.controller.source.photo_size == (80, 60)


def test_closing_with_unsaved_changes_prompts(qtbot, editor, monkeypatch):
    drag(qtbot, editor, [(10.0, 10.0), (20.0, 12.0)])
    calls = record_dialogs(monkeypatch, answer=QMessageBox.StandardButton.Cancel)
    editor.window.close()
    assert [kind for kind, *_ in calls] == ["question"]
    assert editor.window.isVisible() and editor.controller.worker.isRunning()
    calls.clear()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: calls.append("question") or QMessageBox.StandardButton.Discard)
    editor.window.close()
    assert calls == ["question"]
    assert not editor.window.isVisible()
    assert not editor.controller.worker.isRunning()  # closeEvent stopped the model thread


def test_closing_unmodified_does_not_prompt(editor, monkeypatch):
    calls = record_dialogs(monkeypatch)
    editor.window.close()
    assert calls == []
    assert not editor.controller.worker.isRunning()


def test_protect_painting_shows_overlay_and_is_one_step(qtbot, editor):
    drag(qtbot, editor, [(4.0, 4.0), (8.0, 6.0), (12.0, 8.0)], button=Qt.MouseButton.RightButton)
    assert editor.window.canvas.protect_overlay is not None
    assert editor.controller.history.labels == ("Protect",)
    assert editor.controller.session.protect_mask[5, 6]
    editor.window.named_actions["undo"].trigger()
    wait(editor)
    assert editor.window.canvas.protect_overlay is None and not editor.controller.session.protect_mask.any()


def test_wheel_lightens_under_the_brush_as_one_step(qtbot, editor):
    canvas = editor.window.canvas
    before = displayed(editor)
    position = QPointF(canvas.to_widget(16.0, 16.0))
    from PySide6.QtCore import QPoint as P
    from PySide6.QtGui import QWheelEvent

    for _ in range(3):
        event = QWheelEvent(position, QPointF(canvas.mapToGlobal(position)), P(0, 0), P(0, 120), Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(canvas, event)
    wait(editor)
    assert editor.controller.history.labels == ()  # the spin goes on while the pointer rests
    qtbot.mouseMove(canvas, widget_point(canvas, 18.0, 18.0))  # moving it ends the gesture
    wait(editor)
    assert editor.controller.history.labels == ("Lighten",)
    under = (slice(14, 18), slice(14, 18))  # the brush: radius 6 % of the 32 px face
    assert displayed(editor)[under].astype(int).mean() > before[under].astype(int).mean()


def test_space_compares_with_the_original(qtbot, editor):
    original = displayed(editor)
    drag(qtbot, editor, [(8.0, 16.0), (24.0, 16.0)])
    painted = displayed(editor)
    canvas = editor.window.canvas
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    np.testing.assert_array_equal(displayed(editor), original)
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    np.testing.assert_array_equal(displayed(editor), painted)
    editor.window.named_actions["compare"].trigger()
    assert canvas.comparing
    editor.window.named_actions["compare"].trigger()
    assert not canvas.comparing


def test_eyedropper_picks_the_colour_under_the_cursor(qtbot, editor):
    image = displayed(editor)
    canvas = editor.window.canvas
    editor.window.named_actions["tool-pick"].trigger()
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=widget_point(canvas, 7.5, 9.5))
    expected = QColor(*map(int, image[9, 7]))
    assert editor.window.brush_panel.color == expected
    assert canvas.tool.value == "paint"  # back to the brush after picking
    assert editor.controller.history.labels == ()


def test_brush_settings_are_remembered(editor):
    from npe.ui.settings import Settings

    panel = editor.window.brush_panel
    panel.set_color(QColor("#123456"))
    panel.size_slider.setValue(12)
    panel.strength.setValue(150)
    settings = Settings()
    assert (settings.brush_color(), settings.brush_size(), settings.brush_strength()) == ("#123456", 12, 150)
    assert editor.window.canvas.brush_radius == pytest.approx(32 * 0.12)


def test_dropping_a_photo_opens_it(qtbot, editor, tmp_path, monkeypatch):
    from tests.conftest import synthetic_faces

    record_dialogs(monkeypatch, answer=QMessageBox.StandardButton.Yes)  # a tiny face may need the whole image

    path = tmp_path / "face.png"
    Image.fromarray(synthetic_faces(1, 96)[0]).save(path)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, data, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    editor.window.dropEvent(event)
    qtbot.waitUntil(lambda: editor.controller.source.name == "face.png", timeout=30_000)
    wait(editor)
    assert editor.controller.source.name == "face.png"
    assert str(path.resolve()) in editor.window.settings.recent_files()


def test_zoom_and_fit(editor):
    canvas = editor.window.canvas
    fit = canvas.scale()
    editor.window.named_actions["zoom-in"].trigger()
    assert canvas.scale() == pytest.approx(fit * 1.25)
    editor.window.named_actions["zoom-fit"].trigger()
    assert canvas.scale() == pytest.approx(fit)
    rect = canvas.image_rect()
    assert rect.width() == pytest.approx(32 * fit) and canvas.rect().toRectF().contains(rect)


def test_about_shows_version_model_and_licence(editor, monkeypatch):
    from npe import __version__
    from npe.ui.dialogs import AboutDialog

    shown = []
    monkeypatch.setattr(AboutDialog, "exec", lambda self: shown.append(self) or 0)
    editor.window.named_actions["about"].trigger()
    text = " ".join(label.text() for label in shown[0].findChildren(type(editor.window.model_label)))
    assert __version__ in text and "tiny" in text and "CelebA" in text and "non-commercial" in text


def test_asked_for_no_photo_and_no_sample_it_opens_the_example_photo(make_editor, weights):
    from npe.resources import example_photo

    example = example_photo()
    assert example is not None and example.name == "astronaut.png"  # shipped inside scikit-image
    editor = make_editor(weights=weights, index=None)
    source = editor.controller.source
    assert source is not None and source.name == "astronaut.png" and source.photo_size == (512, 512) and not source.is_sample
    assert editor.window.samples_panel.spin.text() == "astronaut.png"
    assert displayed(editor).shape[:2] == (512, 512)  # the photo, not a sample face
    assert "example photo" in editor.window.statusBar().currentMessage()
    assert editor.window.settings.recent_files() == []  # scikit-image's file is not one of the user's


def test_without_the_example_photo_it_opens_sample_face_0(make_editor, weights, monkeypatch):
    monkeypatch.setattr("npe.resources.example_photo", lambda: None)
    editor = make_editor(weights=weights, index=None)
    assert editor.controller.source is not None and editor.controller.source.name == "sample 0"


def test_missing_weights_reports_a_model_failure(qtbot, make_editor, tmp_path):
    editor = make_editor(weights=str(tmp_path / "nothing.safetensors"))
    assert editor.controller.source is None
    failures = [f for f in editor.window.failures if f.kind == "model"]
    assert failures and "nothing" in failures[0].message


def test_commit_makes_the_result_the_new_original(qtbot, editor):
    drag(qtbot, editor, [(8.0, 16.0), (24.0, 16.0)])
    painted = displayed(editor)
    editor.window.named_actions["commit"].trigger()
    wait(editor)
    assert kinds(editor.controller.history.labels) == ["Paint", "Commit"]
    np.testing.assert_array_equal(displayed(editor), painted)
    canvas = editor.window.canvas
    canvas.set_compare(True)
    np.testing.assert_array_equal(displayed(editor), painted)  # the original is now the painted face
    canvas.set_compare(False)


def test_change_mask_overlay_is_drawn_over_the_face(qtbot, editor):
    canvas = editor.window.canvas
    drag(qtbot, editor, [(8.0, 16.0), (24.0, 16.0)])
    plain = canvas.grab().toImage()
    editor.window.named_actions["change-mask"].trigger()
    with_mask = canvas.grab().toImage()
    assert plain != with_mask
    editor.window.named_actions["change-mask"].trigger()


def test_theme_follows_the_menu_and_is_remembered(editor):
    from PySide6.QtGui import QPalette

    from npe.ui.settings import Settings
    from npe.ui.theme import DARK, LIGHT

    window = editor.window
    window.set_theme("light")
    assert QApplication.palette().color(QPalette.ColorRole.Window).name() == LIGHT["window"]
    assert Settings().theme() == "light"
    window.set_theme("dark")
    assert QApplication.palette().color(QPalette.ColorRole.Window).name() == DARK["window"]
    window.set_theme("system")
    assert Settings().theme() == "system"


def test_dataset_faces_are_opened_by_number(qtbot, make_editor, weights, monkeypatch):
    import types

    from npe.editing.workspace import Workspace
    from tests.conftest import synthetic_faces

    crops = types.SimpleNamespace(names=[f"celeb/{i:06d}.jpg" for i in range(3)], images=synthetic_faces(3, 32))
    workspace = Workspace(collection_loader=lambda path, resolution: crops)
    editor = make_editor(weights=weights, dataset="/data/celeb.zip", index=2, workspace=workspace)
    assert editor.controller.source.name == "000002.jpg"
    assert editor.window.samples_panel.spin.prefix() == "Face "
    calls = record_dialogs(monkeypatch)
    editor.window.open_sample(7)
    wait(editor)
    QApplication.processEvents()
    assert len(calls) == 1 and "0 to 2" in calls[0][2]


def test_run_editor_shows_a_clear_error_and_exits_nonzero_without_a_model(qtbot, tmp_path, monkeypatch, capsys):
    from npe.ui.app import run_editor
    from tests.ui.conftest import editor_args

    calls = record_dialogs(monkeypatch)
    status = run_editor(editor_args(weights=str(tmp_path / "missing.safetensors")))
    assert status == 2
    assert [kind for kind, *_ in calls] == ["critical"]
    assert "--weights" in calls[0][2] and "Traceback" not in calls[0][2]
    assert "missing" in capsys.readouterr().err
    for widget in QApplication.topLevelWidgets():
        if widget.objectName() == "mainWindow":
            widget.close()
            widget.deleteLater()


def test_a_strokes_other_ways_show_as_thumbnails_and_one_click_paints_it_so(qtbot, editor, monkeypatch):
    from npe.editing.brush.stroke import Stroke

    panel = editor.window.history_panel
    assert not panel.alternatives.isVisible()
    other = np.linspace(-1, 1, 16).astype(np.float32)
    monkeypatch.setattr(Stroke, "alternatives", lambda self, count=3: [("Eyeglasses +2 σ", self.document.latent.copy()), ("Heavy makeup −1 σ", -other)])
    drag(qtbot, editor, [(8.0, 16.0), (24.0, 16.0)])
    QApplication.processEvents()
    buttons = panel.alternatives.buttons
    assert panel.alternatives.isVisible() and len(buttons) == 2
    assert "Eyeglasses +2 σ" in buttons[0].toolTip() and "data:image/png;base64," in buttons[0].toolTip() and not buttons[0].icon().isNull()
    assert buttons[0].isChecked() and not buttons[1].isChecked()  # the stroke's own answer is shown
    texts = [button.text() for button in buttons]  # the name (elided to the button, by the font) over its move
    assert texts[0].startswith("Eye") and texts[0].endswith("\n+2 σ") and texts[1].startswith("Heavy") and texts[1].endswith("\n−1 σ")
    buttons[1].click()
    wait(editor)
    QApplication.processEvents()
    assert kinds(editor.controller.history.labels) == ["Paint", "Paint as Heavy makeup −1 σ"]
    np.testing.assert_array_equal(editor.controller.session.latent, -other)
    np.testing.assert_array_equal(editor.window.latent_panel.grid.values(), -other)
    buttons = panel.alternatives.buttons
    assert len(buttons) == 2 and buttons[1].isChecked() and not buttons[0].isChecked()  # all stay on offer, this one shown
    editor.window.named_actions["undo"].trigger()
    wait(editor)
    QApplication.processEvents()
    assert panel.alternatives.buttons[0].isChecked()  # back to the stroke's own answer
    editor.window.named_actions["undo"].trigger()
    wait(editor)
    QApplication.processEvents()
    assert not panel.alternatives.isVisible() and panel.alternatives.buttons == []  # before the stroke
