"""Errors of the editing package that people see (fit for a dialog or a one-line CLI message). The
errors every layer shares (UserError, NoFaceError) live in npe.errors."""

from __future__ import annotations

from npe.errors import UserError


class SessionError(UserError, ValueError):
    """A request the session cannot honour (bad colour, position outside the photo, corrupt session
    file...); the message says what was wrong and what to do. A ValueError too, as it always was."""


class OtherModelError(SessionError):
    """A session file made with other weights of the same size: its edits would look different.
    Open it anyway with ``allow_other_model=True`` (the GUI asks first)."""


class NoModelError(UserError):
    """An action that needs the model before one is loaded."""
