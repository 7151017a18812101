"""Training checkpoints on disk: one torch.save dict, written atomically, read with weights_only=True.

The dict's keys (model, ema, opt_g, opt_d, step, images_seen, train_seconds, cursor, permutation,
data_rng, torch_rng, model_config, train_config, best_val_psnr) are a file format: runs resume from
checkpoints written by earlier versions, so keys are only ever added, with a default when missing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from npe.config import ModelConfig, TrainConfig, from_dict
from npe.fileio import atomic_write

CHECKPOINT_NAME = "checkpoint.pt"
# Buffers that checkpoints written before the sampling distribution existed do not hold.
OPTIONAL_BUFFERS = frozenset({"latent_mean", "latent_basis"})


def write_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Save `state` atomically: a crash mid-write leaves the previous checkpoint intact."""
    path = Path(path)
    atomic_write(path, lambda stream: torch.save(state, stream))
    return path


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint's dict; tensors only, never arbitrary pickled objects."""
    return torch.load(path, map_location=device, weights_only=True)


def configs_of(state: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """The model and training configs a checkpoint was written with."""
    return (
        from_dict(ModelConfig, json.loads(state["model_config"])),
        from_dict(TrainConfig, json.loads(state["train_config"])),
    )


def load_module(module: nn.Module, tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load a module's state from a checkpoint, tolerating only the optional buffers' absence."""
    missing, unexpected = module.load_state_dict(tensors, strict=False)
    if unexpected or set(missing) - OPTIONAL_BUFFERS:
        raise ValueError(f"checkpoint '{path}' does not match the model: missing {missing}, unexpected {unexpected}")
