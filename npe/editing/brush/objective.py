"""What a brush step optimises, and how. Two objectives on z = z_start + B d:

**SemanticStroke** (the brush): B holds the model's named attribute directions and its principal
directions, one standard deviation of the training faces' codes each. The stroke's colour under the
brush is the force; where to find it is decided by the objective's Gauss-Newton metric, built from
the change each direction makes (a finite-difference Jacobian): a direction that changes only what
lies under the brush is cheap, one that repaints the face elsewhere (light, skin) is dear, and the
named semantics cost less than generic directions. So white over a closed mouth moves "mouth
open" and "smiling", not brightness. A change against the paint near the stroke (a moustache over
new teeth) is penalised, and the move is capped by a trust region that grows with the paint laid
down, so a stroke stays among faces the model knows. The default solver refits the whole stroke at
every brush position on each direction's measured change (one generator forward, no backward pass);
the earlier solver steps along the autograd gradient (one forward and backward).

**LocalStroke** (objective "pixel", and lighten/darken): the colour under the brush, DragGAN's mask
loss outside the reach, iGAN's prior, per-coordinate Adam on the top principal directions. It
reaches the colour by whatever is cheapest, which on a face is brightness: the glow it made on real
photos is why the semantic objective exists. Kept as the control in benchmarks/edit_quality.py.

Pure functions and small classes on tensors; no session here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from npe.editing.brush.footprint import pixel_centres, reach_mask
from npe.editing.compose import LUMA, PIXEL_UNITS, luminance
from npe.editing.errors import SessionError


@dataclass(frozen=True)
class PixelObjective:
    """``reach``: crop pixels beyond the brush's edge a change may spread (local: a few pixels; hair
    from a forehead stroke: more). ``feather``: crop pixels over which the composite fades out past
    the reach. ``preserve``: weight of the preservation term. ``prior``: pull toward the stroke's
    start (per whitened unit²). ``components``: principal directions the steps use. ``step``: Adam
    learning rate in whitened units. ``strength`` scales ``step`` (0 paints nothing)."""

    reach: float = 4.0
    feather: float = 6.0
    preserve: float = 3.0
    prior: float = 0.2
    components: int = 20
    step: float = 0.15
    strength: float = 1.0

    def __post_init__(self) -> None:
        for name in ("reach", "feather", "preserve", "prior", "step", "strength"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise SessionError(f"The brush's {name} must be a number >= 0, got {value!r}.")
        if not (isinstance(self.components, int) and self.components >= 1):
            raise SessionError(f"The brush needs at least one latent direction, got {self.components!r}.")


# --- objective ----------------------------------------------------------------------------------


def colour_loss(output: torch.Tensor, weights: torch.Tensor, target: torch.Tensor, *, grey: bool = False) -> torch.Tensor:
    """Brush-weighted mean squared difference to ``target`` (normalised by the brush's weight), on luminance
    when ``grey`` (a colour brush on a grey photo acts by its brightness)."""
    if grey:
        output, target = luminance(output), luminance(target)
    difference = (output - target).square().mean(dim=1)[0]
    return (difference * weights).sum() / weights.sum().clamp_min(1e-8)


def preservation_loss(output: torch.Tensor, start_image: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """mean((1 − reach) · (G(z) − G(z_start))²) over all pixels and channels (DragGAN's mask loss)."""
    return ((output - start_image).square().mean(dim=1)[0] * (1.0 - reach)).mean()


def principal_directions(latent_basis: torch.Tensor, components: int) -> torch.Tensor:
    """D x k: the ``components`` columns of latent_basis with the largest norm (standard deviation)."""
    order = torch.argsort(latent_basis.norm(dim=0), descending=True)[: max(1, min(components, latent_basis.shape[1]))]
    return latent_basis[:, order].detach()


class LocalStroke:
    """One stroke of the local brush. ``forward(z) -> G(z)`` must be differentiable in z (1 x D).

    Call ``step(u, v, radius, target)`` per brush position (crop pixels); ``latent`` and ``image``
    are the current z and G(z). ``footprint`` is the union of the stroke's brush discs' reach (hard,
    what the preservation term frees) and ``composite_reach()`` the feathered one for the composite.
    """

    def __init__(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        start: torch.Tensor,
        latent_basis: torch.Tensor,
        settings: PixelObjective = PixelObjective(),
        *,
        grey: bool = False,
        directions: torch.Tensor | None = None,
    ) -> None:
        self._forward = forward
        self.settings = settings
        self.grey = grey
        self.start = start.detach().reshape(1, -1).clone()
        if directions is None:
            directions = principal_directions(latent_basis.to(self.start), settings.components)  # D x k
        self.directions = directions.to(self.start)
        with torch.no_grad():
            self.start_image = forward(self.start).detach()
        self.resolution = int(self.start_image.shape[-1])
        k = self.directions.shape[1]
        self.offset = torch.zeros(1, k, dtype=self.start.dtype, device=self.start.device)
        self._moment = torch.zeros_like(self.offset)
        self._second = torch.zeros_like(self.offset)
        self._count = 0
        self._points: list[tuple[float, float]] = []
        self._radius = 0.0
        self._distance: torch.Tensor | None = None
        centres = pixel_centres(self.resolution).to(self.start.device)
        self._centres = (centres[None, :], centres[:, None])
        self._leaf: torch.Tensor | None = None
        self._output: torch.Tensor | None = None
        # A part the stroke may change beyond its discs (float R x R in [0, 1]: the hair a hair colour is
        # asked for), joined to the footprint (hard, from 0.5) and to the composite's reach; it only grows.
        self.free: torch.Tensor | None = None

    def free_part(self, part: torch.Tensor) -> None:
        """Join ``part`` (float R x R in [0, 1]) to the region the stroke may change beyond its discs."""
        part = part.to(self.start)
        self.free = part if self.free is None else torch.maximum(self.free, part)

    @property
    def latent(self) -> torch.Tensor:
        """The current z (1 x D, no grad)."""
        return (self.start + self.offset @ self.directions.t()).detach()

    def image(self) -> torch.Tensor:
        """G(current z), detached."""
        return self._graph()[1].detach()

    def _graph(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._output is None:
            leaf = self.offset.detach().clone().requires_grad_(True)
            with torch.enable_grad():
                self._output = self._forward(self.start + leaf @ self.directions.t())
            self._leaf = leaf
        return self._leaf, self._output  # type: ignore[return-value]

    def distance(self) -> torch.Tensor:
        """R x R distance (crop pixels) to the nearest brush centre of the stroke so far."""
        if self._distance is None:
            return torch.full((self.resolution, self.resolution), math.inf)
        return self._distance

    def footprint(self) -> torch.Tensor:
        """Hard 0/1 R x R: where the stroke may change the image (within radius + reach)."""
        hard = reach_mask(self.distance(), self._radius, self.settings.reach)
        return hard if self.free is None else torch.maximum(hard, (self.free >= 0.5).to(hard))

    def composite_reach(self) -> torch.Tensor:
        """Feathered R x R in [0, 1]: multiply the composite's change mask by it (limit_change_mask)."""
        soft = reach_mask(self.distance(), self._radius, self.settings.reach, self.settings.feather)
        return soft if self.free is None else torch.maximum(soft, self.free.to(soft))

    def _add_point(self, u: float, v: float, radius: float) -> None:
        self._points.append((u, v))
        self._radius = max(self._radius, radius)
        # The pixel-centre grid is brush.pixel_centres, made once (torch.arange per step showed in profiles).
        grid_u, grid_v = self._centres
        here = ((grid_u - u).square() + (grid_v - v).square()).sqrt()
        self._distance = here if self._distance is None else torch.minimum(self._distance, here)

    def step(self, weights: torch.Tensor, target: torch.Tensor, centre: tuple[float, float], radius: float) -> float:
        """One Adam step under the brush ``weights`` (R x R, brush.brush_weights at ``centre`` with
        ``radius``, crop pixels) toward ``target`` (broadcastable to G(z)); returns the loss before."""
        self._add_point(float(centre[0]), float(centre[1]), float(radius))
        settings = self.settings
        if settings.strength <= 0.0 or float(weights.sum()) <= 0.0:
            return 0.0
        leaf, output = self._graph()
        with torch.enable_grad():
            loss = colour_loss(output, weights, target, grey=self.grey)
            if settings.preserve > 0:
                loss = loss + settings.preserve * preservation_loss(output, self.start_image, self.footprint())
            if settings.prior > 0:
                loss = loss + settings.prior * leaf.square().mean()
            (gradient,) = torch.autograd.grad(loss, leaf)
        if not bool(torch.isfinite(gradient).all()):
            return float(loss.detach())
        # Adam (Kingma & Ba 2015), written out: per-direction normalised steps, state in this object.
        beta1, beta2 = 0.9, 0.99
        self._count += 1
        self._moment.mul_(beta1).add_(gradient, alpha=1 - beta1)
        self._second.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
        corrected = self._moment / (1 - beta1**self._count)
        scale = (self._second / (1 - beta2**self._count)).sqrt().add_(1e-8)
        self.offset = (self.offset - settings.step * settings.strength * corrected / scale).detach()
        self._leaf = self._output = None
        self._graph()  # the new image: shown now, differentiated by the next step
        return float(loss.detach())


def lighten_target(start_image: torch.Tensor, amount: float) -> torch.Tensor:
    """The stroke's starting image brightened (amount > 0) or darkened (< 0) by ``amount`` of the
    full 0-1 range: lighten/darken is the same objective with this target."""
    return (start_image.detach() + 2.0 * amount).clamp(-1.0, 1.0)


@dataclass(frozen=True)
class SemanticObjective:
    """The semantic brush's objective and steps (see SemanticStroke). ``reach``/``feather`` as for
    PixelObjective. ``preserve``: weight of the change outside the reach; ``preserve_near``: within
it (a change the colour does not ask for, a moustache over white teeth, still costs). ``prior``: weight of
    the cost of moving (per σ² of a direction, times its ``cost``). ``attribute_cost`` /
    ``component_cost``: what one σ along a named attribute / a principal direction costs (named
    semantics are cheap, generic directions dear). ``damping``: fraction of the Gauss-Newton step
    taken per brush position. ``limit``: the largest cost-weighted distance (σ) a stroke may move z, reached after
    ``limit / growth`` brush dabs (painting more asks for more). ``spread``: the reach (crop pixels beyond the brush)
    that a strong change of the model's may take when the reach setting is smaller (a smile's
    cheeks, hair along a hairline): the reach follows the part the model changed, not only the disc.
    ``against``: weight of ``against_loss`` (white paint may open a mouth, not grow a moustache).
    ``measure``: the move (σ) over which each
    direction's change is measured. ``ask_levels`` / ``ask_gain`` (finite solver): a colour closer to what lies under the
    brush than ``ask_levels`` grey levels (root mean square over the painted pixels) asks as firmly as one that far, up to
    ``ask_gain`` times: skin colour over a light beard (a median 41 levels from it) is as clear a request as
    white over a dark one (137), and a colour close to what is there still asks to change it. ``identity``: weight of the change the stroke makes to the model's own reading of who
    the person is (its Male and Young classifiers in z). Off by default: on this model removing a beard
    or adding glasses moves those classifiers too, and the term blocked beard removal (edit_quality_log).

    ``solver``: "finite" (the default) solves the whole stroke again at every brush position on the
    measured changes, G(z_start + B t) ≈ G(z_start) + Σ t_k J_k (J over ``measure`` σ: it sees the
    teeth of a smile, which a derivative at z_start does not), with the colour asked for under all the
    stroke's dabs so far; it takes the one direction that lowers that objective most, then a second
    (up to ``directions_per_stroke``) only if it lowers it by a further ``added_gain`` of what the
    first achieved, and moves ``boldness`` times the optimum (the colour's pull is balanced by the
    preservation before the model's change reads as the edit: at 1.0 glasses 48%, at 1.5 84%). No
    backward pass. "gradient": the earlier step (autograd force, greedy Gauss-Newton steps, damped;
    ``damping``, ``against`` and ``identity`` apply to it only). Measured in edit_quality_log.md."""

    reach: float = 4.0
    feather: float = 6.0
    preserve: float = 3.0
    preserve_near: float = 0.5
    prior: float = 0.01
    attribute_cost: float = 1.0
    component_cost: float = 8.0
    components: int = 20
    damping: float = 0.5
    limit: float = 4.0
    growth: float = 0.25
    spread: float = 12.0
    against: float = 4.0
    measure: float = 2.0
    identity: float = 0.0
    strength: float = 1.0
    solver: str = "finite"
    directions_per_stroke: int = 2
    added_gain: float = 0.1
    boldness: float = 1.5
    ask_levels: float = 90.0
    ask_gain: float = 8.0


# Who a person is, is not what a brush stroke asks to change: moving along these costs more (the
# cost multiplies attribute_cost; other named attributes cost 1). Heavy_Makeup made up men as women
# when white was painted over a beard (it lightens a chin as a shave does); a shave is an everyday
# edit and costs 1. Measured (edit_quality.py, 50 faces): beard removal 54 -> 68%, the other edits
# within a face or two.
ATTRIBUTE_COSTS: dict[str, float] = {"Male": 6.0, "Young": 6.0, "Heavy_Makeup": 2.0, "Gray_Hair": 3.0, "Bald": 3.0, "Pale_Skin": 3.0}


def against_loss(output: torch.Tensor, start_image: torch.Tensor, target: torch.Tensor, footprint: torch.Tensor) -> torch.Tensor:
    """Within the stroke's footprint, the squared part of each pixel's change that goes against the
    paint (darker where white was asked for, lighter for dark...): mean over the footprint of
    max(0, −(G(z) − G(z_start)) · u)², u the unit direction from the start colour toward the target.
    A change the colour asks for, or one across it, costs nothing."""
    toward = target - start_image
    unit = toward / toward.norm(dim=1, keepdim=True).clamp_min(1e-3)
    along = ((output - start_image) * unit).sum(dim=1)[0]  # R x R
    return (F.relu(-along).square() * footprint).sum() / footprint.sum().clamp_min(1.0)


def finite_jacobian(
    forward: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor, directions: torch.Tensor, scale: float = 1.0, chunk: int = 16
) -> torch.Tensor:
    """K x 3 x R x R: (G(start + scale·d_k) − G(start)) / scale for each column d_k of ``directions``
    (D x K): the change per unit along each direction, measured over a move of ``scale`` units (a
    finite difference at the scale of a real edit, where a derivative sees only the first sliver of a
    smile: teeth appear once the lips have parted)."""
    with torch.no_grad():
        base = forward(start)
        moved = start + scale * directions.t()
        return torch.cat([forward(moved[i : i + chunk]) - base for i in range(0, moved.shape[0], chunk)]) / scale


def choose_directions(
    matrix: torch.Tensor, linear: torch.Tensor, costs: torch.Tensor, limit: float, most: int, gain: float, first: int | None = None,
    allowed: Sequence[int] | None = None,
) -> tuple[list[int], torch.Tensor, float]:
    """Forward stepwise selection on f(t) = 2 bᵀt + tᵀ M t (M = ``matrix``, b = ``linear``): the one
    direction whose best amount lowers f most (or direction ``first``, if given), then up to
    ``most`` in all, each joining only if it lowers f by a further ``gain`` of what those chosen
    achieve; every candidate's amounts scaled into the trust region (cost-weighted norm ≤
    ``limit``). ``allowed``: the directions that may be chosen (None: all). Returns (indices, their
    amounts, f)."""
    count = matrix.shape[0]
    chosen: list[int] = []
    amounts = torch.zeros(0, dtype=matrix.dtype, device=matrix.device)
    value = 0.0
    if limit <= 0:
        return chosen, amounts, value
    candidates_all = range(count) if allowed is None else sorted(set(allowed))
    for _ in range(max(0, min(most, count))):
        pool = [first] if first is not None and not chosen else [k for k in candidates_all if k not in chosen]
        if not pool:
            break
        candidates = torch.tensor(pool, dtype=torch.long, device=matrix.device)
        taken = torch.tensor(chosen, dtype=torch.long, device=matrix.device).expand(len(candidates), len(chosen))
        sets = torch.cat([taken, candidates[:, None]], dim=1)
        blocks = matrix[sets[:, :, None], sets[:, None, :]]  # C x m x m
        rhs = linear[sets]  # C x m
        trial = -torch.linalg.solve(blocks, rhs)
        norms = (trial.square() * costs[sets]).sum(1).sqrt()
        trial = trial * torch.clamp(limit / norms.clamp_min(1e-12), max=1.0)[:, None]
        values = 2 * (rhs * trial).sum(1) + torch.einsum("ci,cij,cj->c", trial, blocks, trial)
        best = int(torch.argmin(values))
        if chosen and float(values[best]) > value - gain * abs(value):
            break
        if not float(values[best]) < 0.0:  # nothing lowers the objective
            break
        chosen, amounts, value = sets[best].tolist(), trial[best], float(values[best])
    return chosen, amounts, value


class SemanticStroke(LocalStroke):
    """The brush that asks the model how a face makes the painted change.

    z = z_start + B d with B the named attribute directions and the principal directions, one σ of
    the training faces' codes each.

    Solver "finite" (the default): each brush position solves the stroke again from its start on the
    change each direction makes over ``measure`` σ (J, finite differences at the stroke's start),
    G(z_start + B d) ≈ G(z_start) + Σ d_k J_k, for

      objective  colour under every dab so far + P-weighted change elsewhere + prior · Σ cost_k d_k²
                 (P = ``preserve`` outside the reach, ``preserve_near`` within it), a quadratic in d
      choice     the one direction that lowers it most at its best amount, and a second only if it
                 lowers it by ``added_gain`` more (choose_directions); each candidate's amounts scaled
                 into the trust region: cost-weighted move ≤ strength · min(limit, growth · dabs)
      move       ``boldness`` · strength times that optimum, within the trust region

    A white stroke over a mouth then opens the mouth or smiles (the teeth appear over two σ, where a
    derivative at the start sees only lips brightening and chose "heavy makeup"): 66 -> 84-90% of
    held-out mouths read open or smiling (edit_quality_log.md). One generator forward a position, no
    backward pass.

    Solver "gradient" (the earlier step, kept for comparison): one step on d per position:

      force    the gradient (autograd: one generator forward and backward) of
               colour(G(z), brush, target) + against · against_loss   (no pull back to the start)
      metric   M = J_brushᵀ J_brush + P-weighted J_imageᵀ J_image + prior · diag(cost), with J the
               change each direction makes over ``measure`` σ (finite differences at the stroke's
               start) and P = ``preserve`` outside the reach, ``preserve_near`` within it
      step     Gauss-Newton along the one direction with the largest g_k² / M_kk (refitted jointly
               with the directions the stroke already uses), damped, then the trust region: the
               cost-weighted move stays within strength · min(limit, growth · dabs painted)

    So a direction whose change lies under the brush and nowhere else is cheap (a smile for white
    over a mouth), one that repaints the face (light, skin) is dear, the stroke picks one meaning
    at a time, and painting longer asks for more of it, up to a move the model has seen faces make."""

    def __init__(
        self,
        forward: Callable[[torch.Tensor], torch.Tensor],
        start: torch.Tensor,
        directions: torch.Tensor,
        costs: torch.Tensor,
        jacobian: torch.Tensor,
        settings: SemanticObjective = SemanticObjective(),
        *,
        grey: bool = False,
        identity: torch.Tensor | None = None,
        allowed: Sequence[int] | None = None,
    ) -> None:
        local = PixelObjective(reach=settings.reach, feather=settings.feather, preserve=settings.preserve, strength=settings.strength)
        super().__init__(forward, start, directions, local, grey=grey, directions=directions)
        self.costs = costs.to(self.start).reshape(1, -1)
        self.semantic = settings
        # The directions this stroke may move along (None: every one); a hue stroke the tint cannot
        # carry asks only for the hair colours (npe.editing.brush.stroke.HUE_DIRECTIONS).
        self.allowed = None if allowed is None else sorted(set(int(k) for k in allowed))
        count = jacobian.shape[0]
        # K x R² x 3: a pixel's three channels side by side, so a pixel mask selects rows.
        self.jacobian = jacobian.to(self.start).reshape(count, 3, -1).permute(0, 2, 1).contiguous()
        if grey:  # the colour term reads luminance: its curvature is that of the luminance change
            luma = torch.tensor(LUMA, dtype=self.start.dtype, device=self.start.device)
            self._colour_jacobian = (self.jacobian * luma).sum(-1, keepdim=True)
        else:
            self._colour_jacobian = self.jacobian
        self._paint = 0.0
        self._painted: torch.Tensor | None = None  # the brush weights of every dab so far (their maximum)
        self._problem: tuple[torch.Tensor, torch.Tensor, float] | None = None  # the finite solver's last (M, b, limit)
        self._lead: int | None = None  # the direction it chose first
        if settings.solver not in ("finite", "gradient"):
            raise ValueError(f"solver must be 'finite' or 'gradient', got {settings.solver!r}")
        self._near: torch.Tensor | None = None  # footprint pixels summed into _near_sum
        self._near_sum = torch.zeros(0)
        # I x K: each row reads one identity attribute's logit change from d, scaled so that one σ
        # along that attribute's own direction reads 1 (a stroke for glasses should not age a face).
        self.identity = None if identity is None else identity.to(self.start)
        flat = self.jacobian.reshape(count, -1)
        self._gram_all = flat @ flat.t()  # Σ over pixels and channels

    def composite_reach(self) -> torch.Tensor:
        """The feathered disc of the reach, widened to ``spread`` pixels where the stroke's change
        (G(z) − G(z_start)) is strong: weak changes stop at the disc, the part the model moved does not."""
        disc = super().composite_reach()
        if self.semantic.spread <= self.settings.reach or self._distance is None:
            return disc
        from npe.editing.compose import MaskSettings, change_mask

        wide = reach_mask(self.distance(), self._radius, self.semantic.spread, self.settings.feather)
        strong = change_mask(self.image() - self.start_image, MaskSettings(sigma=1.5, gain=5.0))
        return torch.maximum(disc, wide * strong)

    def _greedy_step(self, matrix: torch.Tensor, gradient: torch.Tensor) -> torch.Tensor:
        """The Gauss-Newton step along the one direction that lowers the linearised objective most
        (g_k² / M_kk), then refitted jointly over the directions the stroke has already used: a
        stroke says what a face should do, one meaning at a time, instead of a least-squares blend
        of every direction that whitens a pixel a little."""
        diagonal = matrix.diagonal().clamp_min(1e-12)
        gain = gradient.square() / diagonal
        if self.allowed is not None:  # only the directions the stroke may take
            if not self.allowed:
                return torch.zeros_like(gradient)
            keep = torch.zeros_like(gain, dtype=torch.bool)
            keep[self.allowed] = True
            gain = torch.where(keep, gain, torch.full_like(gain, -1.0))
        chosen = int(torch.argmax(gain))
        active = torch.nonzero(self.offset[0] != 0).squeeze(1).tolist()
        used = sorted(set(active) | {chosen})
        index = torch.tensor(used)
        step = torch.zeros_like(gradient)
        step[index] = torch.linalg.solve(matrix[index][:, index], gradient[index])
        return step

    def _near_gram(self, footprint: torch.Tensor) -> torch.Tensor:
        """Σ JᵀJ over the footprint's pixels, kept up to date as the footprint grows (only the new
        pixels are summed: the footprint of a stroke never shrinks)."""
        inside = footprint.reshape(-1) > 0
        if self._near is None:
            self._near, self._near_sum = torch.zeros_like(inside), torch.zeros_like(self._gram_all)
        added = torch.nonzero(inside & ~self._near).squeeze(1)
        if added.numel():
            self._near_sum = self._near_sum + self._pixel_gram(self.jacobian, added)
            self._near = self._near | inside
        return self._near_sum

    def _pixel_gram(self, source: torch.Tensor, pixels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        part = source[:, pixels]  # K x P x C
        if weights is not None:
            return torch.einsum("kpc,p,lpc->kl", part, weights, part)
        flat = part.reshape(part.shape[0], -1)
        return flat @ flat.t()

    def step(self, weights: torch.Tensor, target: torch.Tensor, centre: tuple[float, float], radius: float) -> float:
        self._add_point(float(centre[0]), float(centre[1]), float(radius))
        if self.semantic.strength <= 0.0 or float(weights.sum()) <= 0.0:
            return 0.0
        if self.semantic.solver == "finite":
            return self._finite_step(weights, target, radius)
        return self._gradient_step(weights, target, radius)

    def _finite_step(self, weights: torch.Tensor, target: torch.Tensor, radius: float) -> float:
        """The stroke solved again from its start on the measured changes (``solver`` "finite")."""
        settings = self.semantic
        self._painted = weights.clone() if self._painted is None else torch.maximum(self._painted, weights)
        self._paint += float(weights.sum()) / max(1e-8, math.pi * radius * radius / 2)  # brush dabs so far
        footprint = self.footprint()
        pixels = footprint.numel()
        # The colour term over every dab so far: Σ_p w_p mean_c (G0 + Σ t_k J_k − target)², a quadratic in t.
        painted = self._painted.reshape(-1)
        under = torch.nonzero(painted > 0).squeeze(1)
        share = painted[under] / painted[under].sum()
        colour_jacobian = self._colour_jacobian[:, under]  # K x P x C
        start = self.start_image[0].permute(1, 2, 0).reshape(-1, 3)[under]
        goal = target.reshape(1, 3).to(start)
        if self.grey:
            luma = torch.tensor(LUMA, dtype=start.dtype, device=start.device)
            start, goal = (start * luma).sum(-1, keepdim=True), (goal * luma).sum(-1, keepdim=True)
        channels = colour_jacobian.shape[-1]
        firmness = self._firmness(share, start - goal)
        weighted = colour_jacobian * share.sqrt()[None, :, None]
        curvature = firmness * torch.einsum("kpc,lpc->kl", weighted, weighted) / channels
        linear = firmness * torch.einsum("kpc,pc->k", colour_jacobian * share[None, :, None], start - goal) / channels
        held = (settings.preserve * self._gram_all + (settings.preserve_near - settings.preserve) * self._near_gram(footprint)) / (3 * pixels)
        matrix = curvature + held + settings.prior * torch.diag(self.costs[0])
        limit = settings.strength * min(settings.limit, settings.growth * self._paint)
        chosen, amounts, value = choose_directions(matrix, linear, self.costs[0], limit, settings.directions_per_stroke, settings.added_gain,
                                                   allowed=self.allowed)
        self._problem = (matrix, linear, limit)
        self._lead = chosen[0] if chosen else None
        self.offset = self._move(chosen, amounts)
        self._leaf = None
        with torch.no_grad():  # no backward pass: the step is solved on the measured changes
            self._output = self._forward(self.latent)
        return value

    def _firmness(self, share: torch.Tensor, difference: torch.Tensor) -> float:
        """The colour term's weight: (ask_levels / d)² for a paint d grey levels (RMS over the painted
        pixels, weighted by ``share``) from what lies under it, between 1 and ``ask_gain``."""
        settings = self.semantic
        mean_square = float((share[:, None] * difference.square()).sum()) / difference.shape[-1]
        asked = (settings.ask_levels / PIXEL_UNITS) ** 2
        return min(max(asked / max(mean_square, 1e-12), 1.0), max(settings.ask_gain, 1.0))

    def _move(self, chosen: list[int], amounts: torch.Tensor) -> torch.Tensor:
        """The offset (1 x K) for the optimum ``amounts`` along ``chosen``: ``boldness`` · strength
        times it, within the trust region."""
        settings = self.semantic
        offset = torch.zeros_like(self.offset)
        if chosen:
            assert self._problem is not None
            limit = self._problem[2]
            index = torch.tensor(chosen)
            amounts = amounts * settings.boldness * settings.strength
            distance = float((amounts.square() * self.costs[0, index]).sum().sqrt())
            if distance > limit:
                amounts = amounts * (limit / distance)
            offset[0, index] = amounts
        return offset

    def alternatives(self, count: int = 3, share: float = 0.2, least: float = 0.5) -> list[tuple[int, float, torch.Tensor]]:
        """Other answers to the stroke painted so far (iGAN's candidates): for the ``count`` directions
        other than the one the stroke leads with whose own best amount lowers the objective most,
        the stroke solved again along that direction alone (one meaning each: a second direction
        joining would pull every answer back toward the stroke's own). Only directions that alone
        achieve at least ``share`` of what the best one does, moved by at least ``least`` σ, are
        answers. Each as (its direction, the move along it, the latent 1 x D). Empty for the
        gradient solver and before a step."""
        if self._problem is None or self.semantic.strength <= 0.0:
            return []
        matrix, linear, limit = self._problem
        diagonal = matrix.diagonal().clamp_min(1e-12)
        alone = -linear / diagonal  # each direction's own best amount, then scaled into the trust region
        alone = alone * torch.clamp(limit / (alone.square() * self.costs[0]).sqrt().clamp_min(1e-12), max=1.0)
        values = 2 * linear * alone + diagonal * alone.square()
        if self.allowed is not None:  # directions the stroke may not take lower nothing: no answers
            keep = torch.zeros_like(values, dtype=torch.bool)
            keep[self.allowed] = True
            values = torch.where(keep, values, torch.zeros_like(values))
        found: list[tuple[int, float, torch.Tensor]] = []
        enough = share * float(values.min())
        for k in torch.argsort(values).tolist():
            if len(found) >= count or not float(values[k]) < min(0.0, enough):
                break
            if k == self._lead:
                continue
            chosen, amounts, _ = choose_directions(matrix, linear, self.costs[0], limit, 1, 0.0, first=k)  # that direction alone
            offset = self._move(chosen, amounts)
            if chosen and abs(float(offset[0, k])) >= least:
                found.append((k, float(offset[0, k]), (self.start + offset @ self.directions.t()).detach()))
        return found

    @property
    def lead(self) -> int | None:
        """The direction the finite solver chose first at its last step (None before a step, for the
        gradient solver, or when nothing lowered the objective)."""
        return self._lead

    def answers(self, count: int = 3) -> list[tuple[int, float, torch.Tensor]]:
        """The stroke's own answer (its leading direction, the move along it, its latent) followed by
        its ``alternatives(count)``; empty when there are no alternatives (nothing to choose from)."""
        others = self.alternatives(count)
        if not others or self._lead is None:
            return []
        return [(self._lead, float(self.offset[0, self._lead]), self.latent)] + others

    def _gradient_step(self, weights: torch.Tensor, target: torch.Tensor, radius: float) -> float:
        """The autograd force and greedy Gauss-Newton steps (``solver`` "gradient")."""
        settings = self.semantic
        footprint = self.footprint()
        pixels = footprint.numel()
        leaf, output = self._graph()
        with torch.enable_grad():  # the force: the colour asked for; where to find it: the metric below
            loss = colour_loss(output, weights, target, grey=self.grey)
            if settings.against > 0:
                loss = loss + settings.against * against_loss(output, self.start_image, target, footprint)
            (gradient,) = torch.autograd.grad(loss, leaf)
        if self.identity is not None and settings.identity > 0:
            reading = self.identity @ self.offset[0]
            gradient = gradient + 2 * settings.identity * (self.identity.t() @ reading)[None]
        if not bool(torch.isfinite(gradient).all()):
            return float(loss.detach())
        self._paint += float(weights.sum()) / max(1e-8, math.pi * radius * radius / 2)  # brush dabs so far
        # The Gauss-Newton matrix, summed only where it differs from the whole-image Gram matrix.
        brush_pixels = torch.nonzero(weights.reshape(-1) > 0).squeeze(1)
        brush = weights.reshape(-1)[brush_pixels] / weights.sum().clamp_min(1e-8)
        colour_channels = self._colour_jacobian.shape[-1]
        colour_term = self._pixel_gram(self._colour_jacobian, brush_pixels, brush) / colour_channels
        near_gram = self._near_gram(footprint)
        held_term = (settings.preserve * self._gram_all + (settings.preserve_near - settings.preserve) * near_gram) / (3 * pixels)
        matrix = 2 * (colour_term + held_term + settings.prior * torch.diag(self.costs[0]))
        if self.identity is not None and settings.identity > 0:
            matrix = matrix + 2 * settings.identity * self.identity.t() @ self.identity
        step = self._greedy_step(matrix, gradient[0])
        offset = self.offset - settings.damping * settings.strength * step[None]
        # The trust region: the stroke's cost-weighted distance from its start stays within ``limit``.
        distance = float((offset.square() * self.costs).sum().sqrt())
        limit = settings.strength * min(settings.limit, settings.growth * self._paint)  # strength: how far a stroke may go
        if distance > limit:
            offset = offset * (limit / distance)
        self.offset = offset.detach()
        self._leaf = self._output = None
        self._graph()
        return float(loss.detach())
