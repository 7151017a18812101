"""npe.geometry against hand-worked cases: the face square's dict form and corners, the box <-> crop
affine (both directions, rotated or not), the similarity fit, and the border fade's smoothstep."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from npe.data.faces import crop_face
from npe.geometry import CropBox, border_fade, fit_similarity, smoothstep

R = 16


# --- the square -------------------------------------------------------------------------------


def test_crop_box_round_trips_through_a_dict() -> None:
    box = CropBox(12.5, 40.0, 99.0, -7.5)
    assert CropBox.from_dict(box.to_dict()) == box
    assert CropBox.from_dict({"center_x": 1, "center_y": 2, "size": 3}) == CropBox(1.0, 2.0, 3.0, 0.0)
    with pytest.raises(ValueError, match="not a valid face box"):
        CropBox.from_dict({"center_x": 1, "center_y": 2})
    with pytest.raises(ValueError, match="size must be positive"):
        CropBox.from_dict({"center_x": 1, "center_y": 2, "size": -3})


def test_crop_box_corners_turn_with_the_angle() -> None:
    assert CropBox.whole_image(300, 200) == CropBox(150.0, 100.0, 200.0)
    np.testing.assert_allclose(CropBox(0, 0, 2).corners(), [[-1, -1], [1, -1], [1, 1], [-1, 1]])
    # A head rolled 90 degrees counter-clockwise: the top of the face points left (-x).
    top_left, top_right = CropBox(0, 0, 2, 90).corners()[:2]
    np.testing.assert_allclose((top_left + top_right) / 2, [-1, 0], atol=1e-12)


def test_corners_are_tl_tr_br_bl_as_seen_in_the_crop() -> None:
    # A head rolled 90 degrees counter-clockwise: the crop's top edge lies along the photo's left
    # side, so its top-left corner is the photo's bottom-left of the square (hand-worked).
    box = CropBox(10.0, 20.0, 4.0, 90.0)
    np.testing.assert_allclose(box.corners(), [[8, 22], [8, 18], [12, 18], [12, 22]], atol=1e-12)
    # And crop_face agrees: the crop's top-left pixel samples the photo near corners()[0].
    ys, xs = np.mgrid[0:60, 0:60]
    photo = np.stack([xs * 4, ys * 4, np.full_like(xs, 128)], axis=2).astype(np.uint8)
    box = CropBox(30.0, 30.0, 40.0, 30.0)
    crop = crop_face(photo, box, 40)
    for (row, col), corner in zip([(0, 0), (0, 39), (39, 39), (39, 0)], box.corners()):
        sampled = crop[row, col, :2].astype(float) / 4 + 0.5  # pixel centre -> continuous coordinate
        assert math.dist(sampled, corner) < 1.5


def test_pixel_bounds_clip_the_square_to_the_photo() -> None:
    assert CropBox(10.0, 10.0, 8.0).pixel_bounds(100, 100) == (6, 6, 14, 14)
    assert CropBox(2.5, 3.5, 8.0).pixel_bounds(100, 100) == (0, 0, 7, 8)  # floor/ceil of -1.5..6.5, -0.5..7.5
    assert CropBox(-20.0, 10.0, 8.0).pixel_bounds(100, 100) is None


# --- the affine map ------------------------------------------------------------------------------


def test_crop_and_photo_maps_are_inverse_and_rebuild_the_box() -> None:
    box = CropBox(123.4, 56.7, 89.0, -21.0)
    product = box.photo_to_crop(64) @ box.crop_to_photo(64)
    np.testing.assert_allclose(product, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(box.to_photo([(32, 32)], 64), [[123.4, 56.7]])
    rebuilt = CropBox.from_matrix(box.crop_to_photo(64), 64)
    assert rebuilt.center_x == pytest.approx(123.4) and rebuilt.size == pytest.approx(89.0)
    assert rebuilt.angle == pytest.approx(-21.0)


def test_photo_to_crop_by_hand() -> None:
    box = CropBox(70.0, 50.0, 40.0)  # 40 photo px -> 16 crop px: 0.4 crop px per photo px
    np.testing.assert_allclose(box.to_crop([(50.0, 30.0), (80.0, 45.0), (70.0, 50.0)], R), [[0.0, 0.0], [12.0, 6.0], [8.0, 8.0]], atol=1e-12)
    turned = CropBox(70.0, 50.0, 40.0, 90.0)  # the crop's x axis points up the photo
    np.testing.assert_allclose(turned.to_crop([(70.0, 40.0)], R), [[12.0, 8.0]], atol=1e-12)
    np.testing.assert_allclose(turned.to_photo([(12.0, 8.0)], R), [[70.0, 40.0]], atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 30.0, -75.0])
def test_crop_positions_go_to_the_photo_and_back(angle: float) -> None:
    box = CropBox(70.0, 50.0, 40.0, angle)
    crop_points = np.array([[0.0, 0.0], [16.0, 16.0], [3.5, 12.25], [8.0, 8.0]])
    photo_points = box.to_photo(crop_points, R)
    # Each crop step of one pixel is size / R = 2.5 photo pixels along the box's axes.
    (ux, uy), (vx, vy) = box.axes
    expected = np.array([[70.0, 50.0]]) + 2.5 * ((crop_points[:, :1] - 8) * [ux, uy] + (crop_points[:, 1:] - 8) * [vx, vy])
    np.testing.assert_allclose(photo_points, expected, atol=1e-9)
    np.testing.assert_allclose(box.to_crop(photo_points, R), crop_points, atol=1e-9)


def test_fit_similarity_recovers_a_known_transform() -> None:
    angle, scale, shift = math.radians(25.0), 3.5, np.array([40.0, -7.0])
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    source = np.array([[0, 0], [1, 0], [0, 2], [3, 1], [-1, 4]], dtype=float)
    target = source @ rotation.T + shift
    matrix = fit_similarity(source, target, [1, 1, 0.5, 1, 1])
    np.testing.assert_allclose(matrix[:2, :2], rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:2, 2], shift, atol=1e-9)


# --- the border fade -------------------------------------------------------------------------------


def test_smoothstep_has_known_values_for_arrays_and_tensors() -> None:
    t = [-1.0, 0.0, 0.25, 0.5, 1.0, 2.0]
    expected = [0.0, 0.0, 0.15625, 0.5, 1.0, 1.0]  # 3t^2 - 2t^3 = 3/16 - 2/64 at t = 1/4
    assert smoothstep(np.array(t)).tolist() == expected
    assert smoothstep(torch.tensor(t)).tolist() == expected


def test_border_fade_is_one_inside_the_box_and_eases_to_zero_beyond_it() -> None:
    # Along the middle row of a 16-pixel crop: the inset is u itself near the left edge, negative outside.
    u = np.array([-5.0, -3.0, -2.0, -1.0, 0.0, 1.0, 8.0, 15.0, 17.0], dtype=np.float32)
    v = np.full_like(u, 8.0)
    fade = border_fade(u, v, R, 0.25)  # a fade over 4 crop pixels beyond the box
    assert fade.dtype == np.float32
    np.testing.assert_allclose(fade, [0.0, 0.15625, 0.5, 0.84375, 1.0, 1.0, 1.0, 1.0, 0.84375])
    assert border_fade(u, v, R, 0.0).tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]  # no feather: inside or not
