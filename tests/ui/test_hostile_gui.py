"""The editor window with careless or hostile input: exports never suggest the original,
the panels name what is open, warnings reach the status bar, a session from other weights asks,
and hundreds of strokes through the real mouse path undo bit-exactly."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from tests.ui.helpers import displayed, drag, wait


@pytest.fixture
def photo_file(tmp_path):
    """A 200 x 150 photo without a face: opened with the whole image, its box is 150 px wide."""
    rng = np.random.default_rng(5)
    path = tmp_path / "photos" / "holiday.png"
    path.parent.mkdir()
    Image.fromarray(rng.integers(0, 255, (150, 200, 3), dtype=np.uint8)).save(path)
    return path


def _open_photo(editor, path):
    editor.window.open_path(str(path), whole_image=True)
    wait(editor)
    QApplication.processEvents()
    assert editor.controller.source.name == path.name


def test_the_export_dialog_suggests_a_new_name_beside_the_photo(qtbot, editor, photo_file, tmp_path, monkeypatch):
    editor.window.settings.set_last_folder(str(tmp_path / "elsewhere" / "x.png"))
    _open_photo(editor, photo_file)
    suggested = []

    def dialog(parent, title, path, filters):
        suggested.append((path, filters))
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", dialog)
    editor.window.export_dialog()
    (path, filters), = suggested
    assert os.path.dirname(path) == str(photo_file.parent)
    assert os.path.basename(path) == "holiday-edited.png"
    assert not os.path.exists(path) or not os.path.samefile(path, photo_file)
    assert "*.jpg" in filters and "*.webp" in filters and "*.tif" in filters


def test_export_keeps_a_jpeg_name_and_writes_jpeg(qtbot, editor, photo_file, tmp_path, monkeypatch):
    _open_photo(editor, photo_file)
    target = tmp_path / "out.jpg"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    editor.window.export_dialog()
    wait(editor)
    with Image.open(target) as image:
        assert image.format == "JPEG"


def test_export_on_a_full_disk_shows_one_line_keeps_the_file_and_the_edit(qtbot, editor, photo_file, tmp_path, monkeypatch):
    """A full disk through Export Image: a dialog with the one-line reason, the old file bit-identical,
    no temp file, and the edit still open and unsaved."""
    from tests.full_disk import FullDisk
    from tests.ui.test_window import record_dialogs

    _open_photo(editor, photo_file)
    drag(qtbot, editor, [(90, 70), (110, 80)])
    assert editor.controller.modified
    target = tmp_path / "old.jpg"
    Image.open(photo_file).save(target, quality=90)
    before = target.read_bytes()
    calls = record_dialogs(monkeypatch)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    FullDisk(monkeypatch, "write", free=len(before) // 2)
    editor.window.export_dialog()
    wait(editor)
    QApplication.processEvents()
    assert [(kind, text) for kind, _, text in calls] == [
        ("warning", f"The disk is full: nothing was saved, '{target}' is unchanged. Free some space or choose another drive.")
    ]
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".npe-")] == []
    assert editor.controller.has_document and editor.controller.modified


def test_export_without_metadata_is_a_remembered_file_menu_toggle(qtbot, editor, tmp_path, monkeypatch):
    source = tmp_path / "phone.png"
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (150, 200, 3), dtype=np.uint8)).save(source, exif=exif.tobytes())
    _open_photo(editor, source)
    action = editor.window.named_actions["strip-metadata"]
    assert not action.isChecked()
    for strip, name in ((False, "kept.png"), (True, "stripped.png")):
        if action.isChecked() != strip:
            action.trigger()
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, n=name, **k: (str(tmp_path / n), ""))
        editor.window.export_dialog()
        wait(editor)
    with Image.open(tmp_path / "kept.png") as kept, Image.open(tmp_path / "stripped.png") as stripped:
        assert kept.getexif().get(0x010F) == "PhoneMaker" and "npe-edits" in kept.text
        assert len(stripped.getexif()) == 0 and not stripped.text
    assert editor.window.settings.strip_metadata()


def test_opening_a_photo_makes_the_faces_panel_name_it(qtbot, editor, photo_file):
    assert "Sample 0" in editor.window.samples_panel.spin.text()
    _open_photo(editor, photo_file)
    assert editor.window.samples_panel.spin.text() == "holiday.png"
    editor.window.open_sample(3)
    wait(editor)
    QApplication.processEvents()
    assert editor.window.samples_panel.spin.text() == "Sample 3"


def test_the_brush_size_reads_in_the_photos_pixels(qtbot, editor, photo_file):
    _open_photo(editor, photo_file)
    panel = editor.window.brush_panel
    panel.size_slider.setValue(6)
    QApplication.processEvents()
    # 6 % of the 150 px face box is a 9 px radius in the photo (the crop is 32 px: 1.92 there).
    assert panel.size_slider.value_label.text() == "6 % · 9 px"
    assert editor.window.canvas.brush_radius == pytest.approx(9.0)


def test_damaged_companion_files_show_in_the_status_bar(qtbot, make_editor, weights):
    from pathlib import Path

    gallery = Path(weights).with_name("tiny.gallery.safetensors")
    gallery.write_bytes(b"garbage")
    editor = make_editor(weights=weights)
    QApplication.processEvents()
    assert len(editor.window.warnings) == 1 and str(gallery) in editor.window.warnings[0]
    assert str(gallery) in editor.window.statusBar().currentMessage()


def _save_session(editor, path, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(path), ""))
    editor.window.named_actions["save-session"].trigger()
    wait(editor)


def test_a_session_from_other_weights_asks_before_opening(qtbot, editor, tmp_path, monkeypatch):
    from npe.editing.sessionzip import read_session, write_session

    drag(qtbot, editor, [(10.0, 10.0), (20.0, 12.0)])
    painted = displayed(editor)
    path = tmp_path / "edit.npe"
    _save_session(editor, path, monkeypatch)
    manifest, arrays = read_session(path)
    manifest = json.loads(json.dumps(manifest))
    manifest["model"]["weights_id"] = "0123456789abcdef"
    write_session(path, manifest, dict(arrays))
    editor.window.named_actions["random"].trigger()
    wait(editor)

    asked = []
    for answer, opened in ((QMessageBox.StandardButton.Cancel, False), (QMessageBox.StandardButton.Open, True)):
        asked.clear()
        monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a, answer=answer, **k: asked.append(text) or answer)
        before = displayed(editor)
        editor.window.open_path(str(path))
        wait(editor)
        QApplication.processEvents()
        wait(editor)
        QApplication.processEvents()
        assert len(asked) == 1 and "0123456789abcdef" in asked[0]
        np.testing.assert_array_equal(displayed(editor), painted if opened else before)


@pytest.mark.slow
def test_300_strokes_through_the_mouse_then_300_undos_restore_the_original(qtbot, editor):
    original = displayed(editor)
    rng = np.random.default_rng(0)
    for _ in range(300):
        x, y = rng.uniform(4, 28, 2)
        _quick_drag(qtbot, editor, x, y)
    # 300 queued strokes take about 30 s on a quiet 2-core machine: this checks the outcome, not the
    # speed (benchmarks/edit_latency.py does that), so a loaded machine gets the time it needs.
    wait(editor, 300_000)
    history = editor.controller.history
    assert history.index == len(history.labels) == 300
    assert not np.array_equal(displayed(editor), original)
    for _ in range(300):
        editor.window.named_actions["undo"].trigger()
    wait(editor, 300_000)
    QApplication.processEvents()
    assert editor.controller.history.index == 0
    np.testing.assert_array_equal(displayed(editor), original)
    np.testing.assert_array_equal(editor.controller.session.result(), original)


def _quick_drag(qtbot, editor, x, y):
    """Press, two moves, release through QMouseEvents on the canvas, without waiting for the model
    (the worker coalesces moves as it does for a quick user)."""
    from PySide6.QtCore import Qt

    from tests.ui.helpers import widget_point

    canvas = editor.window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, x, y))
    qtbot.mouseMove(canvas, widget_point(canvas, x + 1.5, y + 0.5))
    qtbot.mouseMove(canvas, widget_point(canvas, x + 3.0, y + 1.0))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, widget_point(canvas, x + 3.0, y + 1.0))
