"""The window's actions, menus and toolbar: what each command is called, its icon, shortcuts and
tip, and where it appears. The slots are the window's methods."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar, QToolButton, QWidget

from npe.ui import icons
from npe.ui.canvas import Tool

if TYPE_CHECKING:
    from npe.ui.main_window import MainWindow


def add_action(
    window: MainWindow,
    key: str,
    text: str,
    slot: Callable[..., object] | None = None,
    icon: str | None = None,
    shortcuts: Sequence[QKeySequence | QKeySequence.StandardKey | str] = (),
    tip: str | None = None,
    checkable: bool = False,
) -> QAction:
    action = QAction(text, window)
    action.setObjectName(key)
    if icon:
        icons.bind(action, icon)
    keys: list[QKeySequence] = []
    for shortcut in shortcuts:
        if isinstance(shortcut, QKeySequence.StandardKey):
            keys.extend(QKeySequence.keyBindings(shortcut))
        else:
            keys.append(QKeySequence(shortcut))
    unique: list[QKeySequence] = []
    for sequence in keys:
        if not sequence.isEmpty() and all(sequence != other for other in unique):
            unique.append(sequence)
    if unique:
        action.setShortcuts(unique)
    hint = tip or text.replace("&", "").rstrip("…")
    if unique:
        hint += f" ({unique[0].toString(QKeySequence.SequenceFormat.NativeText)})"
    action.setToolTip(hint)
    action.setStatusTip(tip or "")
    action.setCheckable(checkable)
    if slot is not None:
        action.triggered.connect(slot)
    window.addAction(action)  # shortcuts work even when the toolbar/menu is hidden
    window.named_actions[key] = action
    return action

def make_actions(window: MainWindow) -> None:
    """Every action of the window (window.named_actions[key]), with icons, shortcuts and tips."""
    a = functools.partial(add_action, window)
    S = QKeySequence.StandardKey
    a("open-photo", "&Open Photo…", window.open_photo_dialog, "open-photo", [S.Open], "Open a photo of a face")
    a("open-session", "Open &Session…", window.open_session_dialog, "open-session", ["Ctrl+Shift+O"], "Open a saved npe session")
    a("save-session", "&Save Session", window.save_session, "save-session", [S.Save], "Save the photo, edits and history to its .npe file")
    a("save-session-as", "Save Session &As…", window.save_session_dialog, "save-session", ["Ctrl+Shift+S"], "Save the photo, edits and history to a new .npe file")
    a("export", "&Export Image…", window.export_dialog, "export", ["Ctrl+E"], "Write the edited photo at full resolution (PNG, JPEG, WebP or TIFF)")
    strip = a("strip-metadata", "Export &Without Metadata", window.settings.set_strip_metadata, None, [],
              "Exported images leave out camera, date and location data (EXIF) and npe's edit notes; the colour profile stays",
              checkable=True)
    strip.setChecked(window.settings.strip_metadata())
    a("random", "&Random Face", window.open_random, "random", ["Ctrl+R"], "Start from a new random face")
    a("quit", "&Quit", window.close, "quit", [S.Quit])
    a("undo", "&Undo", window.controller.undo, "undo", [S.Undo])
    a("redo", "&Redo", window.controller.redo, "redo", [S.Redo, "Ctrl+Shift+Z", "Ctrl+Y"])
    a("commit", "&Update Original", window.controller.commit, "commit", ["Ctrl+Return"],
      "Make the current result the new original (re-encode it), so further edits build on it")
    a("reset", "Reset to &Original", window.controller.reset, "reset", ["Ctrl+Shift+R"], "Discard the edits since the last update")
    a("clear-protect", "&Clear Protect Mask", window.controller.clear_protect, "clear-protect", [], "Remove all protection")
    a("compare", "&Compare with Original", window.canvas.set_compare, "compare", ["\\"],
      "Show the original instead of the result (or hold Space)", checkable=True)
    a("change-mask", "Show Change &Mask", window.canvas.set_show_change_mask, "change-mask", ["M"],
      "Overlay the mask M that decides where the edit reaches the photo", checkable=True)
    show_protect = a("show-protect", "Show &Protected Areas", window.canvas.set_show_protect, None, [], None, checkable=True)
    show_protect.setChecked(True)
    a("show-face-box", "Show &Face Box", window.canvas.set_show_face_box, "face-box", ["F"],
      "Outline the square the face is cropped from", checkable=True)
    a("zoom-in", "Zoom &In", lambda: window.canvas.zoom_by(1.25), "zoom-in", [S.ZoomIn, "Ctrl+="])
    a("zoom-out", "Zoom &Out", lambda: window.canvas.zoom_by(0.8), "zoom-out", [S.ZoomOut])
    a("zoom-fit", "&Fit to Window", window.canvas.fit, "zoom-fit", ["Ctrl+0"])
    a("zoom-actual", "&Actual Pixels", lambda: window.canvas.set_zoom(1.0), "zoom-actual", ["Ctrl+1"])
    a("zoom-face", "&Zoom to Face", lambda: window.canvas.zoom_to_face(), "zoom-face", ["Ctrl+2"], "Fill the view with the face being edited")
    tools = QActionGroup(window)
    tools.setExclusive(True)
    for key, text, icon, shortcut, tip, tool in (
        ("tool-paint", "&Brush", "brush", "B", "Paint a colour: the model changes the face to match", Tool.PAINT),
        ("tool-protect", "&Protect", "protect", "P", "Paint areas that must not change (or right-drag)", Tool.PROTECT),
        ("tool-unprotect", "&Unprotect", "unprotect", "E", "Erase protection (or Shift + right-drag)", Tool.UNPROTECT),
        ("tool-pick", "&Eyedropper", "eyedropper", "I", "Pick the brush colour from the image (or Ctrl-click)", Tool.PICK),
        ("tool-face-box", "Face &Box", "face-box", "X",
         "Move the face square (drag inside), resize it (drag a corner), rotate it (drag the handle or Shift + drag)", Tool.FACE_BOX),
    ):
        action = a(key, text, None, icon, [shortcut], tip, checkable=True)
        action.setData(tool.value)
        action.triggered.connect(lambda _=False, t=tool: window.set_tool(t))
        tools.addAction(action)
    window.named_actions["tool-paint"].setChecked(True)
    a("brush-smaller", "S&maller Brush", lambda: window.nudge_brush_size(-1), None, ["["])
    a("brush-larger", "&Larger Brush", lambda: window.nudge_brush_size(+1), None, ["]"])
    a("about", "&About npe", window.show_about, "about", [S.HelpContents], "Version, model card and licences")

def make_menus(window: MainWindow) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    for key in ("open-photo", "random"):
        file_menu.addAction(window.named_actions[key])
    window.recent_menu = QMenu("Open &Recent", window)
    icons.bind(window.recent_menu.menuAction(), "recent")
    file_menu.addMenu(window.recent_menu)
    file_menu.addSeparator()
    for key in ("open-session", "save-session", "save-session-as", "export", "strip-metadata"):
        file_menu.addAction(window.named_actions[key])
    file_menu.addSeparator()
    file_menu.addAction(window.named_actions["quit"])

    edit_menu = bar.addMenu("&Edit")
    for entry in ("undo", "redo", None, "commit", "reset", None, "clear-protect"):
        edit_menu.addSeparator() if entry is None else edit_menu.addAction(window.named_actions[entry])

    view_menu = bar.addMenu("&View")
    for entry in ("compare", "change-mask", "show-protect", "show-face-box", None, "zoom-in", "zoom-out", "zoom-fit", "zoom-actual", "zoom-face"):
        view_menu.addSeparator() if entry is None else view_menu.addAction(window.named_actions[entry])
    view_menu.addSeparator()
    theme_menu = view_menu.addMenu("&Theme")
    icons.bind(theme_menu.menuAction(), "theme")
    window.theme_actions = QActionGroup(window)
    for mode, text in (("system", "Follow &System"), ("dark", "&Dark"), ("light", "&Light")):
        action = QAction(text, window, checkable=True)
        action.setData(mode)
        action.triggered.connect(lambda _=False, m=mode: window.set_theme(m))
        window.theme_actions.addAction(action)
        theme_menu.addAction(action)
    panels_menu = view_menu.addMenu("&Panels")
    for dock in window.docks.values():
        panels_menu.addAction(dock.toggleViewAction())

    tools_menu = bar.addMenu("&Tools")
    for entry in ("tool-paint", "tool-protect", "tool-unprotect", "tool-pick", "tool-face-box", None, "brush-smaller", "brush-larger"):
        tools_menu.addSeparator() if entry is None else tools_menu.addAction(window.named_actions[entry])

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(window.named_actions["about"])

def make_toolbar(window: MainWindow) -> None:
    toolbar = QToolBar("Main toolbar", window)
    toolbar.setObjectName("mainToolbar")
    toolbar.setMovable(False)
    toolbar.setIconSize(QSize(20, 20))
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
    groups = (
        ("open-photo", "random", "export"),
        ("undo", "redo"),
        ("tool-paint", "tool-protect", "tool-unprotect", "tool-pick", "tool-face-box"),
        ("compare", "change-mask"),
        ("zoom-out", "zoom-fit", "zoom-in"),
    )
    for index, group in enumerate(groups):
        if index:
            toolbar.addSeparator()
        for key in group:
            toolbar.addAction(window.named_actions[key])
    spacer = QWidget()
    spacer.setSizePolicy(spacer.sizePolicy().Policy.Expanding, spacer.sizePolicy().Policy.Preferred)
    toolbar.addWidget(spacer)
    for key in ("reset", "commit"):
        toolbar.addAction(window.named_actions[key])
        button = cast(QToolButton, toolbar.widgetForAction(window.named_actions[key]))
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.widgetForAction(window.named_actions["commit"]).setObjectName("primaryButton")
    window.toolbar = toolbar
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
