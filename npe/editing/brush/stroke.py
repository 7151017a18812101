"""The paintbrush's state machine on a document: a stroke begins at the current latent, each brush
position takes local-brush steps (npe.editing.local_brush: the colour under the brush, the stroke's
starting image kept outside its reach, whitened steps with a prior), the composite's reach limit
grows by the stroke's reach, and it ends with the latent and limit before and after for one undo
record. Lighten/darken is the same objective with a brightened target."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from npe.editing.brush import brush_weights, color_target, parse_color
from npe.editing.document import Document, readonly
from npe.editing.errors import SessionError
from npe.editing.local_brush import LocalBrushSettings, LocalStroke, lighten_target

Color = tuple[int, int, int]


@dataclass(frozen=True)
class BrushSettings:
    """How the contextual paintbrush paints.

    ``color``: RGB 0-255. ``radius``: in photo pixels (the brush is a soft disc, full strength at
    its centre). ``strength``: scales the step size (1.0 = default; 0 paints nothing).
    ``steps``: gradient steps per brush position. ``reach``: how far beyond the brush's edge a
    change may spread, in pixels of the model's face crop (4: local, e.g. a mouth; 16: hair
    growing from a forehead stroke); the rest of the photo is held still.
    """

    color: Color = (255, 255, 255)
    radius: float = 8.0
    strength: float = 1.0
    steps: int = 1
    reach: float = LocalBrushSettings.reach
    label: str = "Paint"  # the undo step's name

    def __post_init__(self) -> None:
        if not (isinstance(self.radius, (int, float)) and math.isfinite(self.radius) and self.radius > 0):
            raise SessionError(f"The brush radius must be a positive number of pixels, got {self.radius!r}.")
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise SessionError(f"The brush strength must be a number >= 0, got {self.strength!r}.")
        if not (isinstance(self.steps, int) and 1 <= self.steps <= 100):
            raise SessionError(f"Steps per brush position must be a whole number from 1 to 100, got {self.steps!r}.")
        if not (isinstance(self.reach, (int, float)) and math.isfinite(self.reach) and 0 <= self.reach <= 64):
            raise SessionError(f"The brush's reach must be from 0 to 64 crop pixels, got {self.reach!r}.")


def make_brush(
    brush: BrushSettings | Color | str | None, radius: float | None = None, strength: float | None = None, **settings: object
) -> BrushSettings:
    """A BrushSettings from a BrushSettings or a colour ((r, g, b) or '#ff8800'), with any field
    overridden by keyword (radius=, strength=, steps=, reach=, label=, color=)."""
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


def weights_at(document: Document, x: float, y: float, radius: float) -> tuple[torch.Tensor, tuple[float, float], float] | None:
    """The soft brush at photo position (x, y) with ``radius`` photo pixels, at model resolution on
    the model's device, with its centre and radius in crop pixels; None if it lies wholly outside
    the face box (nothing it could change)."""
    u, v = document.to_crop_coords(x, y)
    crop_radius = radius * document.resolution / document.box.size
    weights = brush_weights(document.resolution, u, v, crop_radius)
    if not bool(weights.any()):
        return None
    return weights.to(document.device), (u, v), crop_radius


def grown_limit(limit: np.ndarray | None, reach: torch.Tensor) -> np.ndarray | None:
    """The reach limit (uint8, see Document.set_latent) joined with a stroke's feathered reach;
    "everywhere" (None) stays everywhere. Stored as uint8 so undo and saved files are bit-exact."""
    if limit is None:
        return None
    return readonly(np.maximum(limit, np.rint(reach.detach().cpu().numpy() * 255.0).astype(np.uint8)))


def local_stroke(document: Document, brush_reach: float, strength: float) -> LocalStroke:
    """A local-brush stroke starting at the document's current latent, through its generator."""
    settings = LocalBrushSettings(reach=float(brush_reach), strength=float(strength))
    return LocalStroke(document.generate, document.z, document.model.latent_basis, settings, grey=document.grey)


class Stroke:
    """One paint stroke in progress on ``document`` (see module doc)."""

    def __init__(self, document: Document, brush: BrushSettings) -> None:
        self.document = document
        self.brush = brush
        self.start = document.z.detach().clone()
        self.start_limit = document.limit
        self.target = color_target(brush.color, document.device)
        self.optimizer = local_stroke(document, brush.reach, brush.strength)

    def move_to(self, x: float, y: float) -> bool:
        """The brush at (x, y) (photo pixels): ``brush.steps`` steps; the document shows the new z
        (emitting "latent" and "image") with the limit grown by the stroke's reach. True if z moved."""
        self.document.check_position(x, y, "brush position")
        found = weights_at(self.document, x, y, self.brush.radius)
        if found is None:
            return False
        weights, centre, radius = found
        before = self.optimizer.latent
        for _ in range(self.brush.steps):
            self.optimizer.step(weights, self.target, centre, radius)
        moved = not torch.equal(before, self.optimizer.latent)
        if moved:
            # The optimizer's last forward pass is G(new z): shown now, differentiated next step.
            limit = grown_limit(self.start_limit, self.optimizer.composite_reach())
            self.document.set_latent(self.optimizer.latent, generated=self.optimizer.image(), limit=limit)
        return moved

    def latents(self) -> tuple[np.ndarray, np.ndarray]:
        """(z at the start, z now) as float32 arrays: the stroke's undo record."""
        return self.start[0].cpu().numpy(), self.document.latent


def lighten_latent(
    document: Document, x: float, y: float, amount: float, radius: float, steps: int = 3, reach: float = LocalBrushSettings.reach
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(latent, limit) after brightening (amount > 0) or darkening under a soft brush at (x, y):
    the local brush toward the current G(z) shifted by ``amount`` ([0, 1] brightness units). None if
    the brush misses the face box or ``amount`` is 0. The document is not changed."""
    if not math.isfinite(amount) or not radius > 0 or steps < 1:
        raise SessionError(f"lighten needs a finite amount, a positive radius and steps >= 1, got {amount}, {radius}, {steps}")
    document.check_position(x, y, "brush position")
    found = weights_at(document, x, y, radius)
    if found is None or amount == 0:
        return None
    weights, centre, crop_radius = found
    optimizer = local_stroke(document, reach, 1.0)
    target = lighten_target(optimizer.start_image, amount)
    for _ in range(steps):
        optimizer.step(weights, target, centre, crop_radius)
    return optimizer.latent[0].cpu().numpy(), grown_limit(document.limit, optimizer.composite_reach())
