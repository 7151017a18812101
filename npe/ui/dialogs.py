"""Short dialogs: errors that say what to do (never a traceback), questions, and About."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QMessageBox, QTextBrowser, QVBoxLayout, QWidget

from npe import __version__
from npe.ui.failures import Failure

if TYPE_CHECKING:
    from npe.editing.workspace import ModelSummary

DATA_LICENCE = (
    "The bundled model was trained on CelebA (Liu et al., 2015), which may be used for non-commercial "
    "research purposes only; the weights and the faces they make inherit that restriction."
)


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """A short warning dialog. ``message`` must already say what was wrong and what to do."""
    QMessageBox.warning(parent, title, message)


def show_failure(parent: QWidget | None, failure: Failure) -> None:
    show_error(parent, failure.title[:1].upper() + failure.title[1:], failure.message)


def _confirm(parent: QWidget | None, title: str, text: str, accept: QMessageBox.StandardButton, refuse: QMessageBox.StandardButton, default: QMessageBox.StandardButton) -> bool:
    """A two-button question; True if the user chose ``accept``."""
    return QMessageBox.question(parent, title, text, accept | refuse, default) == accept


def ask_whole_image(parent: QWidget | None, failure: Failure) -> bool:
    """After "no face found": offer to use the whole image (its largest centred square)."""
    yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
    text = f"{failure.message}\n\nUse the whole image instead? Its largest centred square becomes the face crop."
    return _confirm(parent, "No face found", text, yes, no, yes)


def ask_other_model(parent: QWidget | None, failure: Failure) -> bool:
    """A session file made with other weights of the same size: open it anyway?"""
    open_, cancel = QMessageBox.StandardButton.Open, QMessageBox.StandardButton.Cancel
    return _confirm(parent, "Made with another model", f"{failure.message}\n\nOpen it anyway?", open_, cancel, cancel)


def ask_save_changes(parent: QWidget | None, name: str) -> QMessageBox.StandardButton:
    """Save / Discard / Cancel before closing or replacing an edited document."""
    return QMessageBox.question(
        parent,
        "Unsaved changes",
        f"The edit of {name} has changes that are not saved or exported.\n\n"
        "Save the session before closing? (Discard loses them.)",
        QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Save,
    )


class AboutDialog(QDialog):
    """Version, model, data licence and (if bundled) the model card."""

    def __init__(self, model: ModelSummary | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About npe")
        self.resize(560, 520)
        if model is not None:
            model_line = f"Model: <b>{model.name}</b> · {model.resolution} px · {model.latent_dim} latents · {model.device}"
        else:
            model_line = "Model: not loaded"
        header = QLabel(
            f"<h2 style='margin-bottom:2px'>Neural Photo Editor</h2>"
            f"<div>npe {__version__} · an Introspective Adversarial Network editor (Brock et al., ICLR 2017)</div>"
            f"<div style='margin-top:6px'>{model_line}</div>"
            f"<div style='margin-top:6px'>{DATA_LICENCE}</div>"
        )
        header.setWordWrap(True)
        header.setTextFormat(Qt.TextFormat.RichText)
        from npe.ui.icons import app_icon

        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(72, 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        top = QHBoxLayout()
        top.setSpacing(14)
        top.addWidget(logo)
        top.addWidget(header, 1)
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(True)
        card = model_card()
        if card:
            self.card.setMarkdown(card)
        else:
            self.card.setPlainText("No model card is bundled with this installation (models/MODEL_CARD.md).")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.card, 1)
        layout.addWidget(buttons)


def model_card() -> str | None:
    """The bundled models/MODEL_CARD.md, or None."""
    from npe.resources import models_dir

    try:
        path = models_dir() / "MODEL_CARD.md"
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (FileNotFoundError, OSError, UnicodeDecodeError):
        return None
