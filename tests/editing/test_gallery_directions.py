"""Sample gallery and principal directions: build, save, load, entry points (npe.editing.gallery/directions)."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing import EditSession
from npe.editing.directions import (
    Directions,
    DirectionsError,
    compute_directions,
    directions_path,
    find_directions,
    load_directions,
    principal_directions,
    save_directions,
    training_split,
)
from npe.editing.gallery import (
    Gallery,
    GalleryError,
    build_gallery,
    farthest_points,
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


def test_compute_directions_from_face_crops(model, faces32):
    directions = compute_directions(model, faces32, count=6)
    assert len(directions) == 6 and directions.latent_dim == 16


def test_find_directions_beside_the_weights(model, tmp_path):
    assert find_directions(model, tmp_path / "tiny.safetensors") is None
    save_directions(principal_directions(np.random.default_rng(2).normal(size=(30, 16)), 3), tmp_path / "tiny.directions.safetensors")
    found = find_directions(model, tmp_path / "tiny.safetensors")
    assert found is not None and len(found) == 3


def test_training_split_is_the_training_commands_split():
    from npe.data.datasets import split_train_val

    names = [f"{i:06d}.jpg" for i in (5, 1, 4, 2, 3, 9, 8, 7, 6, 10, 11, 12)]
    train, _ = split_train_val(names, 2)
    assert list(training_split(names, 2)) == list(train)
    # The last names by sorted order are held out.
    assert "000012.jpg" not in [names[i] for i in training_split(names, 2)]


def test_directions_entry_point(model, tmp_path, monkeypatch, faces32, capsys):
    import npe.editing.directions as module
    from npe.model import save_weights

    weights, _ = save_weights(model, tmp_path / "tiny")

    from PIL import Image

    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "faces"
    folder.mkdir()
    for index, face in enumerate(faces32):
        Image.fromarray(face).save(folder / f"{index:06d}.png")
    assert module.main(["--weights", str(weights), "--data", str(folder), "--count", "5", "--val-size", "8"]) == 0
    # 48 faces, validation = min(8, 48 // 10) = the last 4 by name: 44 training faces.
    assert "from 44 faces" in capsys.readouterr().out
    assert len(load_directions(tmp_path / "tiny.directions.safetensors")) == 5


def test_farthest_points_picks_varied_rows():
    points = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [0.0, 10.0], [0.05, 0.05]])
    picked = farthest_points(points, 3)
    assert len(set(picked.tolist())) == 3
    assert {2, 3} <= set(picked.tolist())


def test_build_save_load_gallery(model, tmp_path):
    gallery = build_gallery(model, count=6, candidates=30, first_seed=100)
    assert len(gallery) == 6 and gallery.generated
    assert set(gallery.seeds.tolist()) <= set(range(100, 130))
    assert gallery.images(model).shape == (6, 32, 32, 3)
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


def test_fallback_gallery_is_seeded_random_faces(model, tmp_path):
    gallery = find_gallery(model, tmp_path / "no-such-model.safetensors")
    assert not gallery.generated and len(gallery) > 0
    from npe.editing.gallery import seeded_latent

    assert np.array_equal(gallery.latent(3), seeded_latent(16, 3))
    assert np.array_equal(gallery.latent(1000), seeded_latent(16, 1000))  # every index works
    assert isinstance(gallery, Gallery)


def test_gallery_entry_point(model, tmp_path, capsys):
    from npe.editing.gallery import main
    from npe.model import save_weights

    weights, _ = save_weights(model, tmp_path / "tiny")
    assert main(["--weights", str(weights), "--count", "4", "--candidates", "20"]) == 0
    assert "4 faces" in capsys.readouterr().out
    assert len(load_gallery(tmp_path / "tiny.gallery.safetensors")) == 4
