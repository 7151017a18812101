"""npe.editing.compose with closed forms: the crop composite with a partial protect mask, the
preview compositor on a constant change (where bicubic sampling is exact, so every pixel is known:
photo + the change inside the box, the photo outside), its border fade, display scales, protect
windows, the box's rotation and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from npe.editing.compose import (
    FEATHER,
    PIXEL_UNITS,
    PreviewCompositor,
    crop_composite,
    feather_for,
    full_result,
    gaussian_kernel,
)
from npe.geometry import CropBox

R = 16
STEP = 0.1  # a constant change of 0.1 model units: 12.75 levels, so photo + change never rounds at a tie


def constant_change(value: float = STEP) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((1, 3, R, R), value), torch.ones(R, R)


def textured_photo(height: int = 120, width: int = 160) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.stack([(xx * 3) % 200, (yy * 5) % 200, (xx + yy) % 200], axis=2).astype(np.uint8) + 20


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --- the crop composite ---------------------------------------------------------------------------


def test_crop_composite_scales_the_change_by_the_unprotected_share():
    crop = np.full((2, 2, 3), 100, np.uint8)
    delta = torch.full((1, 3, 2, 2), 0.2)  # 25.5 levels
    mask = torch.tensor([[1.0, 0.5], [1.0, 1.0]])
    protect = np.array([[0.0, 0.0], [0.5, 1.0]])
    out = crop_composite(crop, delta, mask, protect)
    assert out.dtype == np.uint8
    # 100 + M (1 - P) 25.5: 125.5 -> 126 (rint to even), 112.75 -> 113, 112.75 -> 113, and 100 kept.
    assert out[..., 0].tolist() == [[126, 113], [113, 100]]
    assert crop_composite(crop, delta, mask, None)[..., 0].tolist() == [[126, 113], [126, 126]]
    clipped = crop_composite(np.full((1, 1, 3), 250, np.uint8), torch.full((1, 3, 1, 1), 0.5), torch.ones(1, 1), None)
    assert clipped.tolist() == [[[255, 255, 255]]]


def test_full_result_restores_protected_pixels_and_feathers_by_the_given_amount():
    photo = np.full((40, 40, 3), 100, np.uint8)
    box = CropBox(20.0, 20.0, 32.0)
    delta, mask = constant_change()
    protect = np.zeros((40, 40), bool)
    protect[20, 20] = True
    sharp = full_result(photo, box, delta, mask, protect, feather=0.0)
    assert sharp[20, 20].tolist() == [100] * 3 and sharp[20, 21].tolist() == [113] * 3
    assert sharp[4, 4].tolist() == [113] * 3 and sharp[3, 3].tolist() == [100] * 3  # the box starts at 4
    soft = full_result(photo, box, delta, mask, None)
    # The box's own pixels take the whole change; it fades out beyond the box, over 8% of its side (2.56 px).
    assert soft[4, 4].tolist() == [113] * 3 and soft[20, 20].tolist() == [113] * 3
    profile = soft[:5, 20, 0].astype(int)  # rows 0-4 down the middle: from beyond the fade into the box
    assert profile[0] == 100 and profile[4] == 113 and 100 < profile[2] < profile[3] < 113
    np.testing.assert_array_equal(soft[:1], 100)  # beyond the fade: untouched


def test_gaussian_kernel_is_normalised_with_radius_three_sigma():
    kernel = gaussian_kernel(1.5)
    assert kernel.numel() == 2 * math.ceil(4.5) + 1 and float(kernel.sum()) == pytest.approx(1.0)
    positions = np.arange(-5, 6)
    expected = np.exp(-0.5 * (positions / 1.5) ** 2)
    np.testing.assert_allclose(kernel.numpy(), expected / expected.sum(), rtol=1e-6)
    assert gaussian_kernel(0.2).numel() == 3  # radius at least 1


def test_feather_only_when_the_box_leaves_part_of_the_photo():
    assert feather_for((64, 64), CropBox(32.0, 32.0, 64.0)) == 0.0
    assert feather_for((64, 48), CropBox(32.0, 24.0, 64.0)) == 0.0  # a square over a landscape crop
    assert feather_for((64, 64), CropBox(32.0, 32.0, 60.0)) == FEATHER
    assert feather_for((64, 64), CropBox(33.0, 32.0, 64.0)) == FEATHER  # misses column 0
    assert feather_for((64, 64), CropBox(32.0, 32.0, 100.0, 90.0)) == 0.0  # a quarter turn is still axis-aligned
    assert feather_for((64, 64), CropBox(32.0, 32.0, 100.0, 30.0)) == FEATHER
    assert feather_for((64, 64), CropBox(32.0, 32.0, 100.0, 0.5)) == FEATHER  # half a degree off is a seam


# --- photo <-> crop ---------------------------------------------------------------------------------


# --- the preview compositor -------------------------------------------------------------------------


def test_a_constant_change_shows_exactly_inside_the_box_and_nowhere_else():
    photo = textured_photo()
    compositor = PreviewCompositor(photo, CropBox(80.0, 60.0, 40.0), R, feather=0.0)
    out = compositor.render(*constant_change())
    assert out.shape == photo.shape and out.dtype == np.uint8 and out is not photo
    expected = photo.copy()
    expected[40:80, 60:100] += 13  # 12.75 levels rounded
    np.testing.assert_array_equal(out, expected)
    assert compositor.size(1.0) == (160, 120) and compositor.size(0.001) == (1, 1)


def test_the_border_fade_is_a_smoothstep_of_the_inset():
    photo = np.full((60, 80, 3), 50, np.uint8)
    box = CropBox(40.0, 30.0, 40.0)
    out = PreviewCompositor(photo, box, R, feather=0.25).render(*constant_change()).astype(float)
    x = np.arange(80) + 0.5
    u = R / 2 + (x - 40.0) * R / 40.0
    inset = np.minimum(u, R - u)
    ramp = smoothstep(1.0 + inset / (0.25 * R))  # 1 inside the box, easing to 0 over 10 px beyond it
    # Along row 30 (v = 8.25: far from the top and bottom edges), the change fades with u alone.
    np.testing.assert_allclose(out[30, :, 0], np.rint(50 + ramp * 12.75), atol=1.0)
    assert out[30, 40, 0] == 63 and out[30, 20, 0] == 63  # the box's own pixels, its edge too, take it all
    assert out[30, 9, 0] == 50 and 50 < out[30, 14, 0] < out[30, 17, 0] < 63  # fading beyond the box


def test_a_box_edge_between_pixel_centres_is_trimmed_not_misaligned():
    photo = textured_photo()
    box = CropBox(80.6, 60.6, 40.0)  # edges at 60.6 / 100.6: pixel 60 (centre 60.5) lies outside
    out = PreviewCompositor(photo, box, R, feather=0.0).render(*constant_change())
    expected = photo.copy()
    expected[41:81, 61:101] += 13
    np.testing.assert_array_equal(out, expected)


def test_a_half_scale_preview_scales_the_photo_and_the_box():
    photo = np.full((120, 160, 3), 90, np.uint8)
    photo[::2] = 110  # stripes: a BOX filter averages them to 100
    compositor = PreviewCompositor(photo, CropBox(80.0, 60.0, 40.0), R, feather=0.0)
    half = compositor.render(*constant_change(), scale=0.5)
    assert half.shape == (60, 80, 3)
    expected = np.full((60, 80, 3), 100, np.uint8)
    expected[20:40, 30:50] = 113
    np.testing.assert_array_equal(half, expected)
    np.testing.assert_array_equal(compositor.render(*constant_change(), scale=1.0)[::2, :30], photo[::2, :30])


def test_many_scales_stay_correct_as_old_ones_are_dropped():
    photo = np.full((40, 40, 3), 60, np.uint8)
    compositor = PreviewCompositor(photo, CropBox(20.0, 20.0, 20.0), R, feather=0.0)
    delta, mask = constant_change()
    for scale in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 0.5, 1.0):
        out = compositor.render(delta, mask, scale)
        side = round(40 * scale)
        assert out.shape == (side, side, 3)
        assert out[side // 2, side // 2].tolist() == [73] * 3 and out[0, 0].tolist() == [60] * 3


def test_a_rotated_box_preview_matches_the_exact_result():
    photo = textured_photo()
    box = CropBox(80.0, 60.0, 48.0, 30.0)
    delta = torch.zeros(1, 3, R, R)
    delta[:, :, 4:12, 2:6] = 0.3  # a change off the box's centre: only the right rotation puts it there
    mask = torch.ones(R, R)
    preview = PreviewCompositor(photo, box, R, feather=0.0).render(delta, mask).astype(int)
    exact = full_result(photo, box, delta, mask, None, feather=0.0).astype(int)
    changed = np.abs(exact - photo.astype(int)).max(axis=2) > 10
    assert changed.sum() > 150
    assert np.abs(preview - exact)[changed].mean() < 4.0
    assert np.abs(preview - exact).mean() < 0.5


def test_a_box_outside_the_photo_or_only_grazing_it_changes_nothing():
    photo = textured_photo()
    delta, mask = constant_change()
    for feather in (0.0, FEATHER):
        np.testing.assert_array_equal(PreviewCompositor(photo, CropBox(-100.0, 60.0, 40.0), R, feather=feather).render(delta, mask), photo)
    grazing = CropBox(-19.7, 60.0, 40.0)  # covers x < 0.3; its fade reaches x < 0.3 + 0.08 * 40 = 3.5
    np.testing.assert_array_equal(PreviewCompositor(photo, grazing, R, feather=0.0).render(delta, mask), photo)
    faded = PreviewCompositor(photo, grazing, R, feather=FEATHER).render(delta, mask)
    np.testing.assert_array_equal(faded[:, 4:], photo[:, 4:])
    np.testing.assert_array_equal(faded[:35], photo[:35])  # above the box and its fade (y < 40 - 3.2)


def test_protected_pixels_keep_the_photo_and_a_new_protect_mask_replaces_the_old():
    photo = textured_photo()
    compositor = PreviewCompositor(photo, CropBox(40.0, 60.0, 80.0), R, feather=0.0)  # covers x 0-80
    delta, mask = constant_change()
    first = np.zeros(photo.shape[:2], bool)
    first[30:50, 0] = True  # the photo's first column: kept at full scale
    first[60:70, 20:30] = True
    compositor.set_protect(first)
    out = compositor.render(delta, mask)
    expected = photo.copy()
    expected[20:100, 0:80] += 13
    expected[first] = photo[first]
    np.testing.assert_array_equal(out, expected)
    # Another mask: the old one no longer holds, the new one does.
    second = np.zeros(photo.shape[:2], bool)
    second[25:35, 40:50] = True
    compositor.set_protect(second)
    expected = photo.copy()
    expected[20:100, 0:80] += 13
    expected[second] = photo[second]
    np.testing.assert_array_equal(compositor.render(delta, mask), expected)
    compositor.set_protect(np.zeros(photo.shape[:2], bool))  # an empty mask protects nothing
    assert np.all(compositor.render(delta, mask)[20:100, 0:80] == photo[20:100, 0:80] + 13)


def test_at_half_scale_a_display_pixel_is_protected_by_its_nearest_photo_pixel():
    photo = np.full((120, 160, 3), 100, np.uint8)
    compositor = PreviewCompositor(photo, CropBox(40.0, 60.0, 80.0), R, feather=0.0)
    protect = np.zeros(photo.shape[:2], bool)
    protect[41, 1] = protect[61, 21] = True  # the centres of display pixels (20, 0) and (30, 10)
    protect[40, 40] = True  # not a display pixel's centre: no effect at half scale
    compositor.set_protect(protect)
    half = compositor.render(*constant_change(), scale=0.5)
    expected = np.full((60, 80, 3), 100, np.uint8)
    expected[10:50, 0:40] = 113
    expected[20, 0] = expected[30, 10] = 100
    np.testing.assert_array_equal(half, expected)


def test_the_sampled_mask_never_exceeds_one():
    """Bicubic sampling overshoots at a sharp edge of M; the weight is clamped to [0, 1], so the
    preview never shows more than the change itself (here + 12.75 levels) or less than the photo."""
    photo = np.full((80, 80, 3), 100, np.uint8)
    delta = torch.full((1, 3, R, R), STEP)
    mask = torch.zeros(R, R)
    mask[:, R // 2 :] = 1.0  # a hard edge down the middle of the crop
    out = PreviewCompositor(photo, CropBox(40.0, 40.0, 80.0), R, feather=0.0).render(delta, mask).astype(int)
    assert out.max() == 113 and out.min() == 100
    # Without the clamp the overshoot would show: the unclamped bicubic mask does exceed 1 here.
    source = mask[None, None]
    x = (torch.arange(80, dtype=torch.float64) + 0.5) / 80 * 2 - 1
    grid = torch.stack(torch.meshgrid(x, x, indexing="xy"), dim=-1).float()[None]
    overshoot = torch.nn.functional.grid_sample(source, grid, mode="bicubic", padding_mode="border", align_corners=False)
    assert float(overshoot.max()) * STEP * PIXEL_UNITS > 13.5


def test_the_photos_first_row_and_column_can_be_protected():
    photo = textured_photo()
    compositor = PreviewCompositor(photo, CropBox(40.0, 40.0, 80.0), R, feather=0.0)  # covers x, y 0-80
    protect = np.zeros(photo.shape[:2], bool)
    protect[0, 10:20] = protect[30:40, 0] = True
    compositor.set_protect(protect)
    out = compositor.render(*constant_change())
    expected = photo.copy()
    expected[0:80, 0:80] += 13
    expected[protect] = photo[protect]
    np.testing.assert_array_equal(out, expected)


def test_without_blur_the_mask_is_the_gained_mean_change():
    from npe.editing.compose import MaskSettings, change_mask

    delta = torch.zeros(1, 3, 4, 4)
    delta[0, :, 1, 2] = torch.tensor([0.03, -0.06, 0.0])  # mean |Δ| 0.03
    delta[0, 0, 3, 3] = 0.9  # mean |Δ| 0.3: saturates
    mask = change_mask(delta, MaskSettings(sigma=0.0, gain=10.0))
    expected = torch.zeros(4, 4)
    expected[1, 2], expected[3, 3] = 0.3, 1.0
    torch.testing.assert_close(mask, expected)


# --- what lies in front: a darkening change hides the photo's own detail under a cover ---------------


def test_covered_detail_scales_the_photos_detail_by_the_darkening_where_covered():
    from npe.data.faces import covered_detail

    low = np.full((2, 3, 3), 100.0, np.float32)
    window = low + np.array([10.0, -10.0, 10.0], np.float32)[None, :, None]  # +-10 levels of fine detail
    darker = np.full((2, 3, 3), -60.0, np.float32)  # 60% darker: 40% of the detail shows
    cover = np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], np.float32)
    out = covered_detail(window, low, darker, cover)
    np.testing.assert_allclose(out[0] - (low[0] + darker[0]), (window[0] - low[0]) * 0.4, atol=1e-4)
    np.testing.assert_allclose(out[1], window[1] + darker[1])  # not covered: the plain composite
    lighter = -darker
    np.testing.assert_allclose(covered_detail(window, low, lighter, cover), window + lighter)  # lightening hides nothing
    black = np.full((2, 3, 3), -200.0, np.float32)
    np.testing.assert_allclose(covered_detail(window, low, black, cover)[0], low[0] + black[0], atol=1e-4)  # nothing shows


def test_the_preview_and_the_export_hide_the_same_detail_under_a_cover():
    photo = textured_photo()
    box = CropBox(80.0, 60.0, 40.0)
    crop = np.full((R, R, 3), 120, np.uint8)  # as the model sees the photo: no fine detail at all
    place = np.zeros((R, R), np.float32)
    place[4:12, 4:12] = 1.0
    place.setflags(write=False)  # as parts.lens_map's cached maps are
    darker = torch.full((1, 3, R, R), -0.6)  # about 77 levels darker everywhere
    mask = torch.ones(R, R)
    plain = full_result(photo, box, darker, mask, None, feather=0.0)
    covered = full_result(photo, box, darker, mask, None, feather=0.0, cover=(crop, place))
    preview = PreviewCompositor(photo, box, R, feather=0.0, cover=(crop, place)).render(darker, mask)
    inside = (slice(52, 68), slice(72, 88))  # well within the covered square (crop 4-12 -> photo 50-70, 70-90)
    outside = (slice(40, 45), slice(60, 100))
    # Under the cover the photo's texture shows at 1 - 77/120 of its contrast; elsewhere all of it.
    assert covered[inside].astype(float).std() < 0.5 * plain[inside].astype(float).std()
    np.testing.assert_array_equal(covered[outside], plain[outside])
    assert np.abs(preview.astype(int) - covered.astype(int)).max() <= 3
    assert np.array_equal(full_result(photo, box, darker, mask, None, feather=0.0, cover=(crop, np.zeros_like(place))), plain)


# --- an object's outline: where the reach is a pair of sunglasses' lenses, their edge is drawn crisp ---------


def test_outline_factor_steepens_the_reach_about_its_half_level_where_held():
    from npe.data.faces import outline_factor

    reach = np.linspace(0.0, 1.0, 101, dtype=np.float32)[None]
    held = np.ones_like(reach)
    weighted = reach * outline_factor(reach, held, 4.0)
    assert weighted[0, 0] == 0.0 and weighted[0, -1] == pytest.approx(1.0)
    assert weighted[0, 50] == pytest.approx(0.5, abs=1e-6)  # the edge stays where the reach is half
    assert (np.diff(weighted[0]) >= -1e-6).all()  # still a ramp up
    assert weighted[0, 30] == 0.0 and weighted[0, 70] == pytest.approx(1.0)  # 4x steeper: 0.375-0.625
    np.testing.assert_allclose(outline_factor(reach, np.zeros_like(reach), 4.0), 1.0)  # not held: as it was
    np.testing.assert_allclose(reach * outline_factor(reach, held, 0.5), reach, atol=1e-6)  # never softer than upsampled


def _edge_width(row: np.ndarray) -> int:
    """Pixels over which a change along a row rises from 10% to 90% of its largest value."""
    change = np.abs(row)
    top = change.max()
    return int(np.argmax(change >= 0.9 * top)) - int(np.argmax(change >= 0.1 * top))


def test_a_held_outline_is_drawn_crisp_at_the_photos_resolution_in_the_export_and_the_preview():
    photo = np.full((200, 240, 3), 150, np.uint8)
    box = CropBox(120.0, 100.0, 160.0)  # 10 photo pixels per crop pixel
    yy, xx = (np.mgrid[0:R, 0:R] + 0.5) / R
    reach = np.clip((1.25 - np.hypot((xx - 0.5) / 0.3, (yy - 0.5) / 0.2)) / 0.25, 0.0, 1.0).astype(np.float32)  # a soft lens
    darker = torch.full((1, 3, R, R), -0.6)
    mask = torch.from_numpy(reach)
    held = (reach > 0).astype(np.float32)
    soft = full_result(photo, box, darker, mask, None, feather=0.0)
    crisp = full_result(photo, box, darker, mask, None, feather=0.0, outline=(reach, held))
    preview = PreviewCompositor(photo, box, R, feather=0.0).render(darker, mask, outline=(reach, held))
    row = crisp.astype(int)[100, :, 0] - 150
    assert _edge_width(soft.astype(int)[100, :120, 0] - 150) >= 15  # the lens's soft edge, upsampled
    assert _edge_width(row[:120]) <= 8  # 0.6 x 10 = 6 times steeper
    # The edge lies where the reach is half, and the lens is as dark inside as before.
    assert crisp[100, 120, 0] == soft[100, 120, 0]
    assert np.abs(preview.astype(int) - crisp.astype(int)).max() <= 12 and np.abs(preview.astype(int) - crisp.astype(int)).mean() < 0.5
    # Nothing held: the export is bit for bit the plain one; held nowhere near the change: likewise.
    assert np.array_equal(full_result(photo, box, darker, mask, None, feather=0.0, outline=(reach, np.zeros_like(held))), soft)
