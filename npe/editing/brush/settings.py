"""The paintbrush's settings as people choose them (colour, size, strength, reach): one
BrushSettings that the CLI, the brush panel and the worker all use, its ranges, and colour parsing.
No torch, no Qt."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace

import numpy as np

from npe.editing.errors import SessionError

Color = tuple[int, int, int]
REACH_RANGE = (0, 32)  # pixels of the model's face crop a change may spread beyond the brush
DEFAULT_REACH = 4  # local: a mouth; 16 lets hair grow from a forehead
STEPS_RANGE = (1, 100)
OBJECTIVES = ("semantic", "pixel")  # the brush (npe.editing.brush.objective) and the old colour-only one

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
        numbers = list(value)
        if len(numbers) == 3 and all(isinstance(n, (int, np.integer)) and 0 <= n <= 255 for n in numbers):
            return int(numbers[0]), int(numbers[1]), int(numbers[2])
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


@dataclass(frozen=True)
class BrushSettings:
    """How the contextual paintbrush paints.

    ``color``: RGB 0-255. ``radius``: in photo pixels (the brush is a soft disc, full strength at
    its centre). ``strength``: scales how far a stroke moves z, its amount and its limit (1.0 = default; 0 paints nothing).
    ``steps``: brush steps per position (each counts as a dab toward the trust region). ``reach``: how far beyond the brush's edge a
    change may spread, in pixels of the model's face crop (4: local, e.g. a mouth; 16: hair
    growing from a forehead stroke); the rest of the photo is held still.
    """

    color: Color = (255, 255, 255)
    radius: float = 8.0
    strength: float = 1.0
    steps: int = 1
    reach: float = DEFAULT_REACH
    label: str = "Paint"  # the undo step's name
    objective: str = "semantic"  # "semantic": the face's own semantics first; "pixel": the old colour-only brush

    def __post_init__(self) -> None:
        if not (isinstance(self.radius, (int, float)) and math.isfinite(self.radius) and self.radius > 0):
            raise SessionError(f"The brush radius must be a positive number of pixels, got {self.radius!r}.")
        if not (math.isfinite(self.strength) and self.strength >= 0):
            raise SessionError(f"The brush strength must be a number >= 0, got {self.strength!r}.")
        low, high = STEPS_RANGE
        if not (isinstance(self.steps, int) and low <= self.steps <= high):
            raise SessionError(f"Steps per brush position must be a whole number from {low} to {high}, got {self.steps!r}.")
        low, high = REACH_RANGE
        if not (isinstance(self.reach, (int, float)) and math.isfinite(self.reach) and low <= self.reach <= high):
            raise SessionError(f"The brush's reach must be from {low} to {high} pixels of the model's face crop, got {self.reach!r}.")
        if self.objective not in OBJECTIVES:
            raise SessionError(f"Unknown brush objective {self.objective!r}; known: {', '.join(OBJECTIVES)}.")


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
    brush = replace(brush or BrushSettings(), **settings)  # type: ignore[arg-type]  # (checked: BrushSettings validates its fields)
    return replace(brush, color=parse_color(brush.color))


