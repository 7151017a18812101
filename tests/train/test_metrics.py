"""Image-quality measures (npe.train.metrics): PSNR, SSIM, sharpness, sliced Wasserstein distance, PCA baseline."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.color import rgb2gray
from skimage.filters import laplace
from skimage.metrics import peak_signal_noise_ratio

from npe.train import metrics


def _textured(count: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Images with detail at every scale: smoothed noise plus fine noise, uint8."""
    rng = np.random.default_rng(seed)
    coarse = ndimage.gaussian_filter(rng.normal(0, 1, (count, size, size, 3)), sigma=(0, 2, 2, 0)) * 400
    fine = rng.normal(0, 20, (count, size, size, 3))
    return np.clip(128 + coarse + fine, 0, 255).astype(np.uint8)


def _blurred(images: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    smooth = ndimage.gaussian_filter(images.astype(np.float64), sigma=(0, sigma, sigma, 0))
    return np.clip(np.rint(smooth), 0, 255).astype(np.uint8)


def _blobs(count: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """Smooth coloured ellipses on flat backgrounds: a distribution unlike `_textured`."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.empty((count, size, size, 3), np.uint8)
    for index in range(count):
        image = np.broadcast_to(rng.uniform(0, 255, 3), (size, size, 3)).copy()
        cx, cy, rx, ry = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.3), rng.uniform(0.15, 0.3)
        image[((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1] = rng.uniform(0, 255, 3)
        images[index] = image.astype(np.uint8)
    return images


# --- PSNR, SSIM, sharpness ----------------------------------------------------------------


def test_identical_images_score_perfectly_and_stay_finite():
    images = _textured(4)
    assert metrics.psnr(images, images) == metrics.MAX_PSNR
    assert metrics.ssim(images, images) == pytest.approx(1.0)
    assert metrics.sharpness_ratio(images, images) == pytest.approx(1.0)


def test_psnr_matches_skimage_per_image_and_averages():
    originals = _textured(3, seed=1)
    noisy = np.clip(originals + np.random.default_rng(2).normal(0, 10, originals.shape), 0, 255).astype(np.uint8)
    expected = [peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(originals, noisy)]
    np.testing.assert_allclose(metrics.psnr_per_image(originals, noisy), expected)
    assert metrics.psnr(originals, noisy) == pytest.approx(np.mean(expected))
    assert 20 < metrics.psnr(originals, noisy) < 35


def test_ssim_drops_for_degraded_images():
    originals = _textured(3)
    assert metrics.ssim(originals, _blurred(originals)) < 0.9
    assert metrics.ssim(originals, 255 - originals) < 0.2


def test_laplacian_energy_matches_skimage_laplace_per_image():
    images = _textured(3)
    expected = [np.mean(np.square(laplace(rgb2gray(image)))) for image in images]
    np.testing.assert_allclose(metrics.laplacian_energy(images), expected, rtol=1e-10)


def test_sharpness_of_a_blurred_copy_is_well_below_one():
    originals = _textured(4)
    blurry = metrics.sharpness_ratio(originals, _blurred(originals, 1.5))
    assert blurry < 0.3
    assert metrics.sharpness_ratio(originals, _blurred(originals, 0.7)) > blurry
    noisy = np.clip(originals + np.random.default_rng(0).normal(0, 30, originals.shape), 0, 255).astype(np.uint8)
    assert metrics.sharpness_ratio(originals, noisy) > 1.0


@pytest.mark.parametrize(
    "bad",
    [np.zeros((2, 8, 8, 3), np.float32), np.zeros((2, 8, 8), np.uint8), np.zeros((0, 8, 8, 3), np.uint8)],
    ids=["float", "gray", "empty"],
)
def test_images_must_be_uint8_rgb_stacks(bad):
    with pytest.raises(ValueError):
        metrics.psnr(bad, bad)


def test_pairs_must_match_in_shape():
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.ssim(_textured(2), _textured(3))


# --- sliced Wasserstein distance ----------------------------------------------------------


def test_swd_levels_stop_at_16_pixels():
    assert metrics.swd_resolutions(64) == [64, 32, 16]
    assert metrics.swd_resolutions(16) == [16]
    assert metrics.swd_resolutions(8) == []


def test_laplacian_pyramid_reconstructs_the_image():
    images = _textured(2)
    pyramid = metrics.laplacian_pyramid(images, 2)
    assert [tuple(level.shape) for level in pyramid] == [(2, 3, 32, 32), (2, 3, 16, 16)]
    # cv2.pyrUp by hand: zeros between pixels, then 4x the 5x5 binomial with mirror borders.
    coarse = pyramid[1].numpy().astype(np.float64)
    upsampled = np.zeros((2, 3, 32, 32))
    upsampled[:, :, ::2, ::2] = coarse
    kernel = 4 * np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1])[None, None] / 256.0
    rebuilt = ndimage.convolve(upsampled, kernel, mode="mirror") + pyramid[0].numpy()
    np.testing.assert_allclose(rebuilt.transpose(0, 2, 3, 1), images, atol=1e-3)


def test_pyramid_matches_the_reference_filtering():
    """cv2.pyrDown/pyrUp semantics as in the Progressive GAN code: 5x5 binomial, mirror borders."""
    images = _textured(2, size=16)
    kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1])[None, None] / 256.0
    batch = images.transpose(0, 3, 1, 2).astype(np.float64)
    down = ndimage.convolve(batch, kernel, mode="mirror")[:, :, ::2, ::2]
    zeros = np.zeros_like(batch)
    zeros[:, :, ::2, ::2] = down
    up = ndimage.convolve(zeros, kernel * 4, mode="mirror")
    pyramid = metrics.laplacian_pyramid(images, 2)
    np.testing.assert_allclose(pyramid[1].numpy(), down, atol=1e-3)
    np.testing.assert_allclose(pyramid[0].numpy(), batch - up, atol=1e-3)


def test_swd_separates_distributions_and_is_deterministic():
    first, second, other = _textured(40, seed=1), _textured(40, seed=2), _blobs(40, seed=3)
    same = metrics.sliced_wasserstein(first, second, seed=0)
    different = metrics.sliced_wasserstein(first, other, seed=0)
    assert len(same) == len(different) == 2  # 32 px and 16 px
    assert 0 < same[0] * 5 < different[0]  # fine detail: noise vs flat regions and sharp edges
    assert 0 < same[1] * 2 < different[1]  # coarse: random colour fields vs flat colours
    assert metrics.sliced_wasserstein(first, second, seed=0) == same
    assert metrics.sliced_wasserstein(first, second, seed=1) != same


def test_swd_of_a_set_with_itself_is_only_patch_sampling_noise():
    images, other = _textured(40, seed=1), _blobs(40, seed=3)
    itself = metrics.sliced_wasserstein(images, images, seed=0)  # different random patches of each set
    different = metrics.sliced_wasserstein(images, other, seed=0)
    assert all(0 < level * 3 < level_other for level, level_other in zip(itself, different))


def test_swd_accepts_sets_of_different_sizes():
    small, large, other = _textured(10, seed=1), _textured(40, seed=2), _blobs(40, seed=3)
    same = metrics.sliced_wasserstein(small, large)
    different = metrics.sliced_wasserstein(small, other)
    assert same[0] * 5 < different[0] and same[1] < different[1]


def test_swd_joint_normalisation_sees_a_colour_shift_that_separate_normalisation_hides():
    images = _textured(30, seed=1)
    darker = (images * 0.6).astype(np.uint8)
    joint = metrics.sliced_wasserstein(images, darker, normalization="joint")
    separate = metrics.sliced_wasserstein(images, darker, normalization="separate")
    assert joint[-1] > 5 * separate[-1]  # the coarsest level carries the mean colour
    with pytest.raises(ValueError):
        metrics.sliced_wasserstein(images, darker, normalization="other")  # type: ignore[arg-type]


def test_swd_rejects_images_too_small_or_mismatched():
    with pytest.raises(ValueError):
        metrics.sliced_wasserstein(_textured(2, size=8), _textured(2, size=8))
    with pytest.raises(ValueError):
        metrics.sliced_wasserstein(_textured(2, size=32), _textured(2, size=16))


# --- PCA baseline -------------------------------------------------------------------------


def test_pca_with_enough_components_reconstructs_its_training_set():
    train = _textured(12)
    reconstructions = metrics.fit_pca(train, 12).reconstruct(train)
    assert np.abs(reconstructions.astype(int) - train).max() <= 1
    assert metrics.psnr(train, reconstructions) > 50


def test_pca_components_are_orthonormal_and_ordered():
    basis = metrics.fit_pca(_textured(30), components=10)
    gram = basis.components @ basis.components.T
    np.testing.assert_allclose(gram.numpy(), np.eye(10), atol=1e-4)
    assert np.all(np.diff(basis.stddev.numpy()) <= 1e-6)


def _structured(count: int, seed: int) -> np.ndarray:
    """Images near an 8-dimensional subspace (like faces near their principal components), plus a little noise."""
    patterns = np.random.default_rng(99).normal(0, 1, (8, 32 * 32 * 3))
    rng = np.random.default_rng(seed)
    weights = rng.normal(0, 1, (count, 8)) * np.geomspace(12, 3, 8)
    flat = 128 + weights @ patterns + rng.normal(0, 1, (count, patterns.shape[1]))
    return np.clip(np.rint(flat), 0, 255).astype(np.uint8).reshape(count, 32, 32, 3)


def test_pca_matches_an_exact_svd_on_held_out_images():
    train, test = _structured(40, seed=1), _structured(5, seed=2)
    ours = metrics.fit_pca(train, 8).reconstruct(test)
    data = train.reshape(40, -1) / 255.0
    mean = data.mean(0)
    _, _, right = np.linalg.svd(data - mean, full_matrices=False)
    flat = test.reshape(5, -1) / 255.0 - mean
    exact = np.clip(np.rint(((flat @ right[:8].T) @ right[:8] + mean) * 255), 0, 255).reshape(test.shape)
    assert np.abs(ours.astype(int) - exact).max() <= 2
    assert metrics.psnr(test, ours) < metrics.MAX_PSNR  # held-out images are not reproduced exactly


def test_pca_samples_are_seeded_and_shaped():
    basis = metrics.fit_pca(_textured(20), components=5)
    first = basis.sample(6, seed=3)
    assert first.shape == (6, 32, 32, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, basis.sample(6, seed=3))
    assert not np.array_equal(first, basis.sample(6, seed=4))
