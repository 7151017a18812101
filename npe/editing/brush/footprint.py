"""Where a stroke acts, at model resolution: the soft brush's weights, the colour target, a
polyline of brush positions made dense, and the reach around the stroke (hard for the objective,
feathered for the composite, with the border fade's smoothstep)."""

from __future__ import annotations

import functools
import math
import torch

from npe.geometry import smoothstep

MIN_RADIUS = 0.75  # crop pixels: smaller brushes would fall between pixel centres


@functools.lru_cache(maxsize=8)
def pixel_centres(resolution: int) -> torch.Tensor:
    """0.5, 1.5, ... resolution - 0.5 (float32, shared: never modify it). Made once per resolution:
    torch.arange cost 0.3-0.6 ms a call here, several times per brush step (profiled)."""
    return torch.arange(resolution, dtype=torch.float32) + 0.5


def brush_weights(resolution: int, u: float, v: float, radius: float) -> torch.Tensor:
    """A soft round brush centred at crop position (u, v) (continuous pixels) with ``radius`` crop
    pixels: a raised-cosine falloff, 1 at the centre and 0 from ``radius`` on. R x R float32."""
    radius = max(radius, MIN_RADIUS)
    centres = pixel_centres(resolution)
    distance = torch.sqrt((centres[None, :] - u) ** 2 + (centres[:, None] - v) ** 2)
    return torch.where(distance < radius, 0.5 * (1.0 + torch.cos(math.pi * distance / radius)), torch.zeros(()))


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


def reach_mask(distance: torch.Tensor, radius: float, reach: float, feather: float = 0.0) -> torch.Tensor:
    """1 within ``radius + reach`` of the stroke, a smoothstep down to 0 over the next ``feather``
    pixels, 0 beyond (``distance``: a stroke's distance map, LocalStroke.distance). feather 0: a hard 0/1 mask."""
    inner = radius + reach
    if feather <= 0:
        return (distance <= inner).float()
    return smoothstep(1.0 - (distance - inner) / feather)
