"""`npe edit` end to end on generated images with a tiny saved model (npe.commands.edit)."""

from __future__ import annotations

import types

import numpy as np
import pytest
from PIL import Image

from tests.editing.conftest import run_edit as _run
from npe.errors import UserError


def kinds(edits: str) -> str:
    """A PNG's "npe-edits" with each stroke's summary dropped ("Paint: Smiling +1.8 σ" reads "Paint")."""
    return "; ".join(label.split(": ")[0] for label in edits.split("; "))


def test_edit_a_sample_face_full_and_crop_only(weights, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, stdout, stderr = _run(
        capsys, "--index", 2, "-o", out, "--weights", weights, "--stroke", "4,4,28,28", "--color", "#000000", "--radius", 5
    )
    assert code == 0, stderr
    assert "wrote" in stdout
    with Image.open(out) as image:
        edited = np.asarray(image)
        assert image.text["Source"] == "sample 2" and kinds(image.text["npe-edits"]) == "Paint"
    assert edited.shape == (32, 32, 3)

    crop = tmp_path / "crop.png"
    code, _, stderr = _run(capsys, "--index", 2, "-o", crop, "--weights", weights, "--crop-only")
    assert code == 0, stderr
    with Image.open(crop) as image:
        assert image.size == (32, 32)
        untouched = np.asarray(image)
    assert not np.array_equal(untouched, edited)  # the stroke did something


def test_edit_a_photo_with_whole_image(weights, photo, photo_path, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, stderr = _run(
        capsys, photo_path, "-o", out, "--weights", weights, "--whole-image",
        "--stroke", "60,75,140,75", "--stroke", "100,40,100,110", "--color", "black", "--color", "#fff",
        "--radius", 15, "--steps", 2, "--protect", "100,75",
    )
    assert code == 0, stderr
    with Image.open(out) as image:
        assert image.size == (200, 150)
        assert kinds(image.text["npe-edits"]) == "Protect; Paint; Paint"


def test_edit_astronaut_full_and_crop(weights, astronaut_path, tmp_path, capsys):
    out, crop = tmp_path / "out.png", tmp_path / "crop.png"
    code, _, stderr = _run(capsys, astronaut_path, "-o", out, "--weights", weights, "--stroke", "230,160,260,160", "--color", "#000")
    assert code == 0, stderr
    with Image.open(out) as image:
        edited = np.asarray(image)
    original = np.asarray(Image.open(astronaut_path))
    assert edited.shape == original.shape
    assert np.array_equal(edited[-50:], original[-50:])  # far from the face: untouched
    code, _, stderr = _run(capsys, astronaut_path, "-o", crop, "--weights", weights, "--crop-only")
    assert code == 0, stderr
    assert Image.open(crop).size == (32, 32)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--color", "#12345"], "not a colour"),
        (["--stroke", "1,2,3"], "even number"),
        (["--stroke", "a,b"], "expected numbers"),
        (["--stroke", "5,5,900,5"], "outside the image"),
        (["--color", "red", "--color", "blue", "--stroke", "1,1", "--stroke", "2,2", "--stroke", "3,3"], "one per stroke"),
        (["--direction", "x"], "K=VALUE"),
        (["--direction", "0=1"], "no principal directions"),
        (["--radius", "-3"], "--radius"),
        (["--answer", "1"], "one --answer for all strokes or one per stroke"),
        (["--stroke", "1,1", "--answer", "-1"], "0 or more"),
    ],
)
def test_bad_arguments_give_one_line_errors(weights, tmp_path, capsys, argv, message):
    out = tmp_path / "out.png"
    code, _, stderr = _run(capsys, "--index", 0, "-o", out, "--weights", weights, *argv)
    assert code == 2
    assert message in stderr and stderr.count("\n") == 1 and "Traceback" not in stderr
    assert not out.exists()


def test_missing_or_unreadable_input(weights, tmp_path, capsys):
    out = tmp_path / "out.png"
    code, _, stderr = _run(capsys, tmp_path / "missing.jpg", "-o", out, "--weights", weights)
    assert code == 2 and "does not exist" in stderr
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really")
    code, _, stderr = _run(capsys, broken, "-o", out, "--weights", weights)
    assert code == 2 and "broken.jpg" in stderr
    code, _, stderr = _run(capsys, "-o", out, "--weights", weights)
    assert code == 2 and "nothing to edit" in stderr
    code, _, stderr = _run(capsys, broken, "--index", 1, "-o", out, "--weights", weights)
    assert code == 2 and "not both" in stderr


def test_no_face_is_a_clear_error(weights, tmp_path, capsys):
    flat = tmp_path / "flat.png"
    Image.fromarray(np.full((100, 100, 3), 128, np.uint8)).save(flat)
    code, _, stderr = _run(capsys, flat, "-o", tmp_path / "out.png", "--weights", weights)
    assert code == 2 and "No face" in stderr and "--whole-image" in stderr


def test_missing_weights_is_a_clear_error(tmp_path, capsys):
    code, _, stderr = _run(capsys, "--index", 0, "-o", tmp_path / "out.png", "--weights", tmp_path / "none.safetensors")
    assert code == 2 and "none" in stderr


def test_direction_moves_with_a_directions_file(model, weights, tmp_path, capsys):
    from npe.editing.directions import directions_path, principal_directions, save_directions

    rng = np.random.default_rng(0)
    save_directions(principal_directions(rng.normal(size=(100, 16)) * np.linspace(3, 0.5, 16), 4), directions_path(weights))
    plain, moved = tmp_path / "plain.png", tmp_path / "moved.png"
    assert _run(capsys, "--index", 1, "-o", plain, "--weights", weights)[0] == 0
    code, _, stderr = _run(capsys, "--index", 1, "-o", moved, "--weights", weights, "--direction", "0=2.5")
    assert code == 0, stderr
    assert not np.array_equal(np.asarray(Image.open(plain)), np.asarray(Image.open(moved)))
    code, _, stderr = _run(capsys, "--index", 1, "-o", moved, "--weights", weights, "--direction", "7=1")
    assert code == 2 and "Direction 7 does not exist" in stderr


@pytest.fixture
def collection(faces32):
    """A user's own face collection, as npe.data.datasets.load_face_crops would return it."""
    return types.SimpleNamespace(images=faces32, names=[f"face{i:03d}.jpg" for i in range(len(faces32))], skipped=[])


def _edit_with(workspace, *argv) -> int:
    from npe.cli import build_command_parser
    from npe.commands.edit import edit_command

    return edit_command(build_command_parser().parse_args(["edit", *map(str, argv)]), workspace)


def test_edit_a_face_from_the_users_collection(weights, collection, tmp_path, capsys):
    from npe.editing.workspace import Workspace

    asked = []

    def load(path, resolution):
        asked.append((path, resolution))
        return collection

    out = tmp_path / "out.png"
    assert _edit_with(Workspace(collection_loader=load), "--index", 3, "--dataset", "faces.zip", "-o", out, "--weights", weights, "--crop-only") == 0
    assert asked == [("faces.zip", 32)]
    with Image.open(out) as image:
        assert image.size == (32, 32) and image.text["Source"] == "face003.jpg"
    with pytest.raises(UserError, match="48 usable face photos"):
        _edit_with(Workspace(collection_loader=load), "--index", 99, "--dataset", "faces.zip", "-o", out, "--weights", weights)
    code, _, stderr = _run(capsys, "--dataset", "faces.zip", "-o", out, "--weights", weights)
    assert code == 2 and "nothing to edit" in stderr


def test_each_stroke_lists_its_ways_and_answer_paints_one(weights, tmp_path, capsys, monkeypatch):
    """The ways come from the stroke (EditSession.stroke_alternatives; the objective's own are pinned
    in test_semantic_brush.py): listed on stderr, --answer N paints the N-th as a second step."""
    from npe.editing.brush.stroke import Stroke

    monkeypatch.setattr(Stroke, "alternatives", lambda self, count=3: [("Smiling +2 σ", self.document.latent.copy()), ("Heavy makeup +1.5 σ", np.full(16, 0.5, np.float32))])
    out = tmp_path / "out.png"
    stroke = ["--index", 0, "-o", out, "--weights", weights, "--stroke", "8,16,24,16", "--radius", 5]
    code, stdout, stderr = _run(capsys, *stroke)
    assert code == 0, stderr
    assert stderr == "" and "1 edit step(s)" in stdout  # quiet unless asked
    code, stdout, stderr = _run(capsys, *stroke, "--ways")
    assert code == 0 and stderr == "npe: stroke 1: ways to make it: 0 Smiling +2 σ (its own), 1 Heavy makeup +1.5 σ\n"
    code, stdout, stderr = _run(capsys, *stroke, "--answer", 1)
    assert code == 0, stderr
    with Image.open(out) as image:
        assert kinds(image.text["npe-edits"]) == "Paint; Paint as Heavy makeup +1.5 σ"
    code, _, stderr = _run(capsys, *stroke, "--answer", 2)
    assert code == 2 and "has 2 ways to make it (0 Smiling +2 σ (its own), 1 Heavy makeup +1.5 σ), not --answer 2" in stderr
    monkeypatch.setattr(Stroke, "alternatives", lambda self, count=3: [])
    code, _, stderr = _run(capsys, *stroke, "--answer", 1)
    assert code == 2 and "no other way" in stderr
