"""Paths to bundled files (weights, directions, icons, sample gallery), wherever npe is installed."""

from __future__ import annotations

from importlib import resources as _resources
from pathlib import Path

DEFAULT_MODEL_NAME = "npe-celeba64"


def _package_data(kind: str) -> Path | None:
    """A data folder installed inside the package (wheel installs put it at npe/_data/KIND)."""
    try:
        candidate = Path(str(_resources.files("npe") / "_data" / kind))
    except (ModuleNotFoundError, TypeError):
        return None
    return candidate if candidate.is_dir() else None


def _checkout_data(kind: str) -> Path | None:
    """The same folder at the top of a source checkout (editable installs, running from the repo).
    Only a checkout counts (pyproject.toml beside npe/): in an installed npe the parent folder is
    site-packages, where another distribution's top-level 'models' or 'resources' may sit."""
    root = Path(__file__).resolve().parent.parent
    candidate = root / kind
    return candidate if candidate.is_dir() and (root / "pyproject.toml").is_file() else None


def data_dir(kind: str) -> Path:
    """The folder holding bundled files of one kind: 'models' or 'resources'."""
    for finder in (_package_data, _checkout_data):
        found = finder(kind)
        if found is not None:
            return found
    raise FileNotFoundError(
        f"npe's bundled '{kind}' folder is missing; reinstall npe (pip install --force-reinstall npe)."
    )


def models_dir() -> Path:
    return data_dir("models")


def resources_dir() -> Path:
    return data_dir("resources")


def example_photo() -> Path | None:
    """The photo the editor opens when it is given none: scikit-image's astronaut (Eileen Collins,
    a NASA portrait in the public domain, shipped inside scikit-image), or None if it is missing."""
    try:
        import skimage
    except ImportError:
        return None
    candidate = Path(skimage.__file__).resolve().parent / "data" / "astronaut.png"
    return candidate if candidate.is_file() else None


def default_weights() -> Path:
    """Path of the bundled model's .safetensors file (its .json config sits beside it)."""
    return models_dir() / f"{DEFAULT_MODEL_NAME}.safetensors"
