"""DiffAugment (npe.train.augment): differentiable, and each transform does what its docstring says."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from npe.train import augment


def _images(count=6, size=16, seed=0):
    return torch.rand(count, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_gradients_flow_to_the_input(policy):
    images = _images().requires_grad_()
    out = augment.diff_augment(images, augment.parse_policy(policy), torch.Generator().manual_seed(1))
    (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
    assert images.grad is not None and torch.isfinite(images.grad).all()
    assert images.grad.abs().sum() > 0


def test_policy_parsing():
    assert augment.parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert augment.parse_policy("") == augment.parse_policy("none") == ()
    with pytest.raises(ValueError, match="unknown DiffAugment policy flip"):
        augment.parse_policy("color,flip")
    images = _images()
    assert torch.equal(augment.diff_augment(images, ()), images)


def test_brightness_adds_one_constant_per_image_within_half_a_unit():
    images = _images(count=64)
    shifted = augment.brightness(images, torch.Generator().manual_seed(2))
    delta = shifted - images
    per_image = delta.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), atol=1e-6)
    assert per_image[:, 0].abs().max() <= 0.5
    assert per_image[:, 0].std() > 0.1  # each image draws its own constant


def test_saturation_scales_the_chroma_about_each_pixels_grey():
    images = _images(count=32)
    out = augment.saturation(images, torch.Generator().manual_seed(3))
    grey = images.mean(1, keepdim=True)
    assert torch.allclose(out.mean(1, keepdim=True), grey, atol=1e-6)
    factors = ((out - grey).flatten(1) / (images - grey).flatten(1)).median(1).values
    assert torch.allclose((out - grey), factors.view(-1, 1, 1, 1) * (images - grey), atol=1e-5)
    assert factors.min() >= 0 and factors.max() <= 2


def test_contrast_scales_about_each_images_mean():
    images = _images(count=32)
    out = augment.contrast(images, torch.Generator().manual_seed(4))
    mean = images.mean((1, 2, 3), keepdim=True)
    assert torch.allclose(out.mean((1, 2, 3), keepdim=True), mean, atol=1e-5)
    factors = ((out - mean).flatten(1) / (images - mean).flatten(1)).median(1).values
    assert torch.allclose(out - mean, factors.view(-1, 1, 1, 1) * (images - mean), atol=1e-5)
    assert factors.min() >= 0.5 and factors.max() <= 1.5


def _hand_shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """out[r, c] = image[r + dy, c + dx] where that lies inside, else 0."""
    channels, height, width = image.shape
    out = np.zeros_like(image)
    for r in range(height):
        for c in range(width):
            if 0 <= r + dy < height and 0 <= c + dx < width:
                out[:, r, c] = image[:, r + dy, c + dx]
    return out


def test_translation_is_a_zero_filled_shift_of_at_most_an_eighth():
    size, count = 16, 40
    images = torch.arange(count * 3 * size * size, dtype=torch.float32).view(count, 3, size, size) + 1.0
    out = augment.translation(images, generator=torch.Generator().manual_seed(5)).numpy()
    reach = 2  # int(16 * 0.125 + 0.5)
    offsets = []
    for index in range(count):
        fits = [
            (dy, dx)
            for dy in range(-reach, reach + 1)
            for dx in range(-reach, reach + 1)
            if np.array_equal(out[index], _hand_shift(images[index].numpy(), dy, dx))
        ]
        assert len(fits) == 1, index
        offsets.append(fits[0])
    assert len(set(offsets)) > 8  # each image draws its own shift
    assert {dy for dy, _ in offsets} == set(range(-reach, reach + 1))
    again = augment.translation(images, generator=torch.Generator().manual_seed(5))
    assert np.array_equal(again.numpy(), out)  # seeded: reproducible


def test_cutout_zeros_one_square_of_half_the_size_clipped_at_the_border():
    size, count = 16, 64
    images = torch.ones(count, 3, size, size)
    out = augment.cutout(images, generator=torch.Generator().manual_seed(6))
    side = 8  # int(16 * 0.5 + 0.5)
    exact = 0
    for index in range(count):
        zero = (out[index] == 0).numpy()
        assert (zero == zero[0]).all()  # the same hole in every channel
        assert ((out[index] == 0) | (out[index] == 1)).all()  # everything else is untouched
        rows, cols = np.nonzero(zero[0])
        assert len(rows) > 0
        top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        assert zero[0, top:bottom, left:right].all() and zero[0].sum() == (bottom - top) * (right - left)  # a rectangle
        assert bottom - top <= side and right - left <= side
        # A hole that does not touch the border is the whole square.
        if top > 0 and left > 0 and bottom < size and right < size:
            assert (bottom - top, right - left) == (side, side)
            exact += 1
        else:
            assert bottom - top == side or top == 0 or bottom == size
            assert right - left == side or left == 0 or right == size
    assert exact > 10
