"""The local, semantic brush: the colour asked for under the brush, the stroke's starting image kept
outside the brush's reach, and steps in the whitened coordinates of the model's latent distribution.

Objective for one brush position (images in [-1, 1]):

    L(d) = colour(G(z), brush, target)                          what the user asked for
         + preserve · Σ (1 − reach) · (G(z) − G(z_start))² / Σ 1   DragGAN's mask loss: nothing else moves
         + prior · mean(d²)                                      iGAN's pull toward the stroke's start

with z = z_start + B_k d, B_k the top-k principal directions of the latent distribution shipped in
the weights (``latent_basis`` columns scaled by their standard deviations), so a unit of d is one
standard deviation of real faces' codes: steps stay where the model saw data. Adam on d, one step
per brush position, costs one generator forward and one backward (the forward of each step is the
image shown and the graph the next step differentiates).

The composite side: ``reach_mask`` (feathered) multiplies the change mask, so the masking technique
can never carry a change further than the reach. Pure functions on plain tensors; no session here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from npe.editing.brush import pixel_centres
from npe.editing.errors import SessionError

LUMA = (0.299, 0.587, 0.114)  # Rec. 601 luminance weights (what PIL's "L" conversion uses)


@dataclass(frozen=True)
class LocalBrushSettings:
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


# --- masks ------------------------------------------------------------------------------------


def distance_to_points(resolution: int, points: Sequence[tuple[float, float]]) -> torch.Tensor:
    """R x R: distance (crop pixels) from each pixel centre to the nearest of ``points`` (u, v)."""
    centres = pixel_centres(resolution)
    if not points:
        return torch.full((resolution, resolution), math.inf)
    best = None
    for u, v in points:
        distance = (centres[None, :] - u).square() + (centres[:, None] - v).square()
        best = distance if best is None else torch.minimum(best, distance)
    return best.sqrt()  # type: ignore[union-attr]


def reach_mask(distance: torch.Tensor, radius: float, reach: float, feather: float = 0.0) -> torch.Tensor:
    """1 within ``radius + reach`` of the stroke, a smoothstep down to 0 over the next ``feather``
    pixels, 0 beyond (``distance`` from ``distance_to_points``). feather 0: a hard 0/1 mask."""
    inner = radius + reach
    if feather <= 0:
        return (distance <= inner).float()
    ramp = (1.0 - (distance - inner) / feather).clamp(0.0, 1.0)
    return ramp * ramp * (3.0 - 2.0 * ramp)


def limit_change_mask(change_mask: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """The composite mask M · reach: the masking technique's change mask (compose.change_mask) can
    no longer carry a change beyond the strokes' feathered reach (the union over the edit's strokes)."""
    return change_mask * reach.to(change_mask)


# --- greyscale ----------------------------------------------------------------------------------


def luminance(image: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W (or 1 x 3 x 1 x 1 colours) -> N x 1 x H x W Rec. 601 luminance, same units."""
    weights = torch.tensor(LUMA, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True)


def greyscale_delta(delta: torch.Tensor) -> torch.Tensor:
    """A change Δ (N x 3 x H x W) as its luminance on all three channels: a grey photo stays grey."""
    return luminance(delta).expand_as(delta).contiguous()


def is_greyscale(image: np.ndarray, tolerance: int = 2) -> bool:
    """True if a uint8 H x W x 3 image has equal channels within ``tolerance`` levels."""
    pixels = np.asarray(image).astype(np.int16)
    return bool(np.abs(pixels[..., 0] - pixels[..., 1]).max() <= tolerance and np.abs(pixels[..., 1] - pixels[..., 2]).max() <= tolerance)


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
        settings: LocalBrushSettings = LocalBrushSettings(),
        *,
        grey: bool = False,
    ) -> None:
        self._forward = forward
        self.settings = settings
        self.grey = grey
        self.start = start.detach().reshape(1, -1).clone()
        self.directions = principal_directions(latent_basis.to(self.start), settings.components)  # D x k
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
        return reach_mask(self.distance(), self._radius, self.settings.reach)

    def composite_reach(self) -> torch.Tensor:
        """Feathered R x R in [0, 1]: multiply the composite's change mask by it (limit_change_mask)."""
        return reach_mask(self.distance(), self._radius, self.settings.reach, self.settings.feather)

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
