"""The fallback face finder: scikit-image's LBP frontal-face cascade plus a roll estimate.

It needs no weights beyond scikit-image's own and gives no landmarks, so npe.data.face_finder
uses it only where the landmark detector found nothing, and never calls its faces confident.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from npe.config import CropConfig
from npe.data.faces import CELEBA_ASPECT, check_photo, crop_face, warp
from npe.geometry import CropBox, apply, pillow_coefficients, scaling

if TYPE_CHECKING:
    from skimage.feature import Cascade

# Detection box -> CelebA framing, fitted by benchmarks/calibrate_faces.py on CelebA aligned photos
# (rerun it after changing anything in _locate). In units of the refined detection box's width and
# in the face's own axes: where the centre of the whole aligned 178x218 photo lies, and its width.
_ALIGNED_CENTER_X = -0.0145
_ALIGNED_CENTER_Y = -0.1572
_ALIGNED_WIDTH = 1.6728
_ANGLE_BIAS = -0.1995  # degrees the roll estimate reads on upright (aligned) faces

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
                frontier.append(int(neighbour))
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
        to_photo = scaling(1 / scale)
        unit = 1 / scale
    else:
        # Turn the photo (a square around it, so nothing is cut) so a head tilted by `tilt` stands up.
        frame = CropBox(width / 2, height / 2, math.hypot(width, height), tilt)
        side = max(1, min(max_side, round(frame.size)))
        gray = _gray(crop_face(photo, frame, side))[0]
        to_photo = frame.crop_to_photo(side)
        unit = frame.size / side
    # Exhaustive steps where that is cheap; on a full-size working copy, 1.5x steps (3x faster).
    step_ratio = 1.0 if tilt == 0 and gray.size <= _EXHAUSTIVE_PIXELS else 1.5
    boxes = _raw_detections(gray, 0, max_face / unit, step_ratio=step_ratio)
    found = []
    for hits, (x, y, side_px) in _clusters(boxes)[:_CANDIDATES]:
        if hits < 2:
            break
        (center_x, center_y), = apply(to_photo, (x, y))
        found.append(_Candidate(float(center_x), float(center_y), side_px * unit, tilt))
    return found


class _FacePatch:
    """A candidate seen up close: the face normalised to _REFINE_FACE px, tried at several rolls."""

    def __init__(self, photo: np.ndarray, candidate: _Candidate) -> None:
        self.candidate = candidate
        self.unit = candidate.width / _REFINE_FACE  # photo px per patch px
        self.side = 2 * _REFINE_FACE
        # One upright copy with room for every trial rotation; the trials turn this small copy.
        self.room = math.ceil(self.side * 1.5)
        self.base_box = CropBox(candidate.center_x, candidate.center_y, self.room * self.unit, candidate.tilt)
        self.base = crop_face(photo, self.base_box, self.room)
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
        candidate = self.candidate
        trial = CropBox(candidate.center_x, candidate.center_y, self.side * self.unit, candidate.tilt + offset)
        (photo_x, photo_y), = trial.to_photo((x, y), self.side)
        return float(photo_x), float(photo_y)


def _search(photo: np.ndarray, retries: bool = True) -> _FacePatch | None:
    """The most face-like candidate, trying upright, then tilted heads, then small faces."""
    height, width = photo.shape[:2]
    patches: list[_FacePatch] = []

    def consider(candidates: list[_Candidate]) -> _FacePatch | None:
        patches.extend(_FacePatch(photo, candidate) for candidate in candidates)
        scored = [(patch.score(), patch.candidate.width, index) for index, patch in enumerate(patches)]
        best = max(scored, default=None)
        return patches[best[2]] if best is not None and best[0] >= _MIN_HITS else None

    best = consider(_coarse_candidates(photo, 0.0, _WORKING_SIDE))
    if not retries or (best is not None and best.score() >= _CONFIDENT_HITS):
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
    (base_x, base_y), = patch.base_box.to_crop((center_x, center_y), patch.room)
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
    return warp(gray, pillow_coefficients(box.crop_to_photo(size)), (size, size), order=1, edge="edge")


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


def locate(photo: np.ndarray, *, retries: bool = True) -> FaceDetection | None:
    """The best face, uncalibrated (what benchmarks/calibrate_faces.py fits against), or None.

    Uses the LBP frontal-face cascade on a downscaled grayscale copy, retrying (``retries``) for
    tilted heads and, in large photos, small faces; refines box and roll on a normalised patch.
    """
    check_photo(photo)
    patch = _search(photo, retries)
    return None if patch is None else _refine(patch)


def crop_box_for(face: FaceDetection, crop: CropConfig = CropConfig()) -> CropBox:
    """Where ``crop``'s square lies for a detected face: the calibrated detection -> framing map."""
    roll = face.angle - _ANGLE_BIAS
    aligned_width = _ALIGNED_WIDTH * face.width
    aligned_height = CELEBA_ASPECT * aligned_width
    # Offsets in the face's axes, in units of the detection box: from the box centre to the aligned
    # photo's centre, then to the crop's.
    along_x = _ALIGNED_CENTER_X + (crop.center_x - 0.5) * aligned_width / face.width
    along_y = _ALIGNED_CENTER_Y + (crop.center_y - 0.5) * aligned_height / face.width
    detection = CropBox(face.center_x, face.center_y, face.width, roll)
    (center_x, center_y), = detection.to_photo((0.5 + along_x, 0.5 + along_y))
    return CropBox(float(center_x), float(center_y), crop.size * aligned_width, roll)

