"""npe's build backend: setuptools.build_meta plus one build step, kept here so the top of the checkout
holds no setup.py or MANIFEST.in.

pyproject.toml names this module as the PEP 517 backend (``build-backend = "npe_build"``,
``backend-path = ["packaging"]``) and registers ``BuildPy`` as setuptools' build_py
(``[tool.setuptools.cmdclass]``); every hook below is setuptools' own. BuildPy ships the checkout's
models/ and resources/ inside the package, as npe/_data/models and npe/_data/resources, where
npe.resources finds them wherever npe is installed, and lists them (and packaging/) as its source
files, which is how setuptools' sdist picks them up.

The data stays at the top of the checkout (not under npe/) so editable installs and the source tree
use it in place: the copy only runs for real builds (wheels, and wheels built from the sdist, which
carries both folders and packaging/, this backend included). Patterns, not file names: weights land
in models/ as training produces them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

from setuptools.build_meta import (  # the PEP 517 and PEP 660 hooks, unchanged
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)
from setuptools.command.build_py import build_py

__all__ = [
    "BuildPy",
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
    "sdist_files",
    "shipped_data_files",
]

ROOT = Path(__file__).resolve().parent.parent  # the checkout, or an unpacked sdist

# Folder at the top of the checkout -> the files of it that ship. models/ is picky on purpose: a
# training checkpoint (*.pt, hundreds of MB) or a preview grid left there must not end up in the wheel.
SHIPPED_DATA: dict[str, tuple[str, ...]] = {
    "models": ("*.safetensors", "*.json", "*.md"),  # weights, their configs, directions/gallery, MODEL_CARD.md
    "resources": ("**/*",),  # icons, stylesheet, sample gallery: all of it
}
# In the sdist but not the wheel: this backend (a wheel built from the sdist needs it), the desktop
# entry, icons and the app recipe.
SDIST_ONLY = ("packaging",)
PACKAGE_DATA_DIR = ("npe", "_data")


def _is_junk(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in relative.parts) or relative.suffix in (
        ".pyc", ".pyo", ".pt", ".tmp",
    )


def shipped_data_files(root: Path) -> Iterator[tuple[Path, Path]]:
    """(file in the checkout, its path under npe/_data) for every data file a build ships."""
    for folder, patterns in SHIPPED_DATA.items():
        base = root / folder
        if not base.is_dir():  # e.g. models/ before the first weights are committed
            continue
        found = {path for pattern in patterns for path in base.glob(pattern) if path.is_file()}
        for path in sorted(found):
            relative = path.relative_to(base)
            if not _is_junk(relative):
                yield path, Path(folder) / relative


def sdist_files(root: Path) -> Iterator[Path]:
    """Files outside the package that the sdist carries, relative to ``root``: the shipped data
    (a wheel built from the sdist copies it again) and all of packaging/."""
    for _, relative in shipped_data_files(root):
        yield relative
    for folder in SDIST_ONLY:
        base = root / folder
        for path in sorted(base.rglob("*")):
            if path.is_file() and not _is_junk(path.relative_to(base)):
                yield path.relative_to(root)


class BuildPy(build_py):
    """build_py that also copies models/ and resources/ into npe/_data in the build tree."""

    def run(self) -> None:
        if not self.editable_mode:
            # pip builds in place and setuptools never empties build/lib: a module or weights file
            # deleted since the last build would otherwise still ship.
            shutil.rmtree(Path(self.build_lib, PACKAGE_DATA_DIR[0]), ignore_errors=True)
        super().run()
        if self.editable_mode:  # editable installs read the checkout's folders (npe.resources)
            return
        target = Path(self.build_lib, *PACKAGE_DATA_DIR)
        for source, relative in shipped_data_files(ROOT):
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            self.copy_file(str(source), str(destination), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if not self.editable_mode:
            target = Path(self.build_lib, *PACKAGE_DATA_DIR)
            outputs += [str(target / relative) for _, relative in shipped_data_files(ROOT)]
        return outputs

    def get_source_files(self) -> list[str]:
        # setuptools' sdist (and egg_info's SOURCES.txt) lists build_py's source files: adding the
        # data and packaging/ here puts them in the sdist without a MANIFEST.in. Paths are relative
        # to the project folder, where setuptools runs.
        return [*super().get_source_files(), *(str(relative) for relative in sdist_files(ROOT))]
