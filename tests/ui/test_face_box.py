"""The face box in the GUI: shown after a photo opens, the bar that asks about a doubtful face or
several faces, the Face box tool's drags (QMouseEvents on the canvas) re-encoding as one undo step,
and a photo with an EXIF orientation opening upright. The face finder is injected (no real finder)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from npe.data.face_finder import Face
from npe.data.faces import CropBox
from npe.editing.workspace import Workspace
from tests.ui.helpers import wait, widget_point

CONFIDENT = Face(CropBox(100.0, 70.0, 80.0), 0.995)
SMALL = Face(CropBox(170.0, 40.0, 30.0, 10.0), 0.99)
DOUBTFUL = Face(CropBox(90.0, 80.0, 60.0, 4.0), 0.6)


@pytest.fixture
def photo_path(tmp_path):
    yy, xx = np.mgrid[0:150, 0:200].astype(np.float32)
    image = np.stack([90 + 60 * np.sin(xx / 17), 120 + 50 * np.cos(yy / 13), 100 + 40 * np.sin((xx + yy) / 23)], axis=2)
    path = tmp_path / "photo.png"
    Image.fromarray(image.astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture
def open_with(make_editor, weights):
    """open_with(faces, path) -> editor that opened ``path`` with a finder that reports ``faces``."""

    def open_photo(faces, path):
        editor = make_editor(workspace=Workspace(face_finder=lambda photo: list(faces)), weights=weights)
        editor.window.open_path(path)
        wait(editor)
        assert editor.controller.source.name.endswith(".png") or editor.controller.source.name.endswith(".jpg")
        return editor

    return open_photo


def _drag(qtbot, editor, start, end, modifier=Qt.KeyboardModifier.NoModifier):
    canvas = editor.window.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, modifier, start)
    for step in (0.25, 0.5, 0.75, 1.0):
        x = start.x() + (end.x() - start.x()) * step
        y = start.y() + (end.y() - start.y()) * step
        qtbot.mouseMove(canvas, type(start)(round(x), round(y)))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, modifier, end)
    wait(editor)


def test_dragging_a_corner_reencodes_once_and_undo_restores_the_old_box(qtbot, open_with, photo_path):
    editor = open_with([CONFIDENT], photo_path)
    window, controller = editor.window, editor.controller
    assert controller.source.box == (100.0, 70.0, 80.0, 0.0)
    assert window.actions["show-face-box"].isChecked() and window.canvas.face_box.visible
    assert window.face_bar.isHidden()  # one confident face: nothing to ask
    old_crop, old_latent0 = controller.session.crop.copy(), controller.session.latent0.copy()
    steps = controller.history.index

    window.actions["tool-face-box"].trigger()
    canvas = window.canvas
    # Bottom-right corner (140, 110) to (150, 120): the top-left corner (60, 30) stays, so the
    # side becomes the mean of the two extents, (90 + 90) / 2, and the centre (60 + 45, 30 + 45).
    _drag(qtbot, editor, widget_point(canvas, 140.0, 110.0), widget_point(canvas, 150.0, 120.0))
    center_x, center_y, side, angle = controller.source.box
    tolerance = 1.0 / canvas.scale()  # widget pixels are whole numbers
    assert (center_x, center_y, side) == pytest.approx((105.0, 75.0, 90.0), abs=tolerance) and angle == 0.0
    assert controller.history.index == steps + 1 and controller.history.labels[-1] == "Move face box"
    assert not np.array_equal(controller.session.crop, old_crop)
    assert window.canvas.face_box.box == controller.source.box

    window.actions["undo"].trigger()
    wait(editor)
    assert controller.source.box == (100.0, 70.0, 80.0, 0.0) and controller.history.index == steps
    np.testing.assert_array_equal(controller.session.crop, old_crop)
    np.testing.assert_array_equal(controller.session.latent0, old_latent0)


def test_the_handle_rotates_the_box(qtbot, open_with, photo_path):
    editor = open_with([CONFIDENT], photo_path)
    window, canvas = editor.window, editor.window.canvas
    window.actions["tool-face-box"].trigger()
    handle = canvas.face_box.handle_position(canvas).toPoint()
    # From straight above the centre (100, 70) to up-and-right at 45 degrees: a clockwise turn of 45.
    target = canvas.to_widget(100.0 + 40.0, 70.0 - 40.0).toPoint()
    _drag(qtbot, editor, handle, target)
    box = editor.controller.source.box
    assert box[:3] == pytest.approx((100.0, 70.0, 80.0)) and box[3] == pytest.approx(-45.0, abs=1.5)
    assert editor.controller.history.labels == ("Move face box",)


def test_a_doubtful_face_is_shown_and_asked_about(qtbot, open_with, photo_path):
    editor = open_with([DOUBTFUL], photo_path)
    window, bar = editor.window, editor.window.face_bar
    assert editor.controller.source.box == (90.0, 80.0, 60.0, 4.0)  # opened, but not silently
    assert bar.isVisible() and "Is this the face?" in bar.message.text() and "0.60" in bar.message.text()
    assert bar.use_button.isVisible() and bar.adjust_button.isVisible() and bar.whole_button.isVisible()
    assert window.canvas.face_box.doubtful and window.canvas.face_box.visible
    qtbot.mouseClick(bar.whole_button, Qt.MouseButton.LeftButton)
    wait(editor)
    assert editor.controller.source.box == (100.0, 75.0, 150.0, 0.0)
    assert editor.controller.history.labels == ("Use whole image",) and bar.isHidden()


def test_several_faces_can_be_picked_largest_first(qtbot, open_with, photo_path):
    editor = open_with([CONFIDENT, SMALL], photo_path)
    bar = editor.window.face_bar
    assert bar.isVisible() and bar.faces.count() == 2 and bar.faces.itemText(0).startswith("Face 0 (largest): 80 px")
    assert editor.controller.source.box == (100.0, 70.0, 80.0, 0.0)
    assert editor.window.canvas.face_box.candidates == [(100.0, 70.0, 80.0, 0.0), (170.0, 40.0, 30.0, 10.0)]
    bar.faces.setCurrentIndex(1)
    bar.faces.activated.emit(1)  # what choosing it in the list does
    wait(editor)
    assert editor.controller.source.box == (170.0, 40.0, 30.0, 10.0)
    assert editor.controller.history.labels == ("Choose face 1",)


def test_a_photo_with_an_exif_orientation_opens_upright(qtbot, open_with, tmp_path):
    # Stored 120 wide and 80 tall, left half red, right half blue; orientation 6 says "turn it 90
    # degrees clockwise to view", so upright it is 80 x 120 with red on top.
    stored = np.zeros((80, 120, 3), np.uint8)
    stored[:, :60] = (220, 30, 30)
    stored[:, 60:] = (30, 30, 220)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "turned.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    editor = open_with([Face(CropBox(40.0, 60.0, 60.0), 0.99)], str(path))
    assert editor.controller.source.photo_size == (80, 120)
    assert editor.window.canvas.photo_size == (80, 120)
    photo = editor.controller.session.photo
    assert photo.shape == (120, 80, 3)
    assert photo[10, 40, 0] > 180 and photo[10, 40, 2] < 80  # red on top
    assert photo[110, 40, 2] > 180 and photo[110, 40, 0] < 80  # blue below
    assert math.isclose(editor.controller.source.box[0], 40.0)


def test_no_face_offers_the_whole_image_then_placing_the_box_by_hand(qtbot, make_editor, weights, photo_path, monkeypatch):
    from PySide6.QtWidgets import QApplication, QMessageBox

    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: asked.append(args[2]) or QMessageBox.StandardButton.Yes)
    editor = make_editor(workspace=Workspace(face_finder=lambda photo: []), weights=weights)
    editor.window.open_path(photo_path)
    wait(editor)
    QApplication.processEvents()
    wait(editor)
    assert len(asked) == 1 and "whole image" in asked[0]
    assert editor.controller.source.box == (100.0, 75.0, 150.0, 0.0)
    bar = editor.window.face_bar
    assert bar.isVisible() and "No face was found" in bar.message.text()
    assert bar.adjust_button.text() == "Place the box by hand" and not bar.whole_button.isVisible()
    qtbot.mouseClick(bar.adjust_button, Qt.MouseButton.LeftButton)
    assert editor.window.canvas.tool.value == "face-box" and editor.window.actions["tool-face-box"].isChecked()
