"""Latent directions for the editor's sliders, shipped beside the weights as NAME.directions.safetensors:
principal directions (PCA of E(x) over the training faces) and, given CelebA labels, named attribute
directions (npe.editing.attributes). Computed once per model, at every model release, by
`npe directions` (npe.commands.directions):

    npe directions --weights models/npe-celeba64.safetensors --data celeba-9k.zip \
        --labels list_attr_celeba-9k.txt

File keys: ``mean``, ``components``, ``stds`` (PCA, as always); with attributes also
``attribute_vectors`` (A x D unit), ``attribute_scales`` (A), ``attribute_normals`` (A x D),
``attribute_biases`` (A), and metadata ``attribute_names`` (JSON list) and ``model_id``
(npe.editing.attributes.model_identifier of the model they were fitted on).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from npe.editing.attributes import AttributeDirections, AttributeDirectionsError, fit_attribute_directions, model_identifier
from npe.editing.companions import Warn, companion_candidates, companion_path, ignored
from npe.errors import UserError
from npe.fileio import atomic_write_bytes

if TYPE_CHECKING:
    from npe.model import IAN

SUFFIX = ".directions.safetensors"
DEFAULT_COUNT = 20


class DirectionsError(UserError, ValueError):
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


def directions_path(weights: str | os.PathLike) -> Path:
    """NAME.directions.safetensors beside NAME.safetensors (``weights`` as file or bare NAME)."""
    return companion_path(weights, SUFFIX)


def fit_model_attributes(
    model: IAN,
    latents: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    conditions: dict[str, Sequence[str]] | None = None,
    method: str = "logistic",
) -> AttributeDirections:
    """Conditional attribute directions in the model's whitened latent coordinates, fitted on the
    latents of labelled training crops (N x D; ``labels`` N x A bool in ``names`` order)."""
    mean = model.latent_mean.detach().cpu().double().numpy()
    basis = model.latent_basis.detach().cpu().double().numpy()
    return fit_attribute_directions(latents, labels, names, mean, basis, model_identifier(model), conditions, method=method)


def save_directions(
    directions: Directions,
    path: str | os.PathLike,
    metadata: dict[str, str] | None = None,
    attributes: AttributeDirections | None = None,
) -> Path:
    """Write a directions file atomically (with the attribute directions too, when given)."""
    from safetensors.numpy import save

    target = Path(path)
    tensors = {"mean": directions.mean.copy(), "components": directions.components.copy(), "stds": directions.stds.copy()}
    header = {"npe": "directions", **(metadata or {})}
    if attributes is not None:
        if attributes.latent_dim != directions.latent_dim:
            raise DirectionsError(f"attribute directions have {attributes.latent_dim} latents, the principal ones {directions.latent_dim}")
        tensors.update(
            attribute_vectors=attributes.vectors.copy(),
            attribute_scales=attributes.scales.copy(),
            attribute_normals=attributes.normals.copy(),
            attribute_biases=attributes.biases.copy(),
        )
        header.update(attribute_names=json.dumps(list(attributes.names)), model_id=attributes.model_id)
    atomic_write_bytes(target, save(tensors, metadata=header))
    return target


def _read(target: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Tensors and metadata of a safetensors file; FileNotFoundError or OSError/SafetensorError/ValueError."""
    from safetensors.numpy import load

    data = target.read_bytes()
    tensors = load(data)
    header_size = int.from_bytes(data[:8], "little")
    metadata = json.loads(data[8 : 8 + header_size]).get("__metadata__") or {}
    return tensors, metadata


def _rebuild_hint() -> str:
    return "Recreate it with 'npe directions --weights W --data ARCHIVE --labels LABELS'."


def load_directions(path: str | os.PathLike, latent_dim: int | None = None, model_id: str | None = None) -> Directions:
    """Read the principal directions of a file; DirectionsError with a readable message if it is
    unusable, or (``model_id`` given and the file names another model) made for another model."""
    from safetensors import SafetensorError

    target = Path(path)
    try:
        tensors, metadata = _read(target)
        directions = Directions(tensors["mean"], tensors["components"], tensors["stds"])
    except FileNotFoundError:
        raise DirectionsError(f"Directions file '{target}' does not exist.") from None
    except (OSError, SafetensorError, KeyError, ValueError) as exc:
        raise DirectionsError(f"Directions file '{target}' is damaged or not a directions file ({exc}). {_rebuild_hint()}") from exc
    if latent_dim is not None and directions.latent_dim != latent_dim:
        raise DirectionsError(
            f"Directions file '{target}' is for a model with {directions.latent_dim} latents, not {latent_dim}."
        )
    stored = metadata.get("model_id")
    if model_id is not None and stored is not None and stored != model_id:
        raise DirectionsError(f"Directions file '{target}' was made for another model (id {stored}; this one is {model_id}). {_rebuild_hint()}")
    return directions


def load_attributes(path: str | os.PathLike, model: IAN | None = None, *, model_id: str | None = None) -> AttributeDirections:
    """Read the attribute directions of a file. With ``model`` (or ``model_id``) they must have been
    made for that model: AttributeDirectionsError otherwise, and for a file without attributes."""
    from safetensors import SafetensorError

    target = Path(path)
    try:
        tensors, metadata = _read(target)
    except FileNotFoundError:
        raise AttributeDirectionsError(f"Directions file '{target}' does not exist.") from None
    except (OSError, SafetensorError, ValueError) as exc:
        raise AttributeDirectionsError(f"Directions file '{target}' is damaged or not a directions file ({exc}). {_rebuild_hint()}") from exc
    if "attribute_vectors" not in tensors:
        raise AttributeDirectionsError(f"Directions file '{target}' has no attribute directions. {_rebuild_hint()}")
    try:
        attributes = AttributeDirections(
            tuple(json.loads(metadata["attribute_names"])),
            tensors["attribute_vectors"],
            tensors["attribute_scales"],
            tensors["attribute_normals"],
            tensors["attribute_biases"],
            metadata["model_id"],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AttributeDirectionsError(f"Directions file '{target}' has damaged attribute directions ({exc}). {_rebuild_hint()}") from exc
    expected = model_identifier(model) if model is not None else model_id
    if expected is not None and attributes.model_id != expected:
        raise AttributeDirectionsError(
            f"The attribute directions in '{target}' were made for another model (id {attributes.model_id}; "
            f"this model is {expected}). {_rebuild_hint()}"
        )
    if model is not None and attributes.latent_dim != model.config.latent_dim:
        raise AttributeDirectionsError(f"The attribute directions in '{target}' have {attributes.latent_dim} latents, the model {model.config.latent_dim}.")
    return attributes


def find_directions(model: IAN, weights: str | os.PathLike | None = None, warn: Warn | None = None) -> Directions | None:
    """The directions shipped beside ``weights`` (or beside the bundled model of this name), or None
    if there are none or they do not fit the model. Never raises: a file that cannot be used is
    reported to ``warn`` (see npe.editing.companions.ignored)."""
    candidates = companion_candidates(model, weights, SUFFIX)
    identifier = model_identifier(model) if candidates else None
    for candidate in candidates:
        try:
            return load_directions(candidate, model.config.latent_dim, identifier)
        except DirectionsError as exc:
            ignored(warn, candidate, "directions", exc)
    return None


def find_attributes(model: IAN, weights: str | os.PathLike | None = None) -> AttributeDirections:
    """The attribute directions for ``model`` beside ``weights`` (or beside the bundled model of
    this name). AttributeDirectionsError saying why when there are none that fit this model."""
    candidates = companion_candidates(model, weights, SUFFIX)
    problems = []
    for candidate in candidates:
        try:
            return load_attributes(candidate, model)
        except AttributeDirectionsError as exc:
            problems.append(str(exc))
    if not problems:
        where = f"beside '{weights}'" if weights is not None else "for this model"
        raise AttributeDirectionsError(f"No directions file {where}. {_rebuild_hint()}")
    raise AttributeDirectionsError(" ".join(problems))
