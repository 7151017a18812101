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
from npe.geometry import CropBox
from npe.editing.workspace import Workspace
from tests.ui.helpers import kinds, wait, widget_point

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
    assert window.named_actions["show-face-box"].isChecked() and window.canvas.face_box.visible
    assert window.face_bar.isHidden()  # one confident face: nothing to ask
    old_crop, old_latent0 = controller.session.crop.copy(), controller.session.latent0.copy()
    steps = controller.history.index

    window.named_actions["tool-face-box"].trigger()
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

    window.named_actions["undo"].trigger()
    wait(editor)
    assert controller.source.box == (100.0, 70.0, 80.0, 0.0) and controller.history.index == steps
    np.testing.assert_array_equal(controller.session.crop, old_crop)
    np.testing.assert_array_equal(controller.session.latent0, old_latent0)


def test_the_handle_rotates_the_box(qtbot, open_with, photo_path):
    editor = open_with([CONFIDENT], photo_path)
    window, canvas = editor.window, editor.window.canvas
    window.named_actions["tool-face-box"].trigger()
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
    assert editor.window.canvas.tool.value == "face-box" and editor.window.named_actions["tool-face-box"].isChecked()


# --- several faces: every candidate on the photo, a click on one picks it -------------------------
MIDDLE = Face(CropBox(30.0, 115.0, 40.0), 0.99)
THREE = [CONFIDENT, MIDDLE, SMALL]  # largest first, as the finder reports them; none overlaps another


def _overlay(candidates, chosen, offering=True, editing=False):
    from npe.ui.facebox import FaceBoxOverlay

    overlay = FaceBoxOverlay()
    overlay.candidates = list(candidates)
    overlay.set_box(chosen)
    overlay.visible, overlay.offering, overlay.editing = True, offering, editing
    return overlay


def test_candidates_are_hit_tested_in_photo_pixels_inside_their_rotated_squares():
    chosen, turned = (100.0, 70.0, 80.0, 0.0), (170.0, 40.0, 30.0, 45.0)
    overlay = _overlay([chosen, turned], chosen)
    # Turned 45 degrees, the side-30 square is |dx| + |dy| <= 15 * sqrt(2) = 21.2 around its centre.
    assert overlay.candidate_at((170.0 + 20.0, 40.0)) == 1 and overlay.candidate_at((170.0, 40.0 - 20.0)) == 1
    assert overlay.candidate_at((170.0 + 12.0, 40.0 + 12.0)) is None  # inside it unturned, outside it turned
    assert overlay.candidate_at((100.0, 70.0)) is None  # the chosen face is not a candidate to pick
    assert overlay.candidate_at((10.0, 140.0)) is None
    overlay.offering = False  # the bar was answered: nothing to pick, unless the Face box tool is on
    assert overlay.candidate_at((170.0, 40.0)) is None and not overlay.candidates_shown()
    overlay.editing = True
    assert overlay.candidate_at((170.0, 40.0)) == 1
    overlay.editing, overlay.offering, overlay.visible = False, True, False  # the box is hidden (F)
    assert overlay.candidate_at((170.0, 40.0)) is None
    assert _overlay([chosen], chosen).candidate_at((100.0, 70.0)) is None  # one face: nothing to pick


def test_the_smallest_box_under_the_pointer_decides_so_the_chosen_face_keeps_its_strokes():
    large, inner = (100.0, 70.0, 80.0, 0.0), (100.0, 70.0, 20.0, 0.0)
    overlay = _overlay([large, inner], large)
    assert overlay.candidate_at((100.0, 70.0)) == 1  # a smaller face inside the chosen square
    assert overlay.candidate_at((130.0, 70.0)) is None  # elsewhere in the chosen square: the brush
    overlay = _overlay([large, inner], inner)
    assert overlay.candidate_at((100.0, 70.0)) is None  # inside the chosen (smaller) face
    assert overlay.candidate_at((130.0, 70.0)) == 0


def _edge_pixels(image, canvas, box):
    """For 17 points along the left edge of ``box`` (top-left to bottom-left corner), the canvas
    pixels within 2 px of it, as a 17 x 25 x 3 array."""
    from npe.ui.facebox import corners

    (x0, y0), (x1, y1) = corners(box)[0], corners(box)[3]
    samples = []
    for t in range(2, 19):
        centre = widget_point(canvas, x0 + (x1 - x0) * t / 20, y0 + (y1 - y0) * t / 20)
        samples.append([image.pixelColor(centre.x() + dx, centre.y() + dy).getRgb()[:3] for dx in range(-2, 3) for dy in range(-2, 3)])
    return np.array(samples)


def test_all_candidates_are_drawn_while_the_bar_asks_and_go_once_it_is_answered(qtbot, open_with, photo_path):
    editor = open_with(THREE, photo_path)
    canvas, bar = editor.window.canvas, editor.window.face_bar
    assert bar.asking_which_face and canvas.face_box.offering
    asking = canvas.grab().toImage()
    qtbot.mouseClick(bar.close_button, Qt.MouseButton.LeftButton)  # "OK": the first face it is
    assert bar.isHidden() and not canvas.face_box.offering
    answered = canvas.grab().toImage()
    for face in (MIDDLE, SMALL):
        box = (face.box.center_x, face.box.center_y, face.box.size, face.box.angle)
        drawn, plain = _edge_pixels(asking, canvas, box).astype(int), _edge_pixels(answered, canvas, box).astype(int)
        assert (np.abs(drawn - plain).max(axis=(1, 2)) > 60).all(), face  # a dark halo all along
        assert (drawn.min(axis=2).max(axis=1) > 130).mean() > 0.8, face  # light (white, see-through) dashes
    # Dashed: down MIDDLE's left edge (photo x = 10), the line's own pixels alternate light and dark.
    column = round(canvas.to_widget(10.0, 0.0).x())
    top, bottom = (round(canvas.to_widget(0.0, y).y()) for y in (100.0, 130.0))
    light = np.array([max(min(asking.pixelColor(x, y).getRgb()[:3]) for x in (column - 1, column, column + 1)) > 110
                      for y in range(top, bottom)])
    assert 0.2 < light.mean() < 0.9 and np.count_nonzero(np.diff(light.astype(int))) >= 6
    centre = widget_point(canvas, MIDDLE.box.center_x, MIDDLE.box.center_y)
    assert asking.pixelColor(centre) == answered.pixelColor(centre)  # an outline, not a fill
    yellow = _edge_pixels(answered, canvas, (100.0, 70.0, 80.0, 0.0))  # the chosen face's box stays
    assert ((yellow[..., 0] > 200) & (yellow[..., 1] > 170) & (yellow[..., 2] < 120)).any(axis=1).all()
    assert editor.controller.history.labels == ()


def test_hovering_a_candidate_shows_a_hand_and_clicking_it_picks_that_face_like_the_list(qtbot, open_with, photo_path):
    editor = open_with(THREE, photo_path)
    window, canvas, bar, controller = editor.window, editor.window.canvas, editor.window.face_bar, editor.controller
    first_crop = controller.session.crop.copy()
    centre = widget_point(canvas, SMALL.box.center_x, SMALL.box.center_y)
    qtbot.mouseMove(canvas, centre)
    assert canvas.cursor().shape() == Qt.CursorShape.PointingHandCursor
    assert canvas.toolTip() == "Click to edit this face" and window.statusBar().currentMessage() == "Click to edit this face"

    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    wait(editor)
    assert controller.source.box == (170.0, 40.0, 30.0, 10.0) and canvas.face_box.box == (170.0, 40.0, 30.0, 10.0)
    assert controller.history.labels == ("Choose face 2",) and bar.faces.currentIndex() == 2
    clicked_crop = controller.session.crop.copy()
    assert not np.array_equal(clicked_crop, first_crop)
    assert bar.asking_which_face and canvas.face_box.candidate_at((100.0, 70.0)) == 0  # face 0 is a candidate now

    window.named_actions["undo"].trigger()
    wait(editor)
    assert controller.source.box == (100.0, 70.0, 80.0, 0.0) and bar.faces.currentIndex() == 0
    np.testing.assert_array_equal(controller.session.crop, first_crop)
    bar.faces.setCurrentIndex(2)
    bar.faces.activated.emit(2)  # the same choice made in the list: the same step and the same crop
    wait(editor)
    assert controller.history.labels == ("Choose face 2",)
    np.testing.assert_array_equal(controller.session.crop, clicked_crop)


def test_a_brush_click_inside_the_chosen_face_paints_and_ends_the_offer(qtbot, open_with, photo_path):
    editor = open_with(THREE, photo_path)
    canvas, bar, controller = editor.window.canvas, editor.window.face_bar, editor.controller
    inside = widget_point(canvas, 110.0, 80.0)
    qtbot.mouseMove(canvas, inside)
    assert canvas.cursor().shape() == Qt.CursorShape.BlankCursor and canvas.toolTip() == ""  # the brush
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, inside)
    wait(editor)
    assert controller.source.box == (100.0, 70.0, 80.0, 0.0) and kinds(controller.history.labels) == ["Paint"]
    assert bar.isHidden() and not canvas.face_box.offering  # painting on it answered "which face"
    # Now a click on another face is a brush stroke too (outside the crop, so it changes nothing).
    started = []
    canvas.strokeStarted.connect(lambda x, y: started.append((x, y)))
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     widget_point(canvas, SMALL.box.center_x, SMALL.box.center_y))
    wait(editor)
    assert len(started) == 1 and started[0] == pytest.approx((170.0, 40.0), abs=1.0 / canvas.scale())
    assert controller.source.box == (100.0, 70.0, 80.0, 0.0) and "Choose face 2" not in controller.history.labels


def test_the_face_box_tool_offers_the_other_faces_but_the_eyedropper_does_not(qtbot, open_with, photo_path):
    editor = open_with(THREE, photo_path)
    window, canvas, controller = editor.window, editor.window.canvas, editor.controller
    qtbot.mouseClick(window.face_bar.close_button, Qt.MouseButton.LeftButton)
    middle = widget_point(canvas, MIDDLE.box.center_x, MIDDLE.box.center_y)
    window.named_actions["tool-pick"].trigger()
    canvas.face_box.offering = True  # even were they offered, the eyedropper samples colours
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, middle)
    wait(editor)
    assert controller.source.box == (100.0, 70.0, 80.0, 0.0) and controller.history.labels == ()
    canvas.face_box.offering = False
    window.named_actions["tool-face-box"].trigger()
    qtbot.mouseMove(canvas, middle)
    assert canvas.cursor().shape() == Qt.CursorShape.PointingHandCursor
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, middle)
    wait(editor)
    assert controller.source.box == (30.0, 115.0, 40.0, 0.0) and controller.history.labels == ("Choose face 1",)


def test_a_small_face_in_a_large_photo_opens_zoomed_to_the_face(qtbot, open_with, tmp_path):
    """A face box that would span under SMALL_FACE of the view, fitted, opens zoomed to it (centred, at
    most at actual pixels: a photo is not blown up past its own pixels unasked); Fit to Window shows
    the whole photo, Zoom to Face (Ctrl+2) the face with FACE_VIEW box sides across the view."""
    from npe.ui.canvas import FACE_VIEW, SMALL_FACE

    yy, xx = np.mgrid[0:900, 0:1600].astype(np.float32)
    image = np.stack([90 + 60 * np.sin(xx / 37), 120 + 50 * np.cos(yy / 23), 100 + 40 * np.sin((xx + yy) / 43)], axis=2)
    path = tmp_path / "group.png"
    Image.fromarray(image.astype(np.uint8)).save(path)
    editor = open_with([Face(CropBox(1200.0, 300.0, 60.0), 0.995)], str(path))
    canvas = editor.window.canvas
    fit = canvas.fit_scale()
    assert 60 * fit < SMALL_FACE * min(canvas.width(), canvas.height())  # small when fitted
    side = min(canvas.width(), canvas.height()) - 40
    face_zoom = side / (FACE_VIEW * 60)
    assert canvas.scale() == pytest.approx(min(1.0, face_zoom)) and canvas.scale() > 1.5 * fit
    centre = canvas.to_widget(1200.0, 300.0)
    assert centre.x() == pytest.approx(canvas.width() / 2, abs=1) and centre.y() == pytest.approx(canvas.height() / 2, abs=1)
    editor.window.named_actions["zoom-fit"].trigger()
    assert canvas.scale() == pytest.approx(fit)
    editor.window.named_actions["zoom-face"].trigger()
    assert canvas.scale() == pytest.approx(face_zoom, rel=0.01)


def test_several_small_faces_open_fitted_so_each_can_be_picked(open_with, tmp_path):
    image = np.full((900, 1600, 3), 120, np.uint8)
    image[::7] = 90
    path = tmp_path / "group.png"
    Image.fromarray(image).save(path)
    editor = open_with([Face(CropBox(1200.0, 300.0, 60.0), 0.995), Face(CropBox(400.0, 320.0, 58.0), 0.99)], str(path))
    canvas = editor.window.canvas
    assert canvas.scale() == pytest.approx(canvas.fit_scale())
    editor.window.named_actions["zoom-face"].trigger()  # still one keypress away
    assert canvas.scale() > 2 * canvas.fit_scale()


def test_a_face_that_fills_the_photo_opens_fitted(open_with, photo_path):
    editor = open_with([CONFIDENT], photo_path)
    canvas = editor.window.canvas
    assert canvas.scale() == pytest.approx(canvas.fit_scale())
