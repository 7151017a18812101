"""Principal directions of the latent space (PCA of E(x) over training faces) for the editor's sliders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Directions:
    """``components`` (K x D, orthonormal rows, largest variance first), ``stds`` (K: standard
    deviation of the encoded faces along each), ``mean`` (D: mean latent of the encoded faces)."""

    mean: np.ndarray
    components: np.ndarray
    stds: np.ndarray

    def __len__(self) -> int:
        return int(self.components.shape[0])
