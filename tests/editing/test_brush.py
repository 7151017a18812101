"""The local brush: masks with known values, a change that stays within its reach, the colour
term pulling toward the brush colour, and greyscale photos staying greyscale."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from npe.editing.brush.footprint import brush_weights, color_target, pixel_centres, reach_mask
from npe.editing.brush.objective import LocalStroke, PixelObjective, colour_loss, preservation_loss, principal_directions
from npe.editing.compose import change_mask, crop_composite, greyscale_delta, is_greyscale, limit_change_mask, luminance
from npe.editing.errors import SessionError


def test_reach_mask_values():
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
        PixelObjective(reach=-1.0)
    with pytest.raises(SessionError):
        PixelObjective(components=0)


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
    stroke, weights, target, losses = _stroke(model, PixelObjective(preserve=0.0, prior=0.0, step=0.3))
    start_loss = float(colour_loss(stroke.start_image, weights, target))
    final_loss = float(colour_loss(stroke.image(), weights, target))
    assert final_loss < 0.7 * start_loss
    assert not torch.equal(stroke.latent, stroke.start)


def test_preservation_keeps_far_pixels_closer_to_the_start(model):
    far = None
    changes = {}
    for preserve in (0.0, 30.0):
        stroke, *_ = _stroke(model, PixelObjective(preserve=preserve, prior=0.0, step=0.3, reach=2.0))
        far = 1.0 - stroke.footprint()
        changes[preserve] = float(((stroke.image() - stroke.start_image).abs().mean(dim=1)[0] * far).sum() / far.sum())
    assert changes[30.0] < 0.7 * changes[0.0]


def test_pixels_beyond_the_reach_keep_the_photo(model):
    """The composite: change mask x feathered reach. Beyond radius + reach + feather the crop is the
    photo exactly, however far the generated image moved."""
    settings = PixelObjective(preserve=0.0, prior=0.0, step=0.5, reach=3.0, feather=2.0)
    stroke, *_ = _stroke(model, settings)
    delta = stroke.image() - stroke.start_image
    assert float(delta.abs().max()) > 0.05  # the image did change, also far away (no preservation)
    mask = limit_change_mask(change_mask(delta), stroke.composite_reach())
    resolution = model.config.resolution
    crop = np.full((resolution, resolution, 3), 128, np.uint8)
    result = crop_composite(crop, delta, mask, None)
    centres = pixel_centres(resolution).numpy()
    beyond = np.hypot(centres[None, :] - 8.0, centres[:, None] - 8.0) > 2.5 + 3.0 + 2.0
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
    stroke, *_ = _stroke(model, PixelObjective(step=0.3), color=(255, 0, 0))
    delta = greyscale_delta(stroke.image() - stroke.start_image)
    result = crop_composite(crop, delta, limit_change_mask(change_mask(delta), stroke.composite_reach()), None)
    assert not np.array_equal(result, crop)
    assert is_greyscale(result, tolerance=0)


def test_is_greyscale_rejects_colour():
    image = np.full((4, 4, 3), 100, np.uint8)
    image[1, 1, 2] = 110
    assert not is_greyscale(image)


# --- the brush's small pieces, by hand ---------------------------------------------------------------


def test_brush_weights_are_a_raised_cosine_of_the_distance():
    from npe.editing.brush.footprint import MIN_RADIUS

    weights = brush_weights(8, 4.0, 4.0, 2.0)
    assert weights.shape == (8, 8) and weights.dtype == torch.float32
    # Pixel (row 3, col 3) has its centre at (3.5, 3.5): distance sqrt(0.5) from (4, 4).
    d = 0.5**0.5
    assert float(weights[3, 3]) == pytest.approx(0.5 * (1 + np.cos(np.pi * d / 2.0)), abs=1e-6)
    # (row 3, col 5): centre (5.5, 3.5), distance sqrt(2.5); (row 4, col 6): distance sqrt(6.5) > 2 -> 0.
    assert float(weights[3, 5]) == pytest.approx(0.5 * (1 + np.cos(np.pi * 2.5**0.5 / 2.0)), abs=1e-6)
    assert float(weights[4, 6]) == 0.0 and float(weights.min()) == 0.0
    # A brush finer than MIN_RADIUS paints as MIN_RADIUS (it would fall between pixel centres).
    tiny = brush_weights(8, 4.0, 4.0, 0.1)
    assert torch.equal(tiny, brush_weights(8, 4.0, 4.0, MIN_RADIUS)) and float(tiny.max()) > 0
    # Exactly on the radius the weight is 0 (0.5 * (1 + cos pi)), not a sliver.
    edge = brush_weights(4, 0.5, 0.5, 2.0)
    assert float(edge[0, 2]) == 0.0 and float(edge[0, 1]) > 0.0


def test_color_target_maps_0_255_to_minus_one_to_one():
    target = color_target((0, 255, 51))
    assert target.shape == (1, 3, 1, 1) and target.dtype == torch.float32
    assert target.flatten().tolist() == pytest.approx([-1.0, 1.0, 51 / 127.5 - 1.0])


def test_densify_keeps_the_points_and_fills_the_gaps():
    from npe.editing.brush.footprint import densify

    assert densify([], 2.0) == []
    assert densify([(1.0, 1.0)], 2.0) == [(1.0, 1.0)]
    # 10 px at spacing 4: ceil(2.5) = 3 pieces; then 9 px down: 3 pieces; then 3 px back up: one piece.
    dense = densify([(0.0, 0.0), (10.0, 0.0), (10.0, 9.0), (10.0, 6.0)], 4.0)
    expected = [(0.0, 0.0), (10 / 3, 0.0), (20 / 3, 0.0), (10.0, 0.0), (10.0, 3.0), (10.0, 6.0), (10.0, 9.0), (10.0, 6.0)]
    assert len(dense) == len(expected)
    for (x, y), (ex, ey) in zip(dense, expected):
        assert x == pytest.approx(ex) and y == pytest.approx(ey)
    assert len(densify([(0.0, 0.0), (1.0, 0.0)], 0.0)) == 1_000_001  # spacing 0 is clamped, not a division by zero
    assert densify([(2.0, 2.0), (2.0, 2.0)], 1.0) == [(2.0, 2.0), (2.0, 2.0)]  # a repeated point: one piece


@pytest.mark.parametrize(("value", "expected"), [
    ((1, 2, 3), (1, 2, 3)), ([0, 255, 9], (0, 255, 9)), (np.array([4, 5, 6]), (4, 5, 6)),
    ("#a1B2c3", (161, 178, 195)), ("a1b2c3", (161, 178, 195)), ("#abc", (170, 187, 204)),
    ("0,0,0", (0, 0, 0)), ("255, 255, 255", (255, 255, 255)), ("  GREY ", (128, 128, 128)), ("brown", (139, 69, 19)),
])
def test_colours_parse_to_rgb(value, expected):
    from npe.editing.brush import parse_color

    got = parse_color(value)
    assert got == expected and all(type(c) is int for c in got)


@pytest.mark.parametrize("value", [(1, 2), (1, 2, 3, 4), (0, 0, 256), (-1, 0, 0), (0.5, 0, 0), "1,2", "1,2,3,4", "1,2,-3", "1,2,256", "#abcd"])
def test_bad_colours_are_refused_with_the_accepted_forms(value):
    from npe.editing.brush import ColorError, parse_color

    with pytest.raises(ColorError, match="colour"):
        parse_color(value)


def test_the_accepted_colour_forms_are_named_in_the_error():
    from npe.editing.brush import ColorError, parse_color

    with pytest.raises(ColorError, match=r"'teal' is not a colour; use '#rrggbb'"):
        parse_color(" teal ")
    with pytest.raises(ColorError, match=r"three integers from 0 to 255, got \(1, 2\)"):
        parse_color((1, 2))
    assert issubclass(ColorError, SessionError)


def _positions_only(model, centres):
    """A stroke with strength 0 that has visited ``centres``: it records where it was, moves nothing."""
    stroke = LocalStroke(model.decode, torch.zeros(1, model.config.latent_dim), model.latent_basis, PixelObjective(strength=0.0))
    resolution = model.config.resolution
    for u, v in centres:
        stroke.step(brush_weights(resolution, u, v, 1.0), color_target((255, 255, 255)), (u, v), 1.0)
    return stroke


def test_before_any_position_everything_is_infinitely_far(model):
    stroke = _positions_only(model, [])
    distance = stroke.distance()
    assert distance.shape == (model.config.resolution,) * 2 and torch.isinf(distance).all() and distance.dtype == torch.float32
    assert stroke.composite_reach().sum() == 0 and stroke.footprint().sum() == 0


def test_the_distance_is_to_the_nearest_brush_position(model):
    distance = _positions_only(model, [(0.5, 0.5), (3.5, 3.5)]).distance()
    assert float(distance[0, 0]) == 0.0 and float(distance[3, 3]) == 0.0
    assert float(distance[0, 3]) == pytest.approx(3.0)  # 3 px from either point
    assert float(distance[1, 1]) == pytest.approx(2**0.5)
    assert float(distance[4, 3]) == pytest.approx(1.0)
    far = _positions_only(model, [(0.5, 0.5)]).distance()
    assert float(far[3, 4]) == pytest.approx(5.0)  # a 3-4-5 triangle between pixel centres


def test_lighten_target_shifts_by_the_amount_and_stays_in_range():
    from npe.editing.brush.objective import lighten_target

    start = torch.tensor([-0.9, 0.0, 0.9]).view(1, 3, 1, 1)
    assert lighten_target(start, 0.25).flatten().tolist() == pytest.approx([-0.4, 0.5, 1.0])
    assert lighten_target(start, -0.25).flatten().tolist() == pytest.approx([-1.0, -0.5, 0.4])


def test_grown_limit_is_the_union_of_the_old_limit_and_the_new_reach():
    from npe.editing.brush.stroke import grown_limit

    assert grown_limit(None, torch.ones(2, 2)) is None  # "everywhere" stays everywhere
    limit = np.array([[255, 0], [10, 0]], np.uint8)
    grown = grown_limit(limit, torch.tensor([[0.0, 0.5], [0.02, 1.0]]))
    assert grown.dtype == np.uint8 and grown.tolist() == [[255, 128], [10, 255]]  # rint(0.5 * 255) = 128
    assert not grown.flags.writeable


def test_make_brush_takes_a_colour_settings_or_keywords():
    from npe.editing.brush.settings import BrushSettings, make_brush

    assert make_brush(None) == BrushSettings()
    assert make_brush("#ff0000", 5, 2.0) == BrushSettings(color=(255, 0, 0), radius=5, strength=2.0)
    base = BrushSettings(color=(1, 2, 3), radius=4.0, steps=2)
    assert make_brush(base, strength=0.5, reach=16.0, label="Hair") == BrushSettings((1, 2, 3), 4.0, 0.5, 2, 16.0, "Hair")
    assert make_brush(base, color="black").color == (0, 0, 0)
    assert make_brush(None, color=[9, 8, 7]).color == (9, 8, 7)  # parsed, also when given by keyword
    with pytest.raises(TypeError, match="unknown brush setting"):
        make_brush(None, size=3)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("radius", -1.0, "radius"), ("radius", float("inf"), "radius"), ("radius", "3", "radius"),
    ("strength", float("nan"), "strength"), ("steps", 101, "Steps"), ("steps", 2.0, "Steps"),
    ("reach", -0.5, "reach"), ("reach", 32.5, "reach"), ("reach", float("nan"), "reach"), ("reach", "4", "reach"),
])
def test_brush_settings_out_of_range_are_refused(field, value, message):
    from npe.editing.brush.settings import BrushSettings

    with pytest.raises(SessionError, match=message):
        BrushSettings(**{field: value})


def test_brush_settings_at_their_limits_are_accepted():
    from npe.editing.brush.settings import BrushSettings

    BrushSettings(radius=0.01, strength=0.0, steps=1, reach=0.0)
    BrushSettings(radius=3, steps=100, reach=32)


@pytest.mark.parametrize(("amount", "radius", "steps"), [(float("nan"), 10, 3), (float("inf"), 10, 3), (0.2, 0, 3), (0.2, -2, 3), (0.2, 10, 0)])
def test_lighten_arguments_are_checked(session, amount, radius, steps):
    with pytest.raises(SessionError, match=rf"lighten needs a finite amount, a positive radius and steps >= 1, got {amount}, {radius}, {steps}"):
        session.lighten(100, 70, amount, radius, steps=steps)


def test_lighten_with_a_small_brush_or_nothing_to_do(session):
    with pytest.raises(SessionError, match=r"The brush position \(500, 70\) is outside"):
        session.lighten(500, 70, 0.2, 10)
    assert not session.lighten(100, 70, 0.0, 10)  # amount 0: nothing to do, no undo step
    assert not session.lighten(2, 2, 0.3, 5)  # wholly outside the face box
    assert session.lighten(100, 70, 0.3, 0.6, steps=1)  # a sub-pixel radius is still a brush
    assert session.history_labels == ["Lighten"]


def test_a_stroke_outside_the_image_names_the_brush_position(session):
    session.begin_stroke(color="black", radius=5)
    with pytest.raises(SessionError, match=r"The brush position \(250, 70\) is outside the image \(200x150 pixels\)"):
        session.stroke_to(250, 70)
    session.cancel_stroke()


def test_a_stroke_step_reports_whether_z_moved(session):
    from npe.editing.brush import BrushSettings
    from npe.editing.brush.stroke import Stroke

    stroke = Stroke(session.document, BrushSettings(color=(0, 0, 0), radius=6.0, strength=4.0))
    start = session.latent
    assert stroke.move_to(2.0, 2.0) is False  # wholly outside the face box: nothing it could change
    np.testing.assert_array_equal(session.latent, start)
    assert stroke.move_to(100.0, 70.0) is True
    before, after = stroke.latents()
    np.testing.assert_array_equal(before, start)
    np.testing.assert_array_equal(after, session.latent)
    assert not np.array_equal(after, start)


def test_the_prior_pulls_z_toward_the_strokes_start(model):
    moved = {}
    for prior in (0.0, 0.5):
        stroke, *_ = _stroke(model, PixelObjective(preserve=0.0, prior=prior, step=0.3))
        moved[prior] = float((stroke.latent - stroke.start).norm())
    assert moved[0.0] > 0 and moved[0.5] < 0.95 * moved[0.0]


def test_greyscale_tolerance_is_two_levels():
    image = np.full((2, 2, 3), 100, np.uint8)
    image[0, 0] = (100, 102, 100)
    assert is_greyscale(image)
    image[1, 1] = (100, 100, 103)
    assert not is_greyscale(image)
