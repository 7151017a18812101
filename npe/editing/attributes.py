"""Named attribute directions (Smiling, Eyeglasses, Male...): fitted from labelled codes, applied to z.

Fitting follows InterFaceGAN (Shen et al. 2020) in the whitened coordinates of the model's latent
distribution: u = B^-1 (z - m) with the model's ``latent_mean`` m and ``latent_basis`` B, so every
direction of u has unit variance over the training codes. Per attribute:

1. a linear classifier on u (L2-regularised logistic regression, Newton's method: no sklearn), whose
   normal ``w_u`` is the attribute's raw direction;
2. conditioning: ``w_u`` minus its projection on the normals of the attributes it must leave alone,
   so moving along it keeps those classifiers' scores exactly where they were;
3. back to z: ``d = B d_u`` (unit length), with ``scale`` the standard deviation of the training
   codes along ``d``. An edit of v standard deviations is ``z + v * scale * d``: exact, deterministic
   and reversible.

Pure numpy; the model enters only as its latent distribution (m, B) and an identifier.
"""

from __future__ import annotations

import hashlib
import weakref
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from npe.errors import UserError

if TYPE_CHECKING:
    from npe.model import IAN

# The attributes `npe directions` fits by default (CelebA names), and which others each is made
# orthogonal to. Conditioning on every correlated label would also remove what an attribute *is*
# (a smile opens the mouth, so Smiling keeps Mouth_Slightly_Open), so each list names the
# confounders a user does not expect to change with that slider: Male, Eyeglasses, Smiling and
# Bangs nearly everywhere (measured: without Male, Heavy_Makeup +2 std turned 61% of men into women
# and Mustache +2 std 54% of women into men).
DEFAULT_CONDITIONS: dict[str, tuple[str, ...]] = {
    "Smiling": ("Male", "Eyeglasses", "Bangs", "Young"),
    "Mouth_Slightly_Open": ("Male", "Eyeglasses", "Bangs", "Young"),
    "Bangs": ("Male", "Eyeglasses", "Smiling", "Young"),
    "Eyeglasses": ("Male", "Smiling", "Bangs", "Young"),
    "Male": ("Smiling", "Eyeglasses", "Bangs"),
    "Young": ("Male", "Smiling", "Eyeglasses", "Bangs"),
    "Blond_Hair": ("Male", "Smiling", "Eyeglasses", "Bangs", "Black_Hair"),
    "Black_Hair": ("Male", "Smiling", "Eyeglasses", "Bangs", "Blond_Hair"),
    "No_Beard": ("Male", "Smiling", "Eyeglasses", "Bangs"),
    "Heavy_Makeup": ("Male", "Smiling", "Eyeglasses", "Bangs", "Young"),
    "Wavy_Hair": ("Male", "Smiling", "Eyeglasses", "Bangs"),
}
# Fitted but dropped (benchmarks/attribute_quality.py, bundled model): Bald (+2 std: 13% read bald,
# by eye only a higher hairline) and Mustache (30%, and by eye the same darker beard shadow as
# No_Beard -2 std). `--attributes` can still fit them, conditioned on Male, Smiling and Eyeglasses.
DEFAULT_ATTRIBUTES: tuple[str, ...] = tuple(DEFAULT_CONDITIONS)

# Conditions for an attribute outside DEFAULT_CONDITIONS fitted with the default conditions.
_FALLBACK_CONDITIONS = ("Male", "Smiling", "Eyeglasses")


class UnknownAttributeError(UserError, KeyError):
    """An attribute name that the directions do not have; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AttributeDirectionsError(UserError, ValueError):
    """Attribute directions that are missing, damaged or made for another model."""


_IDENTIFIERS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()  # inference weights are frozen


def model_identifier(model: IAN) -> str:
    """A short fingerprint of the weights an encoder/generator pair computes with (SHA-256 over the
    inference tensors, names and float32 bytes, in name order): directions fitted on one model's
    codes mean nothing for another's, even at the same latent size. Hashing takes a moment, so a
    loaded model (frozen for inference) is hashed once; a model still training is hashed each time."""
    training = any(parameter.requires_grad for parameter in model.parameters())
    if not training and model in _IDENTIFIERS:
        return _IDENTIFIERS[model]
    identifier = _hash_model(model)
    if not training:
        _IDENTIFIERS[model] = identifier
    return identifier


def _hash_model(model: IAN) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.inference_state_dict().items()):
        array = np.ascontiguousarray(tensor.detach().cpu().float().numpy())
        digest.update(name.encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class AttributeDirections:
    """``names`` (A CelebA attribute names), ``vectors`` (A x D unit directions in z), ``scales``
    (A: standard deviation of the training codes along each), ``normals`` (A x D: each attribute's
    linear-classifier normal in z, so ``z @ normals[i] + biases[i]`` is its logit), ``model_id``."""

    names: tuple[str, ...]
    vectors: np.ndarray
    scales: np.ndarray
    normals: np.ndarray
    biases: np.ndarray
    model_id: str

    def __post_init__(self) -> None:
        names = tuple(str(name) for name in self.names)
        vectors = np.array(self.vectors, dtype=np.float32)
        normals = np.array(self.normals, dtype=np.float32)
        scales = np.array(self.scales, dtype=np.float32).reshape(-1)
        biases = np.array(self.biases, dtype=np.float32).reshape(-1)
        count = len(names)
        if vectors.ndim != 2 or vectors.shape[0] != count or normals.shape != vectors.shape or scales.size != count or biases.size != count:
            raise AttributeDirectionsError(
                f"inconsistent attribute directions: {count} names, vectors {vectors.shape}, normals {normals.shape}, "
                f"scales {scales.shape}, biases {biases.shape}"
            )
        if len({name.lower() for name in names}) != count:
            raise AttributeDirectionsError(f"attribute names repeat (case-insensitively): {', '.join(names)}")
        arrays = (vectors, normals, scales, biases)
        if not all(np.isfinite(array).all() for array in arrays) or (scales <= 0).any():
            raise AttributeDirectionsError("attribute directions contain non-finite values or non-positive scales")
        object.__setattr__(self, "names", names)
        for field_name, value in zip(("vectors", "normals", "scales", "biases"), arrays):
            value.setflags(write=False)
            object.__setattr__(self, field_name, value)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def latent_dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self, name: str) -> int:
        """Position of attribute ``name`` (case-insensitive: 'smiling', 'EYEGLASSES')."""
        wanted = str(name).strip().lower()
        for position, known in enumerate(self.names):
            if known.lower() == wanted:
                return position
        raise UnknownAttributeError(f"Unknown attribute '{name}'. Known attributes: {', '.join(self.names)}.")

    def canonical(self, name: str) -> str:
        """The stored spelling of ``name`` ('smiling' -> 'Smiling')."""
        return self.names[self.index(name)]

    def offset(self, values: Mapping[str, float]) -> np.ndarray:
        """sum_i v_i * scale_i * d_i for ``{name: v_i in standard deviations}`` (D float32)."""
        total = np.zeros(self.latent_dim, np.float64)
        for name, value in values.items():
            value = float(value)
            if not np.isfinite(value):
                raise UserError(f"Attribute value for '{name}' must be a finite number of standard deviations, got {value}.")
            position = self.index(name)
            total += value * float(self.scales[position]) * self.vectors[position].astype(np.float64)
        return total.astype(np.float32)

    def coordinates(self, offset: np.ndarray) -> np.ndarray:
        """The values v (A, in standard deviations) whose ``offset(v)`` is nearest ``offset`` (D) in
        the least-squares sense: the inverse of ``offset`` on combinations of the directions (the
        directions are linearly independent but not orthogonal, so a projection would not do)."""
        basis = self.vectors.astype(np.float64) * self.scales.astype(np.float64)[:, None]  # A x D
        solution, *_ = np.linalg.lstsq(basis.T, np.asarray(offset, dtype=np.float64), rcond=None)
        return solution.astype(np.float32)

    def scores(self, latent: np.ndarray) -> np.ndarray:
        """Each attribute's linear-classifier logit at ``latent`` (D, or N x D -> N x A)."""
        return np.asarray(latent, dtype=np.float32) @ self.normals.T + self.biases


def apply_attributes(latent: np.ndarray, directions: AttributeDirections, values: Mapping[str, float]) -> np.ndarray:
    """``latent`` (D or N x D) moved by ``{name: value in std}``: z + sum v_i * scale_i * d_i.
    Applying the negated values to the result gives ``latent`` back (up to float32 rounding)."""
    latent = np.asarray(latent, dtype=np.float32)
    if latent.shape[-1] != directions.latent_dim:
        raise AttributeDirectionsError(
            f"attribute directions are for {directions.latent_dim} latents, the code has {latent.shape[-1]}"
        )
    return (latent + directions.offset(values)).astype(np.float32)


def move_to(directions: AttributeDirections, latent: np.ndarray, reference: np.ndarray, name: str, value: float) -> tuple[np.ndarray, float]:
    """``latent`` moved along attribute ``name`` until its coordinate (``coordinates(latent -
    reference)``) reads ``value``: (the moved latent, the change in standard deviations)."""
    if not np.isfinite(value):
        raise UserError(f"An attribute value must be a finite number of standard deviations, got {value}.")
    latent = np.asarray(latent, dtype=np.float32)
    current = directions.coordinates(latent - np.asarray(reference, dtype=np.float32))[directions.index(name)]
    change = float(value) - float(current)
    return apply_attributes(latent, directions, {name: change}), change


def parse_attribute_values(assignments: Sequence[str]) -> dict[str, float]:
    """``['smiling=2', 'Male=-1.5']`` (the CLI's repeated ``--attribute NAME=VALUE``) as
    ``{'smiling': 2.0, 'Male': -1.5}``; names are checked later, against the directions."""
    values: dict[str, float] = {}
    for text in assignments:
        name, sep, number = str(text).partition("=")
        name = name.strip()
        try:
            value = float(number) if sep and name else float("nan")
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            raise UserError(f"'{text}' is not NAME=VALUE with VALUE a number of standard deviations (e.g. smiling=2).")
        if name.lower() in (known.lower() for known in values):
            raise UserError(f"Attribute '{name}' is given twice.")
        values[name] = value
    return values


def format_sigma(value: float) -> str:
    """A value in standard deviations as the editor shows it: '+1.5 σ', '−2 σ', '0 σ'."""
    text = f"{float(value):+.2f}".rstrip("0").rstrip(".")
    if text in ("+0", "-0"):
        return "0 σ"
    return text.replace("-", "\u2212") + " σ"


def edit_label(values: Mapping[str, float]) -> str:
    """The undo step's label for moving by ``values``: 'Smiling +1.5 σ', 'Smiling +2 σ, Male −1 σ'."""
    return ", ".join(f"{display_name(name)} {format_sigma(value)}" for name, value in values.items())


def display_name(name: str) -> str:
    """'Mouth_Slightly_Open' -> 'Mouth slightly open' for a slider label."""
    text = str(name).replace("_", " ")
    return text[:1].upper() + text[1:].lower()


# --- labels ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributeLabels:
    """CelebA labels: ``files`` (base names, '000001.jpg'), ``names`` (40 attributes), ``values``
    (len(files) x len(names) bool: the attribute is present)."""

    files: tuple[str, ...]
    names: tuple[str, ...]
    values: np.ndarray

    def for_images(self, image_names: Sequence[str], attributes: Sequence[str]) -> np.ndarray:
        """N x A bool labels for ``image_names`` (member paths; matched on the file's base name)."""
        rows = {name: row for row, name in enumerate(self.files)}
        columns = []
        for attribute in attributes:
            if attribute not in self.names:
                raise UnknownAttributeError(f"Unknown attribute '{attribute}'. The labels have: {', '.join(self.names)}.")
            columns.append(self.names.index(attribute))
        picked = []
        for image in image_names:
            base = Path(str(image)).name
            if base not in rows:
                raise AttributeDirectionsError(f"no labels for image '{image}' in the attribute file")
            picked.append(rows[base])
        return self.values[np.asarray(picked, dtype=np.int64)][:, columns]


def read_celeba_attributes(path: str | os.PathLike) -> AttributeLabels:
    """Read CelebA's list_attr_celeba.txt format: a count line, a line of names, then one line per
    file ('000001.jpg -1 1 ...', 1 = present, -1 = absent)."""
    target = Path(path)
    try:
        lines = target.read_text().splitlines()
        count = int(lines[0].strip())
        names = tuple(lines[1].split())
        files, rows = [], []
        for line in lines[2 : 2 + count]:
            parts = line.split()
            if len(parts) != len(names) + 1:
                raise ValueError(f"line for {parts[:1]} has {len(parts) - 1} values, not {len(names)}")
            files.append(parts[0])
            rows.append([int(value) > 0 for value in parts[1:]])
        if len(files) != count:
            raise ValueError(f"the header says {count} rows, the file has {len(files)}")
    except FileNotFoundError:
        raise AttributeDirectionsError(f"Attribute labels file '{target}' does not exist.") from None
    except (OSError, ValueError, IndexError) as exc:
        raise AttributeDirectionsError(f"Attribute labels file '{target}' is not in CelebA's list_attr format ({exc}).") from exc
    return AttributeLabels(tuple(files), names, np.asarray(rows, dtype=bool).reshape(len(files), len(names)))


# --- fitting --------------------------------------------------------------------------------------


def logistic_normal(features: np.ndarray, labels: np.ndarray, l2: float = 1e-2, steps: int = 25) -> tuple[np.ndarray, float]:
    """(w, b) of an L2-regularised logistic regression of bool ``labels`` on ``features`` (N x D),
    classes weighted to equal total weight (rare attributes such as Eyeglasses are not ignored);
    Newton's method, which converges in a handful of steps on whitened features."""
    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(labels, dtype=bool)
    positives = int(target.sum())
    if positives == 0 or positives == target.size:
        raise AttributeDirectionsError("an attribute needs both present and absent examples to fit a direction")
    weights = np.where(target, 0.5 / positives, 0.5 / (target.size - positives))
    design = np.hstack([features, np.ones((features.shape[0], 1))])
    theta = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    y = target.astype(np.float64)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -30, 30)))
        gradient = design.T @ (weights * (p - y)) + penalty * theta
        hessian = (design * (weights * p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return theta[:-1], float(theta[-1])


def project_out(vector: np.ndarray, others: np.ndarray) -> np.ndarray:
    """``vector`` minus its orthogonal projection on the span of the rows of ``others`` (K x D)."""
    vector = np.asarray(vector, dtype=np.float64)
    others = np.asarray(others, dtype=np.float64).reshape(-1, vector.size)
    if others.shape[0] == 0:
        return vector
    basis, _ = np.linalg.qr(others.T)  # D x K orthonormal columns spanning the rows
    return vector - basis @ (basis.T @ vector)


def fit_attribute_directions(
    latents: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    latent_mean: np.ndarray,
    latent_basis: np.ndarray,
    model_id: str,
    conditions: Mapping[str, Sequence[str]] | None = None,
    l2: float = 1e-2,
    method: str = "logistic",
) -> AttributeDirections:
    """Fit one conditional direction per attribute from training codes ``latents`` (N x D) and their
    bool ``labels`` (N x A, columns in ``names`` order). ``conditions[name]`` lists the attributes
    (among ``names``) that ``name``'s direction is made orthogonal to (default DEFAULT_CONDITIONS,
    and Male/Smiling/Eyeglasses for a name missing from it; given ``conditions``, a name missing
    from them is not conditioned). ``method`` "logistic" moves along the classifier normal
    (InterFaceGAN); "means" along the difference of the class means in whitened coordinates (the
    conditioning still uses the classifier normals, which are what reads each attribute)."""
    if method not in ("logistic", "means"):
        raise ValueError(f"method must be 'logistic' or 'means', got {method!r}")
    latents = np.asarray(latents, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    names = tuple(names)
    if labels.shape != (latents.shape[0], len(names)):
        raise AttributeDirectionsError(f"labels {labels.shape} do not match {latents.shape[0]} codes x {len(names)} attributes")
    # Given conditions are taken as they are; by default an attribute outside DEFAULT_CONDITIONS
    # (Bald, Mustache...) is still made orthogonal to the main confounders.
    fallback = _FALLBACK_CONDITIONS if conditions is None else ()
    conditions = DEFAULT_CONDITIONS if conditions is None else conditions
    mean = np.asarray(latent_mean, dtype=np.float64).reshape(-1)
    basis = np.asarray(latent_basis, dtype=np.float64)
    whitened = np.linalg.solve(basis, (latents - mean).T).T  # u = B^-1 (z - m)
    fitted = [logistic_normal(whitened, labels[:, column], l2) for column in range(len(names))]
    normals_u = np.stack([w for w, _ in fitted])
    raw_u = normals_u
    if method == "means":
        raw_u = np.stack([whitened[labels[:, c]].mean(0) - whitened[~labels[:, c]].mean(0) for c in range(len(names))])
    vectors, scales = [], []
    for position, name in enumerate(names):
        others = [names.index(other) for other in conditions.get(name, fallback) if other in names and other != name]
        direction_u = project_out(raw_u[position], normals_u[others])
        direction = basis @ direction_u  # B d_u: keeps w_other . (B d_u) = w_other_u . d_u = 0
        direction /= np.linalg.norm(direction)
        vectors.append(direction)
        scales.append(float(np.std(latents @ direction, ddof=1)))
    # The logit in z: w_u . B^-1 (z - m) + b = (B^-T w_u) . z + (b - (B^-T w_u) . m)
    normals = np.linalg.solve(basis.T, normals_u.T).T
    biases = np.array([b for _, b in fitted]) - normals @ mean
    return AttributeDirections(names, np.stack(vectors), np.array(scales), normals, biases, model_id)
