"""The editor's brain, no Qt: the workspace (model + current session), the edit session (a facade
over the document, renderer, brush and history), the masking technique, latent directions and the
sample gallery.

The names below load on first use, so ``npe.editing.errors`` stays cheap (no torch) for the GUI's
startup."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BrushSettings": "npe.editing.brush.settings",
    "EditSession": "npe.editing.session",
    "HistoryEntry": "npe.editing.session",
    "SessionError": "npe.editing.errors",
    "SessionEvents": "npe.editing.document",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'npe.editing' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
