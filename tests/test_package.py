"""Package-level rules: cheap `import npe`, Qt only in npe.ui (import-linter), the `npe` command's basics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import npe
from npe.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT).stdout


def test_import_npe_pulls_in_neither_torch_nor_qt():
    loaded = _python("import sys, npe, npe.cli, npe.config, npe.resources; print(' '.join(sorted(sys.modules)))").split()
    assert not [name for name in loaded if name.split(".")[0] in ("torch", "PySide6", "qtawesome", "numpy")]


def test_non_ui_packages_never_import_qt():
    code = (
        "import sys, npe.model, npe.data.faces, npe.data.image_io, npe.train.loop;"
        "import importlib.util as u;"
        "[__import__(m) for m in ('npe.editing.session',) if u.find_spec(m)];"
        "print(' '.join(sorted(sys.modules)))"
    )
    loaded = _python(code).split()
    assert "torch" in loaded
    assert not [name for name in loaded if name.split(".")[0] in ("PySide6", "qtawesome")]


def test_import_linter_contracts_hold():
    """The layering of pyproject.toml's [tool.importlinter]; a missing import-linter is a failure
    (it is a test dependency), not a skip."""
    import importlinter  # noqa: F401 - fails loudly when the tool is missing

    script = f"from importlinter.cli import lint_imports; raise SystemExit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True))"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"npe {npe.__version__}"


EVERY_SUBCOMMAND = ["train", "eval", "reconstruct", "sample", "edit", "faces", "directions", "gallery"]


def test_help_lists_every_subcommand(capsys):
    """`npe --help` has a line for each subcommand the command parser accepts, and no other."""
    import argparse

    from npe.cli import build_command_parser

    (subparsers,) = [a for a in build_command_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(subparsers.choices) == sorted(EVERY_SUBCOMMAND)
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    listed = [line.split()[0] for line in text.split("subcommands (see 'npe COMMAND --help'):\n")[1].split("\n\n")[0].splitlines()]
    assert listed == EVERY_SUBCOMMAND


@pytest.mark.parametrize("command", EVERY_SUBCOMMAND)
def test_each_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: npe {command}" in capsys.readouterr().out


def test_python_dash_m_npe_works():
    result = subprocess.run([sys.executable, "-m", "npe", "--version"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and npe.__version__ in result.stdout
