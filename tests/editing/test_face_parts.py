"""Strokes that follow the face's parts (npe.editing.parts), through the real session on the tiny
model: dark paint across the eyes changes only where sunglasses lie (the composite's reach limit is
held to the lenses and the bridge; the same stroke in white, or dark paint across a forehead, is
not), light paint over a beard may not lighten the lower face past the cheeks' skin, and light paint
on the hair or forehead may not lighten any skin-coloured pixel past it."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing import EditSession
import torch

from npe.editing.compose import LUMA, lighten_ceiling
from npe.editing.brush.tint import skin_map
from npe.editing.parts import EYES, LENS_AXES, LOWER_FACE, UPPER_FACE, cheek_pixels, lens_map, lens_place, on_beard, on_eyes, on_forehead

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
    outline = session.renderer._outline()
    if held:
        assert limit[outside].max() == 0
        assert (limit.astype(np.float32) <= lenses * 255 + 1).all()
        changed = np.abs(session.result_crop().astype(int) - np.asarray(session.document.crop).astype(int)).max(axis=2)
        assert changed[outside].max() == 0 and changed[~outside].max() > 0
        # The reach is the pair of lenses itself, so the composite draws their edge crisp (compose's outline).
        place = np.rint(lens_place(np.asarray(session.document.crop)) * 255)
        assert np.array_equal(limit, place.astype(np.uint8))
        assert outline is not None and np.array_equal(outline[1] > 0, (place > 0) & (place < 255))  # their edge
    else:
        assert limit[outside].max() > 0
        assert outline is None  # a white stroke, or a forehead's: its edge is the model's change's, soft


ACROSS_CHIN = [_photo_point(u, 0.93) for u in np.linspace(0.35, 0.65, 8)]
ACROSS_MOUTH = [_photo_point(u, 0.82) for u in np.linspace(0.38, 0.62, 8)]


def test_on_beard_is_the_lower_face_off_the_mouth():
    def band(row: float) -> np.ndarray:
        painted = np.zeros((64, 64), np.float32)
        painted[int(row * 64) - 1 : int(row * 64) + 2, 20:44] = 1.0
        return painted

    assert on_beard(band(0.93)) and on_beard(band(0.70))  # a chin, a moustache
    assert not on_beard(band(0.82)) and not on_beard(band(0.42)) and not on_beard(band(0.55))  # lips, eyes, nose
    assert not on_beard(np.zeros((64, 64), np.float32))


def test_lighten_ceiling_keeps_what_fits_under_the_ceiling():
    crop = np.full((4, 4, 3), 100, np.uint8)
    crop[0, 0] = 130  # already above the ceiling: may not lighten at all
    change = torch.full((1, 3, 4, 4), 50 / 127.5)  # +50 grey levels everywhere
    change[..., 3, 3] = -50 / 127.5  # darkening is never held back
    region = torch.ones(4, 4)
    region[:, 2] = 0.0  # a free column
    share = lighten_ceiling(crop, change, 120.0, region)
    assert float(share[1, 1]) == pytest.approx(20 / 50, abs=1e-3)
    assert float(share[0, 0]) == 0.0 and float(share[3, 3]) == 1.0 and bool((share[:, 2] == 1.0).all())
    # A channel pushed below 0 cannot lose more than it has: red 10 -> -90 is shown as 0, so the
    # pixel lightens by what green and blue add (0.587 + 0.114) * 60 - 0.299 * 10 = 39.1, not 9.2.
    crop = np.full((1, 1, 3), 10, np.uint8)
    change = torch.tensor([-100.0, 60.0, 60.0]).view(1, 3, 1, 1) / 127.5
    share = float(lighten_ceiling(crop, change, 30.0, torch.ones(1, 1)))
    shown = np.clip(10 + share * np.array([-100.0, 60.0, 60.0]), 0, 255) @ np.asarray(LUMA) - 10.0
    assert shown <= 30.0 - 10.0 + 0.05 and share < 0.6


@pytest.mark.parametrize(("points", "held"), [(ACROSS_CHIN, True), (ACROSS_MOUTH, False)])
def test_white_over_a_beard_lightens_the_lower_face_no_further_than_the_skin(model, photo, box, points, held):
    session = EditSession.from_photo(model, photo, box=box, tune=False)
    assert session.paint(points, color=(255, 255, 255), radius=4, strength=4.0, steps=2)
    crop = np.asarray(session.document.crop).astype(np.float32)
    luma = np.asarray(LUMA, np.float32)
    skin = float(np.median(cheek_pixels(crop) @ luma))
    before, after = crop @ luma, session.result_crop().astype(np.float32) @ luma
    lower = slice(int(session.resolution * LOWER_FACE), None)
    over = after[lower] - np.maximum(before[lower], skin + 10.0)
    assert over.max() <= 1.5 if held else over.max() > 1.5  # (rounding to whole levels per channel)


def test_on_forehead_is_above_the_brows():
    def band(row: float) -> np.ndarray:
        painted = np.zeros((64, 64), np.float32)
        painted[max(0, int(row * 64) - 1) : int(row * 64) + 2, 16:48] = 1.0
        return painted

    assert on_forehead(band(0.06)) and on_forehead(band(0.18)) and on_forehead(band(UPPER_FACE - 0.04))
    assert not on_forehead(band(0.42)) and not on_forehead(band(0.82)) and not on_forehead(np.zeros((64, 64), np.float32))


def test_the_skin_map_is_the_cheeks_colour():
    crop = np.zeros((64, 64, 3), np.uint8)
    crop[:] = (200, 150, 120)  # skin everywhere ...
    crop[:12] = (40, 30, 25)  # ... but dark hair on top
    crop[50:54, 24:40] = (170, 60, 70)  # and red lips
    crop[20:24, 10:20] = (206, 156, 126)  # a lighter patch of the same skin
    skin = skin_map(crop)
    assert skin.dtype == np.float32 and skin.shape == (64, 64)
    assert skin[30, 32] == 1.0 and skin[22, 15] == 1.0
    assert skin[:12].max() == 0.0 and skin[50:54, 24:40].max() == 0.0


@pytest.mark.parametrize(("points", "color", "held"), [
    (ACROSS_FOREHEAD, (255, 255, 255), True),
    (ACROSS_FOREHEAD, (235, 205, 90), True),  # yellow through the hair: blond, not a paler forehead
    (ACROSS_EYES, (255, 255, 255), False),
])
def test_light_paint_on_the_forehead_lightens_no_skin_past_the_cheeks(model, photo, box, points, color, held):
    session = EditSession.from_photo(model, photo, box=box, tune=False)
    assert session.paint(points, color=color, radius=4, strength=4.0, steps=2)
    crop = np.asarray(session.document.crop)
    luma = np.asarray(LUMA, np.float32)
    skin = float(np.median(cheek_pixels(crop.astype(np.float32)) @ luma))
    before, after = crop.astype(np.float32) @ luma, session.result_crop().astype(np.float32) @ luma
    on_skin = skin_map(crop) == 1.0
    assert on_skin.sum() > 100  # the fixture has skin-coloured pixels to hold
    over = (after - np.maximum(before, skin + 10.0))[on_skin]
    assert over.max() <= 1.5 if held else over.max() > 1.5  # (rounding to whole levels per channel)


def _attributes(model, names):
    from npe.editing.attributes import AttributeDirections, model_identifier

    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(len(names), model.config.latent_dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return AttributeDirections(names, vectors, np.ones(len(names)), rng.normal(size=vectors.shape), np.zeros(len(names)), model_identifier(model))


@pytest.mark.parametrize("color", [(255, 255, 255), (60, 45, 35)])
def test_paint_over_a_beard_moves_the_beard_only(model, photo, box, color):
    """White over a chin shaves, dark grows a beard: only along the model's No_Beard direction (with
    every direction open the model shaved with makeup or a younger face). The same paint across the
    eyes or the forehead keeps every direction."""
    names = ("Smiling", "No_Beard", "Heavy_Makeup", "Young")
    attributes = _attributes(model, names)
    beard = attributes.vectors[1] / np.linalg.norm(attributes.vectors[1])

    def move(points):
        session = EditSession.from_photo(model, photo, box=box, tune=False)
        session.attributes = attributes
        start = session.latent.copy()
        assert session.paint(points, color=color, radius=4, strength=4.0, steps=2)
        change = (session.latent - start).reshape(-1)
        assert np.linalg.norm(change) > 1e-3
        return abs(float(change @ beard)) / np.linalg.norm(change), session.history_labels[-1]

    along, label = move(ACROSS_CHIN)
    assert along > 0.999 and label.startswith("Paint: No beard ")
    assert move(ACROSS_FOREHEAD if color[0] < 128 else ACROSS_EYES)[0] < 0.99


def test_paint_over_a_beard_moves_boldly_along_it(model, photo, box, monkeypatch):
    """A stroke over a beard moves BEARD_BOLDNESS times its optimum along the beard (bolder than the
    objective's own boldness, which the same paint elsewhere keeps)."""
    from npe.editing.brush import stroke
    from npe.editing.brush.objective import SemanticObjective

    attributes = _attributes(model, ("Smiling", "No_Beard", "Heavy_Makeup", "Young"))

    def moved(points, boldness):
        monkeypatch.setattr(stroke, "BEARD_BOLDNESS", boldness)
        session = EditSession.from_photo(model, photo, box=box, tune=False)
        session.attributes = attributes
        start = session.latent.copy()
        session.paint(points, color=(255, 255, 255), radius=4, strength=1.0, steps=1)
        return float(np.linalg.norm(session.latent - start))

    base, shipped = SemanticObjective().boldness, stroke.BEARD_BOLDNESS
    assert shipped > base
    chin = moved(ACROSS_CHIN, base), moved(ACROSS_CHIN, shipped)
    assert chin[1] > chin[0] * 1.05
    eyes = moved(ACROSS_EYES, base), moved(ACROSS_EYES, shipped)
    assert eyes[1] == pytest.approx(eyes[0])  # not a beard stroke: the objective's own boldness


def test_the_face_oval_holds_the_face_and_not_the_background_by_the_jaw():
    from npe.editing.parts import face_oval

    oval = face_oval(64)
    assert not oval.flags.writeable and oval.dtype == np.float32
    for u, v in ((0.5, 0.55), (0.5, 0.93), (0.25, 0.62), (0.75, 0.62), (0.5, 0.82)):  # middle, chin, cheeks, mouth
        assert oval[int(v * 64), int(u * 64)] == 1.0
    for u, v in ((0.05, 0.8), (0.95, 0.8), (0.1, 0.98), (0.9, 0.98)):  # beside the jaw
        assert oval[int(v * 64), int(u * 64)] == 0.0


@pytest.mark.parametrize("color", [(255, 255, 255), (60, 45, 35)])
def test_paint_over_a_beard_leaves_the_background_by_the_jaw(model, photo, box, color):
    from npe.editing.parts import face_oval

    session = EditSession.from_photo(model, photo, box=box, tune=False)
    assert session.paint(ACROSS_CHIN, color=color, radius=6, reach=16.0, strength=4.0, steps=2)
    limit = session.document.limit
    outside = face_oval(session.resolution) == 0
    assert limit is not None and limit[~outside].max() > 0 and limit[outside].max() == 0
    changed = np.abs(session.result_crop().astype(int) - np.asarray(session.document.crop).astype(int)).max(axis=2)
    assert changed[outside].max() == 0 and changed.max() > 0


@pytest.mark.parametrize("color", [(255, 255, 255), (60, 45, 35)])
def test_paint_over_a_beard_leaves_the_lips(model, photo, box, color):
    """A shave or a grown beard leaves the lips and what lies between them (a grin's teeth) as they
    are: the model's beardless faces have closed mouths and redder lips. The same stroke across the
    mouth (white for teeth) changes them."""
    from npe.editing.parts import off_lips

    def changed(points):
        session = EditSession.from_photo(model, photo, box=box, tune=False)
        assert session.paint(points, color=color, radius=8, reach=16.0, strength=4.0, steps=2)
        return np.abs(session.result_crop().astype(int) - np.asarray(session.document.crop).astype(int)).max(axis=2)

    chin = changed(ACROSS_CHIN)
    lips = off_lips(chin.shape[0]) == 0
    assert lips.any() and chin.max() > 0 and chin[lips].max() == 0
    assert changed(ACROSS_MOUTH)[lips].max() > 0


def test_the_lenses_stop_at_a_backdrop_beside_a_turned_face_but_not_at_hair():
    from npe.editing.parts import beside_face

    size = 64
    crop = np.zeros((size, size, 3), np.uint8)
    crop[:] = (200, 150, 120)  # skin everywhere (the cheeks' patches included)
    crop[:, :14] = (30, 40, 110)  # a navy backdrop at the left side, reaching in to 0.22 of the crop
    crop[:, -12:] = (90, 55, 30)  # brown hair at the right side
    crop[24:30, 16:28] = (40, 35, 35)  # a dark eye (not joined to either side)
    lens = lens_map(size)
    place = lens_place(crop)
    rows = slice(24, 30)
    # Over the backdrop the far lens is cut; over the hair, the eyes and the bridge it is the lenses' place.
    backdrop = np.zeros((size, size), bool)
    backdrop[rows, 9:13] = True
    assert lens[backdrop].max() > 0.2 and place[backdrop].max() < 0.05
    for where in (np.s_[rows, -12:], np.s_[rows, 16:28], np.s_[25, 30:34]):
        np.testing.assert_allclose(place[where], lens[where], atol=1e-3)
    from skimage import color as skcolor

    assert beside_face(skcolor.rgb2lab(crop / 255.0))[rows, :12].min() > 0.5
