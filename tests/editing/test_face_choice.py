"""Choosing the face box before encoding (npe.editing.face_choice), moving it as one undo step
(EditSession.set_box, Workspace.set_face_box), through an injected face finder."""

from __future__ import annotations

import numpy as np
import pytest

from npe.data.face_finder import CONFIDENT_SCORE, Face
from npe.data.faces import crop_face
from npe.editing.errors import SessionError
from npe.errors import NoFaceError
from npe.geometry import CropBox
from npe.editing.face_choice import DoubtfulFaceError, FaceIndexError, choose_face
from npe.editing.workspace import Workspace

PHOTO = np.zeros((120, 160, 3), np.uint8)
BIG_DOUBTFUL = Face(CropBox(50.0, 60.0, 70.0, 5.0), 0.5)
SMALL_CONFIDENT = Face(CropBox(130.0, 40.0, 30.0), 0.99)


def finder(*faces):
    calls = []

    def find(photo):
        calls.append(photo.shape)
        return list(faces)

    find.calls = calls
    return find


def test_the_largest_confident_face_is_used_and_a_doubtful_one_never_silently():
    box, report = choose_face(PHOTO, finder(BIG_DOUBTFUL, SMALL_CONFIDENT))
    assert box == SMALL_CONFIDENT.box and report.chosen == 1 and report.how == "confident"
    assert report.summary().startswith("2 faces found; using face 1 (the largest confident one")

    with pytest.raises(DoubtfulFaceError, match=r"doubtful \(score 0.50; a confident face scores at least 0.97\)") as caught:
        choose_face(PHOTO, finder(BIG_DOUBTFUL))
    assert caught.value.index == 0 and caught.value.report.faces[0].score == 0.5
    assert CONFIDENT_SCORE == pytest.approx(0.97)

    box, report = choose_face(PHOTO, finder(BIG_DOUBTFUL), accept_doubtful=True)
    assert box == BIG_DOUBTFUL.box and report.doubtful
    box, report = choose_face(PHOTO, finder(BIG_DOUBTFUL), whole_image=True)
    assert box == CropBox(80.0, 60.0, 120.0) and report.how == "whole-image"


def test_face_k_picks_any_face_and_an_unknown_k_says_how_many_there_are():
    box, report = choose_face(PHOTO, finder(BIG_DOUBTFUL, SMALL_CONFIDENT), face=0)
    assert box == BIG_DOUBTFUL.box and report.how == "picked" and not report.doubtful
    with pytest.raises(FaceIndexError, match=r"Face 2 was asked for, but 2 faces were found \(0-1"):
        choose_face(PHOTO, finder(BIG_DOUBTFUL, SMALL_CONFIDENT), face=2)
    with pytest.raises(FaceIndexError, match="no face was found"):
        choose_face(PHOTO, finder(), face=0)


def test_no_face_and_a_box_placed_by_hand():
    with pytest.raises(NoFaceError):
        choose_face(PHOTO, finder())
    box, report = choose_face(PHOTO, finder(), whole_image=True)
    assert box == CropBox(80.0, 60.0, 120.0) and report.faces == ()
    by_hand = finder(SMALL_CONFIDENT)
    box, report = choose_face(PHOTO, by_hand, box=(10, 20, 30, 40))
    assert box == CropBox(10.0, 20.0, 30.0, 40.0) and report.how == "by-hand" and by_hand.calls == []  # not even looked for
    for bad in ((1, 2), (1, 2, 0), (1, float("nan"), 3)):
        with pytest.raises(SessionError):
            choose_face(PHOTO, by_hand, box=bad)


def test_set_box_recrops_reencodes_and_undo_restores_the_old_box_and_latent_bit_exact(session, photo, tmp_path):
    from npe.model.runtime import encode_images

    session.set_latent_value(0, 1.25)  # an edit, carried over as z - z0
    session.paint_protect([(60.0, 50.0)], 6.0)
    old = (session.box, session.crop.copy(), session.latent0.copy(), session.latent.copy(), session.protect_mask.copy())
    steps = session.history_index
    new_box = CropBox(90.0, 80.0, 60.0, 12.0)
    assert session.set_box(new_box)
    assert session.history_index == steps + 1 and session.history_labels[-1] == "Move face box"
    assert session.box == new_box
    np.testing.assert_array_equal(session.crop, crop_face(photo, new_box, session.resolution))
    np.testing.assert_array_equal(session.latent0, encode_images(session.model, session.crop.copy()))
    np.testing.assert_allclose(session.latent - session.latent0, old[3] - old[2], atol=1e-6)
    np.testing.assert_array_equal(session.protect_mask, old[4])
    assert not session.set_box(new_box)  # the same box is no step

    assert session.undo()
    assert session.box == old[0]
    for now, before in zip((session.crop, session.latent0, session.latent, session.protect_mask), old[1:]):
        np.testing.assert_array_equal(now, before)
    assert session.redo() and session.box == new_box

    from npe.editing import EditSession

    reopened = EditSession.load(session.save(tmp_path / "moved.npe"), session.model)
    assert reopened.box == new_box and reopened.history_labels == session.history_labels
    assert reopened.undo() and reopened.box == old[0]
    np.testing.assert_array_equal(reopened.latent0, old[2])


def test_set_box_is_refused_for_a_generated_face(model):
    from npe.editing import EditSession

    sample = EditSession.random(model, seed=3)
    with pytest.raises(SessionError, match="generated face"):
        sample.set_box((10, 10, 20))


def test_the_workspace_chooses_the_box_before_encoding_and_moves_it(model, photo, tmp_path):
    from PIL import Image

    path = tmp_path / "two.png"
    Image.fromarray(photo).save(path)
    confident = Face(CropBox(100.0, 70.0, 80.0), 0.995)
    other = Face(CropBox(40.0, 40.0, 30.0), 0.99)
    workspace = Workspace(model_loader=lambda weights, device: model, face_finder=finder(confident, other))
    workspace.load_model()
    session = workspace.open_photo(path)
    assert session.box == confident.box and workspace.faces.chosen == 0 and len(workspace.faces.faces) == 2
    session = workspace.open_photo(path, face=1)
    assert session.box == other.box and workspace.faces.how == "picked"
    assert workspace.set_face_box(confident.box, "Choose face 0")
    assert workspace.faces.chosen == 0 and session.history_labels[-1] == "Choose face 0"

    doubtful = Workspace(model_loader=lambda weights, device: model, face_finder=finder(BIG_DOUBTFUL))
    doubtful.load_model()
    with pytest.raises(DoubtfulFaceError):
        doubtful.open_photo(path)
    assert doubtful.session is None
    assert doubtful.open_photo(path, accept_doubtful=True).box == BIG_DOUBTFUL.box and doubtful.faces.doubtful
