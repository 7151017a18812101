"""Fixtures for the editing tests: a tiny random model that responds to its latent, photos, sessions."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from npe.geometry import CropBox


@pytest.fixture
def model(smooth_tiny_model):
    return smooth_tiny_model


@pytest.fixture
def photo() -> np.ndarray:
    """A smooth, textured 150 x 200 photo (larger than the face box used with it)."""
    yy, xx = np.mgrid[0:150, 0:200].astype(np.float32)
    rng = np.random.default_rng(3)
    image = np.stack([90 + 60 * np.sin(xx / 17), 120 + 50 * np.cos(yy / 13), 100 + 40 * np.sin((xx + yy) / 23)], axis=2)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def box() -> CropBox:
    """The face box for ``photo``: 80 px square around (100, 70); plenty of photo outside it."""
    return CropBox(100.0, 70.0, 80.0)


@pytest.fixture
def session(model, photo, box):
    from npe.editing import EditSession

    return EditSession.from_photo(model, photo, box=box, name="test photo")


@pytest.fixture
def astronaut_path(tmp_path):
    """skimage's astronaut photo (a face the face finder finds) saved as a PNG."""
    from PIL import Image
    from skimage import data

    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path


@pytest.fixture
def weights(model, tmp_path):
    """The tiny model saved as NAME.safetensors + NAME.json, for the command-line tests."""
    from npe.model import save_weights

    tensors, _ = save_weights(model, tmp_path / "tiny")
    return tensors


@pytest.fixture
def photo_path(photo, tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(photo).save(path)
    return path


def run_edit(capsys, *argv) -> tuple[int, str, str]:
    """`npe edit ARGV...` in process: (exit status, stdout, stderr)."""
    from npe.cli import main

    code = main(["edit", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err
