"""Finding the face in a photo, cropping it in CelebA framing (with roll alignment), and pasting edits back."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from npe.config import CropConfig

if TYPE_CHECKING:
    from skimage.feature import Cascade

# scikit-image's feature/filters/transform modules pull in scipy (~0.7 s): they are imported where
# first used, so importing this module (and the editor, which needs CropBox) stays cheap.


class NoFaceError(ValueError):
    """The face finder found nothing; the message says what kind of photo works."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No face found in this photo. Try a photo where the face is frontal, well lit and not tiny "
            "(at least ~80 px wide, and 1/50 of the photo's width), or use the whole image."
        )


@dataclass(frozen=True)
class CropBox:
    """The face square in a photo, in photo pixel coordinates (continuous: pixel (0, 0) spans [0, 1)).

    ``angle`` is the face's roll in degrees, counter-clockwise as seen on screen: a head tilted
    towards its right shoulder (the viewer's left) has a positive angle. ``crop_face`` rotates by
    it so the crop comes out upright.
    """

    center_x: float
    center_y: float
    size: float
    angle: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropBox:
        """Rebuild from ``to_dict`` output (e.g. a session file); missing angle means upright."""
        try:
            box = cls(
                center_x=float(data["center_x"]),
                center_y=float(data["center_y"]),
                size=float(data["size"]),
                angle=float(data.get("angle", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a valid face box: {data!r} ({exc})") from exc
        if not box.size > 0 or not all(map(math.isfinite, (box.center_x, box.center_y, box.size, box.angle))):
            raise ValueError(f"not a valid face box: {data!r} (size must be positive and all values finite)")
        return box

    @classmethod
    def whole_image(cls, width: int, height: int) -> CropBox:
        """The largest centred square: the fallback when no face is found."""
        return cls(width / 2, height / 2, float(min(width, height)))

    @property
    def axes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Unit vectors of the crop's x (rightwards) and y (downwards) axes, in photo coordinates."""
        radians = math.radians(self.angle)
        cos, sin = math.cos(radians), math.sin(radians)
        return (cos, -sin), (sin, cos)

    def corners(self) -> np.ndarray:
        """The square's four corners (top-left, top-right, bottom-right, bottom-left) as a 4x2 (x, y) array."""
        (ux, uy), (vx, vy) = self.axes
        half = self.size / 2
        signs = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], dtype=np.float64)
        xs = self.center_x + half * (signs[:, 0] * ux + signs[:, 1] * vx)
        ys = self.center_y + half * (signs[:, 0] * uy + signs[:, 1] * vy)
        return np.stack([xs, ys], axis=1)

    def pixel_bounds(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The pixels the square touches in a width x height photo: (x0, y0, x1, y1), or None if none."""
        corners = self.corners()
        x0 = max(0, math.floor(corners[:, 0].min()))
        y0 = max(0, math.floor(corners[:, 1].min()))
        x1 = min(width, math.ceil(corners[:, 0].max()))
        y1 = min(height, math.ceil(corners[:, 1].max()))
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1


def aligned_crop_box(width: int, height: int, crop: CropConfig = CropConfig()) -> CropBox:
    """The CropConfig square of an already aligned (CelebA-style) photo of this size."""
    return CropBox(crop.center_x * width, crop.center_y * height, crop.size * width)


# --- finding ------------------------------------------------------------------------------------

# Detection box -> CelebA framing, fitted by benchmarks/calibrate_faces.py on CelebA aligned photos
# (rerun it after changing anything in _locate). In units of the refined detection box's width and
# in the face's own axes: where the centre of the whole aligned 178x218 photo lies, and its width.
_ALIGNED_CENTER_X = -0.0145
_ALIGNED_CENTER_Y = -0.1572
_ALIGNED_WIDTH = 1.6728
_ANGLE_BIAS = -0.1995  # degrees the roll estimate reads on upright (aligned) faces
_CELEBA_ASPECT = 218 / 178  # height / width of the aligned photos that CropConfig fractions refer to

_WORKING_SIDE = 512  # longest side of the grayscale copy the first search runs on
_DETAIL_SIDE = 1280  # second, small-faces-only search on large photos where the first found nothing
_CANDIDATES = 3  # strongest hit clusters per whole-photo pass that get a close look
_REFINE_FACE = 56  # face width (px) in the normalised patch where candidates are compared and refined
# Close-look hits a face needs. Faces score 5-100 (median ~40), clutter mistaken for a face 3-14:
# 5 drops most mistakes (a wrong crop is worse than "no face found") for ~3% of real faces.
_MIN_HITS = 5
_CONFIDENT_HITS = 12  # below this, tilted heads are searched for too (faces mostly score 15-60, clutter 0-10)
_EXHAUSTIVE_PIXELS = 120_000  # small working copies (up to ~350 px square) are searched at every position
# Whole-photo retries for tilted heads: the upright cascade only fires within about 10 degrees.
_TILTS = (-15.0, 15.0, -30.0, 30.0)
_TILTED_SIDE = 384  # the retries look at a coarser copy: a big tilted head is the likely case
_REFINE_ANGLES = np.arange(-20.0, 20.1, 5.0)  # relative to the coarse pass's tilt
_SYMMETRY_ANGLES = np.arange(-10.0, 10.1, 2.0)


@dataclass(frozen=True)
class FaceDetection:
    """A face as the detector sees it, before calibration: photo pixel coordinates."""

    center_x: float
    center_y: float
    width: float  # side of the (square) detection box
    angle: float  # roll estimate, degrees counter-clockwise, before the calibrated bias correction
    hits: int  # raw detections supporting it: a confidence


@lru_cache(maxsize=1)
def _cascade() -> Cascade:
    from skimage.data import lbp_frontal_face_cascade_filename
    from skimage.feature import Cascade

    return Cascade(lbp_frontal_face_cascade_filename())


def _gray(image: np.ndarray, max_side: int | None = None) -> tuple[np.ndarray, float]:
    """A float32 grayscale copy whose longest side is at most ``max_side``, and its scale factor."""
    gray = Image.fromarray(image).convert("L")
    if max_side is not None and max(gray.size) > max_side:
        factor = max_side / max(gray.size)
        size = (max(1, round(gray.width * factor)), max(1, round(gray.height * factor)))
        # reducing_gap: a fast integer pre-reduction of huge photos; the result is still antialiased.
        gray = gray.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(gray, dtype=np.float32) / 255.0, gray.width / image.shape[1]


def _raw_detections(
    gray: np.ndarray, min_size: float, max_size: float, scale_factor: float = 1.15, step_ratio: float = 1.0
) -> np.ndarray:
    """Every window the cascade accepts, unmerged, as an Nx3 array of (centre x, centre y, side)."""
    window = _cascade().window_width
    low = max(float(window), min_size)
    high = min(max_size, float(min(gray.shape)))
    if high < low:
        return np.zeros((0, 3))
    # min_neighbor_number=1 and an impossible merge threshold return the raw hits: we cluster them
    # ourselves because the hit count is the only confidence this detector offers.
    hits = _cascade().detect_multi_scale(
        gray, scale_factor=scale_factor, step_ratio=step_ratio, min_size=(low, low), max_size=(high, high),
        min_neighbor_number=1, intersection_score_threshold=2.0,
    )
    return np.array(
        [(d["c"] + d["width"] / 2, d["r"] + d["height"] / 2, d["width"]) for d in hits], dtype=np.float64
    ).reshape(-1, 3)


def _clusters(boxes: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Group detections of one object: (hit count, mean box) per group, most hits first.

    Two hits belong together when they overlap by more than half of the smaller one and differ in
    size by less than 2x; groups are the connected components of that relation (order-free, unlike
    a greedy pass, which can split one face into two clusters).
    """
    if len(boxes) == 0:
        return []
    x, y, side = boxes[:, 0], boxes[:, 1], boxes[:, 2]
    overlap_x = np.minimum(x[:, None] + side[:, None] / 2, x + side / 2) - np.maximum(
        x[:, None] - side[:, None] / 2, x - side / 2
    )
    overlap_y = np.minimum(y[:, None] + side[:, None] / 2, y + side / 2) - np.maximum(
        y[:, None] - side[:, None] / 2, y - side / 2
    )
    smaller = np.minimum(side[:, None], side) ** 2
    linked = (np.clip(overlap_x, 0, None) * np.clip(overlap_y, 0, None) > 0.5 * smaller) & (
        np.maximum(side[:, None], side) < 2 * np.minimum(side[:, None], side)
    )
    labels = np.full(len(boxes), -1)
    for start in range(len(boxes)):
        if labels[start] >= 0:
            continue
        labels[start] = start
        frontier = [start]
        while frontier:
            current = frontier.pop()
            for neighbour in np.flatnonzero(linked[current] & (labels < 0)):
                labels[neighbour] = start
                frontier.append(neighbour)
    groups = [(int((labels == label).sum()), boxes[labels == label].mean(axis=0)) for label in np.unique(labels)]
    return sorted(groups, key=lambda group: (-group[0], -group[1][2]))


@dataclass(frozen=True)
class _Candidate:
    """A coarse hit in photo coordinates, found with the photo turned by ``tilt`` degrees."""

    center_x: float
    center_y: float
    width: float
    tilt: float


def _coarse_candidates(photo: np.ndarray, tilt: float, max_side: int, max_face: float = np.inf) -> list[_Candidate]:
    """The strongest hit clusters of one whole-photo pass, with the photo turned by ``tilt``."""
    height, width = photo.shape[:2]
    if tilt == 0:
        gray, scale = _gray(photo, max_side)
        frame = CropBox(width / 2, height / 2, 1.0)
        unit = 1 / scale
        center = (gray.shape[1] * unit / 2, gray.shape[0] * unit / 2)
    else:
        # Turn the photo (a square around it, so nothing is cut) so a head tilted by `tilt` stands up.
        frame = CropBox(width / 2, height / 2, math.hypot(width, height), tilt)
        side = max(1, min(max_side, round(frame.size)))
        gray = _gray(crop_face(photo, frame, side))[0]
        unit = frame.size / side
        center = (side * unit / 2, side * unit / 2)
    # Exhaustive steps where that is cheap; on a full-size working copy, 1.5x steps (3x faster).
    step_ratio = 1.0 if tilt == 0 and gray.size <= _EXHAUSTIVE_PIXELS else 1.5
    boxes = _raw_detections(gray, 0, max_face / unit, step_ratio=step_ratio)
    (ux, uy), (vx, vy) = frame.axes
    found = []
    for hits, (x, y, side_px) in _clusters(boxes)[:_CANDIDATES]:
        if hits < 2:
            break
        du, dv = x * unit - center[0], y * unit - center[1]
        found.append(
            _Candidate(frame.center_x + du * ux + dv * vx, frame.center_y + du * uy + dv * vy, side_px * unit, tilt)
        )
    return found


class _FacePatch:
    """A candidate seen up close: the face normalised to _REFINE_FACE px, tried at several rolls."""

    def __init__(self, photo: np.ndarray, candidate: _Candidate) -> None:
        self.candidate = candidate
        self.unit = candidate.width / _REFINE_FACE  # photo px per patch px
        self.side = 2 * _REFINE_FACE
        # One upright copy with room for every trial rotation; the trials turn this small copy.
        self.room = math.ceil(self.side * 1.5)
        self.base = crop_face(
            photo, CropBox(candidate.center_x, candidate.center_y, self.room * self.unit, candidate.tilt), self.room
        )
        self._trials: dict[float, np.ndarray] = {}

    def hits(self, offset: float) -> np.ndarray:
        """Hits (x, y, side in patch px) near the centre with the face turned by a further ``offset``."""
        if offset not in self._trials:
            patch = crop_face(self.base, CropBox(self.room / 2, self.room / 2, self.side, offset), self.side)
            boxes = _raw_detections(_gray(patch)[0], 0.6 * _REFINE_FACE, 1.6 * _REFINE_FACE, scale_factor=1.1)
            near = np.hypot(boxes[:, 0] - self.side / 2, boxes[:, 1] - self.side / 2) < 0.35 * _REFINE_FACE
            self._trials[offset] = boxes[near]
        return self._trials[offset]

    def score(self) -> int:
        """Size-independent confidence: hits as seen, or at +-15 degrees more roll if that is weak."""
        upright = len(self.hits(0.0))
        if upright >= _CONFIDENT_HITS:
            return upright
        return max(upright, *(len(self.hits(offset)) for offset in (-15.0, 15.0)))

    def to_photo(self, x: float, y: float, offset: float) -> tuple[float, float]:
        (ux, uy), (vx, vy) = CropBox(0, 0, 1, self.candidate.tilt + offset).axes
        du, dv = (x - self.side / 2) * self.unit, (y - self.side / 2) * self.unit
        return self.candidate.center_x + du * ux + dv * vx, self.candidate.center_y + du * uy + dv * vy


def _search(photo: np.ndarray) -> _FacePatch | None:
    """The most face-like candidate, trying upright, then tilted heads, then small faces."""
    height, width = photo.shape[:2]
    patches: list[_FacePatch] = []

    def consider(candidates: list[_Candidate]) -> _FacePatch | None:
        patches.extend(_FacePatch(photo, candidate) for candidate in candidates)
        scored = [(patch.score(), patch.candidate.width, index) for index, patch in enumerate(patches)]
        best = max(scored, default=None)
        return patches[best[2]] if best is not None and best[0] >= _MIN_HITS else None

    best = consider(_coarse_candidates(photo, 0.0, _WORKING_SIDE))
    if best is not None and best.score() >= _CONFIDENT_HITS:
        return best
    # The tilted passes share one box-reduced copy: turning the full photo each time costs more
    # than the detection itself. Coordinates scale back exactly (reduce(k): x -> x / k).
    factor = max(1, int(max(height, width) // (2 * _TILTED_SIDE)))
    preview = np.asarray(Image.fromarray(photo).reduce(factor)) if factor > 1 else photo
    for tilt in _TILTS:
        # No early exit here: a face seen 45+ degrees off can still score like a weak upright one.
        found = _coarse_candidates(preview, tilt, _TILTED_SIDE)
        best = consider(
            [_Candidate(c.center_x * factor, c.center_y * factor, c.width * factor, c.tilt) for c in found]
        )
    if best is None and max(height, width) > _WORKING_SIDE:
        # Faces too small for the first pass (under ~24 px there): look again at more detail, small sizes only.
        smallest_seen = _cascade().window_width * max(height, width) / _WORKING_SIDE
        best = consider(_coarse_candidates(photo, 0.0, _DETAIL_SIDE, max_face=2 * smallest_seen))
    return best


def _refine(patch: _FacePatch) -> FaceDetection:
    """Sharpen box and roll on the normalised patch.

    Roll is the mean of two estimates that fail differently: the hit-weighted angle at which the
    upright cascade fires most, and the angle at which the inner face is most mirror-symmetric.
    """
    counts = np.array([len(patch.hits(offset)) for offset in _REFINE_ANGLES], dtype=np.float64)
    peak = float(_REFINE_ANGLES[int(counts.argmax())])
    used = [float(offset) for offset, count in zip(_REFINE_ANGLES, counts) if count > 0 and abs(offset - peak) <= 15]
    weights = np.array([len(patch.hits(offset)) for offset in used], dtype=np.float64)
    cascade_roll = float(np.dot(weights, used) / weights.sum())
    points = []
    for offset in used:
        x, y, side = patch.hits(offset).mean(axis=0)
        points.append((*patch.to_photo(x, y, offset), side * patch.unit))
    center_x, center_y, face_width = np.average(np.array(points), axis=0, weights=weights)
    symmetric_roll = _symmetry_roll(patch, center_x, center_y, face_width, cascade_roll)
    roll = patch.candidate.tilt + 0.5 * (cascade_roll + symmetric_roll)
    return FaceDetection(float(center_x), float(center_y), float(face_width), float(roll), int(weights.sum()))


def _symmetry_roll(patch: _FacePatch, center_x: float, center_y: float, face_width: float, around: float) -> float:
    """Roll (relative to the patch's tilt) near ``around`` at which the inner face is most mirror-symmetric."""
    size = 48
    # The face centre in the base patch's coordinates (its axes are turned by the candidate's tilt).
    candidate = patch.candidate
    (ux, uy), (vx, vy) = CropBox(0, 0, 1, candidate.tilt).axes
    dx, dy = center_x - candidate.center_x, center_y - candidate.center_y
    base_x = patch.room / 2 + (dx * ux + dy * uy) / patch.unit
    base_y = patch.room / 2 + (dx * vx + dy * vy) / patch.unit
    from skimage.filters import gaussian

    gray = patch.base.mean(axis=2, dtype=np.float32)
    angles = around + _SYMMETRY_ANGLES
    scores = []
    for angle in angles:
        # The inner 80% of the face box: hair and background are rarely symmetric.
        view = _warp_gray(gray, CropBox(base_x, base_y, 0.8 * face_width / patch.unit, angle), size)
        # Band-pass: keeps eyes, nostrils and mouth corners, drops one-sided lighting.
        scores.append(_mirror_correlation(gaussian(view, 1.0) - gaussian(view, 4.0)))
    scores_array = np.array(scores)
    best = int(scores_array.argmax())
    refined = float(angles[best])
    if 0 < best < len(angles) - 1:
        left, middle, right = scores_array[best - 1 : best + 2]
        curvature = left - 2 * middle + right
        if curvature < 0:  # vertex of the parabola through the peak and its neighbours
            refined += 0.5 * (left - right) / curvature * float(angles[1] - angles[0])
    return refined


def _warp_gray(gray: np.ndarray, box: CropBox, size: int) -> np.ndarray:
    (ux, uy), (vx, vy) = box.axes
    step = box.size / size
    half = size / 2
    coefficients = (
        step * ux, step * vx, box.center_x - half * step * (ux + vx),
        step * uy, step * vy, box.center_y - half * step * (uy + vy),
    )
    return _warp(gray, coefficients, (size, size), order=1, edge="edge")


def _mirror_correlation(image: np.ndarray, max_shift: int = 4) -> float:
    """Best normalised correlation of an image with its mirror, over small shifts of the mirror axis."""
    mirrored = image[:, ::-1]
    width = image.shape[1]
    best = -1.0
    for shift in range(-max_shift, max_shift + 1):
        a = image[:, shift:] if shift >= 0 else image[:, : width + shift]
        b = mirrored[:, : width - shift] if shift >= 0 else mirrored[:, -shift:]
        a = a - a.mean()
        b = b - b.mean()
        denominator = math.sqrt(float((a * a).sum() * (b * b).sum()))
        if denominator > 0:
            best = max(best, float((a * b).sum()) / denominator)
    return best


def _locate(photo: np.ndarray) -> FaceDetection | None:
    """The best face, uncalibrated (what benchmarks/calibrate_faces.py fits against), or None."""
    _check_photo(photo)
    patch = _search(photo)
    return None if patch is None else _refine(patch)


def find_face(photo: np.ndarray, crop: CropConfig = CropConfig()) -> CropBox:
    """The CelebA-framed, roll-aligned square around the most prominent face in a uint8 HxWx3 photo.

    Uses scikit-image's LBP frontal-face cascade on a downscaled grayscale copy, retrying for
    tilted heads and (in large photos) small faces; refines box and roll on a normalised patch;
    maps the box to ``crop``'s framing with constants calibrated on CelebA. The box may extend
    past the photo's edges (crop_face then repeats edge pixels). Raises NoFaceError.
    """
    face = _locate(photo)
    if face is None:
        raise NoFaceError()
    return crop_box_for(face, crop)


def crop_box_for(face: FaceDetection, crop: CropConfig = CropConfig()) -> CropBox:
    """Where ``crop``'s square lies for a detected face: the calibrated detection -> framing map."""
    roll = face.angle - _ANGLE_BIAS
    (ux, uy), (vx, vy) = CropBox(0, 0, 1, roll).axes
    aligned_width = _ALIGNED_WIDTH * face.width
    aligned_height = _CELEBA_ASPECT * aligned_width
    # Offsets in the face's axes: from the box centre to the aligned photo's centre, then to the crop's.
    along_x = _ALIGNED_CENTER_X * face.width + (crop.center_x - 0.5) * aligned_width
    along_y = _ALIGNED_CENTER_Y * face.width + (crop.center_y - 0.5) * aligned_height
    return CropBox(
        center_x=face.center_x + along_x * ux + along_y * vx,
        center_y=face.center_y + along_x * uy + along_y * vy,
        size=crop.size * aligned_width,
        angle=roll,
    )


# --- cropping -----------------------------------------------------------------------------------


_PRE_REDUCE_GAP = 3.0  # crop_face box-reduces first when shrinking by at least twice this


def _region(photo: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """photo[y0:y1, x0:x1], with edge replication wherever that rectangle leaves the photo."""
    height, width = photo.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
        return photo[y0:y1, x0:x1]
    rows = np.clip(np.arange(y0, y1), 0, height - 1)
    cols = np.clip(np.arange(x0, x1), 0, width - 1)
    return photo[rows[:, None], cols[None, :]]


def crop_face(photo: np.ndarray, box: CropBox, resolution: int) -> np.ndarray:
    """The box's content as an upright uint8 ``resolution`` x ``resolution`` x 3 crop, antialiased.

    Parts of the box outside the photo repeat the photo's edge pixels. An upright box is resampled
    in one step (Pillow's antialiased bicubic); a rotated one is first reduced (antialiased) to
    about the output size, then rotated with cubic-spline interpolation, so neither step aliases.
    """
    _check_photo(photo)
    if resolution < 1:
        raise ValueError(f"resolution must be positive, got {resolution}")
    if not box.size > 0:
        raise ValueError(f"the face box must have a positive size, got {box.size}")
    scale = box.size / resolution  # photo pixels per crop pixel
    # Margin for the resampling filter's support (bicubic: 2 source pixels per output pixel).
    margin = 2 * max(1.0, scale) + 2
    rotated = abs(math.remainder(box.angle, 360.0)) > 1e-3
    corners = box.corners()
    x0 = math.floor(corners[:, 0].min() - margin)
    y0 = math.floor(corners[:, 1].min() - margin)
    x1 = math.ceil(corners[:, 0].max() + margin)
    y1 = math.ceil(corners[:, 1].max() + margin)
    factor = int(scale // _PRE_REDUCE_GAP)
    if factor >= 2:
        # A large shrink: box-average the part of the photo under the box by an integer factor
        # first (cheap, exact), so edge padding and the final resampling work on a small image.
        # Pillow's own reducing_gap does the same inside resize.
        height, width = photo.shape[:2]
        left, top = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
        right, bottom = max(min(x1, width), left + 1), max(min(y1, height), top + 1)
        reduced = np.asarray(Image.fromarray(np.ascontiguousarray(photo[top:bottom, left:right])).reduce(factor))
        smaller = CropBox((box.center_x - left) / factor, (box.center_y - top) / factor, box.size / factor, box.angle)
        return crop_face(reduced, smaller, resolution)
    region = Image.fromarray(np.ascontiguousarray(_region(photo, x0, y0, x1, y1)))
    size = (resolution, resolution)
    if not rotated:
        half = box.size / 2
        left, top = box.center_x - half - x0, box.center_y - half - y0
        source = (left, top, left + box.size, top + box.size)
        return np.asarray(region.resize(size, Image.Resampling.BICUBIC, box=source)).copy()

    # Rotated: shrink the region (antialiased) until the box is about `resolution` pixels wide, then
    # rotate with cubic-spline interpolation at roughly 1:1, where interpolation cannot alias.
    shrink = min(1.0, resolution / box.size)
    if shrink < 1.0:
        new_size = (max(1, round(region.width * shrink)), max(1, round(region.height * shrink)))
        factor_x, factor_y = new_size[0] / region.width, new_size[1] / region.height
        region = region.resize(new_size, Image.Resampling.BICUBIC)
    else:
        factor_x = factor_y = 1.0
    # Affine from output coordinates to region coordinates: P = centre + scale * ((X, Y) - R/2) in the box's axes.
    (ux, uy), (vx, vy) = box.axes
    half = resolution / 2
    coefficients = (
        factor_x * scale * ux,
        factor_x * scale * vx,
        factor_x * (box.center_x - x0 - half * scale * (ux + vx)),
        factor_y * scale * uy,
        factor_y * scale * vy,
        factor_y * (box.center_y - y0 - half * scale * (uy + vy)),
    )
    pixels = np.asarray(region, dtype=np.float32)
    upright = _warp(pixels, coefficients, (resolution, resolution), order=3, edge="edge")
    return np.clip(np.rint(upright), 0, 255).astype(np.uint8)


def _warp(
    image: np.ndarray, coefficients: tuple[float, ...], shape: tuple[int, int], *, order: int, edge: str
) -> np.ndarray:
    """Resample ``image`` on an output grid of ``shape`` (rows, cols) through an affine map.

    ``coefficients`` (a, b, c, d, e, f) send output point (x, y) to input (a x + b y + c, d x + e y + f)
    in continuous coordinates (pixel centres at +0.5), Pillow's convention; scikit-image puts
    centres on integers, hence the shift. Cubic splines reproduce smooth gradients exactly, unlike
    Pillow's 8-bit transforms, which truncate (a half-level darkening) and use a non-exact kernel.
    """
    from skimage.transform import AffineTransform, warp

    a, b, c, d, e, f = coefficients
    matrix = np.array(
        [[a, b, c + 0.5 * (a + b) - 0.5], [d, e, f + 0.5 * (d + e) - 0.5], [0.0, 0.0, 1.0]], dtype=np.float64
    )
    return warp(
        image, AffineTransform(matrix=matrix), output_shape=shape, order=order, mode=edge, cval=0.0,
        preserve_range=True,
    ).astype(np.float32, copy=False)


def _check_photo(photo: np.ndarray) -> None:
    if not isinstance(photo, np.ndarray) or photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        shape = getattr(photo, "shape", None)
        raise ValueError(f"expected a uint8 HxWx3 photo, got {getattr(photo, 'dtype', type(photo))} {shape}")
    if photo.shape[0] < 1 or photo.shape[1] < 1:
        raise ValueError(f"the photo is empty: shape {photo.shape}")


# --- pasting back -------------------------------------------------------------------------------


def paste_back(
    photo: np.ndarray,
    box: CropBox,
    change: np.ndarray,
    mask: np.ndarray | None = None,
    feather: float = 0.08,
) -> np.ndarray:
    """A new photo with an edit of the crop applied at full resolution: clip(round(photo + mask * change)).

    ``change`` is the edited crop minus the original crop (float RxRx3, uint8 units), ``mask`` how
    much of it to apply (float RxR in [0, 1]; None applies all of it). Both are upsampled into the
    box, turned with it (cubic spline for the change, bilinear for the mask), and the mask fades
    to 0 over the outer ``feather`` fraction of the box's side so an edit never ends in a seam.
    Only the box's bounding rectangle is computed; every pixel where the upsampled mask * change
    is 0, and every pixel outside the box, is bitwise the input's. The input is not modified.
    """
    _check_photo(photo)
    change = np.nan_to_num(np.asarray(change, dtype=np.float32))  # a NaN must not become a random byte
    if change.ndim != 3 or change.shape[2] != 3 or change.shape[0] != change.shape[1]:
        raise ValueError(f"change must be a square RxRx3 difference image, got shape {change.shape}")
    resolution = change.shape[0]
    if mask is None:
        mask = np.ones((resolution, resolution), dtype=np.float32)
    mask = np.clip(np.nan_to_num(np.asarray(mask, dtype=np.float32)), 0.0, 1.0)
    if mask.shape != (resolution, resolution):
        raise ValueError(f"mask must be {resolution}x{resolution} like the change, got shape {mask.shape}")
    if not 0.0 <= feather <= 0.5:
        raise ValueError(f"feather is a fraction of the box side between 0 and 0.5, got {feather}")
    if not box.size > 0:
        raise ValueError(f"the face box must have a positive size, got {box.size}")

    result = photo.copy()
    height, width = photo.shape[:2]
    bounds = box.pixel_bounds(width, height)
    if bounds is None:
        return result  # the box lies entirely outside the photo
    x0, y0, x1, y1 = bounds

    # Affine from region coordinates to crop coordinates (u, v in [0, R]): the inverse of crop_face's.
    (ux, uy), (vx, vy) = box.axes
    per_pixel = resolution / box.size
    dx, dy = x0 - box.center_x, y0 - box.center_y
    coefficients = (
        per_pixel * ux,
        per_pixel * uy,
        resolution / 2 + per_pixel * (dx * ux + dy * uy),
        per_pixel * vx,
        per_pixel * vy,
        resolution / 2 + per_pixel * (dx * vx + dy * vy),
    )

    # Weight first (cheap, bilinear), then the change only where some weight is left: brush edits
    # usually touch a small part of the box, and everything else must stay bitwise unchanged anyway.
    us = (np.arange(x1 - x0, dtype=np.float32) + 0.5)[None, :]
    vs = (np.arange(y1 - y0, dtype=np.float32) + 0.5)[:, None]
    crop_u = np.float32(coefficients[0]) * us + np.float32(coefficients[1]) * vs + np.float32(coefficients[2])
    crop_v = np.float32(coefficients[3]) * us + np.float32(coefficients[4]) * vs + np.float32(coefficients[5])
    weight = _warp(mask, coefficients, (y1 - y0, x1 - x0), order=1, edge="constant")
    weight *= _edge_ramp(crop_u, crop_v, resolution, feather)
    rows = np.flatnonzero(weight.any(axis=1))
    cols = np.flatnonzero(weight.any(axis=0))
    if rows.size == 0 or not change.any():
        return result
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    a, b, c, d, e, f = coefficients
    shifted = (a, b, c + a * left + b * top, d, e, f + d * left + e * top)  # same map, sub-rectangle origin
    delta = _warp(change, shifted, (bottom - top, right - left), order=3, edge="constant")
    delta *= weight[top:bottom, left:right, None]
    window = (slice(y0 + top, y0 + bottom), slice(x0 + left, x0 + right))
    edited = photo[window].astype(np.float32) + delta
    result[window] = np.clip(np.rint(edited), 0, 255).astype(np.uint8)
    return result


def _edge_ramp(crop_u: np.ndarray, crop_v: np.ndarray, resolution: int, feather: float) -> np.ndarray:
    """1 inside the box, easing to 0 at its border over ``feather`` of its side; 0 outside."""
    inset = np.minimum(np.minimum(crop_u, resolution - crop_u), np.minimum(crop_v, resolution - crop_v))
    if feather <= 0:
        return (inset > 0).astype(np.float32)
    ramp = np.clip(inset / (feather * resolution), 0.0, 1.0).astype(np.float32)
    return ramp * ramp * (3.0 - 2.0 * ramp)  # smoothstep: no visible kink where the fade starts
