"""Where a face's parts lie in the model's crop: the aligned face framing of
npe.data.face_finder.TEMPLATE (eyes, nose tip and mouth corners at fixed places, in units of the
crop's side), which CelebA's aligned photos share (MTCNN finds their eyes at 0.415 of the crop, sd
0.012). The brush's tint (lips, irises), the sunglasses' reach and the composite use these maps.

NumPy only (and npe.geometry's smoothstep; SciPy's labelling for what lies beside a face); every map
that depends only on the crop's size is cached per size and read-only.
"""

from __future__ import annotations

import functools

import numpy as np

from npe.geometry import smoothstep

# Where the lips lie in the model's crop (the aligned face framing, units of its side): an ellipse
# around the mouth corners of npe.data.face_finder.TEMPLATE (0.345-0.665 across, 0.80 down), a little
# below them (the lower lip is the fuller one).
MOUTH_CENTRE = (0.505, 0.815)
MOUTH_AXES = (0.19, 0.075)


@functools.lru_cache(maxsize=4)
def mouth_radius(size: int) -> np.ndarray:
    """Each crop pixel's elliptical distance from the mouth (1 on MOUTH_AXES' ellipse): float R x R,
    read-only (cached: every brush position of a hue stroke asks for it)."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    radius = np.hypot((xx - MOUTH_CENTRE[0]) / MOUTH_AXES[0], (yy - MOUTH_CENTRE[1]) / MOUTH_AXES[1])
    radius.setflags(write=False)
    return radius


# mouth_radius within which a stroke over the beard leaves the mouth be (the lips, and a grin's teeth),
# and from which it is free: the moustache above the lip stays the beard's.
LIPS_HELD = (0.6, 0.95)


@functools.lru_cache(maxsize=4)
def off_lips(size: int) -> np.ndarray:
    """0 on the lips and between them (mouth_radius up to LIPS_HELD[0]), 1 from LIPS_HELD[1] on, the
    smoothstep between: float32 R x R, read-only."""
    held = smoothstep((mouth_radius(size) - LIPS_HELD[0]) / (LIPS_HELD[1] - LIPS_HELD[0])).astype(np.float32)
    held.setflags(write=False)
    return held


# The eyes in the aligned crop: face_finder.TEMPLATE's eye landmarks, and how far around them (crop
# sides) an iris may lie.
EYES = ((0.3229, 0.4201), (0.6883, 0.4204))
EYE_AXES = (0.1, 0.06)


@functools.lru_cache(maxsize=4)
def eyes_radius(size: int) -> np.ndarray:
    """Each crop pixel's elliptical distance from the nearer eye (1 on EYE_AXES' ellipse): float R x R,
    read-only (cached, as mouth_radius)."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    radius = np.minimum(*(np.hypot((xx - x) / EYE_AXES[0], (yy - y) / EYE_AXES[1]) for x, y in EYES))
    radius.setflags(write=False)
    return radius


# Sunglasses: what a dark stroke across the eyes may change (stroke.Stroke). The model's Eyeglasses
# change darkens brows, sockets and cheeks with the lenses (dark goggles, read older); held to two
# lenses and a bridge it reads as sunglasses (edit_quality_log.md, session 14: lens axes 0.14-0.18
# measured; larger lenses read as glasses more often and as the same person less often).
LENS_AXES = (0.145, 0.095)  # each lens's half-width and half-height (crop sides), around EYES
LENS_FEATHER = 0.25  # the lens's soft edge, in units of its own size beyond it
BRIDGE = (0.40, 0.022)  # the bridge's row and half-height (crop sides), from eye to eye


@functools.lru_cache(maxsize=4)
def lens_map(size: int) -> np.ndarray:
    """Where a pair of sunglasses lies in the aligned crop: float R x R in [0, 1] (1 on the two
    lenses and the bridge between them, a soft edge around), read-only (cached)."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    radius = np.minimum(*(np.hypot((xx - x) / LENS_AXES[0], (yy - y) / LENS_AXES[1]) for x, y in EYES))
    lenses = np.clip((1.0 + LENS_FEATHER - radius) / LENS_FEATHER, 0.0, 1.0)
    between = (xx > EYES[0][0]) & (xx < EYES[1][0])
    bridge = np.clip((BRIDGE[1] - np.abs(yy - BRIDGE[0])) * size + 1.0, 0.0, 1.0) * between
    found = np.maximum(lenses, bridge).astype(np.float32)
    found.setflags(write=False)
    return found


# What lies beside a face at the crop's sides (a backdrop not of a hair's colour): colours within
# BESIDE_LIKE (colour distance, lightness counted half) of the crop's outermost columns in the same rows,
# joined to them, unlike the cheeks' skin (beyond BESIDE_SKIN), outside hair's hues (hair_hue), and only in
# the outer BESIDE_SIDES of the crop's width (the eyes and brows lie within it).
BESIDE_LIKE = 10.0
BESIDE_SKIN = 14.0
BESIDE_SIDES = (0.22, 0.28)  # |x - 0.5| from which a pixel may be beside the face, and fully from which


def colour_distance(difference: np.ndarray) -> np.ndarray:
    """CIELAB colour distance of a difference (... x 3) with lightness counted half (shading moves
    lightness more than colour)."""
    return np.sqrt((0.5 * difference[..., 0]) ** 2 + difference[..., 1] ** 2 + difference[..., 2] ** 2)


def beside_face(lab: np.ndarray) -> np.ndarray:
    """How much each pixel of a model crop (CIELAB R x R x 3) is what lies beside the face at its sides,
    float32 R x R in [0, 1]: on a turned face the far eye lies near the crop's side, and a pair of
    sunglasses held to the aligned crop's lenses (lens_map) would go on over the backdrop beyond it."""
    from scipy import ndimage

    size = lab.shape[0]
    lab = np.asarray(lab, np.float64)
    off_skin = colour_distance(lab - np.median(cheek_pixels(lab), axis=0)) > BESIDE_SKIN
    # Hair beside the cheeks is not what the lenses must stop at (large sunglasses cover the temples' hair);
    # a backdrop of another colour is (a navy flag beside a turned face).
    not_hair = hair_hue(lab) < 0.5
    found = np.zeros((size, size), bool)
    for edge in (slice(0, 2), slice(size - 2, size)):
        reference = ndimage.median_filter(np.median(lab[:, edge], axis=1), size=(5, 1), mode="nearest")  # a colour per row
        labels, _ = ndimage.label((colour_distance(lab - reference[:, None, :]) < BESIDE_LIKE) & off_skin & not_hair)
        touching = np.setdiff1d(np.unique(labels[:, edge]), [0])
        found |= np.isin(labels, touching)
    across = np.abs((np.arange(size) + 0.5) / size - 0.5)
    sides = smoothstep((across - BESIDE_SIDES[0]) / (BESIDE_SIDES[1] - BESIDE_SIDES[0]))[None, :]
    soft = np.clip(ndimage.gaussian_filter(found.astype(np.float32), 0.7) * 1.5, 0.0, 1.0)
    return (soft * sides).astype(np.float32)


def lens_place(crop: np.ndarray) -> np.ndarray:
    """Where a pair of sunglasses lies on a model crop (uint8 R x R x 3): lens_map, but not over what lies
    beside the face (beside_face). Float32 R x R in [0, 1]."""
    from skimage import color as skcolor

    lab = skcolor.rgb2lab(np.asarray(crop, np.float64) / 255.0)
    return (lens_map(lab.shape[0]) * (1.0 - beside_face(lab))).astype(np.float32)


def painted_row(painted: np.ndarray) -> float | None:
    """The middle row of a stroke's paint (float R x R brush weights), in crop sides; None if none."""
    total = float(painted.sum())
    if not total > 0:
        return None
    size = painted.shape[0]
    return float((painted.sum(axis=1) * (np.arange(size) + 0.5)).sum()) / total / size


def on_eyes(painted: np.ndarray, share: float = 0.5) -> bool:
    """True if a stroke's paint (float R x R brush weights) lies across the eyes: at least ``share`` of
    it on the lenses' place (lens_map > 0), its middle row within half a lens's height of the eyes'
    (not over the brows, nor a blob over the middle of the face)."""
    row = painted_row(painted)
    if row is None:
        return False
    eyes_row = (EYES[0][1] + EYES[1][1]) / 2
    total = float(painted.sum())
    return abs(row - eyes_row) <= LENS_AXES[1] / 2 and float(painted[lens_map(painted.shape[0]) > 0].sum()) >= share * total


# Above the brows (TEMPLATE's brows lie near 0.34 of the crop): the forehead, the hairline, the hair.
UPPER_FACE = 0.3


def on_forehead(painted: np.ndarray) -> bool:
    """True if a stroke's paint (float R x R brush weights) has its middle row above UPPER_FACE: on a
    forehead, a hairline or the hair above them."""
    row = painted_row(painted)
    return row is not None and row < UPPER_FACE


# The lower face: below the nose tip (TEMPLATE's 0.643), where a beard grows.
LOWER_FACE = 0.62
# Where the editor's eyedropper test and the tint read the face's skin: two small patches on the cheeks.
CHEEKS = ((0.3, 0.58), (0.7, 0.58))


# The face's outline in the aligned crop, as an ellipse (the mean of 150 validation faces lies within
# it: cheeks at 0.17-0.83 across at the nose, the chin near the crop's lower edge), and the soft edge
# beyond it (crop sides) over which a beard stroke's change fades out.
FACE_OVAL = ((0.5, 0.55), (0.34, 0.45))
OVAL_FEATHER = 0.06


@functools.lru_cache(maxsize=4)
def face_oval(size: int) -> np.ndarray:
    """1 inside FACE_OVAL, falling to 0 over OVAL_FEATHER beyond it (smoothstep): float32 R x R,
    read-only. Where a beard lies; what lies outside (the background by the jaw) is not the beard."""
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5) / size
    (cx, cy), (ax, ay) = FACE_OVAL
    radius = np.hypot((xx - cx) / ax, (yy - cy) / ay)
    found = smoothstep((1.0 - radius) * min(ax, ay) / OVAL_FEATHER + 1.0).astype(np.float32)
    found.setflags(write=False)
    return found


@functools.lru_cache(maxsize=4)
def beard_place(size: int) -> np.ndarray:
    """Where a stroke over a beard may change the face: face_oval off the lips (off_lips), float32
    R x R, read-only (cached: every brush position of such a stroke asks for it)."""
    found = face_oval(size) * off_lips(size)
    found.setflags(write=False)
    return found


# Where the face's interior begins below the hairline (crop sides): the brows and below, within the oval.
BROWS = (0.28, 0.36)


@functools.lru_cache(maxsize=4)
def hair_place(size: int) -> np.ndarray:
    """Where hair may lie in the aligned crop: everywhere but the face's oval from the brows down
    (BROWS: a soft edge), float32 R x R, read-only. A hair colour's change may follow the hair but
    not the eyes, nose, cheeks and mouth (whose colours can match dark hair)."""
    yy = (np.mgrid[0:size, 0:size][0] + 0.5) / size
    below = smoothstep((yy - BROWS[0]) / (BROWS[1] - BROWS[0]))
    found = (1.0 - face_oval(size) * below).astype(np.float32)
    found.setflags(write=False)
    return found


# CIELAB a* and b* from which a colour may be hair's, and from which it fully is: black, brown, red, blond
# and grey hair lie above both; a blue or green backdrop below (a navy flag beside a dark-haired head).
HAIR_HUES = (-12.0, -4.0)


def hair_hue(lab: np.ndarray) -> np.ndarray:
    """How much each pixel's colour (CIELAB ... x 3) may be hair's by its hue: 1 where a* and b* are at
    least HAIR_HUES[1], 0 where either is below HAIR_HUES[0], a smoothstep between (float32)."""
    low, high = HAIR_HUES
    ramp = smoothstep((np.asarray(lab[..., 1:], np.float64) - low) / (high - low))
    return (ramp[..., 0] * ramp[..., 1]).astype(np.float32)


def on_beard(painted: np.ndarray) -> bool:
    """True if a stroke's paint lies on the lower face but not across the mouth: its middle row below
    LOWER_FACE and more than the mouth ellipse's half-height from the mouth's (a chin, a jaw, a
    moustache; not the lips, where white paint asks for teeth)."""
    row = painted_row(painted)
    return row is not None and row >= LOWER_FACE and abs(row - MOUTH_CENTRE[1]) > MOUTH_AXES[1]


def cheek_pixels(image: np.ndarray) -> np.ndarray:
    """The pixels of the two cheek patches (5 x 5 each) of a crop (R x R x C): N x C."""
    size = image.shape[0]
    patches = []
    for across, down in CHEEKS:
        x, y = int(size * across), int(size * down)
        patches.append(image[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].reshape(-1, image.shape[-1]))
    return np.concatenate(patches)
