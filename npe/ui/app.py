"""Starting the editor: the application, theme, settings, window and model; and --screenshot.

Startup is kept short: only Qt and numpy are imported before the window is painted; torch and the
model load on the worker thread afterwards while the window already shows "Loading the model…".
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from npe.editing.workspace import Workspace
    from npe.ui.controller import EditorController
    from npe.ui.failures import Failure
    from npe.ui.main_window import MainWindow

MODEL_HELP = (
    "Start npe with --weights PATH, where PATH is a NAME.safetensors file with its NAME.json beside it "
    "(e.g. one exported by 'npe train')."
)


@dataclass
class Editor:
    app: QApplication
    window: MainWindow
    controller: EditorController


def run_editor(args: argparse.Namespace) -> int:
    """The `npe` command without a subcommand: open the window (or, with --screenshot, render it
    offscreen to a PNG and exit). Returns the exit status."""
    if getattr(args, "screenshot", None):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from npe.errors import UserError
    from npe.ui.display import check_display_plugin

    problem = check_display_plugin()  # Qt would abort the process with a plugin error instead
    if problem:
        raise UserError(problem)
    if getattr(args, "screenshot", None):
        from npe.ui.screenshot import take_screenshot

        return take_screenshot(args)
    _check_arguments(args)
    editor = create_editor(args)
    editor.window.fatal.connect(lambda failure: _fatal(editor, failure))
    editor.window.show()
    editor.window.canvas.setFocus()
    start_editor(editor, args)
    heartbeat = _signal_heartbeat(editor.app)  # noqa: F841 - kept alive while the event loop runs
    return editor.app.exec()


def _signal_heartbeat(app: QApplication) -> object:
    """A timer that lets Python run its signal handlers while Qt's event loop waits: the one npe
    installs for SIGTERM (npe.fileio.remove_temps_on_signals: an export's temp file is removed,
    then the process ends) would otherwise wait for the next mouse move."""
    from PySide6.QtCore import QTimer

    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return timer


def _check_arguments(args: argparse.Namespace) -> None:
    from npe.errors import UserError

    if getattr(args, "dataset", None) and getattr(args, "image", None):
        raise UserError("Give either a photo or --dataset with --index N, not both.")
    if getattr(args, "paint", None):
        raise UserError("--paint only works together with --screenshot.")
    image = getattr(args, "image", None)
    if image and not os.path.exists(image):
        raise UserError(f"'{image}' does not exist. Check the path of the photo to open.")
    if image and getattr(args, "index", None) is not None:
        raise UserError("Give either a photo or --index N, not both.")


def application() -> QApplication:
    """The QApplication (reused if one exists, as under pytest-qt)."""
    from PySide6.QtWidgets import QApplication

    app = cast(QApplication, QApplication.instance())  # a QApplication when there is one (npe's, or pytest-qt's)
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("npe")
    app.setApplicationDisplayName("Neural Photo Editor")
    app.setDesktopFileName("npe")  # Wayland matches the window to npe.desktop (packaging/linux/) by this
    app.setOrganizationName("npe")
    from npe import __version__

    app.setApplicationVersion(__version__)
    return app


def create_editor(args: argparse.Namespace, *, read_only_settings: bool = False, workspace: Workspace | None = None) -> Editor:
    """Application, theme, settings, controller (with its worker thread, on ``workspace`` or a new
    one) and window; nothing loaded yet."""
    app = application()
    from npe.ui import icons
    from npe.ui.controller import EditorController
    from npe.ui.main_window import MainWindow
    from npe.ui.settings import Settings
    from npe.ui.theme import Theme

    settings = Settings(read_only=read_only_settings)
    theme = Theme(app, settings.theme())
    app.setWindowIcon(icons.app_icon())
    controller = EditorController(workspace)
    window = MainWindow(controller, settings, theme)
    if getattr(args, "radius", None) is not None:
        window.radius_override = float(args.radius)
    if getattr(args, "dataset", None):
        window.set_dataset(args.dataset)
    return Editor(app, window, controller)


def start_editor(editor: Editor, args: argparse.Namespace, *, defer: bool = True) -> None:
    """Load the model and open the first face: once the window has painted (so it appears at once),
    or now when not ``defer``."""
    from PySide6.QtCore import QTimer

    started = False

    def start() -> None:
        nonlocal started
        if started:
            return
        started = True
        editor.controller.load_model(getattr(args, "weights", None), getattr(args, "device", "auto") or "auto")
        editor.window.open_initial(getattr(args, "image", None), getattr(args, "index", None))

    if not defer:
        start()
        return
    editor.window.canvas.firstPainted.connect(lambda: QTimer.singleShot(0, start))
    QTimer.singleShot(300, start)  # in case the window is never painted (e.g. minimised)


def model_failure_message(failure: Failure) -> str:
    return f"npe could not load its model.\n\n{failure.message}\n\n{MODEL_HELP}"


def _fatal(editor: Editor, failure: Failure) -> None:
    from PySide6.QtWidgets import QMessageBox

    print(f"npe: {failure.message}", file=sys.stderr)
    QMessageBox.critical(editor.window, "Model not available", model_failure_message(failure))
    editor.window.shutdown()
    editor.app.exit(2)
