"""Paint augmentation (npe.train.paint): the marks the paint-robust judge is trained against."""

from __future__ import annotations

import numpy as np
import pytest

from npe.train.paint import CONFUSERS, PaintSettings, confuser_mark, mark_alpha, paint_batch, paint_marks


def _faces(count: int = 24, size: int = 64) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(60, 200, (count, size, size, 3), dtype=np.uint8)


def test_only_the_chosen_images_change_and_only_under_their_marks():
    images = _faces()
    before = images.copy()
    out, painted = paint_batch(images, np.random.default_rng(1), PaintSettings(probability=0.5))
    np.testing.assert_array_equal(images, before)  # the inputs are not touched
    assert 0 < painted.sum() < len(images)
    for index in range(len(images)):
        if not painted[index]:
            np.testing.assert_array_equal(out[index], images[index])
        else:
            assert np.abs(out[index].astype(int) - images[index].astype(int)).max() > 20


def test_marks_change_pixels_only_where_they_cover():
    image = _faces(1)[0]
    painted, coverage = paint_marks(image, np.random.default_rng(3))
    changed = np.abs(painted.astype(int) - image.astype(int)).max(axis=2) > 0
    assert changed.any()
    assert not changed[coverage == 0].any()  # nothing outside the marks' coverage moves
    assert 0.0 <= coverage.min() and coverage.max() <= 1.0


def test_the_same_seed_paints_the_same_marks():
    images = _faces(8)
    first, _ = paint_batch(images, np.random.default_rng(7), PaintSettings(probability=1.0))
    again, _ = paint_batch(images, np.random.default_rng(7), PaintSettings(probability=1.0))
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("seed", range(6))
def test_confusers_cross_their_face_part(seed):
    """Each confusing mark (white over the mouth, dark over the eyes...) covers the point it names."""
    image = _faces(1)[0]
    rng = np.random.default_rng(seed)
    for _ in range(20):
        alpha, colour = confuser_mark(image, rng)
        y, x = np.unravel_index(np.argmax(alpha), alpha.shape)
        parts = np.array([part for part, _ in CONFUSERS]) * 64
        assert np.min(np.hypot(parts[:, 0] - (x + 0.5), parts[:, 1] - (y + 0.5))) < 64 * 0.35
        assert colour.shape == (3,) and 0 <= colour.min() and colour.max() <= 255


def test_hard_and_soft_edges_and_opacity_stay_in_range():
    rng = np.random.default_rng(5)
    for _ in range(50):
        alpha = mark_alpha(64, rng)
        assert alpha.dtype == np.float32 and alpha.min() >= 0.0 and alpha.max() <= 1.0
