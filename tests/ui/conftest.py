"""GUI test fixtures: settings in a temp folder, a tiny model saved as weights (with principal
directions beside it), an editor window on it, and a check that no worker thread outlives a test."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


@pytest.fixture(autouse=True)
def fresh_settings(qapp, tmp_path_factory):
    """Every QSettings the editor makes lands in a fresh temp folder (napari's fresh-settings idea)."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_real_dialogs(monkeypatch):
    """A modal dialog would hang an offscreen test: any one a test did not expect fails it instead."""
    from PySide6.QtWidgets import QColorDialog, QFileDialog, QMessageBox

    def refuse(name):
        def dialog(*args, **kwargs):
            raise AssertionError(f"unexpected dialog {name}: {args[1:3]}")

        return dialog

    for name in ("warning", "critical", "information", "question", "about"):
        monkeypatch.setattr(QMessageBox, name, refuse(f"QMessageBox.{name}"))
    for name in ("getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, refuse(f"QFileDialog.{name}"))
    monkeypatch.setattr(QColorDialog, "getColor", refuse("QColorDialog.getColor"))


@pytest.fixture(autouse=True)
def pointer_reset(qapp):
    """Each test starts with the pointer off every window: a test whose first mouseMove goes where
    the previous test left the pointer would get no move event (a wheel gesture never ends)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QCursor

    QCursor.setPos(QPoint(-1000, -1000))
    yield


@pytest.fixture(autouse=True)
def no_thread_left(qapp):
    yield
    from npe.ui.workers import running_workers

    assert running_workers() == [], "a model worker thread is still running after the test"


@pytest.fixture
def calibrated_model(smooth_tiny_model):
    """A tiny random model whose faces react visibly to z (see tests/conftest.py)."""
    return smooth_tiny_model


@pytest.fixture
def weights(tmp_path, calibrated_model) -> str:
    """The tiny model saved as tmp/tiny.safetensors + .json, with 4 principal directions beside it."""
    from npe.editing.directions import directions_path, principal_directions, save_directions
    from npe.model import save_weights

    path = tmp_path / "tiny"
    save_weights(calibrated_model, path)
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(200, calibrated_model.config.latent_dim)) * np.linspace(2, 0.5, calibrated_model.config.latent_dim)
    save_directions(principal_directions(latents, count=4), directions_path(f"{path}.safetensors"))
    return f"{path}.safetensors"


def editor_args(**overrides) -> argparse.Namespace:
    values = dict(image=None, index=None, dataset=None, weights=None, device="cpu", screenshot=None, paint=[],
                  color="#ffffff", radius=None, size="1280x800")
    values.update(overrides)
    return argparse.Namespace(**values)


@pytest.fixture
def make_editor(qtbot, monkeypatch):
    """make_editor(**args) -> Editor, shown and idle; closed (discarding changes) after the test."""
    from PySide6.QtWidgets import QMessageBox

    from npe.ui.app import create_editor, start_editor

    editors = []

    def make(workspace=None, **overrides):
        if overrides.get("image") is None:
            overrides.setdefault("index", 0)  # sample face 0, as the tests expect (index=None: the example photo)
        args = editor_args(**overrides)
        editor = create_editor(args, workspace=workspace)
        editors.append(editor)
        editor.window.resize(1100, 760)
        editor.window.show()
        qtbot.waitExposed(editor.window)
        start_editor(editor, args, defer=False)
        assert editor.controller.wait_idle(60_000)
        return editor

    yield make
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    for editor in editors:
        editor.window.close()
        editor.window.shutdown()
        editor.window.deleteLater()
    _delete_later_now(qtbot)


def _delete_later_now(qtbot) -> None:
    """Carry out the deferred deletes now: Qt runs them only from an event loop, so without this every
    editor window (about 180 widgets) lives on, and every later editor's theme restyles them all."""
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    QCoreApplication.processEvents()


@pytest.fixture
def editor(make_editor, weights):
    return make_editor(weights=weights)
