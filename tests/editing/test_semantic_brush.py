"""The semantic brush's objective (npe.editing.brush.objective.SemanticStroke) on a linear toy
generator, where every quantity has a closed form: which direction a stroke takes, how far, and
what the composite may carry."""

from __future__ import annotations

import math

import pytest
import torch

from npe.editing.brush.footprint import brush_weights, color_target
from npe.editing.brush.objective import ATTRIBUTE_COSTS, SemanticObjective, SemanticStroke, against_loss, choose_directions, finite_jacobian

R = 16


def _patch(rows: slice, cols: slice, amount: float = 0.5) -> torch.Tensor:
    image = torch.zeros(3, R, R)
    image[:, rows, cols] = amount
    return image


def _generator(changes: list[torch.Tensor]):
    """G(z) = Σ z_k · change_k: a linear 'model' with one image-sized change per latent."""
    basis = torch.stack(changes).reshape(len(changes), -1)

    def forward(z: torch.Tensor) -> torch.Tensor:
        return (z @ basis).reshape(z.shape[0], 3, R, R)

    return forward


def test_against_loss_charges_only_change_against_the_paint():
    start = torch.zeros(1, 3, R, R)
    target = torch.ones(1, 3, 1, 1)  # white: "lighter" is the asked-for way
    footprint = torch.ones(R, R)
    lighter = start + 0.2
    darker = start - 0.2
    assert float(against_loss(lighter, start, target, footprint)) == 0.0
    # Darker by 0.2 on each channel: along the unit (1, 1, 1)/√3 that is −0.2·√3, squared 0.12.
    assert float(against_loss(darker, start, target, footprint)) == pytest.approx(0.12, rel=1e-5)
    across = start.clone()
    across[:, 0] += 0.2
    across[:, 1] -= 0.2  # red up, green down: no change of brightness toward white
    assert float(against_loss(across, start, target, footprint)) == pytest.approx(0.0, abs=1e-12)
    # Only the footprint counts, averaged over it.
    half = torch.zeros(R, R)
    half[:, : R // 2] = 1
    assert float(against_loss(darker, start, target, half)) == pytest.approx(0.12, rel=1e-5)


def test_finite_jacobian_is_the_change_one_unit_makes():
    changes = [_patch(slice(0, 4), slice(0, 4)), _patch(slice(8, 12), slice(8, 12), -0.3)]
    forward = _generator(changes)
    start = torch.tensor([[0.2, -0.1]])
    directions = torch.tensor([[1.0, 0.5], [0.0, 2.0]])  # columns: e0, and 0.5 e0 + 2 e1
    jacobian = finite_jacobian(forward, start, directions)
    torch.testing.assert_close(jacobian[0], changes[0])
    torch.testing.assert_close(jacobian[1], 0.5 * changes[0] + 2.0 * changes[1])


def _stroke(changes, costs, settings=SemanticObjective(reach=2.0, feather=2.0, spread=2.0)):
    forward = _generator(changes)
    directions = torch.eye(len(changes))
    start = torch.zeros(1, len(changes))
    jacobian = finite_jacobian(forward, start, directions)
    return SemanticStroke(forward, start, directions, torch.tensor(costs), jacobian, settings)


def _paint(stroke, centre=(8.0, 8.0), radius=2.5, steps=30, color=(255, 255, 255)):
    weights = brush_weights(R, centre[0], centre[1], radius)
    target = color_target(color)
    for _ in range(steps):
        stroke.step(weights, target, centre, radius)
    return stroke.latent[0]


def test_a_change_under_the_brush_is_preferred_to_one_that_repaints_everything():
    local = _patch(slice(5, 11), slice(5, 11))  # lightens the painted spot only
    everywhere = torch.full((3, R, R), 0.5)  # lightens the whole image ("lighting")
    moved = _paint(_stroke([local, everywhere], [1.0, 1.0]))
    assert float(moved[0]) > 1.0
    assert abs(float(moved[1])) < 0.1 * float(moved[0])


def test_a_cheaper_direction_moves_more_than_an_equal_dearer_one():
    spot = _patch(slice(5, 11), slice(5, 11))
    moved = _paint(_stroke([spot, spot.clone()], [1.0, 8.0]))
    assert float(moved[0]) > 0 and float(moved[1]) >= 0
    assert float(moved[0]) > 4 * float(moved[1])


def test_white_over_a_beard_shaves_rather_than_makes_up():
    """Two directions that lighten the painted chin alike: removing the beard (an everyday edit)
    is taken over making the face up (which turned men into women: it costs more)."""
    spot = _patch(slice(5, 11), slice(5, 11))
    costs = [ATTRIBUTE_COSTS.get(name, 1.0) for name in ("No_Beard", "Heavy_Makeup")]
    moved = _paint(_stroke([spot, spot.clone()], costs))
    assert float(moved[0]) > 0.5
    assert float(moved[0]) > 1.5 * float(moved[1])


def test_the_move_is_capped_by_the_trust_region_that_grows_with_paint():
    settings = SemanticObjective(reach=2.0, feather=2.0, spread=2.0, growth=0.05, limit=0.5)
    spot = _patch(slice(5, 11), slice(5, 11), 0.05)  # a weak direction: the colour would need z ≈ 40
    stroke = _stroke([spot], [4.0], settings)
    weights = brush_weights(R, 8.0, 8.0, 2.5)
    dab = float(weights.sum()) / (math.pi * 2.5 * 2.5 / 2)
    stroke.step(weights, color_target((255, 255, 255)), (8.0, 8.0), 2.5)
    # After one dab: at most growth · dabs, in cost-weighted σ (√cost · |d|).
    assert 2.0 * abs(float(stroke.latent[0, 0])) == pytest.approx(settings.growth * dab, rel=1e-4)
    for _ in range(200):
        stroke.step(weights, color_target((255, 255, 255)), (8.0, 8.0), 2.5)
    assert 2.0 * abs(float(stroke.latent[0, 0])) == pytest.approx(settings.limit, rel=1e-4)


def test_a_moustache_against_white_paint_is_not_taken():
    """Two directions whiten the spot equally; one also darkens the pixels just above it (inside the
    reach, outside the brush). The against term makes the stroke take the clean one."""
    teeth = _patch(slice(7, 10), slice(5, 11))
    teeth_and_moustache = teeth.clone()
    teeth_and_moustache[:, 5:7, 5:11] = -0.5
    moved = _paint(_stroke([teeth, teeth_and_moustache], [1.0, 1.0]), centre=(8.0, 8.5), radius=1.5)
    assert float(moved[0]) > 3 * max(float(moved[1]), 0.0)


def test_the_composite_reach_spreads_only_where_the_change_is_strong():
    """Beyond the disc (radius + reach + feather), the composite may carry a strong change as far as
    ``spread`` pixels from the brush, and never a weak one."""
    strong_far = _patch(slice(0, 16), slice(0, 16), 0.0)
    strong_far[:, 7:10, 7:10] = 0.5  # under the brush
    strong_far[:, 7:10, 13:16] = 0.5  # 5 px beyond the disc's edge: strong
    strong_far[:, 0:2, 0:16] = 0.004  # everywhere along the top: weak
    settings = SemanticObjective(reach=1.0, feather=1.0, spread=6.0)
    stroke = _stroke([strong_far], [1.0], settings)
    _paint(stroke, centre=(8.5, 8.5), radius=1.5, steps=10)
    reach = stroke.composite_reach()
    assert float(reach[8, 8]) == 1.0
    assert float(reach[8, 14]) > 0.5  # the strong change beyond the disc is carried
    assert float(reach[0, 8]) < 0.05  # the weak one is not
    disc_only = _stroke([strong_far], [1.0], SemanticObjective(reach=1.0, feather=1.0, spread=1.0))
    _paint(disc_only, centre=(8.5, 8.5), radius=1.5, steps=10)
    assert float(disc_only.composite_reach()[8, 14]) == 0.0


def test_the_next_stroke_starts_with_its_directions_already_measured(model):
    """After a stroke ends, the brush measures its directions near the new z (while the mouse is up),
    so the next stroke's first position does not wait for them."""
    from npe.editing import EditSession
    from npe.editing.brush import stroke as brush_stroke

    session = EditSession.random(model, seed=5)
    start = session.document.z.clone()
    assert session.paint([(8.0, 20.0), (24.0, 20.0)] * 6, color=(255, 255, 255), radius=3, strength=4.0)
    basis = session.document.model.latent_basis

    def whitened(a, b):
        return float(torch.linalg.solve(basis, (a - b).reshape(-1, 1)).norm())

    assert whitened(session.document.z, start) > brush_stroke.REUSE_DISTANCE  # the stroke went far
    where = brush_stroke._JACOBIANS[session.document.generator][0]
    assert whitened(session.document.z, where) <= brush_stroke.REUSE_DISTANCE  # measured where it ended


def test_stepwise_selection_adds_a_direction_only_when_it_pays():
    from npe.editing.brush.objective import choose_directions

    # f(t) = 2 bᵀt + tᵀMt with M diagonal: each direction alone reaches −b_k²/M_kk.
    matrix = torch.diag(torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64))
    linear = torch.tensor([-2.0, -1.0, -0.1], dtype=torch.float64)
    costs = torch.ones(3, dtype=torch.float64)
    chosen, amounts, value = choose_directions(matrix, linear, costs, limit=100.0, most=1, gain=0.1)
    assert chosen == [0] and float(amounts[0]) == pytest.approx(2.0) and value == pytest.approx(-4.0)
    chosen, amounts, value = choose_directions(matrix, linear, costs, limit=100.0, most=3, gain=0.1)
    assert chosen == [0, 1] and value == pytest.approx(-5.0)  # the third adds 0.01 of 5: not taken
    chosen, _, _ = choose_directions(matrix, linear, costs, limit=100.0, most=3, gain=0.001)
    assert chosen == [0, 1, 2]
    chosen, amounts, _ = choose_directions(matrix, linear, costs * 4, limit=1.0, most=1, gain=0.1)
    assert float(2.0 * amounts[0]) == pytest.approx(1.0)  # √cost · |t| capped at the limit
    assert choose_directions(matrix, -linear * 0, costs, limit=1.0, most=2, gain=0.1)[0] == []  # nothing pays: no move
    # Only the allowed directions are chosen, however much the others would pay.
    chosen, amounts, value = choose_directions(matrix, linear, costs, limit=100.0, most=3, gain=0.001, allowed=[1, 2])
    assert chosen == [1, 2] and value == pytest.approx(-1.01)
    assert choose_directions(matrix, linear, costs, limit=100.0, most=3, gain=0.1, allowed=[])[0] == []



@pytest.mark.parametrize("solver", ["finite", "gradient"])
def test_a_stroke_moves_only_along_its_allowed_directions_and_offers_only_them(solver):
    spot = _patch(slice(5, 11), slice(5, 11))
    changes = [spot, 0.8 * spot, 0.6 * spot]
    forward = _generator(changes)
    directions, start = torch.eye(3), torch.zeros(1, 3)
    jacobian = finite_jacobian(forward, start, directions)
    settings = SemanticObjective(reach=2.0, feather=2.0, spread=2.0, solver=solver)
    free = _paint(SemanticStroke(forward, start, directions, torch.ones(3), jacobian, settings))
    assert float(free[0]) > 0.5  # the strongest direction leads when all are open
    held = SemanticStroke(forward, start, directions, torch.ones(3), jacobian, settings, allowed=[1, 2])
    moved = _paint(held)
    assert float(moved[0]) == 0.0 and float(moved[1:].abs().max()) > 0.3
    assert all(index in (1, 2) for index, _, _ in held.alternatives())

def test_the_finite_solver_finds_a_change_the_derivative_at_the_start_cannot_see():
    """Teeth appear only once the lips have parted: direction 0 whitens the spot only beyond one σ
    (zero derivative at the start), direction 1 whitens it from the first sliver but costs four times
    as much. Measured over two σ, the smile is the cheaper way; the derivative sees only direction 1."""
    spot = _patch(slice(5, 11), slice(5, 11), 1.0)

    def forward(z: torch.Tensor) -> torch.Tensor:
        return (torch.relu(z[:, :1] - 1.0) + 0.5 * z[:, 1:2])[:, :, None, None] * spot[None]

    directions = torch.eye(2)
    start = torch.zeros(1, 2)
    jacobian = finite_jacobian(forward, start, directions, scale=2.0)
    moved = {}
    for solver in ("finite", "gradient"):
        settings = SemanticObjective(reach=2.0, feather=2.0, spread=2.0, solver=solver)
        stroke = SemanticStroke(forward, start, directions, torch.tensor([1.0, 4.0]), jacobian, settings)
        moved[solver] = _paint(stroke)
    assert float(moved["finite"][0]) > 1.0 and abs(float(moved["finite"][1])) < 0.1
    assert float(moved["gradient"][1]) > 0.3 and float(moved["gradient"][0]) < float(moved["finite"][0])


def test_the_finite_solver_moves_boldness_times_the_optimum_without_a_backward_pass():
    """One direction, far from the trust region: the stroke's move is ``boldness`` times the minimum of
    its quadratic objective; the generator is called only under no_grad (no autograd graph)."""
    spot = _patch(slice(5, 11), slice(5, 11))
    forward = _generator([spot])

    def no_graph(z: torch.Tensor) -> torch.Tensor:
        assert not torch.is_grad_enabled()
        return forward(z)

    settings = SemanticObjective(reach=2.0, feather=2.0, spread=2.0, limit=100.0, growth=100.0, boldness=1.5)
    stroke = SemanticStroke(no_graph, torch.zeros(1, 1), torch.eye(1), torch.tensor([1.0]), finite_jacobian(forward, torch.zeros(1, 1), torch.eye(1)), settings)
    weights = brush_weights(R, 8.0, 8.0, 2.5)
    stroke.step(weights, color_target((255, 255, 255)), (8.0, 8.0), 2.5)
    # The optimum by hand: colour Σ w (0.5 t − 1)² / Σ w, the change 0.25 t² over the spot's 36
    # pixels (36 · 3 values) held with preserve_near inside the reach and preserve outside, and the prior.
    pixels = float(R * R)
    inside = stroke.footprint().reshape(-1) > 0
    spot_pixels = spot[0].reshape(-1) != 0
    near = float((spot_pixels & inside).sum())
    far = float((spot_pixels & ~inside).sum())
    held = (settings.preserve_near * near + settings.preserve * far) * 3 * 0.25 / (3 * pixels)
    curvature = 0.25 + held + settings.prior
    optimum = 0.5 / curvature
    assert float(stroke.latent[0, 0]) == pytest.approx(1.5 * optimum, rel=1e-4)


def test_a_colour_close_to_what_is_there_asks_as_firmly_as_a_far_one_up_to_ask_gain():
    """Paint 25.5 grey levels from what lies under it (a light grey over mid grey) weighs the colour
    term by (ask_levels / 25.5)², capped at ``ask_gain``: the move is the optimum of that objective,
    and with ``ask_gain`` 1 the plain one, smaller. (White over mid grey, 127.5 levels, is unweighted:
    the test above.)"""
    spot = _patch(slice(5, 11), slice(5, 11))
    forward = _generator([spot])
    weights = brush_weights(R, 8.0, 8.0, 2.5)
    moves = {}
    for gain in (1.0, 8.0, 100.0):
        settings = SemanticObjective(reach=2.0, feather=2.0, spread=2.0, limit=100.0, growth=100.0, boldness=1.0, ask_levels=90.0, ask_gain=gain)
        stroke = SemanticStroke(forward, torch.zeros(1, 1), torch.eye(1), torch.tensor([1.0]), finite_jacobian(forward, torch.zeros(1, 1), torch.eye(1)), settings)
        stroke.step(weights, color_target((153, 153, 153)), (8.0, 8.0), 2.5)  # 0.2 in the model's units: 25.5 levels
        pixels = float(R * R)
        inside = stroke.footprint().reshape(-1) > 0
        spot_pixels = spot[0].reshape(-1) != 0
        held = (settings.preserve_near * float((spot_pixels & inside).sum()) + settings.preserve * float((spot_pixels & ~inside).sum())) * 0.25 / pixels
        firmness = min((90.0 / 25.5) ** 2, gain)
        moves[gain] = float(stroke.latent[0, 0])
        assert moves[gain] == pytest.approx(firmness * 0.5 * 0.2 / (firmness * 0.25 + held + settings.prior), rel=1e-4)
    assert moves[1.0] < moves[8.0] < moves[100.0] < 0.2 / 0.5  # firmer, and never past the colour itself


def test_choose_directions_can_be_told_which_direction_comes_first():
    matrix = torch.diag(torch.tensor([1.0, 1.0, 1.0]))
    linear = torch.tensor([-2.0, -1.0, 0.0])
    costs = torch.ones(3)
    assert choose_directions(matrix, linear, costs, limit=10.0, most=1, gain=0.1)[0] == [0]
    chosen, amounts, value = choose_directions(matrix, linear, costs, limit=10.0, most=1, gain=0.1, first=1)
    assert chosen == [1] and float(amounts[0]) == pytest.approx(1.0) and value == pytest.approx(-1.0)
    assert choose_directions(matrix, linear, costs, limit=10.0, most=1, gain=0.1, first=2)[0] == []  # it does not pay


def test_the_alternatives_are_the_other_directions_that_make_the_paint_each_alone():
    """Three directions whiten the painted spot, less and less; a fourth barely, a fifth changes only
    a far corner. The stroke leads with the strongest; its alternatives are the next two, each moved
    alone, strongest first (one that achieves under ``share`` of the best, or nothing, is none); a
    direction that darkens the spot would be one, moved the other way (the sign is the move's)."""
    spot = _patch(slice(5, 11), slice(5, 11))
    changes = [spot, 0.8 * spot, 0.6 * spot, 0.05 * spot, _patch(slice(0, 3), slice(0, 3))]
    stroke = _stroke(changes, [1.0] * 5, SemanticObjective(reach=2.0, feather=2.0, spread=2.0, limit=100.0, growth=100.0))
    assert stroke.alternatives() == []  # before a step
    moved = _paint(stroke, steps=3)
    assert int(torch.argmax(moved.abs())) == 0
    found = stroke.alternatives(count=3, share=0.2, least=0.1)
    assert [k for k, _, _ in found] == [1, 2]
    for k, amount, latent in found:
        assert latent.shape == (1, 5) and amount > 0.1
        assert float(latent[0, k]) == pytest.approx(amount)
        assert torch.count_nonzero(latent[0]) == 1  # that direction alone
    assert stroke.alternatives(count=1, share=0.2, least=0.1)[0][0] == 1
    answers = stroke.answers()  # the stroke's own answer first, then the others (default filters)
    assert answers[0][0] == 0 and torch.equal(answers[0][2], stroke.latent) and answers[0][1] == pytest.approx(float(stroke.latent[0, 0]))
    assert [k for k, _, _ in answers[1:]] == [k for k, _, _ in stroke.alternatives()]
    assert [k for k, _, _ in stroke.alternatives(count=3, share=0.2, least=10.0)] == []  # each moves less than 10 σ
    darkening = _stroke([spot, -0.8 * spot], [1.0, 1.0], SemanticObjective(reach=2.0, feather=2.0, spread=2.0, limit=100.0, growth=100.0))
    _paint(darkening, steps=3)
    (k, amount, _), = darkening.alternatives(count=3, share=0.2, least=0.1)
    assert k == 1 and amount < -0.1
    alone = _stroke([spot, _patch(slice(0, 3), slice(0, 3))], [1.0, 1.0])
    _paint(alone, steps=3)
    assert alone.alternatives() == [] and alone.answers() == []  # nothing else makes the paint: nothing to choose
