"""Packaging: the wheel ships the weights, icons and stylesheet, and an installed npe runs from
anywhere (a fresh venv, cwd outside the checkout); the desktop entry and icons are well-formed."""

from __future__ import annotations

import configparser
import hashlib
import importlib.util
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import npe
from npe.resources import DEFAULT_MODEL_NAME

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)
SUBPROCESS_TIMEOUT = 300
STALE_BUILD_FILES = ("npe/_deleted_module.py", "npe/_data/models/deleted.safetensors")


def _build_module():
    """The build backend, packaging/npe_build.py, for its file rules (importing it builds nothing)."""
    spec = importlib.util.spec_from_file_location("npe_build", PACKAGING / "npe_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tracked_files(*folders: str) -> list[str] | None:
    """Files git tracks under ``folders`` (None outside a git checkout)."""
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        return None
    listing = subprocess.run(["git", "ls-files", "-z", "--", *folders], cwd=ROOT, capture_output=True, text=True)
    return [name for name in listing.stdout.split("\0") if name] if listing.returncode == 0 else None


def _copy_source_tree(target: Path) -> Path:
    """The checkout as the next commit would see it (tracked + untracked-not-ignored files), so the
    build never writes into the checkout's own build/ and stray ignored files stay out."""
    listing = None
    if (ROOT / ".git").exists() and shutil.which("git"):
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
        )
        listing = [name for name in result.stdout.split("\0") if name] if result.returncode == 0 else None
    if listing is None:  # an unpacked sdist: copy everything but build outputs
        shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".*"))
        return target
    for name in listing:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def _clean_env(tmp: Path) -> dict[str, str]:
    """No PYTHONPATH (the checkout must not leak in), offscreen Qt, settings in a temp folder, one thread."""
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp / "config"),
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        OMP_NUM_THREADS="1",
    )
    return env


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """npe's wheel, built offline (no build isolation) from a copy of the checkout."""
    base = tmp_path_factory.mktemp("wheel")
    source = _copy_source_tree(base / "src")
    for stale in STALE_BUILD_FILES:  # left by an earlier in-place build; the next wheel must not carry them
        (source / "build" / "lib" / stale).parent.mkdir(parents=True, exist_ok=True)
        (source / "build" / "lib" / stale).write_text("stale\n")
    out = base / "dist"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(out), str(source)],
        cwd=base, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, env=_clean_env(base),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("npe-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv outside the checkout with the wheel installed; torch, PySide6 and pip come from the
    interpreter running the tests. `--system-site-packages` would point at the *base* interpreter, which
    lacks them when the suite itself runs in a venv, so a .pth names this interpreter's site folders
    instead (plain paths: the .pth files inside them, such as an editable npe's, are not processed)."""
    base = tmp_path_factory.mktemp("venv")
    env_dir = base / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, cwd=base, timeout=SUBPROCESS_TIMEOUT)
    probe = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                           capture_output=True, text=True, check=True, timeout=SUBPROCESS_TIMEOUT)
    parent_sites = [path for path in (*site.getsitepackages(), site.getusersitepackages()) if Path(path).is_dir()]
    (Path(probe.stdout.strip()) / "_npe_test_parent_site.pth").write_text("".join(f"{path}\n" for path in parent_sites))
    # The system's pip, run by the venv's Python, installs into the venv; --ignore-installed so an
    # npe installed system-wide (e.g. editable) does not count as "already satisfied".
    result = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
        cwd=base, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, env=_clean_env(base),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return env_dir


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=_clean_env(cwd), capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT)


@pytest.mark.slow
def test_wheel_ships_every_data_file(wheel):
    with zipfile.ZipFile(wheel) as archive:
        contents = {name: archive.read(name) for name in archive.namelist() if name.startswith("npe/_data/")}
    expected = {f"npe/_data/{relative.as_posix()}": source for source, relative in _build_module().shipped_data_files(ROOT)}
    assert sorted(set(expected) - set(contents)) == [], "data files missing from the wheel"
    assert sorted(set(contents) - set(expected)) == [], "unexpected files under npe/_data"
    for name, source in expected.items():
        assert _sha256(contents[name]) == _sha256(source.read_bytes()), f"{name} differs from {source}"
    assert "npe/_data/resources/icons/npe.svg" in contents
    assert "npe/_data/resources/style.qss" in contents

    tracked = _tracked_files("models", "resources")
    if tracked is not None:  # a committed file the ship rules in npe_build.py skip would silently not ship
        visible = [name for name in tracked if not any(part.startswith(".") for part in name.split("/"))]
        assert sorted(f"npe/_data/{name}" for name in visible if f"npe/_data/{name}" not in contents) == []

    weights = [name for name in contents if name.startswith("npe/_data/models/") and name.endswith(".safetensors")]
    # IAN weights need their JSON config; companions and the face detector's networks (npe.data.mtcnn) do not.
    models = [name for name in weights if not name.endswith((".directions.safetensors", ".gallery.safetensors", "/mtcnn-face-detector.safetensors"))]
    for name in models:
        assert name.removesuffix(".safetensors") + ".json" in contents, f"{name} ships without its config"
    if models:
        assert f"npe/_data/models/{DEFAULT_MODEL_NAME}.safetensors" in contents, "the wheel has weights but not the default model"
        assert "npe/_data/models/MODEL_CARD.md" in contents
    assert not [name for name in contents if name.endswith((".pt", ".tmp", ".pyc"))]


@pytest.mark.slow
def test_wheel_has_the_version_the_command_and_no_stale_files(wheel):
    assert wheel.name.startswith(f"npe-{npe.__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        entry_points = archive.read(f"npe-{npe.__version__}.dist-info/entry_points.txt").decode()
        names = set(archive.namelist())
    assert "npe = npe.cli:main" in entry_points
    assert not names & set(STALE_BUILD_FILES)
    sources = {path.relative_to(ROOT).as_posix() for path in (ROOT / "npe").rglob("*.py")}
    assert {name for name in names if name.endswith(".py")} <= sources


@pytest.mark.slow
def test_installed_npe_comes_from_the_venv_and_finds_its_data(venv, tmp_path):
    code = (
        "import npe, npe.resources as r; print(npe.__file__); print(r.resources_dir());"
        "print(r.models_dir() if (r.resources_dir().parent / 'models').is_dir() else '-')"
    )
    result = _run([str(venv / "bin" / "python"), "-c", code], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    module_file, resources, models = (Path(line) if line != "-" else None for line in result.stdout.splitlines())
    assert module_file.resolve().is_relative_to(venv.resolve()), f"npe imported from {module_file}, not the venv"
    assert resources.resolve().is_relative_to(venv.resolve()) and resources.parts[-2:] == ("_data", "resources")
    assert (resources / "icons" / "npe.svg").is_file()
    if models is not None:
        assert models.resolve().is_relative_to(venv.resolve())


@pytest.mark.slow
def test_installed_npe_version(venv, tmp_path):
    result = _run([str(venv / "bin" / "npe"), "--version"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"npe {npe.__version__}"


@pytest.mark.slow
def test_installed_npe_renders_the_editor(venv, wheel, tmp_path, tiny_model):
    """`npe --screenshot` from the installed app: with the bundled model once the wheel has one,
    with a tiny model saved here before that."""
    from PIL import Image

    from npe.model import save_weights

    with zipfile.ZipFile(wheel) as archive:
        bundled = f"npe/_data/models/{DEFAULT_MODEL_NAME}.safetensors" in archive.namelist()
    shot = tmp_path / "shot.png"
    command = [str(venv / "bin" / "npe"), "--screenshot", str(shot), "--index", "0", "--size", "960x640"]
    if not bundled:
        weights, _ = save_weights(tiny_model, tmp_path / "tiny")
        command += ["--weights", str(weights)]
    result = _run(command, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    with Image.open(shot) as image:
        image.load()
        assert image.size[0] >= 640 and image.size[1] >= 400
        pixels = np.asarray(image.convert("RGB").resize((64, 40))).reshape(-1, 3)
    assert len(np.unique(pixels, axis=0)) > 20  # a drawn window, not a blank


def test_desktop_entry():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(PACKAGING / "linux" / "npe.desktop", encoding="utf-8")
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Exec"] == "npe %f"
    assert desktop["Icon"] == "npe"
    assert desktop["Terminal"] == "false"
    mime_types = desktop["MimeType"].rstrip(";").split(";")
    assert {"image/jpeg", "image/png", "application/x-npe-session"} <= set(mime_types)
    for key in ("Categories", "MimeType", "Keywords"):
        assert desktop[key].endswith(";"), f"{key} must end with ';'"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_passes_desktop_file_validate():
    result = subprocess.run(["desktop-file-validate", str(PACKAGING / "linux" / "npe.desktop")], capture_output=True, text=True)
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout + result.stderr


def test_session_mime_type():
    import xml.etree.ElementTree as ElementTree

    namespace = "{http://www.freedesktop.org/standards/shared-mime-info}"
    (mime_type,) = ElementTree.parse(PACKAGING / "linux" / "npe-session.xml").getroot().iter(f"{namespace}mime-type")
    assert mime_type.get("type") == "application/x-npe-session"
    assert mime_type.find(f"{namespace}glob").get("pattern") == "*.npe"


def test_app_icons_at_every_size():
    from PIL import Image

    for size in ICON_SIZES:
        path = PACKAGING / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "npe.png"
        with Image.open(path) as image:
            assert image.size == (size, size) and image.mode == "RGBA", path
            assert image.getpixel((0, 0))[3] == 0, f"{path}: the corners should be transparent"
        assert path.stat().st_size < 100_000
    scalable = PACKAGING / "icons" / "hicolor" / "scalable" / "apps" / "npe.svg"
    assert scalable.read_bytes() == (ROOT / "resources" / "icons" / "npe.svg").read_bytes(), (
        "the app icon changed: run python packaging/make_icons.py and commit the icons"
    )


def test_build_ships_by_pattern_and_skips_checkpoints(tmp_path):
    root = tmp_path / "checkout"
    for name in ("models/a.safetensors", "models/a.json", "models/a.directions.safetensors", "models/MODEL_CARD.md",
                 "models/checkpoint.pt", "models/.a.safetensors.x1.tmp", "models/grid.png",
                 "resources/style.qss", "resources/icons/npe.svg", "resources/icons/__pycache__/x.pyc"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    shipped = sorted(relative.as_posix() for _, relative in _build_module().shipped_data_files(root))
    assert shipped == [
        "models/MODEL_CARD.md", "models/a.directions.safetensors", "models/a.json", "models/a.safetensors",
        "resources/icons/npe.svg", "resources/style.qss",
    ]


def test_installed_layout_ignores_other_top_level_folders(tmp_path):
    """In site-packages, a 'models' folder beside npe/ belongs to someone else: only npe/_data counts."""
    site = tmp_path / "site"
    (site / "npe").mkdir(parents=True)
    for name in ("__init__.py", "resources.py"):
        shutil.copy2(ROOT / "npe" / name, site / "npe" / name)
    (site / "models").mkdir()
    (site / "npe" / "_data" / "resources").mkdir(parents=True)
    code = (
        "import npe.resources as r\n"
        "print(r.resources_dir())\n"
        "try:\n    print(r.models_dir())\nexcept FileNotFoundError:\n    print('missing')\n"
    )
    env = _clean_env(tmp_path) | {"PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(site / "npe" / "_data" / "resources"), "missing"]
