"""`npe faces PHOTO... [--json]`: corner order, JSON lines, no-face and unreadable photos."""

from __future__ import annotations

import json
import math

import numpy as np
from PIL import Image
from skimage import data

from npe.cli import main

# The astronaut's eye pupils, located by eye on a 4x enlargement.
EYES = np.array([[203.0, 101.0], [245.0, 102.5]])


def test_json_lines_give_corners_and_scores(tmp_path, capsys) -> None:
    face = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(face)
    flat = tmp_path / "flat.png"
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(flat)
    assert main(["faces", str(face), str(flat), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = map(json.loads, lines)
    assert first["path"] == str(face) and second == {"path": str(flat), "faces": []}
    (found,) = first["faces"]
    corners = np.array(found["corners"], dtype=float)
    assert corners.shape == (4, 2) and 0 <= found["score"] <= 1
    # TL, TR, BR, BL as seen in the crop of a nearly level head: TL is above-left of BR, TR right
    # of TL on about the same row, BL below TL; the four make a square.
    top_left, top_right, bottom_right, bottom_left = corners
    assert top_right[0] > top_left[0] and abs(top_right[1] - top_left[1]) < 0.2 * (top_right[0] - top_left[0])
    assert bottom_left[1] > top_left[1] and bottom_right[0] > bottom_left[0]
    sides = [math.dist(*pair) for pair in zip(corners, np.roll(corners, -1, axis=0))]
    assert max(sides) - min(sides) < 1e-6
    # Both eyes inside, in the upper half of the square.
    middle = corners.mean(axis=0)
    assert all(top_left[0] < x < top_right[0] and top_left[1] < y < middle[1] for x, y in EYES)


def test_text_output_flags_a_small_face_and_reports_unreadable_files(tmp_path, capsys) -> None:
    small = tmp_path / "small.png"
    Image.fromarray(data.astronaut()).resize((180, 180), Image.Resampling.LANCZOS).save(small)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    assert main(["faces", str(small), str(broken)]) == 2
    captured = capsys.readouterr()
    assert f"{small}: 1 face (180x180)" in captured.out
    assert "top-left (" in captured.out and "bottom-left (" in captured.out
    assert "smaller than the model's 64 px" in captured.out
    assert "broken.png" in captured.err and "not an image" in captured.err
