"""Errors of the editing package that people see (fit for a dialog or a one-line CLI message), and
the one place where the lower layers' errors meant for people become them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from npe.errors import UserError


class SessionError(UserError, ValueError):
    """A request the session cannot honour (bad colour, position outside the photo, corrupt session
    file...); the message says what was wrong and what to do. A ValueError too, as it always was."""


class NoModelError(UserError):
    """An action that needs the model before one is loaded."""


class FaceNotFoundError(SessionError):
    """No face was found in a photo; the GUI offers to edit the whole image instead."""


@contextmanager
def worded_for_people() -> Iterator[None]:
    """Re-raise npe.data's errors meant for people (unreadable photo, unwritable PNG, no face) as
    UserErrors with the same message, so the GUI and the CLI need to know only UserError."""
    from npe.data.faces import NoFaceError
    from npe.data.image_io import ImageLoadError, ImageSaveError

    try:
        yield
    except UserError:
        raise
    except NoFaceError as exc:
        raise FaceNotFoundError(str(exc)) from exc
    except (ImageLoadError, ImageSaveError) as exc:
        raise SessionError(str(exc)) from exc
