"""Sample gallery and principal directions: the files, finding them beside the weights, the seeded fallback (npe.editing.gallery/directions). Building them: tests/commands/test_directions_gallery.py."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing import EditSession
from npe.editing.directions import (
    Directions,
    DirectionsError,
    directions_path,
    find_directions,
    load_directions,
    principal_directions,
    save_directions,
)
from npe.editing.gallery import (
    Gallery,
    GalleryError,
    find_gallery,
    gallery_path,
    load_gallery,
    save_gallery,
)


def test_principal_directions_are_orthonormal_and_ordered():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(500, 8)) * np.array([5, 4, 3, 2, 1, 1, 1, 1])
    directions = principal_directions(latents, count=3)
    assert len(directions) == 3 and directions.latent_dim == 8
    assert np.allclose(directions.components @ directions.components.T, np.eye(3), atol=1e-5)
    assert directions.stds[0] > directions.stds[1] > directions.stds[2]
    assert directions.stds[0] == pytest.approx(5, rel=0.15)
    # Slider values are standard deviations: the data's spread along each is about 1.
    values = np.stack([directions.values(z) for z in latents.astype(np.float32)])
    assert values.std(axis=0, ddof=1) == pytest.approx(np.ones(3), rel=1e-3)
    moved = directions.moved(latents[0], 1, 2.0)
    assert directions.values(moved)[1] == pytest.approx(2.0, abs=1e-4)


def test_directions_file_round_trip_and_errors(tmp_path):
    directions = principal_directions(np.random.default_rng(1).normal(size=(50, 16)), 5)
    path = save_directions(directions, directions_path(tmp_path / "model.safetensors"))
    assert path.name == "model.directions.safetensors"
    loaded = load_directions(path, latent_dim=16)
    assert np.array_equal(loaded.components, directions.components)
    with pytest.raises(DirectionsError, match="16 latents, not 8"):
        load_directions(path, latent_dim=8)
    broken = tmp_path / "broken.directions.safetensors"
    broken.write_bytes(b"nonsense")
    with pytest.raises(DirectionsError, match="damaged"):
        load_directions(broken)
    with pytest.raises(DirectionsError, match="inconsistent"):
        Directions(np.zeros(4), np.zeros((2, 5)), np.ones(2))


def test_find_directions_beside_the_weights(model, tmp_path):
    assert find_directions(model, tmp_path / "tiny.safetensors") is None
    save_directions(principal_directions(np.random.default_rng(2).normal(size=(30, 16)), 3), tmp_path / "tiny.directions.safetensors")
    found = find_directions(model, tmp_path / "tiny.safetensors")
    assert found is not None and len(found) == 3


def test_fallback_gallery_is_seeded_random_faces(model, tmp_path):
    gallery = find_gallery(model, tmp_path / "no-such-model.safetensors")
    assert not gallery.generated and len(gallery) > 0
    from npe.editing.gallery import seeded_latent

    assert np.array_equal(gallery.latent(3), seeded_latent(16, 3))
    assert np.array_equal(gallery.latent(1000), seeded_latent(16, 1000))  # every index works
    assert isinstance(gallery, Gallery)


def test_gallery_file_round_trip_and_errors(model, tmp_path):
    gallery = Gallery(np.random.default_rng(4).normal(size=(6, 16)), np.arange(100, 106))
    path = save_gallery(gallery, gallery_path(tmp_path / "tiny"))
    assert path.name == "tiny.gallery.safetensors"
    loaded = load_gallery(path, latent_dim=16)
    assert np.array_equal(loaded.latents, gallery.latents) and np.array_equal(loaded.seeds, gallery.seeds)
    assert np.array_equal(find_gallery(model, tmp_path / "tiny.safetensors").latents, gallery.latents)
    session = EditSession.from_gallery(model, 4, loaded)
    assert np.array_equal(session.latent, gallery.latents[4])
    with pytest.raises(Exception, match="has 6 faces"):
        EditSession.from_gallery(model, 6, loaded)
    with pytest.raises(GalleryError, match="16 latents, not 4"):
        load_gallery(path, latent_dim=4)
    (tmp_path / "broken.gallery.safetensors").write_bytes(b"nonsense")
    with pytest.raises(GalleryError, match="npe gallery --weights W"):
        load_gallery(tmp_path / "broken.gallery.safetensors")
