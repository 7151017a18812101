"""Fixtures for the training tests: folders of CelebA-aligned-looking photos for `npe train`, a batch of images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.conftest import synthetic_faces


def write_aligned_photos(folder: Path, count: int, seed: int = 3) -> Path:
    """`count` face-like JPEGs framed as CelebA's aligned photos (178 x 218, here at half scale): the
    face square that `npe train` cuts out of them holds a synthetic face."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(synthetic_faces(count, 89, seed=seed)):
        canvas = Image.new("RGB", (89, 109), (40, 40, 40))
        canvas.paste(Image.fromarray(image), (0, 15))
        canvas.save(folder / f"{index:06d}.jpg", quality=95)
    return folder


@pytest.fixture
def images():
    """A batch of four 32 px images in [-1, 1] (the objective's tests)."""
    return torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
