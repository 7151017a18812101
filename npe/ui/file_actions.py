"""The main window's file actions (mixed into npe.ui.main_window.MainWindow): the open, save and
export dialogs, the suggested names, the unsaved-changes question and the recent-files menu. The
work itself runs on the worker through the controller."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from npe.ui.dialogs import ask_save_changes

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMenu, QStatusBar

    from npe.ui.controller import EditorController
    from npe.ui.panels.samples import SamplesPanel
    from npe.ui.settings import Settings

PHOTO_FILTER = "Photos (*.png *.jpg *.jpeg *.bmp *.webp *.tif *.tiff *.gif);;npe sessions (*.npe);;All files (*)"
SESSION_FILTER = "npe sessions (*.npe)"
PNG_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff)"  # npe.data.export.EXPORT_FORMATS


class FileActions:
    """See the module doc; relies on the window's controller, settings, recent menu and samples panel."""

    controller: EditorController
    settings: Settings
    recent_menu: QMenu
    named_actions: dict[str, QAction]
    samples_panel: SamplesPanel
    _session_path: str | None
    _photo_path: str | None

    if TYPE_CHECKING:  # the window's own, declared for the type checker only (a definition here would hide QMainWindow's)
        def statusBar(self) -> QStatusBar: ...

        def _status(self, message: str, ms: int) -> None: ...

    @property
    def _window(self) -> QWidget:
        """The window this is mixed into: the dialogs' parent."""
        return cast(QWidget, self)

    def open_photo_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open photo", self.settings.last_folder(), PHOTO_FILTER)
        if path:
            self.open_path(path)

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._window, "Open session", self.settings.last_folder(), f"{SESSION_FILTER};;All files (*)")
        if path:
            self.open_path(path)

    def open_path(self, path: str, whole_image: bool = False) -> None:
        """Open a photo, or an .npe session (asking first if the current edit is unsaved)."""
        path = str(path)
        self.settings.set_last_folder(path)
        if path.lower().endswith(".npe"):
            if not self._may_discard("opening another session"):
                return
            self.controller.open_session(path, on_done=lambda ok: self._opened(path, ok))
        else:
            self.controller.open_photo(path, whole_image, on_done=lambda ok: self._opened(path, ok))

    def _opened(self, path: str, ok: bool) -> None:
        if ok:
            self._session_path = path if path.lower().endswith(".npe") else None
            self._photo_path = None if path.lower().endswith(".npe") else path
            self.settings.add_recent_file(path)
            self._refresh_recent()
            self._status(f"Opened {Path(path).name}", 4000)

    def save_session(self) -> bool:
        """Ctrl+S: save to the session's file, or ask where if it has none yet."""
        if self._session_path is None:
            return self.save_session_dialog()
        self._save_to(self._session_path)
        return True

    def save_session_dialog(self) -> bool:
        """Ask where, then save; True once the save is submitted."""
        if not self.controller.has_document:
            return False
        suggested = str(Path(self.settings.last_folder()) / f"{self._document_stem()}.npe")
        path, _ = QFileDialog.getSaveFileName(self._window, "Save session", suggested, SESSION_FILTER)
        if not path:
            return False
        if not path.lower().endswith(".npe"):
            path += ".npe"
        self.settings.set_last_folder(path)
        self._save_to(path)
        return True

    def _save_to(self, path: str) -> None:
        def done(ok: bool) -> None:
            if ok:
                self._session_path = path
                self.settings.add_recent_file(path)
                self._refresh_recent()
                self.statusBar().showMessage(f"Saved {Path(path).name}", 4000)

        self.controller.save_session(path, on_done=done)

    def export_dialog(self) -> None:
        if not self.controller.has_document:
            return
        path, _ = QFileDialog.getSaveFileName(self._window, "Export image", self.suggested_export_path(), PNG_FILTER)
        if not path:
            return
        if Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff"):
            path += ".png"
        self.settings.set_last_folder(path)
        # A failure (a full disk...) shows in a dialog; the edit stays open and unsaved.
        strip = self.named_actions["strip-metadata"].isChecked()

        def done(ok: bool) -> None:
            if ok:
                self._status(f"Exported {Path(path).name}", 4000)

        self.controller.export_png(path, on_done=done, strip_metadata=strip)

    def suggested_export_path(self) -> str:
        """NAME-edited.png beside the opened photo (else in the last folder); never the photo itself."""
        photo = self._photo_path
        folder = Path(photo).parent if photo is not None else Path(self.settings.last_folder())
        stem = self._document_stem()
        candidate = folder / f"{stem}-edited.png"
        number = 2
        while photo is not None and candidate.exists() and os.path.samefile(candidate, photo):
            candidate = folder / f"{stem}-edited-{number}.png"
            number += 1
        return str(candidate)

    def _document_stem(self) -> str:
        source = self.controller.source
        name = source.name if source is not None else "face"
        stem = Path(name).stem if "." in name else name
        return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem).strip("-") or "face"

    def _may_discard(self, doing: str) -> bool:
        """Before replacing the document: True if there is nothing unsaved or the user agrees."""
        if not self.controller.modified:
            return True
        name = self.controller.source.name if self.controller.source else "this face"
        answer = ask_save_changes(self._window, name)
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            if not self.save_session_dialog():
                return False
            self.controller.wait_idle(60_000)
            return not self.controller.modified
        return True

    def _refresh_recent(self) -> None:
        files = self.settings.recent_files()
        self.recent_menu.clear()
        for path in files:
            action = self.recent_menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(bool(files))
        self.samples_panel.set_recent(files)
