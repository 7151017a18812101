"""Running a trained model for inference: the device choice, loading (threads, eval mode, frozen
parameters, warm-up) and the one batched encode/decode of uint8 images, which the editor, the
subcommands and training's validation and export all use."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch

from npe.data.convert import to_model, to_uint8
from npe.errors import UserError
from npe.model.ian import IAN

BATCH_SIZE = 32


def resolve_device(name: str | None) -> str:
    """'auto' (or None) -> 'cuda' when a GPU is usable, else 'cpu'; 'cuda' without one is a UserError."""
    if name in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if str(name).startswith("cuda") and not torch.cuda.is_available():
        raise UserError("CUDA was requested (--device cuda) but no usable NVIDIA GPU was found; use --device cpu.")
    return str(name)


def device_label(device: str) -> str:
    """'CPU' or 'CUDA (device name)', for the About box and the status bar."""
    if device.startswith("cuda"):
        return f"CUDA ({torch.cuda.get_device_name(torch.device(device))})"
    return "CPU"


def cpu_threads() -> int:
    """Threads for one brush step on the CPU. A step is a batch of one small image: beyond a few
    threads it gets no faster, and on a busy machine extra threads spin-wait for each other (a
    step went from 20 ms to 2 s with 2 threads on 2 busy cores). Half the cores, at most 4."""
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def prepare(model: IAN) -> IAN:
    """Eval mode (batch norm uses its running statistics) and no parameter gradients: the editor
    only differentiates with respect to z."""
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def warm_up(model: IAN) -> None:
    """One forward and backward pass, so the user's first brush step is as quick as the rest."""
    latent = torch.zeros(1, model.config.latent_dim, device=model_device(model), requires_grad=True)
    with torch.enable_grad():
        model.decode(latent).mean().backward()


def load_model(weights: str | os.PathLike | None = None, *, device: str = "auto", threads: int | None = None, warm: bool = True) -> IAN:
    """The model at ``weights`` (None: the bundled one) on ``device``, ready for editing.

    ``threads`` sets torch's CPU threads (None: ``cpu_threads()`` unless OMP_NUM_THREADS is set).
    A missing or damaged weights file raises UserError with the loader's message."""
    from npe.model import WeightsError, load_default, load_weights

    resolved = resolve_device(device)
    if threads is not None:
        torch.set_num_threads(int(threads))
    elif resolved == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(cpu_threads())
    try:
        model = load_weights(weights, device=resolved) if weights else load_default(resolved)
    except WeightsError as exc:
        raise UserError(str(exc)) from None
    prepare(model)
    if warm:
        warm_up(model)
    return model


def model_device(model: IAN) -> torch.device:
    return next(model.parameters()).device


def _batched(images_or_latents: np.ndarray, single: bool, batch_size: int, run: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``run`` over slices of at most ``batch_size``, without gradients, results concatenated."""
    batch = images_or_latents[None] if single else images_or_latents
    with torch.no_grad():
        result = np.concatenate([run(np.ascontiguousarray(batch[start : start + batch_size])) for start in range(0, len(batch), batch_size)])
    return result[0] if single else result


def encode_images(model: IAN, images: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """z = E(X) (posterior means) for uint8 images, HxWx3 -> (D,) or NxHxWx3 -> N x D float32."""
    device = model_device(model)
    return _batched(images, images.ndim == 3, batch_size, lambda chunk: model.encode(to_model(chunk).to(device)).float().cpu().numpy())


def decode_latents(model: IAN, latents: np.ndarray, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """G(z) as uint8 images: (D,) -> R x R x 3, N x D -> N x R x R x 3."""
    array = np.array(latents, dtype=np.float32)
    device = model_device(model)
    return _batched(array, array.ndim == 1, batch_size, lambda chunk: to_uint8(model.decode(torch.from_numpy(chunk).to(device))))
