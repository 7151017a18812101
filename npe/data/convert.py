"""The one place where images change convention: uint8 HxWx3 (files, UI) <-> float [-1, 1] NCHW (model)."""

from __future__ import annotations

import numpy as np
import torch


def to_model(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 images, HxWx3 or NxHxWx3, as a float32 tensor in [-1, 1], NCHW."""
    if isinstance(images, np.ndarray) and not images.flags.writeable:
        images = images.copy()  # the editor freezes its crops (sources.py); torch warns on read-only arrays
    tensor = torch.as_tensor(images)
    if tensor.dtype != torch.uint8:
        raise TypeError(f"expected uint8 images, got {tensor.dtype}")
    if tensor.ndim == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 4 or tensor.shape[-1] != 3:
        raise ValueError(f"expected HxWx3 or NxHxWx3 images, got shape {tuple(tensor.shape)}")
    return tensor.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0).contiguous()


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """A float tensor in [-1, 1], NCHW (or CHW), as uint8 NxHxWx3 (or HxWx3), rounded and clipped."""
    tensor = images.detach()
    single = tensor.ndim == 3
    if single:
        tensor = tensor.unsqueeze(0)
    levels = ((tensor.float().clamp(-1, 1) + 1.0) * 127.5).round_().to(torch.uint8)
    array = levels.permute(0, 2, 3, 1).cpu().numpy()
    return array[0] if single else array

