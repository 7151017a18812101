"""The colour a hue stroke carries onto the part it is painted on (red over lips, yellow through hair).

The generative model decides the *shape* of an edit; a 64-pixel face model has no lipstick and no
blond to offer (measured: the semantic brush reads lipstick in 6% of 50 faces, blond 4%, as often
as plain paint). A person painting red over lips means "these lips, red", not "a red stroke" and not
"a smile". So a stroke whose colour has a clear hue also recolours the part under it, the way a
photo editor's colour-range selection and a hair-colour tool do:

1. **The part**: the crop pixels whose CIELAB colour is like that of the pixels under the brush (the
   median of the half whose hue is nearest the paint's: red over a smile means the lips, not the
   teeth), reached from them by a path through similar colours (a geodesic distance,
   skimage.graph.MCP_Geometric) no longer than the brush's reach. So lips are found and their
   surrounding skin is not. On the mouth (where the aligned crop puts it) the part is the lips,
   found by where they lie and how much redder than the skin around them they are (``lips_map``),
   so lips as pale as the skin are recoloured too.
2. **The colour**: the part's colour moves toward the paint's, its own texture kept: a* and b* shift
   by the same amount at every pixel, lightness is moved and its contrast scaled with it.

It carries nothing in the skin's own colour (the eyedropper over a beard asks the model for a
shave), or where the paint's lightness is far from the part's (yellow through dark hair: the model
is asked, and draws lighter hair; that stroke's change then follows the hair it lies on, ``hair``). On the face's own skin (red on a cheek, yellow that misses the
hair and lands on a forehead) it carries nothing either, and ``on_skin`` tells the stroke so: asked
for such a colour there, the model drew beards and pale patches (see TintSettings).

Achromatic paint (white teeth, dark hair or glasses, grey) carries no colour: its edit is the
model's alone. The result is a change at model resolution (like G(z) − G(z0)) that the composite
adds to the photo, so the photo's own full-resolution texture shows through it.

NumPy, SciPy and scikit-image only; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage import color as skcolor
from skimage.filters import threshold_otsu
from skimage.graph import MCP_Geometric

from npe.editing.parts import cheek_pixels, eyes_radius, hair_hue, hair_place, mouth_radius
from npe.editing.parts import colour_distance as _distance
from npe.geometry import smoothstep

@dataclass(frozen=True)
class TintSettings:
    """``chroma``: the paint's CIELAB chroma from which it starts to carry its hue, and where it carries it
    fully (skin tones from the eyedropper lie below the first, lipstick red and yellow above the
    second). ``similar``: colour distance (ΔE with lightness halved) at which a pixel counts half as
    part of the stroke's part. ``path``: how much a step through an unlike colour lengthens the
    geodesic path (1 + path · unlikeness per pixel). ``lightness``, ``hue``: how far the part's
    lightness and a*b* move toward the paint's (1: all the way). ``contrast``: bounds of the factor
    the part's lightness contrast is scaled by (a lighter part's texture is stretched with it).
    ``skin``: a part whose colour lies within the first distance of the cheeks' is the face's own
    skin and takes no hue (a yellow stroke that misses the hair and lands on a forehead must not
    paint it yellow); from the second on, it is not skin. ``lightness_gap``: the CIELAB lightness
    between the part and the paint up to which the colour is carried fully, and from which not at
    all: a shift of colour keeps lips lips, but lifting dark hair to a yellow's lightness paints a
    flat patch (asked instead, the model draws lighter hair): lips and irises (on the eyes of the
    aligned crop: blue over dark eyes, 20 levels lighter) take the whole ``lightness_gap``, other parts
    (hair) only ``hair_gap`` (lifted 25-40 levels, red or brown hair came out as a glowing
    yellow cap; the model's hair colours made lighter hair instead). ``saturation``: how far above the crop's
    98th-percentile chroma a carried colour may go (a muted photo gets muted lips, not a red stain)."""

    chroma: tuple[float, float] = (30.0, 45.0)
    similar: float = 14.0
    path: float = 8.0
    lightness: float = 0.8
    hue: float = 0.75
    contrast: tuple[float, float] = (0.7, 1.5)
    skin: tuple[float, float] = (8.0, 14.0)
    lightness_gap: tuple[float, float] = (25.0, 40.0)
    hair_gap: tuple[float, float] = (12.0, 20.0)
    saturation: float = 10.0
    mouth: float = 1.2  # a stroke whose footprint lies (median) within this elliptical radius of the mouth recolours the lips
    min_weight: float = 0.03  # below this a pixel keeps its colour exactly
    least_share: float = 0.1  # hue_share below this is none
    hair: tuple[float, float] = (45.0, 20.0)  # paint below this chroma and this much darker than the cheeks reads as hair


LIGHTNESS_WEIGHT = 0.3  # of the lightness below the skin's in a pixel's lips score (a* above the skin's counts 1)
OTSU_SHARE = 0.6  # of Otsu's threshold: Otsu alone split full lips along their own shading
LIPS_MIN_SCORE = 2.0  # lips are at least this much redder than the skin around the mouth


def lips_map(lab: np.ndarray) -> np.ndarray:
    """How much each pixel of a model crop (CIELAB R x R x 3) is lips: float R x R in [0, 1].

    Lips as pale as the skin cannot be told from it by colour alone (session 12: no threshold
    separates them from foreheads), but where the mouth lies in the aligned crop is known, and within
    it the lips are what is redder (and a little darker) than the skin around the mouth: the pixels
    of the ellipse scoring above OTSU_SHARE of Otsu's threshold (at least LIPS_MIN_SCORE) on
    (a* - a*_around) + 0.3 (L_around - L), the teeth (lighter and less coloured than the skin) left
    out of both the threshold and the map, so red over a smile finds the lips around the teeth.
    (The lightness weight: 0.5 took beards and the shadow under a lower lip, 0.15 missed lips darker
    but hardly redder than their skin; benchmarks/edit_quality_log.md, session 13.)"""
    radius = mouth_radius(lab.shape[0])
    prior = smoothstep(np.clip((1.3 - radius) / 0.5, 0.0, 1.0))
    around = np.median(lab[(radius > 1.4) & (radius < 2.0)], axis=0)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    teeth = (lab[..., 0] > around[0] + 8.0) & (chroma < 0.7 * float(np.hypot(around[1], around[2])))
    score = (lab[..., 1] - around[1]) + LIGHTNESS_WEIGHT * (around[0] - lab[..., 0])
    inside = score[(radius < 1.0) & ~teeth]
    if inside.size < 2 or np.ptp(inside) < 1e-6:
        return np.zeros(lab.shape[:2], np.float32)
    threshold = max(OTSU_SHARE * float(threshold_otsu(inside)), LIPS_MIN_SCORE)
    lips = smoothstep(np.clip((score - threshold) / 4.0 + 0.5, 0.0, 1.0)) * ~teeth
    return (prior * lips).astype(np.float32)


def _ramp_array(value: np.ndarray, bounds: tuple[float, float]) -> np.ndarray:
    """_ramp for an array."""
    low, high = bounds
    return smoothstep((value - low) / (high - low))


# The hair a hair colour asked of the model follows (PartTint.hair; edit_quality_log.md, session 16).
HAIR_SIMILAR = 20.0  # colour distance (_distance) at which a pixel counts half as the hair under the brush
HAIR_DARKER = 10.0  # CIELAB lightness below the cheeks' from which a pixel under the brush may be hair
HAIR_SEEDS = 0.15  # the share of the pixels under the brush that must be such hair (else: skin, no hair)
HAIR_LENGTH = 1.0  # of the crop side: the longest path through hair-like colours (0.5: not down the sides)


def paint_lab(color: tuple[int, int, int]) -> np.ndarray:
    """An RGB 0-255 colour in CIELAB (3 floats)."""
    return skcolor.rgb2lab(np.asarray(color, np.float64).reshape(1, 1, 3) / 255.0)[0, 0]


def _ramp(value: float, bounds: tuple[float, float]) -> float:
    """0 up to bounds[0], 1 from bounds[1], the smoothstep between."""
    low, high = bounds
    return float(smoothstep(np.float64((value - low) / (high - low))))


def hue_share(color: tuple[int, int, int], settings: TintSettings = TintSettings()) -> float:
    """0 for paint without a clear hue (its stroke carries no colour), 1 for a saturated one. A share
    below ``settings.least_share`` is 0: a colour that would carry a hundredth of its hue must not stop
    the stroke from asking the model (chestnut over brown hair "recoloured" it invisibly)."""
    lab = paint_lab(color)
    share = _ramp(float(np.hypot(lab[1], lab[2])), settings.chroma)
    return share if share >= settings.least_share else 0.0


def face_window(image: np.ndarray) -> np.ndarray:
    """The middle of a model crop (the aligned framing's face: its central 60% across, 25-95% down)."""
    size = image.shape[0]
    return image[int(size * 0.25) : int(size * 0.95), int(size * 0.2) : int(size * 0.8)]


def cheek_colour(lab: np.ndarray) -> np.ndarray:
    """The face's skin colour in a model crop (CIELAB R x R x 3, the aligned face framing): the median
    of two small patches on the cheeks (where the editor's eyedropper test picks skin)."""
    return np.median(cheek_pixels(lab), axis=0)


def skin_map(crop: np.ndarray, near: float = 10.0, far: float = 20.0) -> np.ndarray:
    """How much each pixel of a model crop (uint8 R x R x 3) is the face's own skin: 1 within colour
    distance ``near`` of the cheeks' colour (``_distance``: lightness counted half), 0 from ``far`` on,
    the smoothstep between (float32 R x R). Hair, brows, eyes, lips and background are 0 on most faces."""
    lab = skcolor.rgb2lab(crop.astype(np.float64) / 255.0)
    distance = _distance(lab - cheek_colour(lab))
    return (1.0 - smoothstep((distance - near) / (far - near))).astype(np.float32)


class PartTint:
    """A stroke's colour carried onto the part under it (see the module doc), for one crop.

    ``crop``: the photo's face crop (uint8 R x R x 3, the model's input). ``color``: the paint.
    ``reach``: crop pixels the part may extend beyond the brush along similar colours (the brush's
    reach setting). ``add`` joins a brush position's footprint; ``change`` is the tint now.
    ``on_skin``: the last ``change`` found the painted part to be the face's own skin."""

    def __init__(self, crop: np.ndarray, color: tuple[int, int, int], reach: float, settings: TintSettings = TintSettings()) -> None:
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
            raise ValueError(f"a tint needs a uint8 R x R x 3 crop, got {crop.dtype} {crop.shape}")
        self.settings = settings
        self.share = hue_share(color, settings)
        self.paint = paint_lab(color)
        self.reach = max(float(reach), 0.0)
        self.rgb = crop.astype(np.float64) / 255.0
        self.lab = skcolor.rgb2lab(self.rgb) if self.share > 0 else None
        self.footprint = np.zeros(crop.shape[:2], np.float32)
        self.on_skin = False
        self.lips: np.ndarray | None = None  # lips_map of the crop, once a stroke reaches the mouth
        self.on_lips = False  # the last part found was the lips
        self.skin = cheek_colour(self.lab) if self.lab is not None else None
        if self.skin is not None and _distance(self.paint - self.skin) < settings.skin[1]:
            # The face's own skin colour (the eyedropper's): "make this skin", a change of shape
            # (a beard shaved, a blemish gone) that the model makes, not a colour to carry.
            self.share, self.lab = 0.0, None
        # The most saturated a carried colour may be: the face's own 98th-percentile chroma (the middle of
        # the aligned crop: a vivid background must not license neon lips on a muted face), plus a margin.
        # A muted colour much darker than the skin (auburn or chestnut from the eyedropper on the hair):
        # on skin it means "hair here", as dark paint does, not a colour to carry (see hair_on_skin).
        self.hair_like = bool(self.skin is not None and np.hypot(*self.paint[1:]) < settings.hair[0]
                              and self.paint[0] < self.skin[0] - settings.hair[1])
        self.ceiling = 0.0 if self.lab is None else float(np.percentile(np.hypot(*face_window(self.lab)[..., 1:].transpose(2, 0, 1)), 98)) + settings.saturation

    @property
    def active(self) -> bool:
        """True if this stroke carries colour at all."""
        return self.share > 0

    def add(self, weights: np.ndarray) -> None:
        """Join a brush position's footprint (float R x R in [0, 1])."""
        np.maximum(self.footprint, weights, out=self.footprint)

    def _part(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(how much each crop pixel belongs to the painted part: float32 R x R in [0, 1], the part's
        reference colour in CIELAB), or None when there is no part to recolour."""
        if self.lab is None:
            return None
        under = self.footprint >= 0.5
        if not under.any():
            return None
        settings = self.settings
        self.on_lips = bool(np.median(mouth_radius(under.shape[0])[under]) < settings.mouth)
        if self.on_lips:
            return self._lips(under)
        # A window around the stroke: the part cannot lie further than the reach's paths go.
        margin = int(np.ceil(self.reach * 1.5)) + 3
        rows, cols = np.flatnonzero(under.any(axis=1)), np.flatnonzero(under.any(axis=0))
        size = under.shape[0]
        y0, y1 = max(0, rows[0] - margin), min(size, rows[-1] + 1 + margin)
        x0, x1 = max(0, cols[0] - margin), min(under.shape[1], cols[-1] + 1 + margin)
        lab = self.lab[y0:y1, x0:x1]
        seeds = under[y0:y1, x0:x1]
        # The part meant: of the colours under the brush, the half whose hue lies closest to the paint's
        # (red over a smile means the lips, not the teeth between them), then their median.
        under_lab = lab[seeds]
        paint_ab = self.paint[1:] / max(float(np.hypot(*self.paint[1:])), 1e-6)
        alignment = under_lab[:, 1:] @ paint_ab
        reference = np.median(under_lab[alignment >= np.median(alignment)], axis=0)
        difference = lab - reference
        distance = _distance(difference)
        like = np.exp(-np.log(2.0) * (distance / settings.similar) ** 2)  # 1: the part's colour, 0.5 at ``similar``
        assert self.skin is not None
        off_skin = self.skin - reference
        not_skin = _ramp(float(_distance(off_skin)), settings.skin)
        # An iris may take a colour much lighter than itself (blue over dark eyes); hair lifted as far glows.
        on_eyes = bool(np.median(eyes_radius(size)[under]) < 1.0)
        gap = settings.lightness_gap if on_eyes else settings.hair_gap
        guard = not_skin * (1.0 - _ramp(abs(self.paint[0] - reference[0]), gap))
        self.on_skin = not_skin < 0.5
        if guard < 0.5:  # more skin, or further in lightness, than a part to recolour: the model's stroke
            return None
        starts = np.argwhere(seeds & (like >= 0.5))
        if starts.size == 0:
            return None
        costs, _ = MCP_Geometric(1.0 + settings.path * (1.0 - like)).find_costs(starts)
        feather = max(2.0, self.reach / 2)
        near = smoothstep(1.0 - (costs - self.reach) / feather)
        part = np.zeros(under.shape, np.float32)
        part[y0:y1, x0:x1] = like * near * guard
        part[part < settings.min_weight] = 0.0
        return part, reference

    def hair(self) -> np.ndarray | None:
        """The hair the stroke lies on, for a hue the model is asked for (yellow through dark hair), as
        float32 R x R in [0, 1]; None when the brush lies on the face's skin or interior. The hair is what
        is like the colour under the brush that is off the skin, darker than the cheeks, in a hair's hue
        (not blue or green) and outside the face's interior (parts.hair_place), reached from there by a
        path through like colours up to HAIR_LENGTH of the crop long (a step through hair's own colour
        costs about a pixel, through an unlike one up to 1 + ``path``): over the top of the head and down
        the sides, not the skin or a backdrop of another colour. A hair colour is the whole hair's: the
        stroke's change follows it (npe.editing.brush.stroke.Stroke.following)."""
        if self.lab is None or self.skin is None:
            return None
        under = self.footprint >= 0.5
        if not under.any():
            return None
        place = hair_place(under.shape[0])
        off_skin = _ramp_array(_distance(self.lab - self.skin), self.settings.skin)
        # Hair the model is asked to lighten is darker than the skin (lighter hair takes the colour itself):
        # a lit forehead, unlike the cheeks but as light, is not hair. And it has a hair's colour, black,
        # brown, red or grey, not blue or green: a stroke across the top of a box over a high forehead also
        # crosses the backdrop beside the head (a navy flag behind a short-haired man was taken for his hair).
        natural = hair_hue(self.lab)
        seeds = under & (off_skin >= 0.5) & (self.lab[..., 0] < self.skin[0] - HAIR_DARKER) & (place >= 0.5) & (natural >= 0.5)
        if seeds.sum() < HAIR_SEEDS * under.sum():
            return None
        reference = np.median(self.lab[seeds], axis=0)
        like = np.exp(-np.log(2.0) * (_distance(self.lab - reference) / HAIR_SIMILAR) ** 2) * off_skin * natural
        starts = np.argwhere(seeds & (like >= 0.5))
        if starts.size == 0:
            return None
        costs, _ = MCP_Geometric(1.0 + self.settings.path * (1.0 - like)).find_costs(starts)
        near = smoothstep(1.0 - (costs - HAIR_LENGTH * under.shape[0]) / 4.0)
        # Nothing on the face's interior, its soft edge included (place below 0.5).
        part = (smoothstep((like - 0.3) / 0.4) * near * smoothstep(2.0 * place - 1.0)).astype(np.float32)
        part[part < self.settings.min_weight] = 0.0
        return part

    def _lips(self, under: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The part for a stroke painted on the mouth: the lips (lips_map), as far as the reach from
        the brush, whatever their colour (pale lips are lips, not skin)."""
        assert self.lab is not None
        self.on_skin = False
        if self.lips is None:
            self.lips = lips_map(self.lab)
        feather = max(2.0, self.reach / 2)
        near = smoothstep(1.0 - (ndimage.distance_transform_edt(~under) - self.reach) / feather)
        part = self.lips * near.astype(np.float32)
        part[part < self.settings.min_weight] = 0.0
        core = part >= 0.5
        if not core.any():
            return None
        reference = np.median(self.lab[core], axis=0)
        if _ramp(abs(self.paint[0] - reference[0]), self.settings.lightness_gap) >= 0.5:
            return None
        return part, reference

    def change(self) -> np.ndarray | None:
        """The tint as a change in the model's [-1, 1] units (float32 R x R x 3, exactly 0 where the part
        ends), or None when the stroke carries no colour or has not reached a part yet."""
        found = self._part()
        if found is None or not found[0].any():
            return None
        assert self.lab is not None
        part, reference = found
        settings = self.settings
        moved = reference + self.share * np.array([settings.lightness, settings.hue, settings.hue]) * (self.paint - reference)
        low, high = settings.contrast
        gain = float(np.clip(moved[0] / max(reference[0], 1.0), low, high))
        inside = part > 0
        lab = self.lab[inside]
        target = np.empty_like(lab)
        target[:, 0] = moved[0] + (lab[:, 0] - reference[0]) * gain
        target[:, 1:] = lab[:, 1:] + (moved[1:] - reference[1:])
        target[:, 0] = np.clip(target[:, 0], 0.0, 100.0)
        # No more saturated than the photo's own most saturated colours (a muted photo gets muted lips).
        chroma = np.hypot(target[:, 1], target[:, 2])
        target[:, 1:] *= np.minimum(1.0, self.ceiling / np.maximum(chroma, 1e-6))[:, None]
        rgb = skcolor.lab2rgb(target[None])[0]
        change = np.zeros(self.rgb.shape, np.float32)
        change[inside] = ((rgb - self.rgb[inside]) * 2.0 * part[inside][:, None]).astype(np.float32)
        return change
