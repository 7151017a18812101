"""`npe edit` and the face box: a doubtful face stops with exit status 3 and says how to go on;
--face K picks among several faces (two astronauts of different sizes); --box places it by hand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from npe.cli import build_command_parser, main
from npe.commands.edit import EXIT_DOUBTFUL_FACE, edit_command
from npe.data.face_finder import Face
from npe.geometry import CropBox
from npe.editing.workspace import Workspace

# The astronaut's eye pupils (as in test_faces_command), and where the two copies sit.
EYES = np.array([[203.0, 101.0], [245.0, 102.5]])
SMALL_SCALE, SMALL_OFFSET = 0.5, np.array([512.0, 128.0])


@pytest.fixture
def weights(smooth_tiny_model, tmp_path):
    from npe.model import save_weights

    tensors, _ = save_weights(smooth_tiny_model, tmp_path / "tiny")
    return str(tensors)


@pytest.fixture(scope="module")
def two_astronauts(tmp_path_factory):
    """The astronaut at full size on the left, at half size on the right (512x768 in all)."""
    astronaut = data.astronaut()
    small = np.asarray(Image.fromarray(astronaut).resize((256, 256), Image.Resampling.LANCZOS))
    photo = np.full((512, 768, 3), 128, np.uint8)
    photo[:, :512] = astronaut
    photo[128:384, 512:] = small
    path = tmp_path_factory.mktemp("faces") / "two.png"
    Image.fromarray(photo).save(path)
    return path


def _edit(argv, workspace=None):
    return edit_command(build_command_parser().parse_args(["edit", *map(str, argv)]), workspace=workspace)


def _eyes_inside(box: CropBox, eyes: np.ndarray) -> bool:
    """Both eyes in the square's upper half, between its sides (crop coordinates in [0, 1])."""
    crop = box.to_crop(eyes)
    return bool(np.all((crop[:, 0] > 0.15) & (crop[:, 0] < 0.85) & (crop[:, 1] > 0.2) & (crop[:, 1] < 0.55)))


def test_a_doubtful_face_stops_with_exit_status_3_and_says_how_to_go_on(weights, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(np.full((90, 120, 3), 100, np.uint8)).save(photo)
    out = tmp_path / "out.png"
    doubtful = Face(CropBox(60.0, 45.0, 50.0, 3.0), 0.62)

    def workspace():
        return Workspace(face_finder=lambda image: [doubtful])

    assert _edit([photo, "-o", out, "--weights", weights], workspace()) == EXIT_DOUBTFUL_FACE == 3
    err = capsys.readouterr().err
    assert "doubtful (score 0.62" in err and "Nothing was written" in err
    assert "--face 0" in err and "--whole-image" in err and "--box 60,45,50,3.0" in err
    assert not out.exists()

    accepted = workspace()
    assert _edit([photo, "-o", out, "--weights", weights, "--face", "0"], accepted) == 0
    assert out.exists() and accepted.session.box == doubtful.box
    by_hand = workspace()
    assert _edit([photo, "-o", out, "--weights", weights, "--box", "40,40,30,10"], by_hand) == 0
    assert by_hand.session.box == CropBox(40.0, 40.0, 30.0, 10.0)
    whole = workspace()
    assert _edit([photo, "-o", out, "--weights", weights, "--whole-image"], whole) == 0
    assert whole.session.box == CropBox(60.0, 45.0, 90.0)
    with pytest.raises(SystemExit):
        main(["edit", "--help"])
    assert "3 the face found is doubtful" in " ".join(capsys.readouterr().out.split())


def test_face_k_picks_the_face_of_several_and_an_unknown_k_is_refused(weights, two_astronauts, tmp_path, capsys):
    out = tmp_path / "out.png"
    small_eyes = SMALL_OFFSET + SMALL_SCALE * EYES

    largest = Workspace()
    assert _edit([two_astronauts, "-o", out, "--weights", weights, "--crop-only"], largest) == 0
    assert capsys.readouterr().out.startswith("2 faces found; using face 0 (the largest confident one")
    assert _eyes_inside(largest.session.box, EYES) and not _eyes_inside(largest.session.box, small_eyes)

    picked = Workspace()
    assert _edit([two_astronauts, "-o", out, "--weights", weights, "--crop-only", "--face", "1"], picked) == 0
    assert "using face 1 (as asked" in capsys.readouterr().out
    box = picked.session.box
    assert _eyes_inside(box, small_eyes) and not _eyes_inside(box, EYES)
    assert box.size == pytest.approx(SMALL_SCALE * largest.session.box.size, rel=0.15)

    assert main(["edit", str(two_astronauts), "-o", str(out), "--weights", weights, "--face", "2"]) == 2
    assert "Face 2 was asked for, but 2 faces were found (0-1, largest first)" in capsys.readouterr().err


def test_face_and_box_options_are_checked(weights, tmp_path, capsys):
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((40, 40, 3), 100, np.uint8)).save(photo)
    for extra, message in (
        (["--box", "1,2"], "expected X,Y,SIDE"),
        (["--box", "10,10,-3"], "positive SIDE"),
        (["--face", "0", "--box", "10,10,5"], "not both"),
        (["--face", "-1"], "0 or more"),
    ):
        assert main(["edit", str(photo), "-o", str(tmp_path / "o.png"), "--weights", weights, *extra]) == 2
        assert message in capsys.readouterr().err
