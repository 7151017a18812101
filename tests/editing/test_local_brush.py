"""The local brush: masks with known values, a change that stays within its reach, the colour
term pulling toward the brush colour, and greyscale photos staying greyscale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from npe.editing.brush import brush_weights, color_target
from npe.editing.compose import change_mask, crop_composite
from npe.editing.errors import SessionError
from npe.editing.local_brush import (
    LocalBrushSettings,
    LocalStroke,
    colour_loss,
    distance_to_points,
    greyscale_delta,
    is_greyscale,
    limit_change_mask,
    luminance,
    preservation_loss,
    principal_directions,
    reach_mask,
)


def test_distance_and_reach_mask_values():
    distance = distance_to_points(8, [(0.5, 0.5)])
    assert float(distance[0, 0]) == 0.0
    assert float(distance[3, 4]) == pytest.approx(5.0)  # a 3-4-5 triangle between pixel centres
    hard = reach_mask(torch.tensor([1.0, 3.0, 3.01]), radius=1.0, reach=2.0)
    assert hard.tolist() == [1.0, 1.0, 0.0]
    soft = reach_mask(torch.tensor([3.0, 4.0, 5.0, 6.0]), radius=1.0, reach=2.0, feather=2.0)
    assert soft.tolist() == pytest.approx([1.0, 0.5, 0.0, 0.0])  # smoothstep is 0.5 half way


def test_limit_change_mask_zeroes_beyond_the_reach():
    mask = torch.ones(4, 4)
    reach = torch.zeros(4, 4)
    reach[0, 0] = 0.25
    limited = limit_change_mask(mask, reach)
    assert float(limited[0, 0]) == 0.25 and float(limited.sum()) == 0.25


def test_colour_loss_hand_computed():
    output = torch.zeros(1, 3, 2, 2)
    output[:, 0] = 0.5  # red channel 0.5, others 0
    weights = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    target = torch.zeros(1, 3, 1, 1)
    assert float(colour_loss(output, weights, target)) == pytest.approx(0.25 / 3)
    # On luminance: (0.299 * 0.5)^2.
    assert float(colour_loss(output, weights, target, grey=True)) == pytest.approx((0.299 * 0.5) ** 2)


def test_preservation_loss_counts_only_outside_the_reach():
    start = torch.zeros(1, 3, 2, 2)
    output = torch.full((1, 3, 2, 2), 2.0)
    reach = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert float(preservation_loss(output, start, reach)) == pytest.approx(4.0 / 4)


def test_principal_directions_are_the_widest_columns():
    basis = torch.diag(torch.tensor([0.1, 3.0, 0.5, 2.0]))
    directions = principal_directions(basis, 2)
    assert torch.equal(directions, basis[:, [1, 3]])


def test_settings_are_checked():
    with pytest.raises(SessionError):
        LocalBrushSettings(reach=-1.0)
    with pytest.raises(SessionError):
        LocalBrushSettings(components=0)


def _stroke(model, settings, steps=25, centre=(8.0, 8.0), radius=2.5, color=(255, 255, 255)):
    torch.manual_seed(0)
    start = torch.randn(1, model.config.latent_dim)
    stroke = LocalStroke(model.decode, start, model.latent_basis, settings)
    resolution = model.config.resolution
    weights = brush_weights(resolution, *centre, radius)
    target = color_target(color)
    losses = [stroke.step(weights, target, centre, radius) for _ in range(steps)]
    return stroke, weights, target, losses


def test_the_brush_pulls_toward_its_colour(model):
    stroke, weights, target, losses = _stroke(model, LocalBrushSettings(preserve=0.0, prior=0.0, step=0.3))
    start_loss = float(colour_loss(stroke.start_image, weights, target))
    final_loss = float(colour_loss(stroke.image(), weights, target))
    assert final_loss < 0.7 * start_loss
    assert not torch.equal(stroke.latent, stroke.start)


def test_preservation_keeps_far_pixels_closer_to_the_start(model):
    far = None
    changes = {}
    for preserve in (0.0, 30.0):
        stroke, *_ = _stroke(model, LocalBrushSettings(preserve=preserve, prior=0.0, step=0.3, reach=2.0))
        far = 1.0 - stroke.footprint()
        changes[preserve] = float(((stroke.image() - stroke.start_image).abs().mean(dim=1)[0] * far).sum() / far.sum())
    assert changes[30.0] < 0.7 * changes[0.0]


def test_pixels_beyond_the_reach_keep_the_photo(model):
    """The composite: change mask x feathered reach. Beyond radius + reach + feather the crop is the
    photo exactly, however far the generated image moved."""
    settings = LocalBrushSettings(preserve=0.0, prior=0.0, step=0.5, reach=3.0, feather=2.0)
    stroke, *_ = _stroke(model, settings)
    delta = stroke.image() - stroke.start_image
    assert float(delta.abs().max()) > 0.05  # the image did change, also far away (no preservation)
    mask = limit_change_mask(change_mask(delta), stroke.composite_reach())
    resolution = model.config.resolution
    crop = np.full((resolution, resolution, 3), 128, np.uint8)
    result = crop_composite(crop, delta, mask, None)
    beyond = (distance_to_points(resolution, [(8.0, 8.0)]) > 2.5 + 3.0 + 2.0).numpy()
    assert np.array_equal(result[beyond], crop[beyond])
    assert not np.array_equal(result[~beyond], crop[~beyond])


def test_greyscale_delta_is_the_luminance_on_every_channel():
    delta = torch.tensor([0.3, -0.2, 0.1]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    grey = greyscale_delta(delta)
    expected = 0.299 * 0.3 + 0.587 * -0.2 + 0.114 * 0.1
    assert torch.allclose(grey, torch.full((1, 3, 2, 2), expected))
    assert float(luminance(torch.ones(1, 3, 1, 1))) == pytest.approx(1.0)


def test_greyscale_in_gives_greyscale_out(model):
    """A grey crop edited with a colour brush: the luminance of the change keeps every pixel grey."""
    resolution = model.config.resolution
    rng = np.random.default_rng(0)
    level = rng.integers(40, 200, (resolution, resolution), dtype=np.uint8)
    crop = np.repeat(level[..., None], 3, axis=2)
    assert is_greyscale(crop)
    stroke, *_ = _stroke(model, LocalBrushSettings(step=0.3), color=(255, 0, 0))
    delta = greyscale_delta(stroke.image() - stroke.start_image)
    result = crop_composite(crop, delta, limit_change_mask(change_mask(delta), stroke.composite_reach()), None)
    assert not np.array_equal(result, crop)
    assert is_greyscale(result, tolerance=0)


def test_is_greyscale_rejects_colour():
    image = np.full((4, 4, 3), 100, np.uint8)
    image[1, 1, 2] = 110
    assert not is_greyscale(image)
