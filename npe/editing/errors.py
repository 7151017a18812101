"""Errors of the editing package that people see (fit for a dialog or a one-line CLI message), and
the one place where the lower layers' errors meant for people become them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from npe.errors import UserError


class SessionError(UserError, ValueError):
    """A request the session cannot honour (bad colour, position outside the photo, corrupt session
    file...); the message says what was wrong and what to do. A ValueError too, as it always was."""


class OtherModelError(SessionError):
    """A session file made with other weights of the same size: its edits would look different.
    Open it anyway with ``allow_other_model=True`` (the GUI asks first)."""


class NoModelError(UserError):
    """An action that needs the model before one is loaded."""


class FaceNotFoundError(SessionError):
    """No face was found in a photo; the GUI offers to edit the whole image instead."""


@contextmanager
def worded_for_people() -> Iterator[None]:
    """Re-raise npe.data's "no face" as FaceNotFoundError (same message), the one error of the lower
    layers that the GUI and `npe edit` treat apart: they offer to edit the whole image instead."""
    from npe.data.faces import NoFaceError

    try:
        yield
    except NoFaceError as exc:  # a UserError too, but the GUI and `npe edit` offer the whole image for it
        raise FaceNotFoundError(str(exc)) from exc
    except UserError:
        raise
