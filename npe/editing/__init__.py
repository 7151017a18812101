"""The editor's brain, no Qt: an edit session (photo, crop, latents, masks), the contextual paintbrush,
the masking technique, undo history, latent directions and the sample gallery."""

from npe.editing.session import BrushSettings, EditSession, HistoryEntry, SessionError, SessionEvents

__all__ = ["BrushSettings", "EditSession", "HistoryEntry", "SessionError", "SessionEvents"]
