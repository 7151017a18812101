"""Finding every face in a photo, with a score and a confident / doubtful verdict, framed as CelebA.

MTCNN (npe.data.mtcnn) finds faces and five landmarks; a similarity fitted from the landmarks to
where they sit in a CelebA crop gives the square, its size and its roll, so the crop has the
eyes level at the height the model was trained on. Where MTCNN finds nothing, scikit-image's
cascade (npe.data.cascade) is the fallback; its faces are always doubtful. benchmarks/
calibrate_faces.py fits the constants below and measures the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image

from npe.config import CropConfig
from npe.data.faces import CELEBA_ASPECT, check_photo, crop_face
from npe.geometry import CropBox, apply, fit_similarity, scaling

# Where MTCNN's five landmarks (eye on the image's left, other eye, nose tip, mouth corners) sit
# in a CelebA crop (CropConfig's square, coordinates in units of its side), the median over 299
# training-split photos (benchmarks/calibrate_faces.py --fit).
TEMPLATE = np.array(
    [[0.3229, 0.4201], [0.6883, 0.4204], [0.5024, 0.6431], [0.3450, 0.8009], [0.6651, 0.8006]]
)
# Weights of the landmarks in the fit: the nose tip moves with the head's yaw and pitch.
_LANDMARK_WEIGHTS = np.array([1.0, 1.0, 0.5, 1.0, 1.0])
# How far (RMS, in crop sides) the landmarks may stray from the template before the layout counts
# against the face: CelebA faces scatter by about 0.03 (the astronaut reads 0.031); beyond
# _LANDMARK_FREE the plausibility falls off with this spread (a profile reads 0.1 and more).
_LANDMARK_FREE = 0.04
_LANDMARK_SPREAD = 0.04
# MTCNN's probability on real faces: 1st percentile 0.98, 5th 0.997 (299 CelebA photos); the
# textures of skimage.data reach 0.88 (grass, with a plausible-looking layout).
CONFIDENT_SCORE = 0.97  # a face scoring at least this proceeds; below, the user is asked
MIN_SCORE = 0.9  # MTCNN candidates less probable than this are not reported at all (textures, fur, clutter)
# A probable face whose landmarks stray from the template (a turned head, a grimace) is reported as
# doubtful rather than dropped; only a layout this far off (mouth above the eyes) is not a face.
# Placed validation faces dropped by the old rule (score below MIN_SCORE) read 0.06-0.10.
_MAX_RESIDUAL = 0.2
_CASCADE_CHECK = 0.5  # ONet's probability a cascade face needs (the cascade alone fires on clutter)

# MTCNN misses heads rolled by more than about 20 degrees; where it finds nothing upright it looks
# again at copies of this side turned by these angles (faces rolled up to about 45 degrees).
# A rolled head is the likely case for a big face, so these copies skip the smallest sizes (the
# pyramid's largest, costliest levels): faces under _TURNED_MIN_FACE px of the copy are left out.
_TURNED_SIDE = 400
_TURNED_MIN_FACE = 32.0
_TURNS = (25.0, -25.0)
_REFINE_ROLL = 12.0  # degrees of roll beyond which a face is found again in an upright close-up
_CLOSE_UP = 192  # side (px) of the upright close-up a face found on a turned copy is found again in
# Longest side of the copy both finders look at. Faces narrower than _MIN_FACE there (2% of the
# photo's longest side) are not found and the user places the box by hand: a second look at 1920 px
# plus the cascade at full size took 8.7 s on a 12-megapixel photo without a face.
_WORKING_SIDE = 960
# The cascade's copy: above 120,000 pixels (cascade._EXHAUSTIVE_PIXELS) it steps 1.5x and costs
# about 0.1 s; a smaller copy would be searched exhaustively and cost more.
_CASCADE_SIDE = 420
_MIN_FACE = 20.0  # smallest face (detection box, px of the working copy) MTCNN is asked to find
MODEL_RESOLUTION = 64  # the bundled model's crop side: a smaller face is upsampled, and says so

Confidence = Literal["confident", "doubtful"]


@dataclass(frozen=True)
class Face:
    """One face found in a photo.

    ``box`` is the CelebA-framed crop square (photo pixels); ``score`` in [0, 1] how face-like it is;
    ``landmarks`` 5x2 photo pixels (eyes, nose tip, mouth corners, as listed in TEMPLATE) or None
    for the fallback finder; ``detector`` names which found it.
    """

    box: CropBox
    score: float
    landmarks: np.ndarray | None = None
    detector: str = "landmarks"

    @property
    def confidence(self) -> Confidence:
        return "confident" if self.score >= CONFIDENT_SCORE else "doubtful"

    @property
    def confident(self) -> bool:
        return self.confidence == "confident"

    def smaller_than(self, resolution: int = MODEL_RESOLUTION) -> bool:
        """Whether the crop square is narrower than ``resolution`` photo pixels (it will be upsampled)."""
        return self.box.size < resolution

    def corners(self) -> np.ndarray:
        """4x2 photo pixels: top-left, top-right, bottom-right, bottom-left as seen in the crop."""
        return self.box.corners()

    def to_json(self) -> dict[str, Any]:
        """The record `npe faces --json` prints for this face."""
        return {
            "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in self.corners()],
            "score": round(float(self.score), 4),
            "confidence": self.confidence,
            "small": self.smaller_than(),
        }


def find_faces(photo: np.ndarray, crop: CropConfig = CropConfig()) -> list[Face]:
    """Every face in a uint8 HxWx3 photo, largest first; ``[]`` when there is none.

    Faces down to about 20 px are found; ``Face.smaller_than()`` says when one is narrower than
    the model's crop. Boxes may extend past the photo's edges (crop_face repeats edge pixels).
    """
    check_photo(photo)
    working, factor = _working_copy(photo, _WORKING_SIDE)
    faces = _landmark_faces(working, factor, crop)
    # MTCNN's landmarks lag behind a strongly rolled head (a 42 degree roll reads 33): look again.
    faces = [_refined(face, working, factor, crop) if abs(face.box.angle) > _REFINE_ROLL else face for face in faces]
    if not faces:
        faces = _turned_faces(working, factor, crop)
    if not faces:
        # The fallback takes one upright look at a smaller copy: its tilted-head retries cost seconds
        # at 960 px, and MTCNN already finds tilted heads.
        small, small_factor = _working_copy(working, _CASCADE_SIDE)
        faces = _cascade_faces(small, factor * small_factor, crop)
    return sorted(faces, key=lambda face: -face.box.size)


def box_from_landmarks(landmarks: np.ndarray, crop: CropConfig = CropConfig()) -> tuple[CropBox, float]:
    """The ``crop``-framed square for five landmarks, and how far they stray from the template (RMS, crop sides)."""
    weights = _LANDMARK_WEIGHTS
    landmarks = np.asarray(landmarks, np.float64)
    matrix = fit_similarity(TEMPLATE, landmarks, weights)
    fitted = apply(matrix, TEMPLATE)
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    residual = float(np.sqrt(np.average(((fitted - landmarks) ** 2).sum(axis=1), weights=weights))) / scale
    box = CropBox.from_matrix(matrix)
    return reframe(box, crop), residual


def reframe(box: CropBox, crop: CropConfig) -> CropBox:
    """A CropConfig() square turned into ``crop``'s framing of the same aligned photo."""
    default = CropConfig()
    if crop == default:
        return box
    # The aligned photo in units of the default square's side, then the new square within it.
    width = 1.0 / default.size
    height = CELEBA_ASPECT * width
    photo_x = 0.5 + (crop.center_x - default.center_x) * width
    photo_y = 0.5 + (crop.center_y - default.center_y) * height
    (center_x, center_y), = box.to_photo((photo_x, photo_y))
    return CropBox(float(center_x), float(center_y), box.size * crop.size / default.size, box.angle)


def plausibility(residual: float) -> float:
    """How face-like a landmark layout is, 1 for the template, falling off with the residual."""
    excess = max(0.0, residual - _LANDMARK_FREE)
    return math.exp(-0.5 * (excess / _LANDMARK_SPREAD) ** 2)


def _landmark_faces(working: np.ndarray, factor: float, crop: CropConfig) -> list[Face]:
    """MTCNN's faces in ``working`` (the photo scaled by ``factor``), in photo pixels."""
    from npe.data import mtcnn

    return _faces_from(mtcnn.detect(working, _MIN_FACE), scaling(1 / factor), crop)


def _faces_from(detections: list[Any], to_photo: np.ndarray, crop: CropConfig) -> list[Face]:
    """Faces for MTCNN detections whose landmarks map to photo pixels by the 3x3 affine ``to_photo``."""
    faces = []
    for detection in detections:
        if detection.probability < MIN_SCORE:
            continue
        landmarks = apply(to_photo, detection.landmarks)
        box, residual = box_from_landmarks(landmarks, crop)
        if residual <= _MAX_RESIDUAL:
            score = detection.probability * plausibility(residual)
            faces.append(Face(box, float(score), landmarks, "landmarks"))
    return faces


def _turned_faces(working: np.ndarray, factor: float, crop: CropConfig) -> list[Face]:
    """MTCNN's faces in copies of ``working`` turned by _TURNS, in photo pixels, one per face."""
    from npe.data import mtcnn

    small, small_factor = _working_copy(working, _TURNED_SIDE)
    scale = factor * small_factor  # photo pixels -> small pixels
    faces: list[Face] = []
    for degrees in _TURNS:
        # The small copy turned counter-clockwise about its centre, as a square crop that cuts nothing.
        side = math.hypot(*small.shape[:2])
        view = CropBox(small.shape[1] / 2, small.shape[0] / 2, side, degrees)
        resolution = round(side)
        turned = crop_face(small, view, resolution)
        to_photo = scaling(1 / scale) @ view.crop_to_photo(resolution)
        for face in _faces_from(mtcnn.detect(turned, _TURNED_MIN_FACE), to_photo, crop):
            if not any(_same_face(face.box, other.box) for other in faces):
                faces.append(_refined(face, working, factor, crop))
    return faces


def _refined(face: Face, working: np.ndarray, factor: float, crop: CropConfig) -> Face:
    """``face`` found again in an upright close-up of the working copy: the landmarks of a face seen
    rolled, or on a turned and shrunk copy, stray more than those of a face seen upright."""
    from npe.data import mtcnn

    view = CropBox(face.box.center_x * factor, face.box.center_y * factor, 2 * face.box.size * factor, face.box.angle)
    to_photo = scaling(1 / factor) @ view.crop_to_photo(_CLOSE_UP)
    close_up = crop_face(working, view, _CLOSE_UP)
    found = [other for other in _faces_from(mtcnn.detect(close_up, _CLOSE_UP / 5), to_photo, crop)
             if _same_face(face.box, other.box)]
    return max(found, key=lambda other: other.score, default=face)


def _same_face(a: CropBox, b: CropBox) -> bool:
    return math.hypot(a.center_x - b.center_x, a.center_y - b.center_y) < 0.3 * max(a.size, b.size)


def _cascade_faces(working: np.ndarray, factor: float, crop: CropConfig) -> list[Face]:
    """The cascade's face in ``working`` (the photo scaled by ``factor``) if ONet agrees, in photo pixels."""
    import dataclasses

    from npe.data import cascade, mtcnn

    found = cascade.locate(working, retries=False)
    if found is None:
        return []
    half = found.width / 2
    probability = float(mtcnn.verify(working, [(found.center_x - half, found.center_y - half,
                                                found.center_x + half, found.center_y + half)])[0])
    if probability < _CASCADE_CHECK:
        return []
    found = dataclasses.replace(found, center_x=found.center_x / factor, center_y=found.center_y / factor,
                                width=found.width / factor)
    # No landmarks, so the framing is the cascade's calibrated guess: always doubtful.
    score = min(probability, MIN_SCORE) * 0.5
    return [Face(cascade.crop_box_for(found, crop), score, None, "cascade")]


def _working_copy(photo: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The photo shrunk (antialiased) so its longest side is at most ``max_side``, and the factor."""
    longest = max(photo.shape[:2])
    if longest <= max_side:
        return photo, 1.0
    factor = max_side / longest
    image = Image.fromarray(photo)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    # reducing_gap 1: a box reduction (Image.reduce) to just above the size, then bilinear: 0.03 s
    # instead of 0.08 s (gap 2) for a 12-megapixel photo, and still antialiased.
    small = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0)
    return np.asarray(small), small.width / image.width

