"""Shared fixtures: offscreen Qt, tiny random-weight models, synthetic face-like images."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest

TINY_MODEL = dict(resolution=32, latent_dim=16, width=4, generator_width=4, max_channels=16, encoder_hidden=16)


@pytest.fixture(autouse=True)
def _single_thread():
    """Tests use one thread: faster for tiny models and no oversubscription on small machines."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny_config():
    from npe.config import ModelConfig

    return ModelConfig(**TINY_MODEL)


@pytest.fixture
def tiny_model(tiny_config):
    import torch

    from npe.model import IAN

    torch.manual_seed(0)
    return IAN(tiny_config).eval()


@pytest.fixture
def smooth_tiny_model(tiny_config):
    """A tiny random model whose image is a smooth, visible function of z, as a trained generator's is:
    a batch-norm generator with its statistics measured on random latents (as training leaves them).
    (With pixel norm over a handful of channels a random generator is too rough a function of z for
    brush steps to test; with default unit statistics it hardly reacts to z.)"""
    import dataclasses

    import torch

    from npe.model import IAN

    torch.manual_seed(0)
    model = IAN(dataclasses.replace(tiny_config, generator_norm="batch")).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average
    generator = torch.Generator().manual_seed(1)
    model.train()
    with torch.no_grad():
        for _ in range(4):
            model.decode(torch.randn(64, model.config.latent_dim, generator=generator))
    return model.eval()


def synthetic_faces(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Face-like uint8 images: a skin ellipse with dark eyes and a mouth on a random background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.empty((count, size, size, 3), np.uint8)
    for index in range(count):
        background = rng.uniform(0, 255, 3)
        skin = np.array([220, 180, 150]) * rng.uniform(0.6, 1.1)
        image = np.broadcast_to(background, (size, size, 3)).copy()
        face = ((xx - 0.5) / 0.3) ** 2 + ((yy - 0.55) / 0.38) ** 2 < 1
        image[face] = skin
        for eye_x in (0.38, 0.62):
            eye = ((xx - eye_x) / 0.05) ** 2 + ((yy - 0.45) / 0.03) ** 2 < 1
            image[eye] = (30, 20, 20)
        mouth = ((xx - 0.5) / 0.12) ** 2 + ((yy - 0.72) / 0.03 * rng.uniform(0.5, 1.5)) ** 2 < 1
        image[mouth] = (150, 40, 50)
        images[index] = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    return images


@pytest.fixture
def faces32():
    return synthetic_faces(48, 32)
