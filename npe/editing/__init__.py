"""The editor's brain, no Qt: the workspace (model + current session), the edit session (a facade
over the document, renderer, brush and history), the masking technique, latent directions and the
sample gallery."""

from npe.editing.errors import SessionError
from npe.editing.session import BrushSettings, EditSession, HistoryEntry, SessionEvents

__all__ = ["BrushSettings", "EditSession", "HistoryEntry", "SessionError", "SessionEvents"]
