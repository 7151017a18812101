"""Weights on disk: NAME.safetensors (tensors) + NAME.json (config that rebuilds the model, metadata). Never unpickles."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save

from npe.errors import UserError
from npe.fileio import atomic_write_bytes
from npe.config import ConfigError, ModelConfig, from_dict, to_dict
from npe.model.ian import IAN, TRAINING_ONLY

FORMAT_VERSION = 1
LATENT_DISTRIBUTION_KEYS = ("latent_mean", "latent_basis")


class WeightsError(UserError, RuntimeError):
    """Weights that cannot be loaded: missing, truncated, corrupt or not matching their config."""


def weight_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """(NAME.safetensors, NAME.json) for a path given as either file or as the bare NAME."""
    path = Path(path)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def save_weights(
    model: IAN, path: str | os.PathLike, metadata: dict[str, Any] | None = None, *, inference_only: bool = True
) -> tuple[Path, Path]:
    """Save `model` as NAME.safetensors + NAME.json; returns both paths."""
    tensors_path, config_path = weight_paths(path)
    state = model.inference_state_dict() if inference_only else model.state_dict()
    tensors = {key: value.detach().cpu().contiguous() for key, value in state.items()}
    # The config describes the file: inference weights hold no attribute heads (and stay readable by
    # versions that never had them).
    config = dataclasses.replace(model.config, attributes=0) if inference_only else model.config
    document = {
        "format_version": FORMAT_VERSION,
        "model": to_dict(config),
        "inference_only": inference_only,
        "metadata": metadata or {},
    }
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(tensors_path, save(tensors, metadata={"format": "pt", "npe": "1"}))
    atomic_write_bytes(config_path, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode("utf-8"))
    return tensors_path, config_path


def read_config(path: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any]]:
    """The ModelConfig and metadata stored in NAME.json."""
    _, config_path = weight_paths(path)
    if not config_path.is_file():
        raise WeightsError(f"Model config '{config_path}' is missing. Each .safetensors file needs its .json beside it.")
    try:
        document = json.loads(config_path.read_text(encoding="utf-8"))
        if not isinstance(document, dict) or "model" not in document:
            raise ValueError("no 'model' section")
        config = from_dict(ModelConfig, document["model"])
    except (OSError, UnicodeDecodeError, ValueError, ConfigError) as exc:
        raise WeightsError(f"Model config '{config_path}' is unreadable or invalid ({exc}). Re-export or re-download the model.") from exc
    return config, dict(document.get("metadata") or {})


def load_weights(path: str | os.PathLike, *, device: str | torch.device = "cpu", for_training: bool = False) -> IAN:
    """Rebuild the model from NAME.json and load NAME.safetensors into it, checking every tensor.

    The returned model is in eval mode. With `for_training`, the file must hold the discriminator head too.
    """
    given = Path(path)
    if given.is_file() and given.suffix not in (".safetensors", ".json"):
        raise WeightsError(f"'{given}' is not a model weights file: expected NAME.safetensors with NAME.json beside it.")
    tensors_path, _ = weight_paths(path)
    config, metadata = read_config(path)
    if not tensors_path.is_file():
        raise WeightsError(f"Model weights '{tensors_path}' are missing. Reinstall npe or pass --weights with a valid file.")
    model = IAN(config, with_classifier=for_training)
    expected = model.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(tensors_path), framework="pt", device="cpu") as handle:
            for key in handle.keys():
                tensors[key] = handle.get_tensor(key)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(
            f"Model weights '{tensors_path}' are truncated or corrupt ({exc}). Re-download or re-export the model."
        ) from exc
    for key in LATENT_DISTRIBUTION_KEYS:
        # Files written before the sampling distribution existed: keep N(0, I).
        tensors.setdefault(key, expected[key])
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected) - ({k for k in tensors if k.startswith(TRAINING_ONLY)}))
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s), e.g. {', '.join(missing[:3])}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensor(s), e.g. {', '.join(unexpected[:3])}")
    for key, value in expected.items():
        if key in tensors and (tensors[key].shape != value.shape or tensors[key].dtype != value.dtype):
            problems.append(
                f"'{key}' is {tuple(tensors[key].shape)} {tensors[key].dtype}, config expects {tuple(value.shape)} {value.dtype}"
            )
            if len(problems) > 4:
                break
    if problems:
        raise WeightsError(f"Model weights '{tensors_path}' do not match their config: " + "; ".join(problems))
    for key in expected:
        # A NaN or Inf anywhere makes every image NaN and every brush step a silent no-op.
        if tensors[key].is_floating_point() and not bool(torch.isfinite(tensors[key]).all()):
            raise WeightsError(
                f"Model weights '{tensors_path}' hold NaN or infinite values in '{key}'. Re-download or re-export the model."
            )
    model.load_state_dict({key: tensors[key] for key in expected})
    model.metadata = metadata
    model.name = tensors_path.stem
    return model.to(device).eval()
