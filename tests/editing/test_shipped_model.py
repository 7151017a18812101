"""The bundled model: it loads, reconstructs a real photo, and the brush acts on a real photo as the README shows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.shipped



@pytest.fixture(scope="module")
def shipped():
    from npe.model import load_default

    return load_default()  # shipped in models/: a missing one is a failure, not a skip


def test_the_bundled_model_ships_its_directions_and_sampling_distribution(shipped):
    from npe.editing.directions import find_directions

    directions = find_directions(shipped)
    assert directions is not None and len(directions) >= 10
    assert not torch.equal(shipped.latent_basis, torch.eye(shipped.config.latent_dim))


@pytest.fixture(scope="module")
def astronaut_session(shipped):
    from skimage import data

    from npe.editing.session import EditSession

    return data.astronaut(), EditSession.from_photo(shipped, data.astronaut(), tune=True)


def _stroke_on(session, photo, start, end, colour, reach):
    """edit_quality's stroke (box units from the centre, radius 3/54 of the box) through the editor,
    as a user paints it: there and back. Returns (luminance change under the stroke, largest
    change half a box or more from it, in grey levels)."""
    from npe.editing.brush.footprint import densify

    box = session.box
    (ux, uy), (vx, vy) = box.axes
    ends = [(box.center_x + box.size * (a * ux + b * vx), box.center_y + box.size * (a * uy + b * vy)) for a, b in (start, end)]
    points = densify([ends[0], ends[1], ends[0]], 1.0)
    radius = box.size * 3 / 54
    session.begin_stroke(color=colour, radius=radius, reach=reach)
    for x, y in points:
        session.stroke_to(x, y)
    result = session.result().astype(float)
    session.cancel_stroke()
    yy, xx = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]] + 0.5
    distance = np.min([np.hypot(xx - x, yy - y) for x, y in points[::3]], axis=0)
    luma = np.array([0.299, 0.587, 0.114])
    change = (result - photo.astype(float)) @ luma
    return change[distance <= radius].mean(), np.abs(result - photo).max(axis=2)[distance > box.size / 2].max()


def test_dark_across_a_real_forehead_grows_a_fringe_and_nothing_far_moves(astronaut_session):
    """Measured on the bundled model: the forehead 81 grey levels darker, at most 10 levels half a
    box away (the reach of 16 plus the spread of a strong change)."""
    photo, session = astronaut_session
    under, far = _stroke_on(session, photo, (-11.5 / 54, -20.5 / 54), (11.5 / 54, -20.5 / 54), (40, 30, 25), 16.0)
    assert under < -40
    assert far <= 16


def test_white_over_a_real_mouth_brightens_it_locally(astronaut_session):
    """Measured: the mouth 7 levels brighter (the astronaut smiles already, teeth showing: the stroke
    widens the smile; the earlier gradient solver whitened the lips, 24.5 levels), nothing changed
    half a box away."""
    photo, session = astronaut_session
    under, far = _stroke_on(session, photo, (-6.5 / 54, 17.5 / 54), (6.5 / 54, 17.5 / 54), (255, 255, 255), 4.0)
    assert under > 4
    assert far == 0


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
