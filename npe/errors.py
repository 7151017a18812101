"""Errors shared by every layer: the base of every error meant for a person, and the few that
several layers raise or catch. No torch, no Qt."""


class UserError(Exception):
    """A problem the user can fix; the `npe` command prints it as one line (exit status 2), never a traceback."""


class NoFaceError(UserError, ValueError):
    """The face finder found nothing in a photo (npe.data raises it; the GUI and `npe edit` offer the
    whole image instead). The message says what kind of photo works."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or "No face found in this photo. Try a photo where the face is frontal, well lit and at least "
            "~20 px wide (faces under 64 px are used, but come out blurred), or use the whole image."
        )
