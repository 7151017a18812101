"""The contextual paintbrush: soft brush weights at model resolution and the gradient step on z.

A step reduces the brush-weighted squared difference between G(z) and a target (the brush colour,
or the current image lightened), normalised by the brush's total weight so small and large brushes
respond alike: a normalised-gradient step whose length adapts to the model (a trust region), then a
pull toward the latent the stroke started from (a proximal shrink that keeps the edit near the photo).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from npe.editing.errors import SessionError

# Step lengths, calibrated on the bundled model: 0.1 / 0.4 (per sqrt(latent_dim)) turned a whole face
# white from one stroke over the mouth; at 0.015 / 0.06 the same stroke opens the mouth.
INITIAL_STEP = 0.015  # first step length in z, per sqrt(latent_dim) (|z| ≈ sqrt(latent_dim) for z ~ N(0, I))
MAX_STEP = 0.06  # the longest step a stroke may grow to, per sqrt(latent_dim)
MIN_STEP = 0.002  # steps never shrink below this, per sqrt(latent_dim)
GROW, SHRINK = 1.25, 0.5  # step length after an accepted / a rejected step
MIN_RADIUS = 0.75  # crop pixels: smaller brushes would fall between pixel centres

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_NAMED = {
    "white": (255, 255, 255),
    "black": (0, 0, 0),
    "red": (255, 0, 0),
    "green": (0, 128, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "brown": (139, 69, 19),
}


class ColorError(SessionError):
    """A colour string that is not '#rrggbb', '#rgb', 'r,g,b' or a basic colour name."""


def parse_color(value: str | tuple[int, int, int] | list[int]) -> tuple[int, int, int]:
    """'#ff8800', 'ff8800', '#f80', '255,136,0', 'white' or an (r, g, b) tuple -> (r, g, b) 0-255."""
    if isinstance(value, (tuple, list, np.ndarray)):
        parts = list(value)
        if len(parts) == 3 and all(isinstance(p, (int, np.integer)) and 0 <= p <= 255 for p in parts):
            return int(parts[0]), int(parts[1]), int(parts[2])
        raise ColorError(f"A colour needs three integers from 0 to 255, got {value!r}.")
    text = str(value).strip()
    if text.lower() in _NAMED:
        return _NAMED[text.lower()]
    match = _HEX.match(text)
    if match:
        digits = match.group(1)
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)
    parts = [p.strip() for p in text.split(",")]
    if len(parts) == 3 and all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
        return int(parts[0]), int(parts[1]), int(parts[2])
    raise ColorError(
        f"'{text}' is not a colour; use '#rrggbb' (e.g. '#ffcc99'), '#rgb', 'R,G,B' with 0-255 values, or a name like 'white'."
    )


def brush_weights(resolution: int, u: float, v: float, radius: float) -> torch.Tensor:
    """A soft round brush centred at crop position (u, v) (continuous pixels) with ``radius`` crop
    pixels: a raised-cosine falloff, 1 at the centre and 0 from ``radius`` on. R x R float32."""
    radius = max(radius, MIN_RADIUS)
    centres = torch.arange(resolution, dtype=torch.float32) + 0.5
    distance = torch.sqrt((centres[None, :] - u) ** 2 + (centres[:, None] - v) ** 2)
    return torch.where(distance < radius, 0.5 * (1.0 + torch.cos(math.pi * distance / radius)), torch.zeros(()))


def weighted_loss(output: torch.Tensor, weights: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference to ``target`` under the brush, normalised by the brush's total
    weight (so small and large brushes respond alike). ``output`` 1 x 3 x R x R, ``weights`` R x R,
    ``target`` broadcastable to ``output``."""
    difference = (output - target).square().mean(dim=1)[0]
    return (difference * weights).sum() / weights.sum()


@dataclass
class StepOutcome:
    accepted: bool
    loss_before: float
    loss_after: float


class StrokeOptimizer:
    """Gradient steps on z for one stroke, with a trust region that adapts the step length to the
    model: a normalised-gradient step of the current length is tried; if the brush loss went down it
    is kept and the next step may be longer, otherwise it is dropped and the length halved. The
    forward pass of each tried latent is kept with its graph: it is the image to show and what the
    next step differentiates, so a step costs one forward and one backward pass.

    ``forward(latent) -> (leaf, G(leaf))`` builds a graph; ``anchor`` (1 x D) is the latent the
    stroke pulls back toward by ``prior_weight`` after each step (0: no pull).
    """

    def __init__(
        self,
        forward: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
        latent: torch.Tensor,
        *,
        strength: float = 1.0,
        prior_weight: float = 0.0,
        anchor: torch.Tensor | None = None,
    ) -> None:
        self._forward = forward
        scale = math.sqrt(latent.shape[-1])
        self.strength = max(0.0, float(strength))
        self.max_step = MAX_STEP * scale * self.strength
        self.min_step = min(MIN_STEP * scale, self.max_step)
        self.step_length = INITIAL_STEP * scale * self.strength
        self.prior_weight = min(max(0.0, float(prior_weight)), 1.0)
        self.anchor = anchor.detach() if anchor is not None else None
        self._leaf: torch.Tensor | None = None
        self._output: torch.Tensor | None = None
        self._latent = latent.detach().clone()

    @property
    def latent(self) -> torch.Tensor:
        """The current z (1 x D, no grad)."""
        return self._latent

    def image(self) -> torch.Tensor:
        """G(current z), detached (builds the graph if no step was taken yet)."""
        return self._graph()[1].detach()

    def _graph(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._output is None:
            self._leaf, self._output = self._forward(self._latent)
        return self._leaf, self._output

    def step(self, weights: torch.Tensor, target: torch.Tensor) -> StepOutcome:
        """One trust-region step toward ``target`` under ``weights`` (see class doc)."""
        if self.strength <= 0.0 or float(weights.sum()) <= 0.0:
            return StepOutcome(False, 0.0, 0.0)
        leaf, output = self._graph()
        with torch.enable_grad():  # the caller may be inside torch.no_grad()
            loss = weighted_loss(output, weights, target)
            # retain_graph: if this step is rejected the next one differentiates the same pass again.
            (gradient,) = torch.autograd.grad(loss, leaf, retain_graph=True)
        before = float(loss.detach())
        norm = float(gradient.norm())
        if not (norm > 0.0 and math.isfinite(norm)):
            return StepOutcome(False, before, before)
        with torch.no_grad():
            candidate = self._latent - (self.step_length / norm) * gradient
            if self.anchor is not None and self.prior_weight > 0.0:
                candidate = self.anchor + (1.0 - self.prior_weight) * (candidate - self.anchor)
        new_leaf, new_output = self._forward(candidate)
        with torch.no_grad():
            after = float(weighted_loss(new_output, weights, target))
        if after < before:
            self._latent, self._leaf, self._output = candidate.detach(), new_leaf, new_output
            self.step_length = min(self.max_step, self.step_length * GROW)
            return StepOutcome(True, before, after)
        self.step_length = max(self.min_step, self.step_length * SHRINK)
        return StepOutcome(False, before, before)


def lighten_target(output: torch.Tensor, amount: float) -> torch.Tensor:
    """The current image brightened (amount > 0) or darkened (< 0) by ``amount`` of the full range."""
    return (output.detach() + 2.0 * amount).clamp(-1.0, 1.0)


def color_target(color: tuple[int, int, int], device: torch.device | str = "cpu") -> torch.Tensor:
    """An RGB colour as a 1 x 3 x 1 x 1 tensor in the model's [-1, 1] range."""
    return (torch.tensor(color, dtype=torch.float32, device=device) / 127.5 - 1.0).view(1, 3, 1, 1)


def densify(points: list[tuple[float, float]], spacing: float) -> list[tuple[float, float]]:
    """Positions along the polyline through ``points`` at most ``spacing`` apart (as a mouse drag
    would report them); the given points are kept."""
    if not points:
        return []
    spacing = max(spacing, 1e-6)
    dense = [points[0]]
    for (xa, ya), (xb, yb) in zip(points, points[1:]):
        pieces = max(1, math.ceil(math.hypot(xb - xa, yb - ya) / spacing))
        dense.extend((xa + (xb - xa) * k / pieces, ya + (yb - ya) * k / pieces) for k in range(1, pieces + 1))
    return dense
