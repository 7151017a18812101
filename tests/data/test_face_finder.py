"""Finding every face with a score and a verdict (npe.data.face_finder)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image
from skimage import data

from npe.data.face_finder import CONFIDENT_SCORE, TEMPLATE, Face, box_from_landmarks, find_faces, plausibility
from npe.geometry import CropBox

# The astronaut's eye pupils, located by eye on a 4x enlargement.
EYES = np.array([[203.0, 101.0], [245.0, 102.5]])


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


def test_template_landmarks_give_back_the_square() -> None:
    box = CropBox(300.0, 200.0, 150.0, 12.0)
    found, residual = box_from_landmarks(box.to_photo(TEMPLATE))
    assert residual == pytest.approx(0.0, abs=1e-9)
    assert (found.center_x, found.center_y, found.size, found.angle) == pytest.approx((300, 200, 150, 12))


# --- finding ------------------------------------------------------------------------------------


def test_astronaut_is_one_confident_face_framed_like_celeba(astronaut: np.ndarray) -> None:
    faces = find_faces(astronaut)
    assert len(faces) == 1
    face = faces[0]
    assert face.confident and face.confidence == "confident" and CONFIDENT_SCORE <= face.score <= 1
    assert not face.smaller_than()
    # CelebA's mean eye positions (list_landmarks_align_celeba, about (69, 111) and (108, 111) in
    # the 178x218 photos) in units of its 108 px square centred at (89, 121).
    celeba_eyes = (np.array([[69.0, 111.0], [108.0, 111.0]]) - (35, 67)) / 108
    np.testing.assert_allclose(face.box.to_crop(EYES), celeba_eyes, atol=0.05)


def test_several_faces_come_largest_first(astronaut: np.ndarray) -> None:
    head = astronaut[30:230, 120:330]  # 210x200 around her face
    small = np.asarray(Image.fromarray(head).resize((147, 140), Image.Resampling.BICUBIC))
    photo = np.full((260, 420, 3), 200, np.uint8)
    photo[20:220, 10:220] = head
    photo[60:200, 260:407] = small
    faces = find_faces(photo)
    assert len(faces) == 2
    big, little = faces
    assert big.box.size > little.box.size
    assert big.box.size / little.box.size == pytest.approx(210 / 147, rel=0.15)
    # Each square sits on its own copy of her face (the eyes' midpoint, by hand, mapped into the copy).
    midpoint = EYES.mean(axis=0) - (120, 30)
    assert math.dist((big.box.center_x, big.box.center_y), midpoint + (10, 20)) < 0.3 * big.box.size
    assert math.dist((little.box.center_x, little.box.center_y), midpoint * 0.7 + (260, 60)) < 0.3 * little.box.size


def test_tiny_face_is_found_and_flagged(astronaut: np.ndarray) -> None:
    photo = np.asarray(Image.fromarray(astronaut).resize((180, 180), Image.Resampling.LANCZOS))
    faces = find_faces(photo)
    assert len(faces) == 1
    face = faces[0]
    assert face.box.size == pytest.approx(112 * 180 / 512, rel=0.2)  # about 39 px: below the model's 64
    assert face.smaller_than() and face.smaller_than(64) and not face.smaller_than(30)
    assert face.to_json()["small"] is True


@pytest.mark.parametrize("name", ["coffee", "chelsea", "brick", "grass"])
def test_no_faces_in_pictures_without_faces(name: str) -> None:
    picture = getattr(data, name)()
    if picture.ndim == 2:
        picture = np.repeat(picture[:, :, None], 3, axis=2)
    assert find_faces(np.ascontiguousarray(picture)) == []


def test_a_low_score_face_is_doubtful() -> None:
    box = CropBox(50.0, 50.0, 40.0)
    assert Face(box, 0.4).confidence == "doubtful" and not Face(box, 0.4).confident
    assert Face(box, CONFIDENT_SCORE).confident
    # Landmarks in an impossible layout (mouth above the eyes) cannot score as confident, however
    # sure the detector is: the score is the detector's probability times this plausibility.
    upside_down = box.to_photo(TEMPLATE[[3, 4, 2, 0, 1]])
    _, residual = box_from_landmarks(upside_down)
    assert 1.0 * plausibility(residual) < CONFIDENT_SCORE
    _, residual = box_from_landmarks(box.to_photo(TEMPLATE))
    assert plausibility(residual) == pytest.approx(1.0)


@pytest.mark.parametrize("roll", [-42.0, 42.0])
def test_a_strongly_rolled_head_is_found_with_its_roll(astronaut: np.ndarray, roll: float) -> None:
    # PIL turns counter-clockwise; the crop square turns with the head (CropBox.angle, degrees).
    turned = Image.fromarray(astronaut).rotate(roll, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    faces = find_faces(np.asarray(turned))
    assert len(faces) == 1
    upright = find_faces(astronaut)[0].box
    assert faces[0].box.angle == pytest.approx(upright.angle + roll, abs=4.0)
    # The eyes land where they do in the upright crop: the same framing, only turned.
    radians = math.radians(roll)
    forward = np.array([[math.cos(radians), math.sin(radians)], [-math.sin(radians), math.cos(radians)]])
    eyes = (EYES - 256) @ forward.T + np.array(turned.size) / 2
    np.testing.assert_allclose(faces[0].box.to_crop(eyes), upright.to_crop(EYES), atol=0.04)


@pytest.mark.parametrize("roll", [-40.0, 40.0])
def test_the_turned_copies_map_a_rolled_head_back_to_the_photo(astronaut: np.ndarray, roll: float) -> None:
    # find_faces looks at turned copies only when the upright pass finds nothing (CelebA heads
    # rolled past ~20 degrees on a plain background do that; no photo a test may ship does), so
    # the turned pass is called directly: its faces must land on the head, in photo pixels, rolled.
    from npe.config import CropConfig
    from npe.data.face_finder import _turned_faces

    turned = Image.fromarray(astronaut).rotate(roll, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(128, 128, 128))
    photo = np.asarray(turned)
    upright = find_faces(astronaut)[0].box
    faces = _turned_faces(photo, 1.0, CropConfig())
    assert len(faces) == 1
    assert faces[0].box.angle == pytest.approx(upright.angle + roll, abs=4.0)
    radians = math.radians(roll)
    forward = np.array([[math.cos(radians), math.sin(radians)], [-math.sin(radians), math.cos(radians)]])
    eyes = (EYES - 256) @ forward.T + np.array(turned.size) / 2
    np.testing.assert_allclose(faces[0].box.to_crop(eyes), upright.to_crop(EYES), atol=0.04)
    # The same through a working copy at half scale: photo pixels, not the copy's.
    half = np.asarray(turned.resize((turned.width // 2, turned.height // 2), Image.Resampling.BILINEAR))
    again = _turned_faces(half, half.shape[1] / photo.shape[1], CropConfig())
    assert len(again) == 1
    assert math.dist((again[0].box.center_x, again[0].box.center_y), (faces[0].box.center_x, faces[0].box.center_y)) < 0.05 * upright.size
    assert again[0].box.size == pytest.approx(faces[0].box.size, rel=0.05)


def test_a_probable_face_with_a_turned_head_is_doubtful_not_dropped() -> None:
    # skimage's cameraman looks down at his camera: MTCNN is sure, but his landmarks stray from
    # CelebA's frontal layout, so the user is asked rather than given no face (or the cascade's guess).
    faces = find_faces(np.repeat(data.camera()[:, :, None], 3, axis=2))
    assert len(faces) == 1
    face = faces[0]
    assert face.detector == "landmarks" and not face.confident
    assert 180 < face.box.center_x < 320 and 40 < face.box.center_y < 200  # on his head, by eye
