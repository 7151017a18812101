"""Build hook: ship the checkout's models/ and resources/ inside the package, as npe/_data/models and
npe/_data/resources, where npe.resources finds them wherever npe is installed.

Everything else about the package is declared in pyproject.toml. The data stays at the top of the
checkout (not under npe/) so editable installs and the source tree use it in place: this hook only
runs for real builds (wheels, and wheels built from the sdist, which carries both folders; see
MANIFEST.in). Patterns, not file names: weights land in models/ as training produces them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

# Folder at the top of the checkout -> the files of it that ship. models/ is picky on purpose: a
# training checkpoint (*.pt, hundreds of MB) or a preview grid left there must not end up in the wheel.
SHIPPED_DATA: dict[str, tuple[str, ...]] = {
    "models": ("*.safetensors", "*.json", "*.md"),  # weights, their configs, directions/gallery, MODEL_CARD.md
    "resources": ("**/*",),  # icons, stylesheet, sample gallery: all of it
}
PACKAGE_DATA_DIR = ("npe", "_data")


def _is_junk(relative: Path) -> bool:
    return any(part.startswith(".") or part == "__pycache__" for part in relative.parts) or relative.suffix in (".pyc", ".pt", ".tmp")


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


if __name__ == "__main__":  # setuptools runs this file as __main__; tests and the bundle spec import the helpers
    from setuptools import setup
    from setuptools.command.build_py import build_py

    class BuildPyWithData(build_py):
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
            for source, relative in shipped_data_files(Path(__file__).resolve().parent):
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                self.copy_file(str(source), str(destination), preserve_mode=False)

        def get_outputs(self, include_bytecode: bool = True) -> list[str]:
            outputs = super().get_outputs(include_bytecode)
            if not self.editable_mode:
                target = Path(self.build_lib, *PACKAGE_DATA_DIR)
                root = Path(__file__).resolve().parent
                outputs += [str(target / relative) for _, relative in shipped_data_files(root)]
            return outputs

    setup(cmdclass={"build_py": BuildPyWithData})
