"""`npe directions` and `npe gallery` end to end on a tiny saved model and tiny data: the files they
write load back for that model, the directions come from the training split only (the same split
`npe train` holds out), and problems are one-line errors with exit status 2."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from npe.cli import main
from npe.commands.directions import training_split
from npe.commands.gallery import build_gallery, farthest_points
from npe.editing import EditSession
from npe.editing.directions import load_attributes, load_directions
from npe.editing.gallery import load_gallery
from npe.model.runtime import decode_latents
from tests.editing.test_attributes import write_labels


@pytest.fixture
def faces_folder(faces32, tmp_path, monkeypatch):
    """48 face photos (000000.png ...) and a crop cache of their own."""
    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "faces"
    folder.mkdir()
    for index, face in enumerate(faces32):
        Image.fromarray(face).save(folder / f"{index:06d}.png")
    return folder


def test_training_split_is_the_training_commands_split():
    from npe.data.datasets import split_train_val

    names = [f"{i:06d}.jpg" for i in (5, 1, 4, 2, 3, 9, 8, 7, 6, 10, 11, 12)]
    train, _ = split_train_val(names, 2)
    assert list(training_split(names, 2)) == list(train)
    # The last names by sorted order are held out.
    assert "000012.jpg" not in [names[i] for i in training_split(names, 2)]


def test_npe_directions_writes_principal_directions_beside_the_weights(weights, faces_folder, capsys):
    assert main(["directions", "--weights", str(weights), "--data", str(faces_folder), "--count", "5", "--val-size", "8", "--threads", "1"]) == 0
    # 48 faces, validation = min(8, 48 // 10) = the last 4 by name: 44 training faces.
    assert "from 44 faces" in capsys.readouterr().out
    directions = load_directions(weights.with_name("tiny.directions.safetensors"), latent_dim=16)
    assert len(directions) == 5


def test_npe_directions_fits_attributes_on_the_training_split_only(model, weights, faces_folder, tmp_path, capsys):
    files = sorted(path.name for path in faces_folder.iterdir())
    table = np.random.default_rng(0).random((len(files), 2)) < 0.5
    write_labels(tmp_path / "labels.txt", files, ["Smiling", "Male"], table)
    args = ["directions", "--weights", str(weights), "--data", str(faces_folder), "--count", "5", "--val-size", "8", "--labels", str(tmp_path / "labels.txt")]
    assert main(args + ["--attributes", "Smiling", "Male"]) == 0
    out = capsys.readouterr().out
    assert "from 44 faces" in out and "2 attribute directions: Smiling, Male" in out
    attributes = load_attributes(tmp_path / "tiny.directions.safetensors", model)
    assert attributes.names == ("Smiling", "Male")
    # Validation faces (the last 4) were never encoded for the fit: changing their labels changes nothing.
    table[-4:] = ~table[-4:]
    write_labels(tmp_path / "labels.txt", files, ["Smiling", "Male"], table)
    assert main(args + ["--attributes", "Smiling", "Male", "--out", str(tmp_path / "again.safetensors")]) == 0
    assert np.array_equal(load_attributes(tmp_path / "again.safetensors", model).vectors, attributes.vectors)
    # A name the labels do not have, or data that is not there, is a one-line error, exit status 2.
    capsys.readouterr()
    assert main(args + ["--attributes", "Beard"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("npe: Unknown attribute 'Beard'") and "Traceback" not in err
    assert main(["directions", "--weights", str(weights), "--data", str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_farthest_points_picks_varied_rows():
    points = np.array([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [0.0, 10.0], [0.05, 0.05]])
    picked = farthest_points(points, 3)
    assert picked[0] == 4  # the row nearest the mean (2.03, 2.01) comes first
    assert len(set(picked.tolist())) == 3 and {2, 3} <= set(picked.tolist())


def test_build_gallery_keeps_varied_seeded_faces(model):
    gallery = build_gallery(model, count=6, candidates=30, first_seed=100)
    assert len(gallery) == 6 and gallery.generated
    assert set(gallery.seeds.tolist()) <= set(range(100, 130))
    # Each face is the editor's random face of its seed.
    np.testing.assert_array_equal(gallery.latents[0], EditSession.random(model, int(gallery.seeds[0])).latent)
    assert decode_latents(model, gallery.latents).shape == (6, 32, 32, 3)


def test_npe_gallery_writes_the_gallery_beside_the_weights(model, weights, capsys):
    assert main(["gallery", "--weights", str(weights), "--count", "4", "--candidates", "20", "--threads", "1"]) == 0
    assert "4 faces" in capsys.readouterr().out
    gallery = load_gallery(weights.with_name("tiny.gallery.safetensors"), latent_dim=16)
    assert len(gallery) == 4 and set(gallery.seeds.tolist()) <= set(range(20))
    assert main(["gallery", "--weights", str(weights), "--count", "0"]) == 2
    assert "count" in capsys.readouterr().err
