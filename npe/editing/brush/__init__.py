"""The contextual paintbrush, in one home: ``settings`` (what a person picks; no torch), ``footprint``
(where a stroke acts), ``objective`` (what a step optimises, and how), ``stroke`` (a stroke on a
document, one undo record). The composite side of the brush (its reach limit, grey photos) is in
npe.editing.compose."""

from npe.editing.brush.settings import (
    DEFAULT_REACH,
    OBJECTIVES,
    REACH_RANGE,
    BrushSettings,
    Color,
    ColorError,
    make_brush,
    parse_color,
)

__all__ = ["BrushSettings", "Color", "ColorError", "DEFAULT_REACH", "OBJECTIVES", "REACH_RANGE", "make_brush", "parse_color"]
