"""The paintbrush's small pieces: colours, soft brush weights at model resolution, the colour
target, and densifying a polyline of brush positions. The objective and its steps are in
npe.editing.local_brush."""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import torch

from npe.editing.errors import SessionError

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
