"""Training throughput and brush-step cost of the default IAN on this machine's CPU.

Prints: training images/second for the default 64x64 config at batch 64 (one full IAN iteration:
encoder/generator step + discriminator step), and milliseconds for one generator forward+backward
to z at batch 1 (what one brush step costs before compositing).

With --fold-table: the brush step's median and p95 for the default generator and a wider top stage
(generator_top_width 32), with and without folding the MDC blocks into single 7x7 convs
(npe.model.blocks.fold_mdc), in channels_last and contiguous layouts, at 1 and 2 threads.

    python benchmarks/model_speed.py [--threads N] [--steps N] [--fold-table]
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
from npe.model.blocks import fold_mdc
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


def _brush_model(config: ModelConfig | None, fold: bool, channels_last: bool) -> IAN:
    torch.manual_seed(0)
    model = IAN(config or ModelConfig()).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if fold:
        fold_mdc(model)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def _brush_step(model: IAN, latent: torch.Tensor) -> float:
    started = time.perf_counter()
    image = model.decode(latent)
    image.square().mean().backward()
    latent.grad = None
    return (time.perf_counter() - started) * 1000


def _median_p95(timings: list[float]) -> tuple[float, float]:
    timings = sorted(timings)
    return statistics.median(timings), timings[max(int(0.95 * len(timings)) - 1, 0)]


def brush_step_ms(
    threads: int, repeats: int = 200, config: ModelConfig | None = None, fold: bool = False, channels_last: bool = False
) -> tuple[float, float]:
    """Median and p95 ms of one generator forward + backward to z at batch 1."""
    torch.set_num_threads(threads)
    model = _brush_model(config, fold, channels_last)
    latent = torch.zeros(1, model.config.latent_dim, requires_grad=True)
    timings = [_brush_step(model, latent) for _ in range(repeats + 10)][10:]
    return _median_p95(timings)


def fold_table(threads: int, repeats: int, config: ModelConfig) -> dict[tuple[bool, bool], tuple[float, float]]:
    """Brush-step (median, p95) ms for (channels_last, folded) variants, measured interleaved: on a busy
    machine each variant then sees the same load, so their ratio means something even when the ms do not."""
    torch.set_num_threads(threads)
    variants = [(channels_last, fold) for channels_last in (False, True) for fold in (False, True)]
    models = {variant: _brush_model(config, variant[1], variant[0]) for variant in variants}
    latent = torch.zeros(1, config.latent_dim, requires_grad=True)
    timings: dict[tuple[bool, bool], list[float]] = {variant: [] for variant in variants}
    for index in range(repeats + 10):
        for variant in variants:
            elapsed = _brush_step(models[variant], latent)
            if index >= 10:
                timings[variant].append(elapsed)
    return {variant: _median_p95(values) for variant, values in timings.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--fold-table", action="store_true", help="only the folded/unfolded brush-step table")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    if args.fold_table:
        print(f"torch {torch.__version__}; generator forward+backward to z, batch 1, ms median / p95")
        for top in (0, 32):
            config = ModelConfig(generator_top_width=top)
            for threads in (1, 2):
                table = fold_table(threads, args.repeats, config)
                for channels_last in (False, True):
                    cells = [f"{'folded' if fold else 'MDC'} {table[channels_last, fold][0]:6.2f} / {table[channels_last, fold][1]:6.2f}"
                             for fold in (False, True)]
                    layout = "channels_last" if channels_last else "contiguous"
                    print(f"top width {top or config.generator_width:>2}, {threads} thread(s), {layout:<13}: " + " | ".join(cells), flush=True)
        return
    print(f"torch {torch.__version__}, {args.threads} thread(s), config: {ModelConfig()}")
    median, p95 = brush_step_ms(args.threads)
    print(f"generator forward+backward to z, batch 1: median {median:.2f} ms, p95 {p95:.2f} ms")
    print(f"training, batch 64, full IAN step (adversarial on): {training_throughput(args.threads, args.steps, False):.1f} images/s")
    print(f"training, batch 64, VAE warm-up step (no discriminator): {training_throughput(args.threads, args.steps, True):.1f} images/s")


if __name__ == "__main__":
    main()
