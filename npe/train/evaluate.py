"""Measuring a trained IAN: reconstructions and samples as images, and the report `npe eval` prints and writes."""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from npe.config import to_dict
from npe.fileio import atomic_write_bytes
from npe.model import IAN
from npe.model.runtime import decode_latents, encode_images
from npe.train.perceptual import frechet_distance
from npe.train.metrics import (
    fit_pca,
    psnr,
    sharpness_ratio,
    sliced_wasserstein,
    ssim,
    swd_resolutions,
)

PCA_COMPONENTS = 100
# What a model must reach to ship (MODEL_CARD.md's targets). Sharpness is a band: far more
# Laplacian energy than the photos is noise or artefacts, not detail (a random network scores > 10).
TARGETS: dict[str, float] = {"psnr": 21.0, "ssim": 0.62, "sharpness": 0.6, "sharpness_max": 1.5, "swd_finest_ratio": 3.0}
# Sample chunks compared with the reference half for the matched SWD (more: less variance, more time).
MAX_SWD_CHUNKS = 4

Progress = Callable[[str], None]
# What a report with per-photo tuned figures says about them, in the JSON and in the table: the
# generator was fitted to each face, so they say what the editor shows after opening a photo.
TUNED_NOTE = (
    "per-photo tuned, NOT the model's quality: each face's z refined and the generator fine-tuned on "
    "that very face, as the editor does when a photo opens (the model's own figures are 'reconstruction')"
)


# --- running the model --------------------------------------------------------------------


@contextlib.contextmanager
def _inference(model: IAN) -> Iterator[None]:
    """Eval mode (batch norm uses its running statistics) and no autograd; the caller's mode comes back."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def reconstruct_images(model: IAN, images: np.ndarray, batch: int = 128) -> np.ndarray:
    """G(E(x)) for uint8 N x R x R x 3 images, as uint8 images of the same shape."""
    resolution = model.config.resolution
    if images.ndim != 4 or images.shape[1:] != (resolution, resolution, 3):
        raise ValueError(f"expected N x {resolution} x {resolution} x 3 images, got {images.shape}")
    if len(images) == 0:
        return images[:0].copy()
    with _inference(model):
        return decode_latents(model, encode_images(model, images, batch), batch)


def sample_images(model: IAN, count: int, seed: int = 0, batch: int = 128) -> np.ndarray:
    """G(z) for `count` seeded latents z ~ N(0, I), as uint8 N x R x R x 3 images."""
    if count == 0:
        resolution = model.config.resolution
        return np.zeros((0, resolution, resolution, 3), np.uint8)
    # Drawn on the CPU from a seeded generator: the same latents on every device.
    latents = model.sample_latents(count, generator=torch.Generator().manual_seed(seed))
    with _inference(model):
        return decode_latents(model, latents.cpu().numpy(), batch)


# --- the report ---------------------------------------------------------------------------


def _matched_swd(generated: np.ndarray, reference_half: np.ndarray, seed: int) -> list[float]:
    """SWD of generated images against one half of the data, with as many generated images as the half holds.

    SWD has a floor that grows as the sets shrink; comparing like-sized sets makes this directly
    comparable to the real-vs-real SWD of the two halves. Several chunks are averaged.
    """
    size = len(reference_half)
    chunks = min(MAX_SWD_CHUNKS, len(generated) // size)
    if chunks == 0:  # fewer generated images than half the data: compare what there is
        return sliced_wasserstein(generated, reference_half, seed=seed)
    per_chunk = [sliced_wasserstein(generated[k * size : (k + 1) * size], reference_half, seed=seed) for k in range(chunks)]
    return [float(np.mean(level)) for level in zip(*per_chunk)]


def _ratio(numerator: Sequence[float] | None, denominator: Sequence[float] | None) -> float | None:
    if not numerator or not denominator or denominator[0] <= 0:
        return None
    return float(numerator[0] / denominator[0])


def _floats(values: Sequence[float]) -> list[float]:
    return [float(value) for value in values]


def evaluate(
    model: IAN,
    val_images: np.ndarray,
    train_images: np.ndarray | None = None,
    *,
    samples: int = 2000,
    seed: int = 0,
    pca: bool = True,
    batch: int = 128,
    progress: Progress | None = None,
    tuned_reconstructions: np.ndarray | None = None,
    features: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Measure `model` on uint8 N x R x R x 3 face crops; returns a JSON-ready report.

    - reconstruction: PSNR, SSIM and sharpness ratio of G(E(x)) against x, and its SWD to the data;
    - swd_samples_vs_data: SWD x1e3 per pyramid level (finest first, see swd_resolutions) between
      `samples` decoded latents z ~ N(0, I) (seeded) and the images;
    - swd_data_vs_data: the same between two random halves of the images: the noise floor;
    - swd_samples_vs_half: samples against the second half, in chunks as large as a half, so that
      swd_finest_ratio = swd_samples_vs_half / swd_data_vs_data at the finest level compares like
      with like (1.0: samples as close to the data as other photos are);
    - pca: the same measures for a PCA baseline (mean + top 100 components) fitted on
      `train_images`, or in-sample on the images themselves when no training images are given;
      its "samples" are draws from the Gaussian the components describe;
    - tuned (only when ``tuned_reconstructions`` of the images are given, e.g. after the editor's
      per-photo inversion): their PSNR, SSIM and sharpness, labelled with TUNED_NOTE. The model's
      own figures, targets and passes above are unchanged by it.
    - fd_lite0 (only with ``features``, images -> N x C, e.g. npe.train.perceptual.pooled_features):
      the Fréchet distance of samples and of reconstructions to the images in those features, and of
      the two halves of the images to each other (the floor). A trend between models, not a target.
    """
    log = progress or (lambda message: None)
    started = time.monotonic()
    resolution = model.config.resolution
    images = np.asarray(val_images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (resolution, resolution, 3):
        raise ValueError(f"expected uint8 N x {resolution} x {resolution} x 3 images, got {images.dtype} {images.shape}")
    if len(images) == 0:
        raise ValueError("no images to evaluate")
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if tuned_reconstructions is not None and np.shape(tuned_reconstructions) != images.shape:
        raise ValueError(f"expected {images.shape} tuned reconstructions, got {np.shape(tuned_reconstructions)}")

    log(f"reconstructing {len(images)} images ...")
    reconstructions = reconstruct_images(model, images, batch)
    log(f"decoding {samples} random latents ...")
    generated = sample_images(model, samples, seed, batch)

    log("measuring ...")
    order = np.random.default_rng(seed).permutation(len(images))
    half = len(images) // 2
    first_half, second_half = images[order[:half]], images[order[half : 2 * half]]
    data_vs_data = _floats(sliced_wasserstein(first_half, second_half, seed=seed)) if half else None
    samples_vs_half = _floats(_matched_swd(generated, second_half, seed)) if half else None

    report: dict[str, Any] = {
        "images": int(len(images)),
        "samples": int(samples),
        "seed": int(seed),
        "model": {
            "name": model.name or None,
            "config": to_dict(model.config),
            "metadata": model.metadata,
        },
        "reconstruction": {
            "psnr": psnr(images, reconstructions),
            "ssim": ssim(images, reconstructions),
            "sharpness": sharpness_ratio(images, reconstructions),
            "swd_vs_data": _floats(sliced_wasserstein(reconstructions, images, seed=seed)),
        },
        "swd_resolutions": swd_resolutions(resolution),
        "swd_samples_vs_data": _floats(sliced_wasserstein(generated, images, seed=seed)),
        "swd_data_vs_data": data_vs_data,
        "swd_samples_vs_half": samples_vs_half,
        "swd_finest_ratio": _ratio(samples_vs_half, data_vs_data),
        "sample_sharpness": sharpness_ratio(images, generated),
        "pca": None,
    }

    if pca:
        in_sample = train_images is None
        fit_images = images if in_sample else np.asarray(train_images)
        log(f"fitting the PCA baseline on {len(fit_images)} images ...")
        basis = fit_pca(fit_images, PCA_COMPONENTS, seed=seed)
        pca_reconstructions = basis.reconstruct(images)
        pca_samples = basis.sample(samples, seed=seed)
        pca_vs_half = _floats(_matched_swd(pca_samples, second_half, seed)) if half else None
        report["pca"] = {
            "components": int(len(basis.stddev)),
            "fitted_on": "evaluation images (in-sample, optimistic)" if in_sample else "training images",
            "train_images": int(len(fit_images)),
            "psnr": psnr(images, pca_reconstructions),
            "ssim": ssim(images, pca_reconstructions),
            "sharpness": sharpness_ratio(images, pca_reconstructions),
            "swd_vs_data": _floats(sliced_wasserstein(pca_reconstructions, images, seed=seed)),
            "swd_samples_vs_data": _floats(sliced_wasserstein(pca_samples, images, seed=seed)),
            "swd_samples_vs_half": pca_vs_half,
            "swd_finest_ratio": _ratio(pca_vs_half, data_vs_data),
        }

    if tuned_reconstructions is not None:
        tuned = np.asarray(tuned_reconstructions, dtype=np.uint8)
        report["tuned"] = {
            "note": TUNED_NOTE,
            "psnr": psnr(images, tuned),
            "ssim": ssim(images, tuned),
            "sharpness": sharpness_ratio(images, tuned),
        }

    if features is not None and half >= 2:
        log("Fréchet distance in borrowed features ...")
        real = features(images)
        report["fd_lite0"] = {
            "samples_vs_data": frechet_distance(features(generated), real),
            "reconstructions_vs_data": frechet_distance(features(reconstructions), real),
            "data_vs_data": frechet_distance(real[order[:half]], real[order[half : 2 * half]]),
        }

    reconstruction = report["reconstruction"]
    ratio = report["swd_finest_ratio"]
    report["targets"] = dict(TARGETS)
    report["passes"] = {
        "psnr": reconstruction["psnr"] >= TARGETS["psnr"],
        "ssim": reconstruction["ssim"] >= TARGETS["ssim"],
        "sharpness": TARGETS["sharpness"] <= reconstruction["sharpness"] <= TARGETS["sharpness_max"],
        "swd_finest_ratio": ratio is not None and ratio <= TARGETS["swd_finest_ratio"],
    }
    report["seconds"] = round(time.monotonic() - started, 2)
    return report


def _cell(value: float | None, digits: int, suffix: str = "") -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.{digits}f}{suffix}"


def format_table(report: dict[str, Any]) -> str:
    """The report as a table people can read: ours vs the PCA baseline vs the targets."""
    baseline = report.get("pca") or {}
    pca_name = f"PCA-{baseline['components']}" if baseline else "PCA"
    recon = report["reconstruction"]
    passes = report["passes"]
    model = report["model"]
    config = model["config"]
    data = report.get("data") or {}
    which = {"val": "validation ", "all": ""}.get(data.get("split", ""), "")
    sources = f" of {', '.join(Path(source).name for source in data['sources'])}" if data.get("sources") else ""
    header = (
        f"model {model.get('name') or '(unnamed)'} ({config['resolution']} px, {config['latent_dim']} latents) "
        f"on {report['images']} {which}images{sources}; {report['samples']} samples, seed {report['seed']}"
    )
    if baseline.get("fitted_on", "").startswith("evaluation"):
        header += f"\n({pca_name} fitted on the evaluation images themselves: an optimistic baseline)"
    tuned = report.get("tuned")
    if tuned:
        header += "\n(the table is the model itself, encoder only; per-photo tuned figures follow it, apart)"
    rows = [("", "ours", pca_name, "real/real", "target", "")]

    def verdict(key: str) -> str:
        return "pass" if passes[key] else "FAIL"

    rows.append(("reconstruction PSNR (dB)", _cell(recon["psnr"], 2), _cell(baseline.get("psnr"), 2), "", f">= {TARGETS['psnr']:g}", verdict("psnr")))
    rows.append(("reconstruction SSIM", _cell(recon["ssim"], 3), _cell(baseline.get("ssim"), 3), "", f">= {TARGETS['ssim']:g}", verdict("ssim")))
    rows.append(("sharpness (recon / photo)", _cell(recon["sharpness"], 3), _cell(baseline.get("sharpness"), 3), "", f"{TARGETS['sharpness']:g} to {TARGETS['sharpness_max']:g}", verdict("sharpness")))
    real = report.get("swd_data_vs_data") or [None] * len(report["swd_resolutions"])
    pca_swd = baseline.get("swd_samples_vs_data") or [None] * len(report["swd_resolutions"])
    for index, size in enumerate(report["swd_resolutions"]):
        label = f"SWD x1e3 samples/data {size:>3} px"
        rows.append((label, _cell(report["swd_samples_vs_data"][index], 2), _cell(pca_swd[index], 2), _cell(real[index], 2), "", ""))
    rows.append((
        "finest SWD / real-vs-real",
        _cell(report["swd_finest_ratio"], 2, "x"),
        _cell(baseline.get("swd_finest_ratio"), 2, "x"),
        "1.00x" if report["swd_finest_ratio"] is not None else "-",
        f"<= {TARGETS['swd_finest_ratio']:g}x",
        verdict("swd_finest_ratio"),
    ))
    fd = report.get("fd_lite0")
    if fd:
        rows.append(("Frechet dist. samples (Lite0)", _cell(fd["samples_vs_data"], 1), "", _cell(fd["data_vs_data"], 1), "", ""))
        rows.append(("Frechet dist. recon (Lite0)", _cell(fd["reconstructions_vs_data"], 1), "", "", "", ""))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [header, ""]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:5], widths[1:5])] + [row[5]]
        lines.append("  ".join(cells).rstrip())
    if tuned:
        lines += ["", "PER-PHOTO TUNED, NOT THE MODEL'S QUALITY: each face's z refined and the generator",
                  "fine-tuned on that very face, as the editor does when a photo opens (the table above is the model):"]
        tuned_rows = [
            ("reconstruction PSNR (dB)", _cell(tuned["psnr"], 2), _cell(recon["psnr"], 2)),
            ("reconstruction SSIM", _cell(tuned["ssim"], 3), _cell(recon["ssim"], 3)),
            ("sharpness (recon / photo)", _cell(tuned["sharpness"], 3), _cell(recon["sharpness"], 3)),
        ]
        if tuned.get("seconds_per_face") is not None:
            tuned_rows.append(("seconds per face", _cell(tuned["seconds_per_face"], 2), ""))
        tuned_rows.insert(0, ("", "tuned", "model"))
        label_width = max(len(row[0]) for row in tuned_rows)
        value_widths = [max(len(row[column]) for row in tuned_rows) for column in (1, 2)]
        for label, *values in tuned_rows:
            cells = [label.ljust(label_width)] + [value.rjust(width) for value, width in zip(values, value_widths)]
            lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def json_ready(value: Any) -> Any:
    """Plain JSON types; NaN and infinities (not valid JSON) become null."""
    if isinstance(value, dict):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def write_report(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """Write the report as JSON atomically (a temp file beside it, then a rename)."""
    target = Path(path)
    text = json.dumps(json_ready(report), indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(target, text.encode("utf-8"))
    return target
