"""Fixtures for the training tests: folders of CelebA-aligned-looking photos for `npe train`."""

from __future__ import annotations

from pathlib import Path

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
