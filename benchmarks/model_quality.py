"""Measure a model's quality (`npe eval` figures) and how long the measuring takes.

    python benchmarks/model_quality.py                       # random default-size model, synthetic faces
    python benchmarks/model_quality.py --weights runs/ian/model --data celeba-9k.zip [--threads 1]

Without --data it times `evaluate` on 500 generated 64x64 face-like images (no photos needed)
with a random-weight IAN(ModelConfig()): the cost of the measurement itself, not a quality figure.
With --data it evaluates on the validation split (PCA fitted on the rest), as `npe eval` does.
Prints the table and the time per stage; writes nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def synthetic_faces(count: int, size: int, seed: int = 0) -> np.ndarray:
    """Face-like uint8 images: a skin ellipse with eyes and a mouth on a random background, plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = np.empty((count, size, size, 3), np.uint8)
    for index in range(count):
        image = np.broadcast_to(rng.uniform(0, 255, 3), (size, size, 3)).copy()
        image[((xx - 0.5) / 0.3) ** 2 + ((yy - 0.55) / 0.38) ** 2 < 1] = np.array([220, 180, 150]) * rng.uniform(0.6, 1.1)
        for eye_x in (0.38, 0.62):
            image[((xx - eye_x) / 0.05) ** 2 + ((yy - 0.45) / 0.03) ** 2 < 1] = (30, 20, 20)
        image[((xx - 0.5) / 0.12) ** 2 + ((yy - 0.72) / (0.03 * rng.uniform(0.5, 1.5))) ** 2 < 1] = (150, 40, 50)
        images[index] = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    return images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="model weights (default: a random IAN(ModelConfig()))")
    parser.add_argument("--data", nargs="+", help="zip archive(s) or folder(s) of face photos (default: synthetic faces)")
    parser.add_argument("--images", type=int, default=500, help="synthetic images when no --data (default: 500)")
    parser.add_argument("--val-size", type=int, default=500)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--no-pca", action="store_true")
    args = parser.parse_args()

    import torch

    from npe.config import ModelConfig
    from npe.model import IAN, load_weights
    from npe.commands.evaluate import load_crops, split_indices
    from npe.train.evaluate import evaluate, format_table

    torch.set_num_threads(args.threads)
    if args.weights:
        model = load_weights(args.weights)
    else:
        torch.manual_seed(0)
        model = IAN(ModelConfig()).eval()
    model = model.to(memory_format=torch.channels_last)  # as npe eval runs it on a CPU
    resolution = model.config.resolution
    if args.data:
        crops = load_crops(args.data, resolution)
        eval_index, train_index = split_indices(crops.names, "val", args.val_size)
        images, train_images = crops.images[eval_index], crops.images[train_index]
    else:
        images, train_images = synthetic_faces(args.images, resolution), None

    started = time.monotonic()
    last = [started]

    def stage(message: str) -> None:
        now = time.monotonic()
        print(f"{now - started:7.1f} s (+{now - last[0]:5.1f})  {message}", file=sys.stderr, flush=True)
        last[0] = now

    report = evaluate(model, images, train_images, samples=args.samples, pca=not args.no_pca, progress=stage)
    stage("done")
    print(format_table(report))
    print(f"\nevaluate: {report['seconds']:.1f} s for {len(images)} images and {args.samples} samples "
          f"on {args.threads} thread(s), {torch.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
