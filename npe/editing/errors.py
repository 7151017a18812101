"""Errors of the editing package that people see (fit for a dialog or a one-line CLI message)."""

from __future__ import annotations

from npe.errors import UserError


class SessionError(UserError, ValueError):
    """A request the session cannot honour (bad colour, position outside the photo, corrupt session
    file...); the message says what was wrong and what to do. A ValueError too, as it always was."""
