"""What the editor remembers between runs (brush, window layout, recent files, theme), via QSettings.

Always an INI file in the user's config folder, so tests can redirect every instance to a temp
folder with ``QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, tmp)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QByteArray, QSettings

from npe.editing.brush import DEFAULT_REACH

ORGANIZATION = "npe"
APPLICATION = "Neural Photo Editor"
T = TypeVar("T")
MAX_RECENT = 8


class Settings:
    """Typed access to the editor's QSettings. ``read_only`` (screenshots) never writes."""

    def __init__(self, read_only: bool = False) -> None:
        self._qsettings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
        self.read_only = read_only

    @property
    def path(self) -> str:
        return self._qsettings.fileName()

    def _get(self, key: str, default: T, kind: Callable[[Any], T]) -> T:
        value = self._qsettings.value(key, default)
        try:
            if kind is bool and isinstance(value, str):
                return kind(value.lower() in ("1", "true", "yes"))
            return kind(value)
        except (TypeError, ValueError):
            return default

    def _set(self, key: str, value: object) -> None:
        if not self.read_only:
            self._qsettings.setValue(key, value)

    # brush
    def brush_color(self) -> str:
        return str(self._get("brush/color", "#e0ac8c", str))

    def set_brush_color(self, color: str) -> None:
        self._set("brush/color", color)

    def brush_size(self) -> int:
        """Brush radius in percent of the face width."""
        return int(self._get("brush/size", 6, int))

    def set_brush_size(self, percent: int) -> None:
        self._set("brush/size", int(percent))

    def brush_strength(self) -> int:
        """Brush strength in percent (100 = the engine's default step)."""
        return int(self._get("brush/strength", 100, int))

    def set_brush_strength(self, percent: int) -> None:
        self._set("brush/strength", int(percent))

    def brush_reach(self) -> int:
        """How far a change may spread beyond the brush, in pixels of the model's face crop."""
        return int(self._get("brush/reach", DEFAULT_REACH, int))

    def set_brush_reach(self, pixels: int) -> None:
        self._set("brush/reach", int(pixels))

    # window
    def geometry(self) -> QByteArray | None:
        value = self._qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self._qsettings.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self._set("window/geometry", geometry)
        self._set("window/state", state)

    def theme(self) -> str:
        """'system', 'dark' or 'light'."""
        value = str(self._get("view/theme", "system", str))
        return value if value in ("system", "dark", "light") else "system"

    def set_theme(self, theme: str) -> None:
        self._set("view/theme", theme)

    def strip_metadata(self) -> bool:
        """Export Image leaves out EXIF (camera, date, location) and npe's edit notes."""
        return bool(self._get("files/strip_metadata", False, bool))

    def set_strip_metadata(self, strip: bool) -> None:
        self._set("files/strip_metadata", bool(strip))

    def last_folder(self) -> str:
        folder = str(self._get("files/last_folder", "", str))
        return folder if folder and os.path.isdir(folder) else str(Path.home())

    def set_last_folder(self, path: str | os.PathLike) -> None:
        folder = Path(path)
        self._set("files/last_folder", str(folder if folder.is_dir() else folder.parent))

    # recent files
    def recent_files(self) -> list[str]:
        value: Any = self._qsettings.value("files/recent", [])  # a list, or one string (QSettings' INI files)
        if isinstance(value, str):
            value = [value]
        return [str(item) for item in (value or []) if str(item)][:MAX_RECENT]

    def add_recent_file(self, path: str | os.PathLike) -> list[str]:
        path = str(Path(path).resolve())
        files = [path] + [item for item in self.recent_files() if item != path]
        self._set("files/recent", files[:MAX_RECENT])
        return files[:MAX_RECENT]

    def sync(self) -> None:
        if not self.read_only:
            self._qsettings.sync()
