"""Principal directions of the latent space (PCA of E(x) over training faces) for the editor's sliders.

Computed once per model and shipped beside its weights as NAME.directions.safetensors:

    python -m npe.editing.directions --weights models/npe-celeba64 --data celeba-9k.zip
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from npe.editing.companions import companion_candidates, companion_path
from npe.fileio import atomic_write_bytes

if TYPE_CHECKING:
    from npe.model import IAN

SUFFIX = ".directions.safetensors"
DEFAULT_COUNT = 20


class DirectionsError(ValueError):
    """A directions file that is missing, damaged or made for another model."""


@dataclass(frozen=True)
class Directions:
    """``components`` (K x D, orthonormal rows, largest variance first), ``stds`` (K: standard
    deviation of the encoded faces along each), ``mean`` (D: mean latent of the encoded faces)."""

    mean: np.ndarray
    components: np.ndarray
    stds: np.ndarray

    def __post_init__(self) -> None:
        mean = np.array(self.mean, dtype=np.float32).reshape(-1)  # copies: the record owns its arrays
        components = np.array(self.components, dtype=np.float32)
        stds = np.array(self.stds, dtype=np.float32).reshape(-1)
        if components.ndim != 2 or components.shape[1] != mean.size or stds.size != components.shape[0]:
            raise DirectionsError(
                f"inconsistent directions: mean {mean.shape}, components {components.shape}, stds {stds.shape}"
            )
        if not (np.isfinite(mean).all() and np.isfinite(components).all() and np.isfinite(stds).all()) or (stds <= 0).any():
            raise DirectionsError("directions contain non-finite values or non-positive standard deviations")
        for name, value in (("mean", mean), ("components", components), ("stds", stds)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return int(self.components.shape[0])

    @property
    def latent_dim(self) -> int:
        return int(self.mean.size)

    def values(self, latent: np.ndarray) -> np.ndarray:
        """Coordinates of ``latent`` (D) along each direction, in standard deviations (K)."""
        return ((np.asarray(latent, dtype=np.float32) - self.mean) @ self.components.T) / self.stds

    def moved(self, latent: np.ndarray, k: int, value: float) -> np.ndarray:
        """``latent`` moved along direction ``k`` so its coordinate there is ``value`` std devs."""
        if not 0 <= k < len(self):
            raise IndexError(f"direction {k} does not exist; there are {len(self)} (0-{len(self) - 1})")
        latent = np.asarray(latent, dtype=np.float32)
        current = float(self.values(latent)[k])
        return (latent + (float(value) - current) * self.stds[k] * self.components[k]).astype(np.float32)


def principal_directions(latents: np.ndarray, count: int = DEFAULT_COUNT) -> Directions:
    """PCA of latents (N x D): the ``count`` directions of largest variance (sign fixed so each
    component's largest coordinate is positive, for reproducible sliders)."""
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 2 or latents.shape[0] < 2:
        raise DirectionsError(f"need at least two latents (N x D) for PCA, got shape {latents.shape}")
    mean = latents.mean(axis=0)
    _, singular, vt = np.linalg.svd(latents - mean, full_matrices=False)
    count = max(1, min(count, vt.shape[0]))
    components = vt[:count]
    signs = np.sign(components[np.arange(count), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    stds = singular[:count] / np.sqrt(latents.shape[0] - 1)
    stds = np.maximum(stds, 1e-6)
    return Directions(mean.astype(np.float32), components.astype(np.float32), stds.astype(np.float32))


def encode_images(model: IAN, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """E(x) for uint8 N x R x R x 3 face crops, in batches (N x D float32)."""
    import torch

    from npe.data.convert import to_model

    device = next(model.parameters()).device
    model.eval()
    latents = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = to_model(np.ascontiguousarray(images[start : start + batch_size])).to(device)
            latents.append(model.encode(batch).float().cpu().numpy())
    return np.concatenate(latents, axis=0) if latents else np.zeros((0, model.config.latent_dim), np.float32)


def compute_directions(model: IAN, images: np.ndarray, count: int = DEFAULT_COUNT, batch_size: int = 64) -> Directions:
    """Encode the face crops and take the principal directions of their latents."""
    return principal_directions(encode_images(model, images, batch_size), count)


def directions_path(weights: str | os.PathLike) -> Path:
    """NAME.directions.safetensors beside NAME.safetensors (``weights`` as file or bare NAME)."""
    return companion_path(weights, SUFFIX)


def save_directions(directions: Directions, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> Path:
    """Write a directions file atomically."""
    from safetensors.numpy import save

    target = Path(path)
    data = save(
        {"mean": directions.mean.copy(), "components": directions.components.copy(), "stds": directions.stds.copy()},
        metadata={"npe": "directions", **(metadata or {})},
    )
    atomic_write_bytes(target, data)
    return target


def load_directions(path: str | os.PathLike, latent_dim: int | None = None) -> Directions:
    """Read a directions file; DirectionsError with a readable message if it is unusable."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    target = Path(path)
    try:
        tensors = load(target.read_bytes())
        directions = Directions(tensors["mean"], tensors["components"], tensors["stds"])
    except FileNotFoundError:
        raise DirectionsError(f"Directions file '{target}' does not exist.") from None
    except (OSError, SafetensorError, KeyError, ValueError) as exc:
        raise DirectionsError(
            f"Directions file '{target}' is damaged or not a directions file ({exc}). Recreate it with "
            "'python -m npe.editing.directions'."
        ) from exc
    if latent_dim is not None and directions.latent_dim != latent_dim:
        raise DirectionsError(
            f"Directions file '{target}' is for a model with {directions.latent_dim} latents, not {latent_dim}."
        )
    return directions


def find_directions(model: IAN, weights: str | os.PathLike | None = None) -> Directions | None:
    """The directions shipped beside ``weights`` (or beside the bundled model of this name), or None
    if there are none or they do not fit the model. Never raises."""
    for candidate in companion_candidates(model, weights, SUFFIX):
        try:
            return load_directions(candidate, model.config.latent_dim)
        except DirectionsError:
            continue
    return None


def training_split(names: Sequence[str], val_size: int) -> np.ndarray:
    """Indices of the training images: the same split `npe train` uses (npe.data.datasets.split_train_val)."""
    from npe.data.datasets import split_train_val

    train, _ = split_train_val(names, val_size)
    return train


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m npe.editing.directions",
        description="Compute the principal latent directions of a model over its training faces and save "
        "them beside the weights as NAME.directions.safetensors.",
    )
    parser.add_argument("--weights", required=True, metavar="W", help="model weights (NAME.safetensors with NAME.json beside it)")
    parser.add_argument("--data", required=True, nargs="+", metavar="ARCHIVE", help="zip archive(s) or folder(s) of face photos")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"directions to keep (default: {DEFAULT_COUNT})")
    parser.add_argument("--val-size", type=int, default=500, help="images held out as validation: the last N by name (default: 500)")
    parser.add_argument("--out", metavar="FILE", help="where to write (default: beside the weights)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")
    args = parser.parse_args(argv)

    import torch

    from npe.data.datasets import load_face_crops
    from npe.model import WeightsError, load_weights

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        model = load_weights(args.weights)
    except WeightsError as exc:
        print(f"npe: {exc}", file=sys.stderr)
        return 2
    crops = load_face_crops(args.data, model.config.resolution)
    images = np.asarray(crops.images)
    train = training_split(crops.names, args.val_size)
    if train.size < 2:
        print(f"npe: only {train.size} training image(s) in {', '.join(args.data)}; need at least 2", file=sys.stderr)
        return 2
    directions = compute_directions(model, images[train], args.count)
    out = Path(args.out) if args.out else directions_path(args.weights)
    save_directions(directions, out, {"images": str(int(train.size)), "model": Path(args.weights).name})
    explained = ", ".join(f"{s:.2f}" for s in directions.stds[:5])
    print(f"wrote {out}: {len(directions)} directions from {train.size} faces (std of the first: {explained})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
