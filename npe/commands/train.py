"""`npe train`: load face crops, build the configs from the command line, train, checkpoint, export.

Under `torchrun --nproc-per-node N` every process runs this; only the main one writes files.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from npe.errors import UserError
from npe.config import ConfigError, CropConfig, ModelConfig, TrainConfig, from_dict, to_dict

if TYPE_CHECKING:
    from npe.editing.attributes import AttributeLabels


def _user_error(message: str) -> Exception:
    return UserError(message)


def build_configs(args: argparse.Namespace) -> tuple[ModelConfig, TrainConfig]:
    """ModelConfig and TrainConfig from defaults, an optional --config JSON file, then explicit flags."""
    model_fields: dict[str, Any] = {}
    train_fields: dict[str, Any] = {}
    if args.config:
        try:
            document = json.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _user_error(f"cannot read --config '{args.config}': {exc}") from exc
        model_fields.update(document.get("model", {}))
        train_fields.update(document.get("train", {}))
    flag_to_model = {
        "resolution": args.resolution,
        "latent_dim": args.latent_dim,
        "width": args.width,
        "generator_width": args.generator_width,
    }
    model_fields.update({key: value for key, value in flag_to_model.items() if value is not None})
    for flag, field_name in (("no_mdc", "mdc"), ("no_feature_loss", "feature_loss"), ("no_ortho", "ortho_reg"), ("no_recon_grad_to_trunk", "recon_grad_to_trunk")):
        if getattr(args, flag):
            model_fields[field_name] = False
    if args.binary:
        model_fields["ternary"] = False
    flag_to_train = {
        "batch_size": args.batch_size,
        "lr_generator": args.lr_g,
        "lr_discriminator": args.lr_d,
        "warmup_steps": args.warmup_steps,
        "seed": args.seed,
        "device": args.device,
        "threads": args.threads,
        "checkpoint_minutes": args.checkpoint_minutes,
        "validate_minutes": args.validate_minutes,
        "val_size": args.val_size,
    }
    train_fields.update({key: value for key, value in flag_to_train.items() if value is not None})
    if getattr(args, "refine_encoder", False):
        train_fields["freeze_generator"] = True
        train_fields.setdefault("losses", {}).update({"adversarial": 0.0, "ortho": 0.0})
    try:
        model_config = from_dict(ModelConfig, {**to_dict(ModelConfig()), **model_fields})
        base = to_dict(TrainConfig())
        losses = {**base.pop("losses"), **train_fields.pop("losses", {})}
        train_config = from_dict(TrainConfig, {**base, **train_fields, "losses": losses})
    except ConfigError as exc:
        raise _user_error(f"invalid configuration: {exc}") from exc
    if train_config.batch_size < 2:
        raise _user_error("--batch-size must be at least 2")
    return model_config, train_config


def _read_labels(args: argparse.Namespace) -> AttributeLabels | None:
    """The --labels table, or None without the flag."""
    if not getattr(args, "labels", None):
        return None
    from npe.editing.attributes import read_celeba_attributes

    return read_celeba_attributes(args.labels)  # its errors are UserErrors with the file's name


def label_rows(table: AttributeLabels, names: list[str]) -> np.ndarray:
    """float32 rows (1 present, 0 absent) of `table` for photos `names`, matched by file name; NaN rows
    for photos the table does not list."""
    index = {name: row for row, name in enumerate(table.files)}
    rows = np.full((len(names), len(table.names)), np.nan, dtype=np.float32)
    for position, name in enumerate(names):
        row = index.get(Path(name).name)
        if row is not None:
            rows[position] = table.values[row]
    return rows


def oversample_repeats(labels: np.ndarray | None, names: list[str] | tuple[str, ...], oversample: dict[str, int]) -> np.ndarray | None:
    """Per training photo, how many times an epoch draws it (TrainConfig.oversample): the largest
    factor among the attributes its label row has (1 without any, and for unlabelled rows); None
    when nothing is oversampled. UserError for an unknown name, a bad factor, or no labels."""
    if not oversample:
        return None
    if labels is None:
        raise _user_error("oversampling an attribute needs its labels: add --labels FILE.")
    repeats = np.ones(len(labels), dtype=np.int64)
    for name, factor in oversample.items():
        if name not in names:
            raise _user_error(f"cannot oversample '{name}': the labels have no such attribute (they have {', '.join(names)}).")
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise _user_error(f"oversample['{name}'] must be a whole number >= 1, got {factor!r}.")
        repeats = np.where(labels[:, list(names).index(name)] == 1, np.maximum(repeats, factor), repeats)
    return repeats


def train_command(args: argparse.Namespace) -> int:
    from npe.train import distributed

    processes = distributed.from_environment()
    try:
        status = _train(args, processes)
    except BaseException:
        distributed.stop(processes, wait=False)  # the others may never reach a barrier now
        raise
    distributed.stop(processes)
    return status


def _train(args: argparse.Namespace, processes: Any) -> int:
    import torch

    from npe.data.datasets import load_face_crops, split_train_val
    from npe.model.runtime import resolve_device
    from npe.train import distributed
    from npe.train.checkpoint import CHECKPOINT_NAME, configs_of, read_checkpoint
    from npe.train.loop import Trainer

    out_dir = Path(args.out)
    checkpoint = out_dir / CHECKPOINT_NAME
    if args.resume:
        if not checkpoint.is_file():
            raise _user_error(f"--resume: no checkpoint at '{checkpoint}'. Start without --resume, or pass the --out folder of the earlier run.")
        model_config, train_config = configs_of(read_checkpoint(checkpoint))
        # Settings that only affect speed and logging may change on resume.
        changes = {"device": args.device, "threads": args.threads,
                   "checkpoint_minutes": args.checkpoint_minutes, "validate_minutes": args.validate_minutes}
        train_config = dataclasses.replace(train_config, **{key: value for key, value in changes.items() if value is not None})
        label_table = _read_labels(args)
        if model_config.attributes and (label_table is None or len(label_table.names) != model_config.attributes):
            raise _user_error(f"this run learns {model_config.attributes} attribute labels: pass the same --labels file to --resume it.")
        if label_table is not None and not model_config.attributes:
            raise _user_error("this run was started without --labels; resume it without them.")
    else:
        model_config, train_config = build_configs(args)
        if train_config.freeze_generator and not args.init_from:
            raise _user_error("--refine-encoder keeps the generator as it is, so it needs trained weights: add --init-from W.")
        if args.init_from:
            from npe.model import read_config

            model_config, _ = read_config(args.init_from)
        label_table = _read_labels(args)
        model_config = dataclasses.replace(model_config, attributes=len(label_table.names) if label_table else 0)
        if checkpoint.exists():
            raise _user_error(f"'{out_dir}' already holds a training run. Use --resume to continue it, or choose another --out.")

    for source in args.data:
        if not Path(source).exists():
            raise _user_error(f"training data '{source}' does not exist (expected a zip archive or a folder of face photos)")
    if train_config.oversample:  # a typo in a name must not wait for the data to load
        names = label_table.names if label_table is not None else ()
        oversample_repeats(None if label_table is None else np.zeros((0, len(names)), np.float32), names, train_config.oversample)
    if train_config.losses.perceptual > 0 or train_config.losses.projected > 0:  # a training extra: say so before loading data
        from npe.train.perceptual import lite0_weights_path

        lite0_weights_path()
    try:
        device = distributed.start(processes, torch.device(resolve_device(train_config.device)))
    except RuntimeError as exc:
        raise _user_error(str(exc)) from None
    quiet = args.quiet or not processes.is_main
    log = (lambda message: None) if quiet else (lambda message: print(message, file=sys.stderr, flush=True))
    log(f"loading face crops from {', '.join(args.data)} at {model_config.resolution}x{model_config.resolution} ...")
    crops = load_face_crops(args.data, model_config.resolution, CropConfig())
    if len(crops.images) < 2:
        raise _user_error(f"found {len(crops.images)} readable image(s) in {', '.join(args.data)}; training needs at least 2")
    if crops.skipped:
        log(f"skipped {len(crops.skipped)} unreadable file(s), e.g. {crops.skipped[0]}")
    train_index, val_index = split_train_val(crops.names, train_config.val_size)
    description = {
        "sources": [Path(source).name for source in args.data],
        "train_images": int(len(train_index)),
        "validation_images": int(len(val_index)),
        "validation_names": [crops.names[val_index[0]], crops.names[val_index[-1]]] if len(val_index) else [],
        "skipped_files": len(crops.skipped),
        "crop": to_dict(CropConfig()),
    }
    if processes.distributed:
        log(f"training on {processes.world_size} processes, {train_config.batch_size} images each per step")
    train_labels = None
    if label_table is not None:
        train_labels = label_rows(label_table, [crops.names[index] for index in train_index])
        labelled = int((~np.isnan(train_labels[:, 0])).sum())
        description["labels"] = {"file": Path(args.labels).name, "attributes": len(label_table.names), "labelled_train_images": labelled}
        log(f"{labelled} of {len(train_index)} training photos have attribute labels ({len(label_table.names)} attributes)")
        if labelled == 0:
            raise _user_error(f"no training photo has a row in '{args.labels}' (rows are matched by file name, e.g. 000001.jpg)")
    repeats = oversample_repeats(train_labels, label_table.names if label_table is not None else (), train_config.oversample)
    if repeats is not None:
        log(f"oversampled: {int((repeats > 1).sum())} photos drawn up to {int(repeats.max())} times an epoch "
            f"({int(repeats.sum())} draws for {len(repeats)} photos)")
    trainer = Trainer(model_config, train_config, crops.images[train_index], crops.images[val_index], out_dir, description,
                      log=log, processes=processes, device=device, train_labels=train_labels, train_repeats=repeats)
    if args.resume:
        trainer.load_checkpoint(checkpoint)
        log(f"resumed from step {trainer.step} ({trainer.images_seen} images seen)")
    elif args.init_from:
        from npe.model import load_weights

        trainer.initialize_from(load_weights(args.init_from))
        log(f"initialised from {args.init_from}")
    if args.steps is not None:
        steps = args.steps
    elif args.epochs is not None:
        steps = math.ceil(args.epochs * len(train_index) / trainer.global_batch)
    else:
        steps = train_config.steps
    trainer.config = dataclasses.replace(trainer.config, steps=steps)  # recorded in the exported metadata
    if processes.is_main:
        (out_dir / "config.json").write_text(json.dumps({"model": to_dict(model_config), "train": to_dict(train_config), "data": description}, indent=2))
    started = time.monotonic()
    trainer.fit(steps, time_limit_minutes=args.time_limit)
    finished = trainer.step >= steps
    if (finished or getattr(args, "always_export", False)) and processes.is_main:
        final = trainer.validate()
        trainer.recalibrate_ema_batchnorm()
        tensors_path, _ = trainer.export(out_dir / args.name, metrics=final)
        done = "finished" if finished else "stopped by the time limit after"
        log(f"{done} {trainer.step} steps in {time.monotonic() - started:.0f} s; validation PSNR {final['val_psnr']:.2f} dB")
        log(f"exported {tensors_path}")
    return 0
