"""Image-quality measures: PSNR, SSIM, sharpness, sliced Wasserstein distance (SWD) and a PCA baseline.

Pure functions on uint8 N x H x W x 3 arrays (the file/UI convention), so they apply alike to
photos, reconstructions, model samples and baseline outputs. Nothing here knows about the IAN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity
from skimage.restoration.uft import laplacian

# PSNR of identical images is infinite; report this instead so means and JSON stay finite.
MAX_PSNR = 100.0

# Sliced Wasserstein distance settings of Karras et al. 2018 (Progressive GAN), metrics/sliced_wasserstein.py.
SWD_PATCH_SIZE = 7
SWD_PATCHES_PER_IMAGE = 128
SWD_REPEATS = 4
SWD_DIRECTIONS = 128
SWD_MIN_RESOLUTION = 16
SWD_SCALE = 1e3  # the paper reports SWD x 10^3

# The 5-tap binomial filter [1 4 6 4 1] / 16 (applied along rows and columns): what cv2.pyrDown/pyrUp use.
_BINOMIAL = (1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16)


def _as_images(images: np.ndarray, what: str = "images") -> np.ndarray:
    """Check the uint8 N x H x W x 3 convention (a single H x W x 3 image becomes a batch of one)."""
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"{what}: expected uint8 N x H x W x 3 images, got {array.dtype} with shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"{what}: no images")
    return array


def _as_pair(originals: np.ndarray, reconstructions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    originals = _as_images(originals, "originals")
    reconstructions = _as_images(reconstructions, "reconstructions")
    if originals.shape != reconstructions.shape:
        raise ValueError(f"originals {originals.shape} and reconstructions {reconstructions.shape} differ in shape")
    return originals, reconstructions


# --- per-image fidelity -------------------------------------------------------------------


def psnr_per_image(originals: np.ndarray, reconstructions: np.ndarray) -> np.ndarray:
    """PSNR in dB of each image pair (peak 255), capped at MAX_PSNR for identical images.

    The same formula as skimage.metrics.peak_signal_noise_ratio(data_range=255), vectorised.
    """
    originals, reconstructions = _as_pair(originals, reconstructions)
    difference = originals.astype(np.float64) - reconstructions.astype(np.float64)
    mse = np.mean(np.square(difference), axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(255.0**2 / mse)
    return np.minimum(values, MAX_PSNR)


def psnr(originals: np.ndarray, reconstructions: np.ndarray) -> float:
    """Mean PSNR in dB over image pairs (uint8 N x H x W x 3); identical pairs count as MAX_PSNR."""
    return float(np.mean(psnr_per_image(originals, reconstructions)))


def ssim(originals: np.ndarray, reconstructions: np.ndarray) -> float:
    """Mean SSIM over image pairs: skimage's structural_similarity on RGB (7x7 window, data range 255)."""
    originals, reconstructions = _as_pair(originals, reconstructions)
    values = [
        structural_similarity(original, reconstruction, channel_axis=-1, data_range=255)
        for original, reconstruction in zip(originals, reconstructions)
    ]
    return float(np.mean(values))


def laplacian_energy(images: np.ndarray) -> np.ndarray:
    """Per image: the mean squared Laplacian of its grayscale version in [0, 1] (fine detail, edges).

    Equal to skimage.filters.laplace(gray) squared and averaged, computed for the whole stack at once.
    """
    images = _as_images(images)
    gray = rgb2gray(images)  # N x H x W float64 in [0, 1]
    _, kernel = laplacian(2, (3, 3))
    response = ndimage.convolve(gray, np.real(kernel)[None], mode="reflect")
    return np.mean(np.square(response), axis=(1, 2))


def sharpness_ratio(originals: np.ndarray, reconstructions: np.ndarray) -> float:
    """Mean Laplacian energy of the reconstructions over that of the originals.

    1.0: as much fine detail as the photos; a blurry autoencoder scores ~0.15; above 1 means
    extra high-frequency content (noise, artefacts). The images need not be paired, only comparable.
    """
    original_energy = float(np.mean(laplacian_energy(originals)))
    reconstruction_energy = float(np.mean(laplacian_energy(reconstructions)))
    if original_energy == 0.0:
        return 1.0 if reconstruction_energy == 0.0 else float("inf")
    return reconstruction_energy / original_energy


# --- sliced Wasserstein distance ----------------------------------------------------------


def swd_resolutions(size: int, min_resolution: int = SWD_MIN_RESOLUTION) -> list[int]:
    """The Laplacian pyramid levels the SWD is reported at, finest first: 64 -> [64, 32, 16]."""
    resolutions = []
    while size >= min_resolution:
        resolutions.append(size)
        size //= 2
    return resolutions


def _blur(images: torch.Tensor, gain: float = 1.0, step: int = 1) -> torch.Tensor:
    """Separable binomial blur with mirror borders (scipy.ndimage 'mirror' = torch 'reflect').

    Only every `step`-th output row and column is computed. Written as shifted, in-place sums:
    several times faster on CPU than a grouped 5x5 convolution.
    """
    height, width = images.shape[-2:]
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    rows = padded[..., :, 0:width:step] * (_BINOMIAL[0] * gain)
    for tap in range(1, 5):
        rows.add_(padded[..., :, tap : tap + width : step], alpha=_BINOMIAL[tap] * gain)
    blurred = rows[..., 0:height:step, :] * _BINOMIAL[0]
    for tap in range(1, 5):
        blurred.add_(rows[..., tap : tap + height : step, :], alpha=_BINOMIAL[tap])
    return blurred


def _pyramid_down(images: torch.Tensor) -> torch.Tensor:
    """Blur with the binomial filter, keep every second pixel (cv2.pyrDown)."""
    return _blur(images, step=2)


def _pyramid_up(images: torch.Tensor) -> torch.Tensor:
    """Insert zeros between pixels, blur with 4x the binomial filter (cv2.pyrUp)."""
    count, channels, height, width = images.shape
    upsampled = images.new_zeros(count, channels, height * 2, width * 2)
    upsampled[:, :, ::2, ::2] = images
    return _blur(upsampled, gain=4.0)


def laplacian_pyramid(images: np.ndarray, levels: int) -> list[torch.Tensor]:
    """Laplacian pyramid of uint8 N x H x W x 3 images as float32 N x 3 x h x w tensors in pixel units.

    Level 0 holds the finest detail at full size; the last level is the blurred, downsampled image itself.
    """
    images = _as_images(images)
    current = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    pyramid = [current]
    for _ in range(1, levels):
        smaller = _pyramid_down(pyramid[-1])
        pyramid[-1] = pyramid[-1] - _pyramid_up(smaller)
        pyramid.append(smaller)
    return pyramid


def _patch_descriptors(level: torch.Tensor, per_image: int, patch_size: int, rng: np.random.Generator) -> torch.Tensor:
    """`per_image` random patch_size x patch_size patches of each image: (N * per_image) x patch_size^2 x 3.

    `level` is N x 3 x H x W. Channels stay last so each patch is one fast gather; the order of
    descriptor components does not matter to the SWD (its directions are isotropic).
    """
    count, _, height, width = level.shape
    half = patch_size // 2
    pixels = level.permute(0, 2, 3, 1).reshape(-1, 3)
    patches = count * per_image
    # Patch corners as in the reference code: the patch always lies fully inside the image.
    top = torch.from_numpy(rng.integers(0, height - 2 * half, size=patches))
    left = torch.from_numpy(rng.integers(0, width - 2 * half, size=patches))
    offsets = torch.arange(patch_size)
    rows = (top[:, None] + offsets)[:, :, None]  # M x p x 1
    columns = (left[:, None] + offsets)[:, None, :]  # M x 1 x p
    first_pixel = (torch.arange(count) * (height * width)).repeat_interleave(per_image)[:, None, None]
    index = (first_pixel + rows * width + columns).reshape(-1)
    return torch.index_select(pixels, 0, index).reshape(patches, patch_size * patch_size, 3)


def _channel_stats(*descriptor_sets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and standard deviation of the equal-weight mixture of the given descriptor sets.

    Each set weighs the same whatever its size, so comparing 2000 samples with 500 photos
    normalises exactly as comparing 500 with 500 would.
    """
    means, variances = [], []
    for descriptors in descriptor_sets:
        variance, mean = torch.var_mean(descriptors.reshape(-1, 3), dim=0, correction=0)
        means.append(mean.double())
        variances.append(variance.double())
    mean = torch.stack(means).mean(0)
    # Mixture variance: the mean within-set variance plus the spread of the set means.
    variance = torch.stack([v + (m - mean) ** 2 for v, m in zip(variances, means)]).mean(0)
    return mean.float(), variance.sqrt().float().clamp_min(1e-8)


def _normalise_(descriptors: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Normalise in place (the descriptors are the largest arrays here) and flatten to M x (p * p * 3)."""
    return descriptors.sub_(mean).div_(std).flatten(1)


def _sorted_projections(descriptors: torch.Tensor, basis: torch.Tensor) -> np.ndarray:
    """Projections onto each direction, sorted: directions x M (rows contiguous, sorted by numpy: fastest)."""
    projections = (basis.T @ descriptors.T).numpy()
    projections.sort(axis=1)
    return projections


def _projection_distance(sorted_a: np.ndarray, sorted_b: np.ndarray) -> float:
    """Mean |difference| of two sets of sorted 1-D projections (rows): the 1-D Wasserstein-1 distance.

    With different set sizes, the larger set's quantiles are read at the smaller set's midpoints.
    """
    count_a, count_b = sorted_a.shape[1], sorted_b.shape[1]
    if count_a != count_b:
        count = min(count_a, count_b)
        midpoints = np.arange(count, dtype=np.float64) + 0.5
        if count_a > count:
            sorted_a = sorted_a[:, (midpoints * count_a / count).astype(np.int64)]
        else:
            sorted_b = sorted_b[:, (midpoints * count_b / count).astype(np.int64)]
    difference = torch.from_numpy(np.ascontiguousarray(sorted_a)).sub_(torch.from_numpy(sorted_b))
    return float(difference.abs_().mean())  # torch sums float32 in a cascade: accurate enough


def _sliced_distance(
    descriptors_a: torch.Tensor, descriptors_b: torch.Tensor, repeats: int, directions: int, rng: np.random.Generator
) -> float:
    results = []
    for _ in range(repeats):
        basis = torch.from_numpy(rng.standard_normal((descriptors_a.shape[1], directions))).float()
        basis /= basis.norm(dim=0, keepdim=True)
        results.append(
            _projection_distance(_sorted_projections(descriptors_a, basis), _sorted_projections(descriptors_b, basis))
        )
    return float(np.mean(results))


def sliced_wasserstein(
    images_a: np.ndarray,
    images_b: np.ndarray,
    *,
    seed: int = 0,
    patches_per_image: int = SWD_PATCHES_PER_IMAGE,
    patch_size: int = SWD_PATCH_SIZE,
    repeats: int = SWD_REPEATS,
    directions: int = SWD_DIRECTIONS,
    min_resolution: int = SWD_MIN_RESOLUTION,
    normalization: Literal["joint", "separate"] = "joint",
) -> list[float]:
    """Sliced Wasserstein distance x 10^3 between two sets of uint8 N x H x W x 3 images, per pyramid level.

    Follows Karras et al. 2018 (Progressive GAN): a Laplacian pyramid with the 5-tap binomial
    filter down to `min_resolution` (64 px images: levels 64, 32, 16, returned finest first);
    from each level `patches_per_image` random 7x7x3 patches per image as descriptors,
    normalised per colour channel; then `repeats` x `directions` random unit directions, the
    projections of both sets sorted and compared (mean absolute difference), averaged.

    normalization: "joint" (default) normalises both sets with the mean/std of their equal-weight
    mixture, so a colour or contrast shift of one set counts as a difference; "separate" normalises each set by
    its own statistics, exactly as the reference code does. The sets may differ in size (the
    larger one is compared at the smaller one's quantiles). Deterministic for a given `seed`.
    """
    images_a = _as_images(images_a, "images_a")
    images_b = _as_images(images_b, "images_b")
    if images_a.shape[1:] != images_b.shape[1:]:
        raise ValueError(f"image sizes differ: {images_a.shape[1:]} vs {images_b.shape[1:]}")
    height, width = images_a.shape[1:3]
    if height != width:
        raise ValueError(f"sliced_wasserstein expects square images, got {height} x {width}")
    levels = len(swd_resolutions(height, min_resolution))
    if levels == 0:
        raise ValueError(f"images of {height} px are smaller than the coarsest SWD level ({min_resolution} px)")
    if normalization not in ("joint", "separate"):
        raise ValueError(f"normalization must be 'joint' or 'separate', got {normalization!r}")
    rng = np.random.default_rng(seed)
    pyramid_a = laplacian_pyramid(images_a, levels)
    pyramid_b = laplacian_pyramid(images_b, levels)
    distances = []
    for level_a, level_b in zip(pyramid_a, pyramid_b):
        descriptors_a = _patch_descriptors(level_a, patches_per_image, patch_size, rng)
        descriptors_b = _patch_descriptors(level_b, patches_per_image, patch_size, rng)
        if normalization == "joint":
            mean, std = _channel_stats(descriptors_a, descriptors_b)
            flat_a, flat_b = _normalise_(descriptors_a, mean, std), _normalise_(descriptors_b, mean, std)
        else:
            flat_a = _normalise_(descriptors_a, *_channel_stats(descriptors_a))
            flat_b = _normalise_(descriptors_b, *_channel_stats(descriptors_b))
        distances.append(_sliced_distance(flat_a, flat_b, repeats, directions, rng) * SWD_SCALE)
    return distances


# --- PCA baseline -------------------------------------------------------------------------


@dataclass
class PCABasis:
    """A linear-Gaussian model of images: mean + top principal components, in pixel units / 255."""

    mean: torch.Tensor  # D
    components: torch.Tensor  # K x D, orthonormal rows
    stddev: torch.Tensor  # K: standard deviation of the training images along each component
    image_shape: tuple[int, int, int]  # H, W, 3

    def _flatten(self, images: np.ndarray) -> torch.Tensor:
        images = _as_images(images)
        if images.shape[1:] != self.image_shape:
            raise ValueError(f"PCA basis is for {self.image_shape} images, got {images.shape[1:]}")
        return torch.from_numpy(images.reshape(len(images), -1)).float() / 255.0

    def _to_images(self, flat: torch.Tensor) -> np.ndarray:
        pixels = (flat.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        return pixels.reshape(-1, *self.image_shape).numpy()

    def encode(self, images: np.ndarray) -> torch.Tensor:
        """Coefficients of each image along the components: N x K."""
        return (self._flatten(images) - self.mean) @ self.components.T

    def decode(self, coefficients: torch.Tensor) -> np.ndarray:
        """Images (uint8 N x H x W x 3) from coefficients, clipped to the pixel range."""
        return self._to_images(coefficients.float() @ self.components + self.mean)

    def reconstruct(self, images: np.ndarray, batch: int = 1024) -> np.ndarray:
        """Project images onto the basis and back: the best rank-K linear reconstruction."""
        images = _as_images(images)
        return np.concatenate([self.decode(self.encode(images[i : i + batch])) for i in range(0, len(images), batch)])

    def sample(self, count: int, seed: int = 0) -> np.ndarray:
        """Images drawn from the Gaussian the basis describes (coefficients ~ N(0, stddev^2))."""
        generator = torch.Generator().manual_seed(seed)
        coefficients = torch.randn(count, len(self.stddev), generator=generator) * self.stddev
        return self.decode(coefficients)


def fit_pca(
    train_images: np.ndarray, components: int = 100, *, seed: int = 0, power_iterations: int = 4, oversamples: int = 10
) -> PCABasis:
    """Fit mean + top `components` principal components with a seeded randomized SVD (Halko et al. 2011).

    `components` is capped at the rank the data allows. 8500 64x64 images fit in seconds on one core.
    """
    images = _as_images(train_images, "train_images")
    count = len(images)
    data = torch.from_numpy(images.reshape(count, -1)).float().div_(255.0)
    mean = data.mean(0)
    data -= mean  # centred in place: the float copy is the largest allocation here
    dims = data.shape[1]
    rank = min(components, count, dims)
    width = min(rank + oversamples, count, dims)
    generator = torch.Generator().manual_seed(seed)
    # Range finder with power iterations: Q spans the top singular vectors of the centred data.
    basis, _ = torch.linalg.qr(data @ torch.randn(dims, width, generator=generator))
    for _ in range(power_iterations):
        right, _ = torch.linalg.qr(data.T @ basis)
        basis, _ = torch.linalg.qr(data @ right)
    _, singular_values, right_vectors = torch.linalg.svd(basis.T @ data, full_matrices=False)
    stddev = singular_values[:rank] / max(count - 1, 1) ** 0.5
    return PCABasis(mean=mean, components=right_vectors[:rank].contiguous(), stddev=stddev, image_shape=images.shape[1:])


__all__: Sequence[str] = [
    "MAX_PSNR",
    "PCABasis",
    "fit_pca",
    "laplacian_energy",
    "laplacian_pyramid",
    "psnr",
    "psnr_per_image",
    "sharpness_ratio",
    "sliced_wasserstein",
    "ssim",
    "swd_resolutions",
]
