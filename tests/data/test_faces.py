"""Face finding, cropping and pasting back (npe.data.faces)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage import data

from npe.config import CropConfig
from npe.data.faces import aligned_crop_box, crop_face, find_face, paste_back
from npe.errors import NoFaceError
from npe.geometry import CropBox

# Where the astronaut's face is in skimage.data.astronaut() (512x512), checked by eye: between the
# eyes at about (220, 105), chin at about y 165.
FACE_X, FACE_Y = 220.0, 125.0


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_box(astronaut: np.ndarray) -> CropBox:
    return find_face(astronaut)


def _turned(photo: np.ndarray, angle: float) -> np.ndarray:
    """The photo turned counter-clockwise by ``angle`` about its centre (edges repeated)."""
    height, width = photo.shape[:2]
    return crop_face(photo, CropBox(width / 2, height / 2, float(max(width, height)), -angle), max(width, height))


def _turn_point(x: float, y: float, angle: float, center: tuple[float, float] = (256.0, 256.0)) -> tuple[float, float]:
    radians = math.radians(angle)
    dx, dy = x - center[0], y - center[1]
    return (
        center[0] + dx * math.cos(radians) + dy * math.sin(radians),
        center[1] - dx * math.sin(radians) + dy * math.cos(radians),
    )


def _coordinate_photo(height: int = 150, width: int = 180) -> np.ndarray:
    """Red = x + 40, green = y + 40 at pixel centres: a crop's values say where it sampled."""
    ys, xs = np.mgrid[0:height, 0:width]
    photo = np.zeros((height, width, 3), dtype=np.uint8)
    photo[..., 0] = xs + 40
    photo[..., 1] = ys + 40
    photo[..., 2] = 128
    return photo


def _expected_coordinates(box: CropBox, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    (ux, uy), (vx, vy) = box.axes
    rows, cols = np.mgrid[0:resolution, 0:resolution]
    u, v = (cols + 0.5) / resolution - 0.5, (rows + 0.5) / resolution - 0.5
    x = box.center_x + box.size * (u * ux + v * vx)
    y = box.center_y + box.size * (u * uy + v * vy)
    return x - 0.5 + 40, y - 0.5 + 40


# --- the CelebA framing ------------------------------------------------------------------------


def test_aligned_crop_box_is_the_celeba_square() -> None:
    box = aligned_crop_box(178, 218)
    assert (box.center_x, box.center_y, box.size, box.angle) == pytest.approx((89, 121, 108, 0))
    half = aligned_crop_box(89, 109)
    assert (half.center_x, half.center_y, half.size) == pytest.approx((44.5, 60.5, 54))


# --- crop_face ----------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", [32, 128])
def test_upright_crop_samples_the_right_place(resolution: int) -> None:
    box = CropBox(90.3, 70.7, 64.0)
    crop = crop_face(_coordinate_photo(), box, resolution)
    assert crop.shape == (resolution, resolution, 3) and crop.dtype == np.uint8
    expected_x, expected_y = _expected_coordinates(box, resolution)
    assert np.abs(crop[..., 0] - expected_x).max() <= 0.55
    assert np.abs(crop[..., 1] - expected_y).max() <= 0.55
    assert (crop[..., 2] == 128).all()


@pytest.mark.parametrize("angle", [30.0, -20.0, 90.0])
def test_rotated_crop_samples_the_right_place(angle: float) -> None:
    box = CropBox(90.0, 75.0, 60.0, angle)
    crop = crop_face(_coordinate_photo(), box, 48).astype(np.float64)
    expected_x, expected_y = _expected_coordinates(box, 48)
    error_x, error_y = crop[..., 0] - expected_x, crop[..., 1] - expected_y
    assert np.abs(error_x).max() <= 1.0 and np.abs(error_y).max() <= 1.0
    assert abs(error_x.mean()) < 0.1 and abs(error_y.mean()) < 0.1  # no half-pixel shift, no darkening


def test_rotation_sign_matches_the_box_convention() -> None:
    photo = np.zeros((100, 100, 3), dtype=np.uint8)
    photo[:, :50] = (255, 0, 0)  # left half red
    crop = crop_face(photo, CropBox(50, 50, 60, 90), 20)  # head rolled 90 CCW: its top points left
    assert (crop[:8, :, 0] == 255).all() and (crop[12:, :, 0] == 0).all()


@pytest.mark.parametrize("angle", [0.0, 17.0])
def test_downscaled_crop_is_antialiased(angle: float) -> None:
    checker = ((np.indices((400, 400)).sum(axis=0) % 2) * 255).astype(np.uint8)
    photo = np.repeat(checker[:, :, None], 3, axis=2)
    crop = crop_face(photo, CropBox(200, 200, 320, angle), 40).astype(np.float64)
    # Point sampling would give pure black/white or moire; proper filtering gives flat grey.
    assert abs(crop.mean() - 127.5) < 3 and crop.std() < 3


def test_box_past_the_edge_repeats_edge_pixels() -> None:
    photo = _coordinate_photo()
    crop = crop_face(photo, CropBox(10, 10, 60), 30)  # reaches 20 px past the top-left corner
    np.testing.assert_array_equal(crop[0, 0], photo[0, 0])
    np.testing.assert_array_equal(crop[:10, :10], np.broadcast_to(photo[0, 0], (10, 10, 3)))
    far = crop_face(photo, CropBox(-500, 75, 40, 10), 16)  # entirely outside: the left edge column
    assert (far[..., 0] == 40).all()


@pytest.mark.parametrize("angle", [0.0, 5.0])
def test_large_shrink_matches_direct_resampling(monkeypatch: pytest.MonkeyPatch, angle: float) -> None:
    from npe.data import faces

    ys, xs = np.mgrid[0:2000, 0:3000].astype(np.float32)
    phase = np.arange(3, dtype=np.float32)  # a different smooth pattern in each channel
    waves = 127.5 + 60 * np.sin(xs[..., None] / 90.0 + phase) * np.cos(ys[..., None] / 70.0 - phase)
    photo = np.clip(waves, 0, 255).astype(np.uint8)
    box = CropBox(1500, 1000, 1200, angle)
    fast = crop_face(photo, box, 64).astype(np.int32)  # box-reduced by 6 first
    monkeypatch.setattr(faces, "_PRE_REDUCE_GAP", 1e9)
    direct = crop_face(photo, box, 64).astype(np.int32)
    assert np.abs(fast - direct).mean() < 1.5


def test_crop_validates_its_inputs() -> None:
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        crop_face(np.zeros((10, 10), np.uint8), CropBox(5, 5, 5), 8)
    with pytest.raises(ValueError, match="positive size"):
        crop_face(np.zeros((10, 10, 3), np.uint8), CropBox(5, 5, 0), 8)


# --- paste_back ---------------------------------------------------------------------------------


@pytest.mark.parametrize("box", [CropBox(300, 120, 180, 0), CropBox(220, 125, 160, -12), CropBox(30, 20, 140, 8)])
def test_unchanged_crop_pastes_back_bit_exactly(astronaut: np.ndarray, box: CropBox) -> None:
    before = astronaut.copy()
    result = paste_back(astronaut, box, np.zeros((64, 64, 3), np.float32), np.ones((64, 64), np.float32))
    assert result is not astronaut
    np.testing.assert_array_equal(result, astronaut)
    np.testing.assert_array_equal(astronaut, before)


@pytest.mark.parametrize("angle", [0.0, 20.0])
def test_change_in_the_middle_stays_in_the_box(astronaut: np.ndarray, angle: float) -> None:
    before = astronaut.copy()
    box = CropBox(220, 125, 160, angle)
    change = np.zeros((64, 64, 3), np.float32)
    change[24:40, 24:40] = (-40, -30, 10)  # skin is bright: darkening is not clipped
    result = paste_back(astronaut, box, change)
    np.testing.assert_array_equal(astronaut, before)  # input untouched
    difference = result.astype(np.int32) - astronaut
    changed = np.argwhere(difference.any(axis=2))
    # Only pixels within the changed square (16/64 of 160 px = 40 px, about the centre) moved...
    assert np.hypot(changed[:, 1] - 220, changed[:, 0] - 125).max() < 45
    # ...those in the middle by the full change...
    middle = difference[120:131, 215:226].reshape(-1, 3)
    assert (middle[:, 0] < -35).mean() > 0.9 and (middle[:, 1] < -25).mean() > 0.9
    # ...and everything far away is bitwise the original.
    far = np.ones(astronaut.shape[:2], bool)
    far[60:190, 150:290] = False
    np.testing.assert_array_equal(result[far], astronaut[far])


def test_mask_limits_and_feathers_the_change() -> None:
    photo = np.full((200, 200, 3), 100, np.uint8)
    box = CropBox(100, 100, 128)
    change = np.full((64, 64, 3), 50, np.float32)
    mask = np.zeros((64, 64), np.float32)
    mask[:, :32] = 1.0  # left half only
    result = paste_back(photo, box, change, mask).astype(np.int32)
    assert result[100, 70, 0] == 150 and result[100, 130, 0] == 100
    # The box (x, y 36-164) takes the whole change up to its border; beyond it the change fades out
    # over 8% of its side (10.24 px) instead of stopping at a seam, and further out nothing moves.
    assert result[100, 36, 0] == 150 and result[36, 36, 0] == 150
    np.testing.assert_array_equal(result[:25], 100)
    np.testing.assert_array_equal(result[:, :25], 100)
    edge_profile = result[100, 24:38, 0]
    assert edge_profile[0] == 100 and edge_profile[-1] == 150 and (np.diff(edge_profile) >= 0).all() and 100 < edge_profile[6] < 150
    sharp = paste_back(photo, box, change, feather=0.0).astype(np.int32)
    assert sharp[100, 37, 0] == 150


def test_box_outside_the_photo_changes_nothing() -> None:
    photo = _coordinate_photo()
    result = paste_back(photo, CropBox(-400, -400, 50), np.full((16, 16, 3), 9, np.float32))
    np.testing.assert_array_equal(result, photo)


def test_paste_back_validates_shapes() -> None:
    photo = _coordinate_photo()
    with pytest.raises(ValueError, match="RxRx3"):
        paste_back(photo, CropBox(50, 50, 40), np.zeros((16, 8, 3), np.float32))
    with pytest.raises(ValueError, match="mask must be 16x16"):
        paste_back(photo, CropBox(50, 50, 40), np.zeros((16, 16, 3), np.float32), np.ones((8, 8)))


# --- find_face ----------------------------------------------------------------------------------


def _contains(box: CropBox, x: float, y: float) -> bool:
    (ux, uy), (vx, vy) = box.axes
    dx, dy = x - box.center_x, y - box.center_y
    return abs(dx * ux + dy * uy) < box.size / 2 and abs(dx * vx + dy * vy) < box.size / 2


def test_finds_the_astronauts_face(astronaut_box: CropBox) -> None:
    box = astronaut_box
    assert _contains(box, FACE_X, FACE_Y)
    assert abs(box.center_x - FACE_X) < 15 and abs(box.center_y - FACE_Y) < 25
    assert 80 < box.size < 140  # eyebrows to chin, like CelebA's square
    assert abs(box.angle) < 8  # her head is nearly level (about 3 degrees)
    for x, y in [(190, 105), (250, 105), (220, 160)]:  # both eyes and the chin are in the crop
        assert _contains(box, x, y)


def test_finds_a_turned_face_and_its_roll(astronaut: np.ndarray, astronaut_box: CropBox) -> None:
    turned = _turned(astronaut, 20.0)
    box = find_face(turned)
    expected_x, expected_y = _turn_point(astronaut_box.center_x, astronaut_box.center_y, 20.0)
    assert math.hypot(box.center_x - expected_x, box.center_y - expected_y) < 15
    # The roll follows the turn (relative to her own slight tilt) within a few degrees.
    assert box.angle - astronaut_box.angle == pytest.approx(20.0, abs=5.0)
    assert box.size == pytest.approx(astronaut_box.size, rel=0.15)
    # The aligned crops of both look alike: alignment undid the turn.
    upright = crop_face(astronaut, astronaut_box, 64).astype(np.float64)
    realigned = crop_face(turned, box, 64).astype(np.float64)
    assert np.abs(upright - realigned).mean() < 20


def test_face_near_the_border(astronaut: np.ndarray) -> None:
    photo = astronaut[70:, 165:]  # forehead and left cheek close to the photo's top-left corner
    box = find_face(photo)
    assert _contains(box, FACE_X - 165, FACE_Y - 70)
    corners = box.corners()
    assert corners[:, 1].min() < 0 or corners[:, 0].min() < 0  # the CelebA square reaches past the edge
    crop = crop_face(photo, box, 64)
    assert crop.shape == (64, 64, 3)


def test_no_face_in_noise_or_flat_colour() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    for photo in (noise, np.full((300, 400, 3), 180, np.uint8), np.zeros((10, 12, 3), np.uint8)):
        with pytest.raises(NoFaceError, match="No face found") as caught:
            find_face(photo)
        assert "use the whole image" in str(caught.value)


def test_crop_config_changes_the_framing(astronaut: np.ndarray, astronaut_box: CropBox) -> None:
    wider = find_face(astronaut, CropConfig(size=0.8, center_x=0.5, center_y=0.5))
    assert wider.size == pytest.approx(astronaut_box.size * 0.8 / CropConfig().size, rel=1e-6)
    assert wider.angle == astronaut_box.angle
    assert wider.center_y < astronaut_box.center_y  # a centred square sits higher than CelebA's


# Where the astronaut's eyes are, located by eye on a 4x enlargement (pupil centres).
ASTRONAUT_EYES = np.array([[203.0, 101.0], [245.0, 102.5]])
# CelebA's mean eye positions in its 178x218 aligned photos (list_landmarks_align_celeba: about
# (69, 111) and (108, 111)), in units of the 108 px crop square centred at (89, 121).
CELEBA_EYES = (np.array([[69.0, 111.0], [108.0, 111.0]]) - (89 - 54, 121 - 54)) / 108


def test_astronaut_crop_puts_the_eyes_where_celeba_has_them(astronaut_box: CropBox) -> None:
    eyes_in_crop = astronaut_box.to_crop(ASTRONAUT_EYES)
    np.testing.assert_allclose(eyes_in_crop, CELEBA_EYES, atol=0.05)


def test_a_small_edit_on_a_large_photo_touches_only_its_region():
    """A brush-sized edit on a 24-megapixel photo edited as a whole image: paste_back works on the
    mask's support, not float copies of the whole box (79 MP used to peak at 5.4 GB)."""
    import tracemalloc

    from npe.data.faces import paste_back

    photo = np.full((4000, 6000, 3), 128, np.uint8)
    box = CropBox.whole_image(6000, 4000)  # a 4000 px square: 62.5 photo px per crop pixel
    change = np.zeros((64, 64, 3), np.float32)
    change[40:46, 20:40] = 60.0
    mask = np.zeros((64, 64), np.float32)
    mask[38:48, 18:42] = 1.0
    tracemalloc.start()
    try:
        result = paste_back(photo, box, change, mask)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    changed = (result != photo).any(axis=2)
    rows, cols = np.flatnonzero(changed.any(axis=1)), np.flatnonzero(changed.any(axis=0))
    assert changed.sum() > 100_000  # the edit is there...
    # ...inside the mask's support (crop rows 38-48, cols 18-42, plus the upsampling's spread)
    left, top = 1000 + 16 * 62.5, 0 + 36 * 62.5
    assert cols[0] >= left and cols[-1] <= 1000 + 44 * 62.5 and rows[0] >= top and rows[-1] <= 50 * 62.5
    assert peak < photo.nbytes + 150_000_000  # the result's copy plus a region; the whole box took 5x more
