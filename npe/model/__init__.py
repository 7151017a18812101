"""The Introspective Adversarial Network: architecture, losses and weights I/O (torch only)."""

from __future__ import annotations

import torch

from npe.config import ModelConfig
from npe.model.ian import IAN
from npe.model.io import WeightsError, load_weights, read_config, save_weights, weight_paths

__all__ = ["IAN", "ModelConfig", "WeightsError", "load_default", "load_weights", "read_config", "save_weights", "weight_paths"]


def load_default(device: str | torch.device = "cpu") -> IAN:
    """The model bundled with npe (models/ in a checkout, npe/_data/models when installed)."""
    from npe.resources import default_weights

    try:
        path = default_weights()
    except FileNotFoundError as exc:
        raise WeightsError(str(exc)) from exc
    return load_weights(path, device=device)
