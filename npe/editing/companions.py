"""Files that travel beside a model's weights (NAME.directions.safetensors, NAME.gallery.safetensors)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from npe.model import IAN


Warn = Callable[[str], object]  # takes one line for the user (npe.editing.workspace.Workspace.warn)


def weights_name(model: IAN) -> str | None:
    """The name npe.model.load_weights gave ``model`` (its weights' file stem), or None for a model
    built in memory."""
    return model.name or None


def ignored(warn: Warn | None, path: Path, what: str, problem: Exception) -> None:
    """Report a companion file that exists but cannot be used: a damaged file must not vanish
    without a word (the editor then runs without its directions or with the fallback gallery)."""
    if warn is not None:
        warn(f"ignored the {what} file '{path}': {problem}")


def companion_path(weights: str | os.PathLike, suffix: str) -> Path:
    """NAME + suffix beside NAME.safetensors (``weights`` given as either file or the bare NAME)."""
    path = Path(weights)
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + suffix)


def companion_candidates(model: IAN, weights: str | os.PathLike | None, suffix: str) -> list[Path]:
    """Where a companion file may be, best first: beside ``weights``, then beside the bundled model
    of the same name. Only existing files are listed."""
    candidates = []
    if weights is not None:
        candidates.append(companion_path(weights, suffix))
    name = weights_name(model)
    if name:
        try:
            from npe.resources import models_dir

            candidates.append(models_dir() / f"{name}{suffix}")
        except FileNotFoundError:
            pass
    return [candidate for candidate in candidates if candidate.is_file()]
