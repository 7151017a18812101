"""The contextual paintbrush's state machine on a document: a stroke begins at the current latent,
each brush position takes trust-region steps toward the colour under the soft brush (the maths is
in npe.editing.brush), and it ends with the latent before and after for one undo record."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from npe.editing.brush import StrokeOptimizer, brush_weights, color_target, lighten_target, parse_color
from npe.editing.document import Document
from npe.editing.errors import SessionError

Color = tuple[int, int, int]


@dataclass(frozen=True)
class BrushSettings:
    """How the contextual paintbrush paints.

    ``color``: RGB 0-255. ``radius``: in photo pixels (the brush is a soft disc, full strength at
    its centre). ``strength``: scales the step size (1.0 = default; 0 paints nothing).
    ``steps``: gradient steps per brush position. ``prior_weight``: pull toward the latent the
    stroke started from (keeps edits near the photo; 0 = none).
    """

    color: Color = (255, 255, 255)
    radius: float = 8.0
    strength: float = 1.0
    steps: int = 1
    prior_weight: float = 0.05
    label: str = "Paint"  # the undo step's name

    def __post_init__(self) -> None:
        if not (isinstance(self.radius, (int, float)) and math.isfinite(self.radius) and self.radius > 0):
            raise SessionError(f"The brush radius must be a positive number of pixels, got {self.radius!r}.")
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise SessionError(f"The brush strength must be a number >= 0, got {self.strength!r}.")
        if not (isinstance(self.steps, int) and 1 <= self.steps <= 100):
            raise SessionError(f"Steps per brush position must be a whole number from 1 to 100, got {self.steps!r}.")
        if not (math.isfinite(self.prior_weight) and 0 <= self.prior_weight <= 1):
            raise SessionError(f"The brush's pull toward the photo must be between 0 and 1, got {self.prior_weight!r}.")


def make_brush(
    brush: BrushSettings | Color | str | None, radius: float | None = None, strength: float | None = None, **settings: object
) -> BrushSettings:
    """A BrushSettings from a BrushSettings or a colour ((r, g, b) or '#ff8800'), with any field
    overridden by keyword (radius=, strength=, steps=, prior_weight=, label=, color=)."""
    if brush is not None and not isinstance(brush, BrushSettings):
        settings["color"] = brush
        brush = None
    if radius is not None:
        settings["radius"] = radius
    if strength is not None:
        settings["strength"] = strength
    unknown = set(settings) - {f.name for f in fields(BrushSettings)}
    if unknown:
        raise TypeError(f"unknown brush setting(s): {', '.join(sorted(unknown))}")
    brush = replace(brush or BrushSettings(), **settings)
    return replace(brush, color=parse_color(brush.color))


def weights_at(document: Document, x: float, y: float, radius: float) -> torch.Tensor | None:
    """The soft brush at photo position (x, y) with ``radius`` photo pixels, at model resolution on
    the model's device; None if it lies wholly outside the face box (nothing it could change)."""
    u, v = document.to_crop_coords(x, y)
    weights = brush_weights(document.resolution, u, v, radius * document.resolution / document.box.size)
    if not bool(weights.any()):
        return None
    return weights.to(document.device)


class Stroke:
    """One paint stroke in progress on ``document`` (see module doc)."""

    def __init__(self, document: Document, brush: BrushSettings) -> None:
        self.document = document
        self.brush = brush
        self.start = document.z.detach().clone()
        self.target = color_target(brush.color, document.device)
        self.optimizer = StrokeOptimizer(
            document.forward_with_graph, self.start, strength=brush.strength, prior_weight=brush.prior_weight, anchor=self.start
        )

    def move_to(self, x: float, y: float) -> bool:
        """The brush at (x, y) (photo pixels): ``brush.steps`` steps; the document shows the new z
        (emitting "latent" and "image") if any step was accepted. True if z moved."""
        self.document.check_position(x, y, "brush position")
        weights = weights_at(self.document, x, y, self.brush.radius)
        if weights is None:
            return False
        moved = False
        for _ in range(self.brush.steps):
            moved |= self.optimizer.step(weights, self.target).accepted
        if moved:
            # The optimizer's last forward pass is G(new z): shown now, differentiated next step.
            self.document.set_latent(self.optimizer.latent, generated=self.optimizer.image())
        return moved

    def latents(self) -> tuple[np.ndarray, np.ndarray]:
        """(z at the start, z now) as float32 arrays: the stroke's undo record."""
        return self.start[0].cpu().numpy(), self.document.latent


def lighten_latent(document: Document, x: float, y: float, amount: float, radius: float, steps: int = 3) -> np.ndarray | None:
    """The latent after brightening (amount > 0) or darkening under a soft brush at (x, y): the
    target is the current G(z) shifted by ``amount`` ([0, 1] brightness units). None if the brush
    misses the face box or ``amount`` is 0. The document is not changed."""
    if not math.isfinite(amount) or not radius > 0 or steps < 1:
        raise SessionError(f"lighten needs a finite amount, a positive radius and steps >= 1, got {amount}, {radius}, {steps}")
    document.check_position(x, y, "brush position")
    weights = weights_at(document, x, y, radius)
    if weights is None or amount == 0:
        return None
    optimizer = StrokeOptimizer(document.forward_with_graph, document.z.detach().clone())
    target = lighten_target(document.generated, amount)
    for _ in range(steps):
        optimizer.step(weights, target)
    return optimizer.latent[0].cpu().numpy()
