"""Errors shared by every layer. No torch, no Qt."""


class UserError(Exception):
    """A problem the user can fix; the `npe` command prints it as one line (exit status 2), never a traceback."""
