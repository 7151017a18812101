"""Dark paint across the eyes changes only where sunglasses lie (npe.editing.parts.lens_map),
through the real session on the tiny model: the composite's reach limit is held to the lenses and
the bridge; the same stroke in white, or dark paint across a forehead, is not."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing import EditSession
from npe.editing.parts import EYES, LENS_AXES, lens_map, on_eyes

# The fixture box: 80 px square around (100, 70); crop point (u, v) in [0, 1] -> photo pixels.
def _photo_point(u: float, v: float) -> tuple[float, float]:
    return 60.0 + 80.0 * u, 30.0 + 80.0 * v


ACROSS_EYES = [_photo_point(u, 0.415) for u in np.linspace(0.28, 0.73, 10)]
ACROSS_FOREHEAD = [_photo_point(u, 0.18) for u in np.linspace(0.28, 0.73, 10)]


def test_the_lens_map_covers_both_eyes_and_the_bridge_and_nothing_else():
    lenses = lens_map(64)
    assert not lenses.flags.writeable
    for x, y in EYES:
        assert lenses[int(y * 64), int(x * 64)] == 1.0
    assert lenses[int(0.40 * 64), 32] == 1.0  # the bridge
    for u, v in ((0.5, 0.15), (0.5, 0.8), (0.1, 0.7), (0.5, 0.55)):  # forehead, mouth, cheek, nose
        assert lenses[int(v * 64), int(u * 64)] == 0.0
    # Nothing beyond the soft edge of either lens, above or below.
    above = int((EYES[0][1] - 1.3 * LENS_AXES[1]) * 64)
    assert not lenses[: above + 1].any()


def test_on_eyes_needs_most_of_the_paint_on_the_lenses():
    painted = np.zeros((64, 64), np.float32)
    painted[26:28, 18:46] = 1.0  # across the eyes
    assert on_eyes(painted)
    painted[5:15, 10:54] = 1.0  # and a forehead's worth more
    assert not on_eyes(painted)
    brows = np.zeros((64, 64), np.float32)
    brows[20:23, 18:46] = 1.0  # over the brows: its middle row is 0.34 of the crop, the eyes' 0.42
    assert not on_eyes(brows)
    middle = np.zeros((64, 64), np.float32)
    middle[21:43, 16:48] = 1.0  # a blob over the middle of the face, half of it on the lenses' place
    assert float(middle[lens_map(64) > 0].sum()) >= 0.4 * float(middle.sum()) and not on_eyes(middle)
    assert not on_eyes(np.zeros((64, 64), np.float32))


@pytest.mark.parametrize(("points", "color", "held"), [
    (ACROSS_EYES, (20, 20, 20), True),
    (ACROSS_EYES, (255, 255, 255), False),
    (ACROSS_FOREHEAD, (20, 20, 20), False),
])
def test_dark_paint_across_the_eyes_changes_only_where_sunglasses_lie(model, photo, box, points, color, held):
    session = EditSession.from_photo(model, photo, box=box, tune=False)
    assert session.paint(points, color=color, radius=4, strength=4.0, steps=2)
    limit = session.document.limit
    assert limit is not None and limit.max() > 0
    lenses = lens_map(session.resolution)
    outside = lenses == 0
    if held:
        assert limit[outside].max() == 0
        assert (limit.astype(np.float32) <= lenses * 255 + 1).all()
        changed = np.abs(session.result_crop().astype(int) - np.asarray(session.document.crop).astype(int)).max(axis=2)
        assert changed[outside].max() == 0 and changed[~outside].max() > 0
    else:
        assert limit[outside].max() > 0
