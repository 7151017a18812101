"""The look: Fusion style with a dark or light palette and one stylesheet (resources/style.qss).

'system' follows the desktop's colour scheme (QStyleHints.colorScheme) and switches live; when the
desktop does not say, the editor is dark, as photo editors usually are (colours read truer on it).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

THEMES = ("system", "dark", "light")

# name -> colour; the canvas and overlays read these too, so the look stays consistent.
DARK = {
    "window": "#26272b",
    "panel": "#2d2e33",
    "base": "#1f2023",
    "alternate": "#292a2e",
    "canvas": "#18191b",
    "text": "#e3e4e8",
    "muted": "#9a9ca3",
    "button": "#34363c",
    "border": "#3d3f46",
    "accent": "#4c8dff",
    "accent-text": "#ffffff",
    "disabled": "#6b6d74",
}
LIGHT = {
    "window": "#eef0f3",
    "panel": "#f7f8fa",
    "base": "#ffffff",
    "alternate": "#f1f3f6",
    "canvas": "#d9dce1",
    "text": "#1d1f23",
    "muted": "#5d6068",
    "button": "#ffffff",
    "border": "#c9ccd3",
    "accent": "#2f6fe4",
    "accent-text": "#ffffff",
    "disabled": "#a2a5ac",
}


def palette_for(colors: dict[str, str]) -> QPalette:
    c = {name: QColor(value) for name, value in colors.items()}
    palette = QPalette()
    role = QPalette.ColorRole
    for r, name in (
        (role.Window, "window"), (role.WindowText, "text"), (role.Base, "base"), (role.AlternateBase, "alternate"),
        (role.ToolTipBase, "panel"), (role.ToolTipText, "text"), (role.PlaceholderText, "muted"), (role.Text, "text"),
        (role.Button, "button"), (role.ButtonText, "text"), (role.BrightText, "accent-text"), (role.Highlight, "accent"),
        (role.HighlightedText, "accent-text"), (role.Link, "accent"), (role.Light, "border"), (role.Midlight, "button"),
        (role.Mid, "border"), (role.Dark, "base"), (role.Shadow, "canvas"),
    ):
        palette.setColor(r, c[name])
    for r in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, r, c["disabled"])
    palette.setColor(QPalette.ColorGroup.Disabled, role.Highlight, c["border"])
    return palette


def system_is_dark() -> bool:
    scheme = QGuiApplication.styleHints().colorScheme()
    return scheme != Qt.ColorScheme.Light  # Unknown -> dark


class Theme(QObject):
    """Applies a theme to the application and re-applies it when the system scheme changes."""

    changed = Signal()

    def __init__(self, app: QApplication, mode: str = "system") -> None:
        super().__init__(app)
        self._app = app
        self._mode = mode if mode in THEMES else "system"
        self.colors = DARK
        app.setStyle("Fusion")
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._scheme_changed)
        self.apply()

    @property
    def mode(self) -> str:
        return self._mode

    @property
    def dark(self) -> bool:
        return self.colors is DARK

    def set_mode(self, mode: str) -> None:
        if mode not in THEMES:
            raise ValueError(f"unknown theme {mode!r}; use one of {', '.join(THEMES)}")
        self._mode = mode
        self.apply()

    def apply(self) -> None:
        dark = system_is_dark() if self._mode == "system" else self._mode == "dark"
        self.colors = DARK if dark else LIGHT
        self._app.setPalette(palette_for(self.colors))
        self._app.setStyleSheet(stylesheet(self.colors))
        from npe.ui import icons

        icons.refresh()
        self.changed.emit()

    def _scheme_changed(self, _scheme: object) -> None:
        if self._mode == "system":
            self.apply()


def stylesheet(colors: dict[str, str]) -> str:
    """resources/style.qss with its @name placeholders filled in from ``colors``."""
    from npe.resources import resources_dir

    try:
        text = (resources_dir() / "style.qss").read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return ""
    # Longest names first so '@accent-text' is not eaten by '@accent'.
    for name in sorted(colors, key=len, reverse=True):
        text = text.replace(f"@{name}", colors[name])
    return text
