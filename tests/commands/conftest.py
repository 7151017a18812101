"""Fixtures for the subcommand tests: the editing tests' tiny model, its saved weights and photos."""

from __future__ import annotations

from tests.editing.conftest import astronaut_path, model, photo, photo_path, weights  # noqa: F401  (fixtures, shared)
