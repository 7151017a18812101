"""Fixtures for the editing tests: a tiny random model that responds to its latent, photos, sessions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from npe.data.faces import CropBox


@pytest.fixture
def model(tiny_config):
    """A tiny random model whose image is a smooth function of z, as a trained generator's is:
    a batch-norm generator with its statistics measured on random latents (as training leaves
    them). (With pixel norm over a handful of channels a random generator is too rough a function
    of z for any brush step to test; with default unit statistics it hardly reacts to z.)"""
    import dataclasses

    from npe.model import IAN

    torch.manual_seed(0)
    tiny_model = IAN(dataclasses.replace(tiny_config, generator_norm="batch")).eval()
    for module in tiny_model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average
    generator = torch.Generator().manual_seed(1)
    tiny_model.train()
    with torch.no_grad():
        for _ in range(4):
            tiny_model.decode(torch.randn(64, tiny_model.config.latent_dim, generator=generator))
    return tiny_model.eval()


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

    from npe.data import faces

    if not hasattr(faces, "find_face"):
        pytest.skip("npe.data.faces.find_face is not available yet")
    path = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(path)
    return path

