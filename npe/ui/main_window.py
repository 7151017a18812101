"""The editor window: canvas in the middle, panels in docks on the right, actions in menus and a
toolbar, status bar. It wires widgets to the controller and handles files, dialogs and settings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QColor, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QPushButton, QScrollArea, QToolBar, QWidget

from npe.ui import icons
from npe.ui.canvas import Canvas, Tool
from npe.ui.controller import EditorController
from npe.ui.dialogs import AboutDialog, ask_other_model, ask_whole_image, show_failure
from npe.ui.face_bar import FaceBar, FaceBoxWiring, above
from npe.ui.failures import Failure
from npe.ui.file_actions import FileActions
from npe.ui.frames import HistoryInfo, SourceInfo
from npe.ui.menus import make_actions, make_menus, make_toolbar
from npe.ui.panels.attributes import AttributesPanel
from npe.ui.panels.brush import BrushPanel
from npe.ui.panels.history import HistoryPanel
from npe.ui.panels.latent import LatentPanel
from npe.ui.panels.samples import SamplesPanel
from npe.ui.settings import Settings
from npe.ui.theme import Theme

if TYPE_CHECKING:
    from npe.editing.workspace import ModelSummary

APP_NAME = "Neural Photo Editor"
LIGHTEN_PER_NOTCH = 0.1  # brightness units per wheel notch (the engine's suggestion)


def _scrollable(panel: QWidget) -> QScrollArea:
    """``panel`` in a frameless vertical scroll area, so a short window can still show all of it."""
    area = QScrollArea()
    area.setObjectName("panelScroll")
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


class MainWindow(FileActions, QMainWindow):
    """See the module doc."""

    fatal = Signal(object)  # Failure: the model could not be loaded; the app decides how to exit
    theme_actions: QActionGroup  # View > Theme (menus.make_menus)
    toolbar: QToolBar  # menus.make_toolbar

    def __init__(self, controller: EditorController, settings: Settings, theme: Theme | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.settings = settings
        self.theme = theme
        self.radius_override: float | None = None  # --radius, until the size slider moves
        self._protect_erase = False
        self._session_path: str | None = None  # where Ctrl+S saves without asking
        self._showing_dialog = False
        self._closing = False
        self._shut_down = False
        self.dataset: str | None = None  # --dataset: sample numbers pick faces of this collection
        self.headless = False  # scripted (--screenshot): failures are recorded, never shown as dialogs
        self.failures: list[Failure] = []
        self.warnings: list[str] = []  # shown in the status bar as they came
        self._unseen_warning: str | None = None
        self._photo_path: str | None = None  # the photo file open now (exports never suggest it)
        self.setObjectName("mainWindow")
        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(icons.app_icon())
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowNestedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        self.canvas = Canvas()
        self.face_bar = FaceBar()  # asks about the face box after a photo opens (face_bar.py)
        self.setCentralWidget(above(self.face_bar, self.canvas))
        self.named_actions: dict[str, QAction] = {}  # by name (menus.py); not QWidget.actions()
        make_actions(self)
        self._make_panels()
        make_menus(self)
        make_toolbar(self)
        self._make_status_bar()
        self._connect()
        self.face_box = FaceBoxWiring(self)
        if theme is not None:
            theme.changed.connect(self._theme_changed)
            self._theme_changed()
        self._arrange_docks()
        self._restore_settings()
        self._update_history_actions()
        self._update_document_actions()

    # --- construction --------------------------------------------------------------------------
    def _make_panels(self) -> None:
        tool_actions = [self.named_actions[k] for k in ("tool-paint", "tool-protect", "tool-unprotect", "tool-pick")]
        self.brush_panel = BrushPanel(tool_actions)
        self.attributes_panel = AttributesPanel()
        self.latent_panel = LatentPanel(self.named_actions["reset"], self.attributes_panel)
        self.history_panel = HistoryPanel()
        self.samples_panel = SamplesPanel(self.named_actions["random"], self.named_actions["open-photo"])
        self.docks: dict[str, QDockWidget] = {}
        for key, title, widget in (
            ("brush", "Brush", self.brush_panel),
            ("latent", "Latent", self.latent_panel),
            ("samples", "Faces", self.samples_panel),
            ("history", "History", self.history_panel),
        ):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"{key}Dock")
            dock.setWidget(widget if key == "history" else _scrollable(widget))
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable | QDockWidget.DockWidgetFeature.DockWidgetClosable)
            self.docks[key] = dock
        # Two columns on the right: documents and brush (faces, brush, history), then the latents.
        area = Qt.DockWidgetArea.RightDockWidgetArea
        self.addDockWidget(area, self.docks["samples"])
        self.addDockWidget(area, self.docks["latent"])
        self.splitDockWidget(self.docks["samples"], self.docks["latent"], Qt.Orientation.Horizontal)
        self.splitDockWidget(self.docks["samples"], self.docks["brush"], Qt.Orientation.Vertical)
        self.splitDockWidget(self.docks["brush"], self.docks["history"], Qt.Orientation.Vertical)

    def _arrange_docks(self) -> None:
        """Default dock sizes: each panel as tall as it needs, the history takes the rest."""
        self.resizeDocks([self.docks["samples"], self.docks["latent"]], [276, 276], Qt.Orientation.Horizontal)
        title = self.fontMetrics().height() + 18
        self.samples_panel.set_recent([])
        self.resizeDocks(
            [self.docks["samples"], self.docks["brush"], self.docks["history"]],
            [self.samples_panel.sizeHint().height() + title, self.brush_panel.sizeHint().height() + title, 300],
            Qt.Orientation.Vertical,
        )

    def _make_status_bar(self) -> None:
        status = self.statusBar()
        status.setSizeGripEnabled(False)
        self.busy_label = QLabel("")
        self.busy_label.setObjectName("statusBusy")
        self.zoom_label = QLabel("")
        self.timing_label = QLabel("— ms / update")
        self.timing_label.setToolTip("Time of the last model update (brush step, latent change)")
        self.model_label = QLabel("Loading model…")
        self.device_label = QLabel("")
        self.device_label.setObjectName("statusDevice")
        # Fitting the model to an opened photo: its progress and a Cancel button (Esc does the same).
        self.fitting_label = QLabel("")
        self.fitting_cancel = QPushButton("Cancel")
        self.fitting_cancel.setToolTip("Stop fitting the model to this photo (Esc); it opens with the encoder's face")
        self.fitting_cancel.clicked.connect(self.controller.cancel_fitting)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self._escape)
        status.addWidget(self.fitting_label)
        status.addWidget(self.fitting_cancel)
        self._fitting_progress(-1.0)
        for label in (self.busy_label, self.zoom_label, self.timing_label, self.model_label, self.device_label):
            label.setObjectName(label.objectName() or "statusField")
            status.addPermanentWidget(label)
        status.showMessage("Loading the model…")

    def _connect(self) -> None:
        c = self.controller
        c.modelLoaded.connect(self._model_loaded)
        c.modelFailed.connect(self._model_failed)
        c.warned.connect(self._warned)
        c.hinted.connect(lambda message: self._status(message, 10000))
        c.sourceChanged.connect(self._source_changed)
        c.imageChanged.connect(self.canvas.set_image)
        c.protectChanged.connect(self.canvas.set_protect)
        c.latentChanged.connect(self.latent_panel.set_latent)
        c.historyChanged.connect(self._history_changed)
        c.failed.connect(self._failed)
        c.busyChanged.connect(self._busy_changed)
        c.updateTimed.connect(lambda ms: self.timing_label.setText(f"{ms:.0f} ms / update"))
        c.fittingProgress.connect(self._fitting_progress)

        canvas = self.canvas
        canvas.strokeStarted.connect(self._stroke_started)
        canvas.strokeMoved.connect(lambda x, y: c.stroke_to(x, y, canvas.scale()))
        canvas.strokeFinished.connect(c.end_stroke)
        canvas.protectStarted.connect(self._protect_started)
        canvas.protectMoved.connect(self._protect_moved)
        canvas.protectFinished.connect(self._protect_finished)
        canvas.lightenRequested.connect(self._lighten)
        canvas.hoverMoved.connect(lambda _: c.end_wheel())  # the pointer moved: a wheel spin is over
        canvas.colorPicked.connect(self._color_picked)
        canvas.zoomChanged.connect(lambda scale: self.zoom_label.setText(f"{scale * 100:.0f} %"))
        canvas.compareChanged.connect(self._compare_changed)

        self.brush_panel.colorChanged.connect(self._brush_changed)
        self.brush_panel.sizeChanged.connect(self._size_changed)
        self.brush_panel.strengthChanged.connect(self.settings.set_brush_strength)
        self.brush_panel.reachChanged.connect(self.settings.set_brush_reach)
        self.latent_panel.latentEdited.connect(c.set_latent_value)
        self.latent_panel.directionEdited.connect(c.set_direction)
        self.latent_panel.editFinished.connect(c.end_gesture)
        self.attributes_panel.follow(c)
        self.history_panel.jumpRequested.connect(c.jump_to)
        self.history_panel.alternativeChosen.connect(c.use_alternative)
        c.alternativesChanged.connect(self.history_panel.set_alternatives)
        self.samples_panel.sampleRequested.connect(self.open_sample)
        self.samples_panel.recentRequested.connect(self.open_path)

    def _restore_settings(self) -> None:
        s = self.settings
        self.brush_panel.set_color(QColor(s.brush_color()))
        self.brush_panel.size_slider.setValue(s.brush_size())
        self.brush_panel.strength.setValue(s.brush_strength())
        self.brush_panel.reach.setValue(s.brush_reach())
        self._brush_changed()
        geometry, state = s.geometry(), s.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        if state is not None:
            self.restoreState(state)
        self._refresh_recent()
        mode = self.theme.mode if self.theme is not None else "system"
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == mode)

    # --- opening documents ---------------------------------------------------------------------
    def open_initial(self, image: str | None = None, index: int | None = None) -> None:
        """What the window shows first: the photo or sample face asked for; asked for neither, the
        example photo (npe.resources.example_photo: a real portrait with its face found, what npe is
        for, rather than a 64-pixel sample face blown up to fill the window), or sample face 0
        when it is missing or does not open."""
        if image:
            self.open_path(image)
        elif index is not None:
            self.open_sample(index)
        else:
            from npe.resources import example_photo

            example = example_photo()
            if example is None:
                self.open_sample(0)
                return
            self._session_path = None

            def opened(ok: bool) -> None:
                if ok:
                    self._status("An example photo (public domain). Open your own with File ▸ Open Photo… (Ctrl+O).", 10000)
                else:
                    self.open_sample(0)

            self.controller.open_photo(str(example), on_done=opened)

    def set_dataset(self, dataset: str) -> None:
        """Browse the user's own face collection instead of the model's sample faces."""
        self.dataset = dataset
        self.samples_panel.set_dataset(Path(dataset).name)

    def open_sample(self, index: int) -> None:
        self._session_path = None
        self.samples_panel.set_current_sample(index)
        if self.dataset:
            self.controller.open_dataset_face(self.dataset, index)
        else:
            self.controller.open_sample(index)

    def open_random(self) -> None:
        self._session_path = None
        self.controller.open_random()

    # --- editing input ---------------------------------------------------------------------------
    def set_tool(self, tool: Tool) -> None:
        self.canvas.set_tool(tool)
        self.named_actions[f"tool-{tool.value}"].setChecked(True)

    def brush_radius(self) -> float:
        return self.radius_override if self.radius_override is not None else self.brush_panel.radius_pixels()

    def _stroke_started(self, x: float, y: float) -> None:
        color = self.brush_panel.color
        self.controller.begin_stroke(
            x, y, (color.red(), color.green(), color.blue()), self.brush_radius(),
            self.brush_panel.strength_percent() / 100.0, self.canvas.scale(), reach=self.brush_panel.reach_crop_pixels(),
        )

    def _protect_started(self, erase: bool) -> None:
        self._protect_erase = erase
        self.controller.begin_gesture("Unprotect" if erase else "Protect", object())  # a new drag

    def _protect_moved(self, points: list[tuple[float, float]]) -> None:
        self.controller.protect(points, self.brush_radius(), self._protect_erase)

    def _protect_finished(self) -> None:
        self.controller.end_gesture()

    def _lighten(self, x: float, y: float, notches: float) -> None:
        self.controller.lighten(x, y, LIGHTEN_PER_NOTCH * notches, self.brush_radius(), self.canvas.scale(), reach=self.brush_panel.reach_crop_pixels())

    def _color_picked(self, color: QColor) -> None:
        self.brush_panel.set_color(color)
        if self.canvas.tool is Tool.PICK:
            self.set_tool(Tool.PAINT)
        self.statusBar().showMessage(f"Brush colour {color.name()}", 3000)

    def _brush_changed(self, *_: object) -> None:
        self.canvas.set_brush(self.brush_panel.color, self.brush_radius())
        self.settings.set_brush_color(self.brush_panel.color.name())

    def _size_changed(self, percent: int) -> None:
        self.radius_override = None
        self.settings.set_brush_size(percent)
        self._brush_changed()

    def nudge_brush_size(self, step: int) -> None:
        self.brush_panel.size_slider.setValue(self.brush_panel.size_slider.value() + step)

    def _compare_changed(self, on: bool) -> None:
        if on:
            self.statusBar().showMessage("Showing the original")
        else:
            self.statusBar().clearMessage()

    # --- controller feedback ---------------------------------------------------------------------
    def _model_loaded(self, info: ModelSummary) -> None:
        self.model_label.setText(f"{info.name} · {info.resolution} px · {info.latent_dim} latents")
        self.model_label.setToolTip("The generative model (Introspective Adversarial Network) in use")
        self.device_label.setText(info.device)
        if not self.dataset:
            self.samples_panel.set_sample_count(info.gallery_size, info.gallery_generated)
        self.canvas.set_placeholder("Opening…")
        self._status(info.attribute_warning or "Model ready", 15000 if info.attribute_warning else 3000)

    def _model_failed(self, failure: Failure) -> None:
        self.failures.append(failure)
        self.canvas.set_placeholder("The model could not be loaded.")
        self.model_label.setText("No model")
        self.fatal.emit(failure)

    def _source_changed(self, source: SourceInfo) -> None:
        self.canvas.set_source(source.original, source.photo_size, source.box, source.resolution)
        self.brush_panel.set_face_size(source.box[2], source.resolution)
        self.samples_panel.show_source(source.name)
        if source.is_sample:
            self._photo_path = None
        self.latent_panel.set_direction_count(source.direction_count)
        self._brush_changed()
        self._update_title()
        self._update_document_actions()

    def _history_changed(self, history: HistoryInfo) -> None:
        source = self.controller.source
        origin = f"Original: {source.name}" if source is not None else "Original"
        self.history_panel.set_history(history, origin)
        self._update_history_actions()
        self._update_title()

    def _update_history_actions(self) -> None:
        history = self.controller.history
        undo, redo = self.named_actions["undo"], self.named_actions["redo"]
        undo.setEnabled(history.can_undo)
        redo.setEnabled(history.can_redo)
        undo.setText(f"&Undo {history.labels[history.index - 1]}" if history.can_undo and history.index > 0 else "&Undo")
        redo.setText(f"&Redo {history.labels[history.index]}" if history.can_redo and history.index < len(history.labels) else "&Redo")

    def _update_document_actions(self) -> None:
        has = self.controller.has_document
        for key in ("save-session", "save-session-as", "export", "commit", "reset", "clear-protect", "compare", "change-mask", "zoom-in", "zoom-out", "zoom-fit", "zoom-actual", "zoom-face"):
            self.named_actions[key].setEnabled(has)

    def _update_title(self) -> None:
        source = self.controller.source
        name = source.name if source is not None else ""
        self.setWindowTitle(f"{name}[*] — {APP_NAME}" if name else APP_NAME)
        self.setWindowModified(self.controller.modified)

    def _fitting_progress(self, fraction: float) -> None:
        fitting = fraction >= 0
        self.fitting_label.setText(f"Fitting the model to this photo… {fraction * 100:.0f}%" if fitting else "")
        self.fitting_label.setVisible(fitting)
        self.fitting_cancel.setVisible(fitting)

    def _escape(self) -> None:
        if self.fitting_cancel.isVisible():
            self.controller.cancel_fitting()

    def _busy_changed(self, busy: bool) -> None:
        self.busy_label.setText("Working…" if busy else "")

    def _warned(self, message: str) -> None:
        self.warnings.append(message)
        self._unseen_warning = message
        if self.headless:
            print(f"npe: warning: {message}", file=sys.stderr)
        self.statusBar().showMessage(f"Warning: {message}", 15000)

    def _status(self, message: str, ms: int) -> None:
        """A passing status message, unless a warning that came with the same job is still unseen."""
        if self._unseen_warning is not None:
            self.statusBar().showMessage(f"Warning: {self._unseen_warning}", 15000)
            self._unseen_warning = None
        else:
            self.statusBar().showMessage(message, ms)

    def _failed(self, failure: Failure) -> None:
        self.failures.append(failure)
        if self.headless:  # recorded: the script driving the window (--screenshot) reports each once
            return
        if self._showing_dialog or self._closing:
            print(f"npe: {failure.message}", file=sys.stderr)
            return
        self._showing_dialog = True
        try:
            if failure.kind == "no-face" and failure.path:
                if ask_whole_image(self, failure):
                    self.open_path(failure.path, whole_image=True)
            elif failure.kind == "other-model" and failure.path:
                if ask_other_model(self, failure):
                    path = failure.path
                    self.controller.open_session(path, on_done=lambda ok: self._opened(path, ok), allow_other_model=True)
            else:
                show_failure(self, failure)
        finally:
            self._showing_dialog = False

    # --- window ----------------------------------------------------------------------------------
    def show_about(self) -> None:
        AboutDialog(self.controller.model_info, self).exec()

    def _theme_changed(self) -> None:
        if self.theme is not None:
            self.canvas.background = QColor(self.theme.colors["canvas"])
            self.canvas.update()

    def set_theme(self, mode: str) -> None:
        if self.theme is not None:
            self.theme.set_mode(mode)
        self.settings.set_theme(mode)
        for action in self.theme_actions.actions():
            action.setChecked(action.data() == mode)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                event.acceptProposedAction()
                # Open after the drop returns, so the drag source is not kept waiting by dialogs.
                QTimer.singleShot(0, lambda p=url.toLocalFile(): self.open_path(p))
                return

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._shut_down:
            self.controller.end_gesture()
            self.controller.wait_idle(10_000)
            if not self._may_discard("closing"):
                event.ignore()
                return
            self._closing = True
            self.settings.save_window(self.saveGeometry(), self.saveState())
            self.settings.sync()
            self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the model thread (idempotent)."""
        if not self._shut_down:
            self._shut_down = True
            self.controller.shutdown()
