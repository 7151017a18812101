"""Training throughput and brush-step cost of the default IAN on this machine's CPU.

Prints: training images/second for the default 64x64 config at batch 64 (one full IAN iteration:
encoder/generator step + discriminator step), and milliseconds for one generator forward+backward
to z at batch 1 (what one brush step costs before compositing).

    python benchmarks/model_speed.py [--threads N] [--steps N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch

from npe.config import ModelConfig, TrainConfig
from npe.model import IAN
from npe.train.loop import Trainer


def training_throughput(threads: int, steps: int, warmup: bool) -> float:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (512, 64, 64, 3), dtype=np.uint8)
    config = TrainConfig(batch_size=64, threads=threads, warmup_steps=10**9 if warmup else 0, log_every=10**9)
    with tempfile.TemporaryDirectory() as out_dir:
        trainer = Trainer(ModelConfig(), config, images, images[:64], out_dir, log=lambda message: None)
        for _ in range(2):  # first steps allocate and pick kernels
            trainer.train_step()
        started = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        return steps * 64 / (time.perf_counter() - started)


def brush_step_ms(threads: int, repeats: int = 200) -> tuple[float, float]:
    torch.set_num_threads(threads)
    model = IAN(ModelConfig()).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    latent = torch.zeros(1, model.config.latent_dim, requires_grad=True)
    timings = []
    for index in range(repeats + 10):
        started = time.perf_counter()
        image = model.decode(latent)
        image.square().mean().backward()
        latent.grad = None
        if index >= 10:
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(0.95 * len(timings)) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {args.threads} thread(s), config: {ModelConfig()}")
    median, p95 = brush_step_ms(args.threads)
    print(f"generator forward+backward to z, batch 1: median {median:.2f} ms, p95 {p95:.2f} ms")
    print(f"training, batch 64, full IAN step (adversarial on): {training_throughput(args.threads, args.steps, False):.1f} images/s")
    print(f"training, batch 64, VAE warm-up step (no discriminator): {training_throughput(args.threads, args.steps, True):.1f} images/s")


if __name__ == "__main__":
    main()
