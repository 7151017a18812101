"""The committed paint-robust judge (benchmarks/attribute_classifier.py): simply painting the
benchmark's strokes onto a face must not make it read the attribute the stroke imitates."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
pytestmark = pytest.mark.shipped

# (attribute, colour, stroke in 64 x 64 model-framed crop pixels, half-width): as edit_quality.py paints them.
STROKES = (
    (("Mouth_Slightly_Open", "Smiling"), (255, 255, 255), ((24.3, 52.7), (39.7, 52.7)), 3.5),
    (("Bangs",), (40, 30, 25), ((18.4, 7.7), (45.6, 7.7)), 3.5),
    (("Eyeglasses",), (25, 25, 25), ((14.2, 21.9), (49.8, 21.9)), 3.5),
    (("Wearing_Lipstick",), (190, 25, 45), ((25.5, 52.7), (38.5, 52.7)), 3.5),
)


@pytest.fixture(scope="module")
def judge():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        from attribute_classifier import JUDGE_WEIGHTS, load_classifier
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert JUDGE_WEIGHTS.is_file(), "the judge's weights are committed"
    return load_classifier(JUDGE_WEIGHTS)


@pytest.fixture(scope="module")
def faces():
    """The shipped gallery's generated faces and the astronaut, model-framed 64 x 64 crops."""
    from skimage import data

    from npe.data.convert import to_uint8
    from npe.data.faces import crop_face, find_face
    from npe.editing.gallery import find_gallery
    from npe.model import load_default

    model = load_default()
    with torch.no_grad():
        generated = to_uint8(model.decode(torch.tensor(np.asarray(find_gallery(model).latents))))
    astronaut = data.astronaut()
    return np.concatenate([generated, crop_face(astronaut, find_face(astronaut), 64)[None]])


def _paint(images: np.ndarray, colour, ends, half_width: float) -> np.ndarray:
    yy, xx = np.mgrid[0:64, 0:64].astype(np.float32) + 0.5
    (ax, ay), (bx, by) = ends
    t = np.clip(((xx - ax) * (bx - ax) + (yy - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
    distance = np.hypot(xx - (ax + t * (bx - ax)), yy - (ay + t * (by - ay)))
    alpha = np.clip(half_width + 0.5 - distance, 0, 1)[None, ..., None]
    return np.clip(np.rint(images * (1 - alpha) + np.asarray(colour, np.float32) * alpha), 0, 255).astype(np.uint8)


@pytest.mark.parametrize(("attributes", "colour", "ends", "half_width"), STROKES, ids=[s[0][0] for s in STROKES])
def test_painting_a_stroke_does_not_make_the_judge_read_its_attribute(judge, faces, attributes, colour, ends, half_width):
    columns = [judge.column(name) for name in attributes]
    before = (judge.probabilities(faces)[:, columns] > 0.5).any(axis=1)
    after = (judge.probabilities(_paint(faces, colour, ends, half_width))[:, columns] > 0.5).any(axis=1)
    flipped = int((after & ~before).sum())
    assert flipped <= 0.15 * len(faces), f"{flipped} of {len(faces)} faces read {attributes} once painted"


def test_the_judge_reads_paint_as_painted(judge, faces):
    """Its realism read-out: the same strokes score as painted, the clean faces do not."""
    column = judge.column("Painted")
    clean = judge.probabilities(faces)[:, column]
    for _, colour, ends, half_width in STROKES:
        painted = judge.probabilities(_paint(faces, colour, ends, half_width))[:, column]
        assert np.median(painted) > np.median(clean) + 0.3
