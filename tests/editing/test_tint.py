"""A paint with a clear hue carries its colour onto the part it is painted on
(npe.editing.brush.tint), and the session keeps that colour with its latent: shown, undone, saved,
reset and committed."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import color as skcolor

from npe.editing.brush.footprint import brush_weights
from npe.editing.brush.tint import PartTint, face_window, hue_share, lips_map, paint_lab
from npe.geometry import CropBox

SKIN = (205, 160, 135)
LIPS = (165, 85, 85)
RED = (190, 25, 45)
R = 64


def _face(size: int = R, lips_rows: tuple[int, int] = (42, 48), lips_cols: tuple[int, int] = (22, 42), seed: int = 0) -> np.ndarray:
    """A skin-coloured square with a band of lip colour, both with a little texture."""
    rng = np.random.default_rng(seed)
    image = np.empty((size, size, 3), np.float64)
    image[:] = SKIN
    image[lips_rows[0] : lips_rows[1], lips_cols[0] : lips_cols[1]] = LIPS
    image += rng.normal(0, 3, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _stroke(tint: PartTint, row: float, cols: range, radius: float = 2.0) -> None:
    for col in cols:
        tint.add(brush_weights(R, col + 0.5, row, radius).numpy())


@pytest.mark.parametrize("color", [(255, 255, 255), (40, 30, 25), (25, 25, 25), (128, 128, 128), SKIN, (120, 75, 45)])
def test_paint_without_a_clear_hue_carries_no_colour(color):
    assert hue_share(color) == 0.0
    tint = PartTint(_face(), color, reach=4.0)
    _stroke(tint, 45.0, range(26, 38))
    assert not tint.active and tint.change() is None


@pytest.mark.parametrize("color", [RED, (235, 205, 90), (40, 60, 200)])
def test_saturated_paint_has_a_hue(color):
    assert hue_share(color) == 1.0


def test_red_over_lips_reddens_the_lips_and_leaves_the_skin_exactly():
    face = _face()
    tint = PartTint(face, RED, reach=8.0)
    _stroke(tint, 45.0, range(28, 36))
    change = tint.change()
    assert change is not None and change.dtype == np.float32 and change.shape == (R, R, 3)
    lips = np.zeros((R, R), bool)
    lips[42:48, 22:42] = True
    # Along the whole band (the brush covered 8 of its 20 columns), within the reach of paths through lip colour.
    assert (np.abs(change).sum(axis=2) > 0.02)[lips].mean() > 0.9
    skin = np.ones((R, R), bool)
    skin[40:50, 20:44] = False
    assert np.all(change[skin] == 0.0)
    before = skcolor.rgb2lab(face / 255.0)
    after = skcolor.rgb2lab(np.clip(face / 255.0 + change / 2.0, 0, 1))
    target = paint_lab(RED)
    # Toward the paint's hue (a* up), with the lips' own texture kept, and no more saturated than
    # the face's own most saturated colours allow.
    moved = after[lips, 1] - before[lips, 1]
    assert moved.mean() > 5.0 and target[1] > before[lips, 1].mean()
    assert np.corrcoef(before[lips, 0], after[lips, 0])[0, 1] > 0.9
    face = face_window(before)
    ceiling = np.percentile(np.hypot(face[..., 1], face[..., 2]), 98) + 10.0
    assert np.hypot(after[lips, 1], after[lips, 2]).max() <= ceiling + 1.5


def test_a_muted_photo_gets_muted_lips():
    face = _face().astype(np.float64)
    grey = face.mean(axis=2, keepdims=True)
    muted = np.clip(np.rint(grey + 0.25 * (face - grey)), 0, 255).astype(np.uint8)  # a nearly grey photo
    vivid = PartTint(_face(), RED, reach=8.0)
    dull = PartTint(muted, RED, reach=8.0)
    for tint in (vivid, dull):
        _stroke(tint, 45.0, range(28, 36))
    def peak(crop, change):
        return np.hypot(*skcolor.rgb2lab(np.clip(crop / 255.0 + change / 2.0, 0, 1))[..., 1:].transpose(2, 0, 1)).max()
    assert peak(muted, dull.change()) < 0.7 * peak(_face(), vivid.change())



def test_a_vivid_background_does_not_saturate_the_lips():
    """The ceiling is the face's own chroma: a saturated backdrop around a muted face changes nothing."""
    plain, backdrop = _face(), _face()
    backdrop[:, :8] = (20, 60, 230)  # a vivid blue strip beside the face
    backdrop[:8] = (240, 200, 20)  # and a yellow one above it
    changes = []
    for crop in (plain, backdrop):
        tint = PartTint(crop, RED, reach=8.0)
        _stroke(tint, 45.0, range(28, 36))
        changes.append(tint.change())
    assert np.allclose(changes[0][30:60, 10:], changes[1][30:60, 10:], atol=1e-6)

def test_the_part_ends_where_its_colour_or_the_reach_ends():
    face = _face(lips_cols=(4, 60))
    near = PartTint(face, RED, reach=2.0)
    _stroke(near, 45.0, range(30, 34))
    far = PartTint(face, RED, reach=12.0)
    _stroke(far, 45.0, range(30, 34))
    near_cols = np.flatnonzero(np.abs(near.change()).sum(axis=(0, 2)) > 0)
    far_cols = np.flatnonzero(np.abs(far.change()).sum(axis=(0, 2)) > 0)
    assert near_cols.size < far_cols.size
    assert far_cols.min() >= 4 and far_cols.max() < 60  # never beyond the band's own colour
    assert near_cols.min() >= 30 - 2 - 6 and near_cols.max() <= 33 + 2 + 6  # the brush, the reach and its feather


def test_yellow_through_dark_hair_is_left_to_the_model():
    """Lifting dark hair to a yellow's lightness would paint a flat patch: the tint carries nothing."""
    face = _face()
    face[:20] = (45, 35, 30)  # dark hair above the forehead
    tint = PartTint(face, (235, 205, 90), reach=16.0)
    _stroke(tint, 8.0, range(20, 44))
    assert tint.active and tint.change() is None and not tint.on_skin  # hair, not skin: the model is asked
    auburn = PartTint(face, (150, 80, 40), reach=16.0)  # 20 levels lighter than the hair: still the model's
    _stroke(auburn, 8.0, range(20, 44))
    assert auburn.change() is None
    dark_red = PartTint(face, (110, 20, 30), reach=16.0)  # a hue near the hair's own lightness is carried
    _stroke(dark_red, 8.0, range(20, 44))
    assert dark_red.change() is not None


def test_the_faces_own_skin_colour_is_left_to_the_model():
    """Skin colour from the eyedropper over a beard asks for skin there (a shave): no colour carried."""
    face = _face()
    face[44:56, 16:48] = (120, 85, 70)  # stubble, a little darker than the skin
    skin_like = (215, 150, 115)  # saturated enough to be a hue, but the cheeks' own colour
    assert hue_share(skin_like) > 0
    tint = PartTint(face, skin_like, reach=8.0)
    _stroke(tint, 50.0, range(20, 44))
    assert not tint.active and tint.change() is None


def test_a_hue_painted_on_the_faces_own_skin_carries_nothing():
    """A yellow stroke that misses the hair and lands on skin like the cheeks' does not paint it yellow."""
    tint = PartTint(_face(), (235, 205, 90), reach=16.0)
    _stroke(tint, 12.0, range(20, 44))
    assert tint.active and tint.change() is None and tint.on_skin



PALE_LIPS = (200, 140, 125)  # within the skin guard's distance of SKIN: by colour alone, skin


def _mouth(rows: tuple[int, int] = (49, 56), teeth: bool = True) -> np.ndarray:
    """_face with pale lips where the aligned crop's mouth is (parts.MOUTH_CENTRE), parted by teeth."""
    face = _face().astype(np.float64)
    face[rows[0] : rows[1], 22:43] = PALE_LIPS
    if teeth:
        middle = (rows[0] + rows[1]) // 2
        face[middle - 1 : middle + 1, 26:39] = (245, 245, 240)
    return np.clip(face, 0, 255).astype(np.uint8)


def test_the_lips_map_finds_pale_lips_and_not_the_teeth_or_the_skin():
    face = _mouth()
    lips = lips_map(skcolor.rgb2lab(face / 255.0))
    assert lips.shape == (R, R) and lips.dtype == np.float32
    band = np.zeros((R, R), bool)
    band[49:56, 22:43] = True
    teeth = np.zeros((R, R), bool)
    teeth[51:53, 26:39] = True
    assert lips[band & ~teeth].mean() > 0.6
    assert lips[teeth].mean() < 0.2
    assert np.all(lips[:40] == 0.0) and lips[~band].mean() < 0.05


def test_red_over_pale_lips_on_the_mouth_reddens_them():
    """Lips as pale as the skin are lips where the mouth is: red there recolours them, not the teeth."""
    face = _mouth()
    tint = PartTint(face, RED, reach=8.0)
    _stroke(tint, 52.5, range(28, 37))
    change = tint.change()
    assert change is not None and not tint.on_skin and tint.on_lips
    moved = np.abs(change).sum(axis=2)
    lips = np.zeros((R, R), bool)
    lips[49:56, 22:43] = True
    lips[51:53, 26:39] = False
    assert (moved[lips] > 0.05).mean() > 0.6
    assert moved[51:53, 28:37].mean() < 0.3 * moved[lips].mean()  # the teeth keep their colour
    assert np.all(change[:40] == 0.0)
    before = skcolor.rgb2lab(face / 255.0)
    after = skcolor.rgb2lab(np.clip(face / 255.0 + change / 2.0, 0, 1))
    assert (after[lips, 1] - before[lips, 1]).mean() > 5.0  # redder


def test_the_same_pale_colour_away_from_the_mouth_is_skin():
    """The mouth's place decides: the same pale band on the forehead is the face's own skin."""
    face = _face()
    face[20:27, 22:43] = PALE_LIPS
    tint = PartTint(face, RED, reach=8.0)
    _stroke(tint, 23.5, range(28, 37))
    assert tint.change() is None and tint.on_skin and not tint.on_lips

# --- the session -------------------------------------------------------------------------------


@pytest.fixture
def lips_photo() -> np.ndarray:
    """200 x 160 photo of skin with a band of lip colour; with BOX it is _face's crop, scaled 1.25x."""
    image = np.empty((160, 200, 3), np.uint8)
    image[:] = SKIN
    image[30 + int(42 * 1.25) : 30 + int(48 * 1.25), 60 + int(22 * 1.25) : 60 + int(42 * 1.25)] = LIPS
    return image


BOX = CropBox(100.0, 70.0, 80.0)  # photo (60..140, 30..110) -> crop 0..64


def _paint_lips(session, color=RED) -> bool:
    y = 30 + 45 * 1.25
    return session.paint([(x, y) for x in np.arange(96.0, 106.0, 1.0)], color, radius=2.5, reach=4.0)


def test_a_red_stroke_over_lips_is_shown_undone_and_redone(model, lips_photo):
    from npe.editing import EditSession

    session = EditSession.from_photo(model, lips_photo, box=BOX, name="lips")
    plain = session.result().copy()
    assert _paint_lips(session)
    tint = session.document.tint
    assert tint is not None and tint.dtype == np.float16
    assert session.history_labels == ["Paint: colour"]  # the undo step says what the stroke did
    result = session.result()
    lips = np.zeros(lips_photo.shape[:2], bool)
    lips[83:90, 88:112] = True
    redder = result[..., 0].astype(int) - result[..., 1].astype(int) - (plain[..., 0].astype(int) - plain[..., 1].astype(int))
    assert redder[lips].mean() > 10  # the lips turned toward the paint's red
    assert np.array_equal(result[:20], plain[:20]) and np.array_equal(result[:, :50], plain[:, :50])  # far skin as before
    assert session.undo() and session.document.tint is None
    assert np.array_equal(session.result(), plain)
    assert session.redo() and session.document.tint is tint
    assert np.array_equal(session.result(), result)


def test_a_hue_on_skin_asks_nothing_of_the_model_and_says_why(model, lips_photo):
    """Red on a cheek (or on lips as pale as the skin) has no part to recolour; asked for it, the model
    drew beards and pale patches. The stroke changes nothing and leaves a hint; white there does move z."""
    from npe.editing import EditSession

    session = EditSession.from_photo(model, lips_photo, box=BOX, name="lips")
    start = session.latent.copy()
    cheek = [(x, 30 + 20 * 1.25) for x in np.arange(90.0, 110.0, 1.0)]
    assert not session.paint(cheek, RED, radius=6.0, reach=4.0)
    assert np.array_equal(session.latent, start) and session.document.tint is None
    assert session.stroke_hint is not None and "skin" in session.stroke_hint
    assert session.paint(cheek, (255, 255, 255), radius=6.0, reach=4.0)  # achromatic paint still asks the model
    assert not np.array_equal(session.latent, start) and session.stroke_hint is None
    assert _paint_lips(session) and session.stroke_hint is None  # red over the lips: carried, no hint


def test_a_white_stroke_carries_no_tint(model, lips_photo):
    from npe.editing import EditSession

    session = EditSession.from_photo(model, lips_photo, box=BOX, name="lips")
    _paint_lips(session, (255, 255, 255))
    assert session.document.tint is None


def test_the_tint_survives_sliders_and_a_session_file_and_goes_with_reset(model, lips_photo, tmp_path):
    from npe.editing import EditSession

    session = EditSession.from_photo(model, lips_photo, box=BOX, name="lips")
    _paint_lips(session)
    tint = session.document.tint
    session.set_latent(session.latent + 0.5, "moved")  # a latent change keeps the colour painted
    assert session.document.tint is tint
    session.save(tmp_path / "lips.npe")
    reopened = EditSession.load(tmp_path / "lips.npe", model)
    assert np.array_equal(reopened.document.tint, tint)
    assert np.array_equal(reopened.result(), session.result())
    reopened.undo()  # the latent change
    assert np.array_equal(reopened.document.tint, tint)
    assert reopened.reset() and reopened.document.tint is None
    reopened.undo()
    assert np.array_equal(reopened.document.tint, tint)


def test_a_commit_keeps_the_coloured_result_and_starts_without_a_tint(model, lips_photo):
    from npe.editing import EditSession

    session = EditSession.from_photo(model, lips_photo, box=BOX, name="lips")
    _paint_lips(session)
    coloured = session.result().copy()
    assert session.commit()
    assert session.document.tint is None
    assert np.array_equal(session.document.photo, coloured)
    session.undo()
    assert session.document.tint is not None
    assert np.array_equal(session.result(), coloured)


def test_a_hue_the_tint_cannot_carry_asks_the_model_for_a_hair_colour_only(model, lips_photo):
    """Yellow through dark hair (too far in lightness to recolour) asks the model, but only along its
    hair-colour directions: with every direction open it brightened foreheads into glows. Achromatic
    paint still has every direction."""
    from npe.editing import EditSession
    from npe.editing.attributes import AttributeDirections, model_identifier

    rng = np.random.default_rng(3)
    names = ("Smiling", "Blond_Hair", "Male")
    vectors = rng.normal(size=(3, model.config.latent_dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    attributes = AttributeDirections(names, vectors, np.ones(3), rng.normal(size=vectors.shape), np.zeros(3), model_identifier(model))
    photo = lips_photo.copy()
    photo[30:52, 60:140] = (45, 35, 30)  # dark hair over the top of the face box
    hair = [(x, 30 + 8 * 1.25) for x in np.arange(80.0, 120.0, 1.0)]

    def move(color):
        session = EditSession.from_photo(model, photo, box=BOX, name="hair")
        session.attributes = attributes
        start = session.latent.copy()
        session.paint(hair, color, radius=6.0, reach=8.0, strength=4.0)
        labels.append(session.history_labels[-1])
        return (session.latent - start).reshape(-1)

    labels: list[str] = []

    yellow = move((235, 205, 90))
    assert np.linalg.norm(yellow) > 1e-3
    blond = vectors[1] / np.linalg.norm(vectors[1])
    assert abs(float(yellow @ blond)) / np.linalg.norm(yellow) > 0.999  # along Blond_Hair alone
    assert labels[0].startswith("Paint: Blond hair ") and labels[0].endswith(" σ")  # and the undo step says so
    white = move((255, 255, 255))
    assert abs(float(white @ blond)) / np.linalg.norm(white) < 0.99


AUBURN = (114, 62, 29)  # the eyedropper on auburn hair


def test_hair_coloured_paint_reads_as_hair_not_as_a_colour():
    """A muted colour much darker than the cheeks is hair's; saturated red and light yellow are colours."""
    face = _face()
    assert PartTint(face, AUBURN, reach=8.0).hair_like
    assert not PartTint(face, RED, reach=8.0).hair_like
    assert not PartTint(face, (235, 205, 90), reach=8.0).hair_like


def test_hair_colour_on_skin_asks_the_model_as_dark_paint_does(model, lips_photo):
    """Auburn from the eyedropper across a forehead means "hair here": the model is asked with every
    direction (measured: a fringe in 50% of 50 foreheads, against 14% when it asked nothing), where red
    on the same skin still changes nothing."""
    from npe.editing import EditSession

    forehead = [(x, 30 + 20 * 1.25) for x in np.arange(90.0, 110.0, 1.0)]
    session = EditSession.from_photo(model, lips_photo, box=BOX, name="hair")
    start = session.latent.copy()
    assert session.paint(forehead, AUBURN, radius=6.0, reach=4.0)
    assert not np.array_equal(session.latent, start) and session.document.tint is None
    assert session.stroke_hint is None


def test_an_iris_takes_a_colour_lighter_than_itself_where_hair_would_not():
    """Blue over dark eyes (where the aligned crop puts them) recolours the irises, 20 levels lighter
    than they are; the same blue over hair as dark, away from the eyes, is left to the model."""
    blue = (40, 90, 200)  # CIELAB lightness 41
    iris = (50, 40, 35)  # lightness about 18
    face = _face()
    for x in (0.3229, 0.6883):
        cx, cy = int(x * R), int(0.4201 * R)
        face[cy - 2 : cy + 2, cx - 2 : cx + 2] = iris
    eyes = PartTint(face, blue, reach=2.0)
    _stroke(eyes, 0.4201 * R, range(int(0.3229 * R) - 1, int(0.3229 * R) + 2), radius=1.5)
    assert eyes.change() is not None
    hair = _face()
    hair[:12] = iris
    far = PartTint(hair, blue, reach=2.0)
    _stroke(far, 5.0, range(20, 44), radius=1.5)
    assert far.change() is None and not far.on_skin


# --- a hair colour follows the hair ---------------------------------------------------------------

DARK_HAIR = (45, 35, 30)
BACKDROP = (60, 110, 190)  # a blue wall: not hair's colour
NAVY = (30, 38, 62)  # a dark backdrop near dark hair's RGB, but blue


def _head(size: int = R) -> np.ndarray:
    """A skin-coloured face oval (parts.face_oval) under dark hair that covers the top of the crop and
    falls down both sides to its lower edge, on a blue backdrop in the lower corners."""
    from npe.editing.parts import face_oval

    rng = np.random.default_rng(4)
    image = np.empty((size, size, 3), np.float64)
    image[:] = BACKDROP
    image[:, : size // 5] = DARK_HAIR  # hair down the left side ...
    image[:, -size // 5 :] = DARK_HAIR  # ... and the right
    image[: size // 4] = DARK_HAIR  # and over the top
    image[size * 3 // 4 :, : size // 10] = BACKDROP  # the backdrop beside the hair's lower ends
    face = face_oval(size) >= 0.5
    face[: size // 4] = False  # the hairline
    image[face] = SKIN
    image += rng.normal(0, 3, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def test_the_hair_place_is_everything_but_the_faces_interior():
    from npe.editing.parts import EYES, hair_place

    place = hair_place(R)
    assert not place.flags.writeable and place.dtype == np.float32
    for u, v in (*EYES, (0.5, 0.55), (0.5, 0.82), (0.3, 0.6), (0.7, 0.6)):  # eyes, nose, mouth, cheeks
        assert place[int(v * R), int(u * R)] == 0.0
    for u, v in ((0.5, 0.05), (0.5, 0.2), (0.05, 0.5), (0.95, 0.9)):  # the top, the forehead, beside the cheeks
        assert place[int(v * R), int(u * R)] == 1.0


def test_a_hair_colour_follows_the_hair_down_the_sides_and_not_onto_skin_or_backdrop():
    """Yellow through the dark hair over the top of the head: the hair it finds is the whole hair, down
    both sides far beyond the brush, and not the face, nor a backdrop of another colour."""
    head = _head()
    tint = PartTint(head, (235, 205, 90), reach=16.0)
    _stroke(tint, 5.0, range(20, 44))
    assert tint.change() is None  # too far in lightness to recolour: the model's
    hair = tint.hair()
    assert hair is not None and hair.dtype == np.float32 and hair.shape == (R, R)
    assert hair[40, 5] > 0.9 and hair[40, R - 4] > 0.9  # the hair beside the cheeks, 35 pixels from the brush
    assert hair[5, 32] > 0.9
    from npe.editing.parts import face_oval

    assert hair[R // 4 :][face_oval(R)[R // 4 :] >= 0.5].max() == 0.0  # not the face
    assert hair[60, 2] == 0.0  # nor the backdrop beside the hair's ends


def test_a_dark_backdrop_of_another_hue_is_not_the_hair():
    """A stroke across the top of the box over a high forehead whose ends cross a navy backdrop beside
    the head: the backdrop is darker than the skin and off it, but blue is no hair's colour."""
    head = _head()
    head[:24, 12:52] = SKIN  # a high forehead, no hair over the top
    head[:24, :24] = (20, 30, 70)  # a navy flag beside the head, under more of the stroke than the hair
    tint = PartTint(head, (235, 205, 90), reach=16.0)
    _stroke(tint, 5.0, range(4, 64))
    hair = tint.hair()
    assert hair is not None  # the hair down the sides, reached from the stroke's right end
    assert hair[:24, :24].max() == 0.0 and hair[30, 60] > 0.9


def test_a_hair_colour_on_the_skin_finds_no_hair():
    head = _head()
    tint = PartTint(head, (235, 205, 90), reach=16.0)
    _stroke(tint, 36.0, range(24, 40))  # across the cheeks
    assert tint.hair() is None
    assert PartTint(head, (255, 255, 255), reach=16.0).hair() is None  # white carries no hue: no hair asked


@pytest.fixture
def head_photo() -> np.ndarray:
    """_head's crop, scaled 1.25x into a 200 x 160 photo at BOX, the backdrop around it, and the hair
    on the right going on below the box."""
    from PIL import Image

    image = np.empty((160, 200, 3), np.uint8)
    image[:] = BACKDROP
    image[30:110, 60:140] = np.asarray(Image.fromarray(_head()).resize((80, 80), Image.Resampling.NEAREST))
    image[110:150, 126:140] = image[100:110, 126:140].mean(axis=(0, 1)).astype(np.uint8)  # the hair falls on
    image[40:100, 140:170] = NAVY  # a dark navy backdrop beside the hair on the right
    return image


def test_yellow_through_the_hair_changes_the_whole_hair_and_nothing_else(model, head_photo):
    """The stroke's change follows the hair it lies on, carried as its colour (the tint): on the hair down
    both sides (far beyond the brush's reach), not on the face, the forehead it ran down, or the backdrop;
    the composite's reach is not grown. White along the same path keeps its disc, which reaches the face."""
    from npe.editing import EditSession
    from npe.editing.parts import face_oval

    rng = np.random.default_rng(3)
    from npe.editing.attributes import AttributeDirections, model_identifier

    names = ("Smiling", "Blond_Hair", "Black_Hair")
    vectors = rng.normal(size=(3, model.config.latent_dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    attributes = AttributeDirections(names, vectors, np.ones(3), rng.normal(size=vectors.shape), np.zeros(3), model_identifier(model))
    path = [(x, 30 + 5 * 1.25) for x in np.arange(82.0, 118.0, 1.0)] + [(100.0, 30 + y * 1.25) for y in np.arange(5.0, 20.0, 1.0)]

    def paint(color):
        session = EditSession.from_photo(model, head_photo, box=BOX, name="head", tune=False)
        session.attributes = attributes
        assert session.paint(path, color, radius=4.0, reach=4.0, strength=4.0)
        return session

    yellow = paint((235, 205, 90))
    tint = yellow.document.tint
    assert tint is not None and not yellow.document.limit.any()  # the change is the carried colour alone
    carried = np.abs(tint.astype(np.float32)).sum(axis=2)
    size = carried.shape[0]  # the model's resolution
    ends = (int(0.62 * size), int(0.08 * size)), (int(0.62 * size), int(0.94 * size))
    assert all(carried[end] > 0 for end in ends)  # the hair's ends, beyond any disc
    face = face_oval(size) == 1.0
    face[: int(0.3 * size)] = False  # (the hair over the top, and its edge)
    assert carried[face].max() == 0  # the face, and the forehead the stroke ran down, kept
    assert carried[-1, 0] == 0  # the backdrop
    assert yellow.stroke_alternatives == []  # a colour carried, as a recoloured part's: no other ways
    yellow.undo()
    assert yellow.document.tint is None
    white = paint((255, 255, 255))  # no hue: the disc's reach, onto the forehead and the face
    assert white.document.tint is None and white.document.limit[face].max() > 0


def test_a_carried_colour_goes_on_past_the_face_box_along_the_hair(model, head_photo):
    """Hair turned lighter inside the box goes on lighter down the hair beyond it (the carried colour at
    the box's border, along pixels of the border's colour), not onto a backdrop of another colour; the
    preview shows what the result does."""
    from npe.editing import EditSession

    session = EditSession.from_photo(model, head_photo, box=BOX, name="head", tune=False)
    hair = np.asarray(session.document.crop).astype(int).sum(axis=2) < 200  # the dark hair of the crop
    tint = np.zeros((session.resolution, session.resolution, 3), np.float16)
    tint[hair] = 0.3  # the hair turned lighter, as a hair colour's stroke carries it
    session.document.set_latent(session.latent, limit=session.document.limit, tint=tint)
    result = session.result().astype(int)
    changed = np.abs(result - head_photo.astype(int)).max(axis=2)
    # Beyond the box (x 60..140, y 30..110) and its 8% fade (6.4 px): the hair on the right below it ...
    assert changed[118:124, 128:138].min() > 10
    assert changed[118:150, 80:110].max() == 0  # ... not the blue backdrop beside it
    assert changed[30:85, 10:40].max() == 0  # (the backdrop beside the hair above the box's lower corner)
    assert changed[50:90, 150:170].max() == 0  # nor a dark navy one, however near the hair's RGB: not hair's hue
    preview = session.preview().astype(int)
    assert np.abs(preview - result)[changed > 0].mean() < 3.5
    session.document.set_latent(session.latent, limit=session.document.limit, tint=None)
    assert np.abs(session.result().astype(int) - head_photo.astype(int)).max() == 0


