"""`npe --screenshot`: the window rendered offscreen after strokes sent as mouse events."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.ui.conftest import editor_args
from tests.ui.helpers import kinds

REPO = Path(__file__).resolve().parents[2]


def test_screenshot_in_process_has_the_requested_size(weights, tmp_path):
    from npe.ui import screenshot as shot

    out = tmp_path / "shot.png"
    args = editor_args(weights=weights, index=1, screenshot=str(out), paint=["4,16,12,16,20,16,28,16"], color="#ff0000", size="900x600")
    assert shot.take_screenshot(args) == 0
    image = Image.open(out)
    assert image.size == (900, 600)


def test_screenshot_errors_exit_with_2(weights, tmp_path, capsys):
    from npe.ui.screenshot import take_screenshot

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    args = editor_args(weights=weights, image=str(broken), screenshot=str(tmp_path / "s.png"))
    assert take_screenshot(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("npe: ") and "broken.png" in err and "Traceback" not in err
    assert err.count("broken.png") == 1 and err.count("\n") == 1  # said once (it used to be said twice)

    args = editor_args(weights=weights, index=0, screenshot=str(tmp_path / "s.png"), paint=["1,2,3"])
    assert take_screenshot(args) == 2
    assert "pairs" in capsys.readouterr().err

    args = editor_args(weights=weights, index=0, screenshot=str(tmp_path / "s.png"), paint=["500,500"])
    assert take_screenshot(args) == 2
    assert "outside the image" in capsys.readouterr().err

    args = editor_args(weights=str(tmp_path / "missing.safetensors"), index=0, screenshot=str(tmp_path / "s.png"))
    assert take_screenshot(args) == 2
    err = capsys.readouterr().err
    assert "--weights" in err and err.count("\n") == 1


def test_strokes_in_the_screenshot_match_the_same_strokes_by_hand(weights, tmp_path):
    """The screenshot's strokes go through the canvas; the result equals painting them directly."""
    from npe.ui import app as app_module
    from npe.ui.screenshot import take_screenshot

    captured = {}
    real_create = app_module.create_editor

    def spy(args, **kwargs):
        editor = real_create(args, **kwargs)
        captured["editor"] = editor
        return editor

    import npe.ui.app

    npe.ui.app.create_editor = spy
    try:
        args = editor_args(weights=weights, index=2, screenshot=str(tmp_path / "a.png"), paint=["8,8,16,12,24,16"], color="#00ff00", radius=3.0)
        assert take_screenshot(args) == 0
    finally:
        npe.ui.app.create_editor = real_create
    session = captured["editor"].controller.session
    assert kinds(session.history_labels) == ["Paint"]
    assert not np.array_equal(session.latent, session.latent0)

    from npe.editing.session import EditSession
    from npe.model import load_weights

    by_hand = EditSession.from_gallery(load_weights(weights), 2)
    by_hand.paint([(8, 8), (16, 12), (24, 16)], "#00ff00", radius=3.0, strength=1.0)
    np.testing.assert_allclose(session.latent, by_hand.latent, atol=1e-5)


@pytest.mark.slow
def test_npe_screenshot_command_end_to_end(weights, tmp_path):
    out = tmp_path / "window.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-m", "npe", "--screenshot", str(out), "--weights", weights, "--index", "3",
         "--paint", "6,6,14,10,22,14", "--color", "#ffcc99", "--size", "1024x700"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == (1024, 700)
    assert not (tmp_path / "config").exists() or not any((tmp_path / "config").rglob("*.ini"))  # screenshots write no settings

    bad = subprocess.run([sys.executable, "-m", "npe", "--screenshot", str(out), "--weights", weights, "--size", "huge"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "npe: " in bad.stderr and "Traceback" not in bad.stderr


def test_a_full_disk_keeps_the_existing_screenshot(weights, tmp_path, capsys, monkeypatch):
    """The bytes reach the disk through npe's atomic write: when the disk fills up the old file stays
    whole, no temporary is left, and the message says the disk is full (not that the folder is wrong)."""
    import errno

    import npe.fileio
    from npe.ui.screenshot import take_screenshot

    out = tmp_path / "shot.png"
    out.write_bytes(b"the previous screenshot")

    def full_disk(descriptor):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(npe.fileio.os, "fsync", full_disk)
    args = editor_args(weights=weights, index=0, screenshot=str(out), size="640x480")
    assert take_screenshot(args) == 2
    err = capsys.readouterr().err
    assert "disk is full" in err and "Traceback" not in err
    assert out.read_bytes() == b"the previous screenshot"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
