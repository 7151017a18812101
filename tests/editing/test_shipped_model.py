"""The bundled model: it loads, reconstructs a real photo, and the brush does what the README shows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.shipped

MOUTH = [(24.5, 46.5), (28.0, 47.0), (32.0, 47.5), (36.0, 47.0), (39.5, 46.5)]  # in a 64 x 64 face
FOREHEAD = [(14.0, 8.0), (24.0, 6.0), (32.0, 5.5), (40.0, 6.0), (50.0, 8.0)]
# Thresholds with margin below what the bundled model does (measured: mouth +44 grey levels, top of
# the head 5.3 mean change; forehead -88, mouth and chin 6.5). Deterministic on the CPU.
MOUTH_GAIN, TOP_CHANGE = 25, 8
FOREHEAD_DROP, CHIN_CHANGE = 50, 10


@pytest.fixture(scope="module")
def shipped():
    from npe.model import load_default

    return load_default()  # shipped in models/: a missing one is a failure, not a skip


@pytest.fixture(scope="module")
def gallery_faces(shipped):
    from npe.data.convert import to_uint8
    from npe.editing.gallery import find_gallery

    gallery = find_gallery(shipped)
    assert gallery.generated, "the bundled model ships its gallery of sample faces"
    with torch.no_grad():
        faces = to_uint8(shipped.decode(torch.tensor(np.asarray(gallery.latents))))
    return gallery, faces


def _region(points, radius, size=64):
    centres = np.arange(size) + 0.5
    mask = np.zeros((size, size), bool)
    for x, y in points:
        mask |= (centres[None, :] - x) ** 2 + (centres[:, None] - y) ** 2 <= radius**2
    return mask


def _paint(shipped, gallery, index, points, colour, radius, passes):
    from npe.editing.session import EditSession

    session = EditSession.from_gallery(shipped, index, gallery)
    before = session.result().astype(float)
    for _ in range(passes):
        session.paint(points, colour, radius)
    return before, session.result().astype(float)


def test_the_bundled_model_ships_its_directions_and_sampling_distribution(shipped):
    from npe.editing.directions import find_directions

    directions = find_directions(shipped)
    assert directions is not None and len(directions) >= 10
    assert not torch.equal(shipped.latent_basis, torch.eye(shipped.config.latent_dim))


def test_white_over_a_closed_mouth_opens_it(shipped, gallery_faces):
    """The README's first edit (benchmarks/figures.py): sample 6, one white stroke over the mouth."""
    gallery, _ = gallery_faces
    mouth = _region(MOUTH, 2.5)
    before, after = _paint(shipped, gallery, 6, MOUTH, "#ffffff", 3.0, passes=1)
    assert after[mouth].mean() > before[mouth].mean() + MOUTH_GAIN
    # Teeth: bright pixels appear across the mouth (measured: 1 -> 39 of 88).
    teeth = lambda image: int((image[mouth].mean(axis=1) > 130).sum())
    assert teeth(after) >= teeth(before) + 20
    assert np.abs(after[:12] - before[:12]).mean() < TOP_CHANGE  # the top of the head barely moves


def test_dark_over_the_forehead_adds_hair(shipped, gallery_faces):
    """The README's second edit: sample 0, two dark strokes along the forehead."""
    gallery, _ = gallery_faces
    forehead = _region(FOREHEAD, 4)
    before, after = _paint(shipped, gallery, 0, FOREHEAD, "#2b1d16", 5.0, passes=2)
    assert after[forehead].mean() < before[forehead].mean() - FOREHEAD_DROP
    assert np.abs(after[44:] - before[44:]).mean() < CHIN_CHANGE  # mouth and chin keep their look


def test_the_astronaut_is_reconstructed_recognisably(shipped):
    from skimage import data

    from npe.editing.session import EditSession

    session = EditSession.from_photo(shipped, data.astronaut())
    error = session.reconstruction.astype(float) - session.crop.astype(float)
    psnr = 10 * np.log10(255.0**2 / np.mean(error**2))
    assert psnr > 18


def test_the_workspace_finds_the_shipped_attribute_directions(astronaut_path):
    """The bundled model's named sliders load without a warning, and a move is the file's vector."""
    from npe.editing.workspace import Workspace

    workspace = Workspace()
    summary = workspace.load_model(None, "cpu")
    assert summary.attribute_warning is None
    assert {"Smiling", "Eyeglasses", "Bangs", "Male"} <= set(summary.attribute_names)
    session = workspace.open_photo(astronaut_path)
    attributes = session.attributes
    assert attributes is workspace.attributes
    session.move_attributes({"eyeglasses": 2.0})
    i = attributes.index("Eyeglasses")
    expected = session.latent0.astype(np.float64) + 2.0 * float(attributes.scales[i]) * attributes.vectors[i]
    np.testing.assert_allclose(session.latent, expected, atol=1e-5)
    assert session.history_labels == ["Eyeglasses +2 σ"]
