"""Figures of the shipped model for the model card and README: sample grid, reconstructions of the
validation faces. Brush edits are shown on a real photo instead (benchmarks/photo_sheet.py): the
sample-face demos this script made were chosen by looking, and a generated face is not a photo.

    python benchmarks/figures.py --data ../shared/data/celeba-9k.zip [--weights W] [--out resources/docs]

The dataset's rules forbid redistributing its photos or images derived from them, so reconstructions
are written only with `--data D --pairs DIR` (originals beside them), for looking at locally.
Prints what it wrote and which sample faces it chose for the edits.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from npe.data.convert import to_model, to_uint8
from npe.data.image_io import save_png
from npe.train.loop import image_grid

def _upscale(image: np.ndarray, factor: int) -> np.ndarray:
    height, width = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((width * factor, height * factor), Image.LANCZOS))


def _before_after(before: np.ndarray, after: np.ndarray, factor: int = 4) -> np.ndarray:
    return image_grid(np.stack([_upscale(before, factor), _upscale(after, factor)]), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="default: the bundled model")
    parser.add_argument("--data", help="face photos whose validation split is reconstructed")
    parser.add_argument("--out", default="resources/docs")
    parser.add_argument("--pairs", help="also write original|reconstruction pairs here (not for committing)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from npe.model import load_default, load_weights

    model = load_weights(args.weights) if args.weights else load_default()
    resolution = model.config.resolution
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    with torch.no_grad():
        latents = torch.randn(64, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
        samples = to_uint8(model.decode(latents))
    save_png(out / "samples.png", image_grid(samples, 8))
    print(f"wrote {out / 'samples.png'} (64 random faces, seed 0)")

    if args.data and args.pairs:
        # Reconstructions are derived from the dataset's photos, which may not be redistributed:
        # they go to --pairs (for looking at locally), never to --out (committed).
        from npe.data.datasets import load_face_crops, split_train_val

        crops = load_face_crops([args.data], resolution)
        _, val_index = split_train_val(crops.names, 500)
        originals = crops.images[val_index[:32]]
        with torch.no_grad():
            reconstructions = to_uint8(model.decode(model.encode(to_model(originals))))
        pairs = np.stack([originals, reconstructions], axis=1).reshape(-1, *originals.shape[1:])
        Path(args.pairs).mkdir(parents=True, exist_ok=True)
        save_png(Path(args.pairs) / "pairs.png", image_grid(pairs, 8))
        print(f"wrote {Path(args.pairs) / 'pairs.png'} (original | reconstruction of 32 validation faces; do not commit)")


if __name__ == "__main__":
    main()
