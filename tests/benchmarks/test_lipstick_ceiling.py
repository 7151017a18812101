"""benchmarks/lipstick_ceiling.py's recolouring: the instrument behind the lips row's ceiling must move
the lips, and only the lips, to the colour it names."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from skimage import color as skcolor
from skimage import data

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _ceiling():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import lipstick_ceiling
    finally:
        sys.path.remove(str(BENCHMARKS))
    return lipstick_ceiling


def _astronaut_crop() -> np.ndarray:
    from npe.data.faces import crop_face, find_face

    astronaut = data.astronaut()
    return crop_face(astronaut, find_face(astronaut), 64)


def test_recolour_moves_the_lips_to_the_target_and_keeps_everything_else():
    from npe.editing.brush.tint import lips_map

    ceiling = _ceiling()
    crop = _astronaut_crop()
    lab = skcolor.rgb2lab(crop / 255.0)
    lips = lips_map(lab)
    assert (lips >= 0.5).sum() > 10, "the astronaut's lips are found"
    target = np.array([35.0, 50.0, 25.0])
    moved = ceiling.recolour(crop[None], target=target)[0]
    moved_lab = skcolor.rgb2lab(moved / 255.0)
    core = lips >= 0.99
    before = np.median(lab[core], axis=0)
    after = np.median(moved_lab[core], axis=0)
    # The lips' median lands near the target (a few units off: uint8 rounding, gamut clipping)...
    assert np.abs(after - target).max() < 6.0, (before, after)
    assert np.abs(before - target).max() > 15.0  # ...from well away from it
    # ...their texture kept: the spread of lightness across the lips survives the shift.
    assert np.std(moved_lab[core][:, 0]) > 0.5 * np.std(lab[core][:, 0])
    # Nothing outside the lips map moves.
    outside = lips == 0
    assert np.array_equal(moved[outside], crop[outside])


def test_recolour_by_a_shift_moves_each_lips_pixel_by_it():
    ceiling = _ceiling()
    crop = _astronaut_crop()
    shift = np.array([0.0, 20.0, 8.0])
    from npe.editing.brush.tint import lips_map

    lab = skcolor.rgb2lab(crop / 255.0)
    core = lips_map(lab) >= 0.99
    moved_lab = skcolor.rgb2lab(ceiling.recolour(crop[None], shift=shift)[0] / 255.0)
    difference = np.median(moved_lab[core] - lab[core], axis=0)
    assert np.allclose(difference, shift, atol=3.0), difference
