"""Failures as the GUI shows them: a dialog-ready message for every error, never a traceback."""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass

from npe.editing.errors import OtherModelError
from npe.errors import NoFaceError, UserError


@dataclass(frozen=True)
class Failure:
    """A job that failed: ``message`` is fit for a dialog (no traceback)."""

    job: str
    title: str
    message: str
    kind: str = "error"  # "error", "no-face" (the GUI may offer the whole image), "model", "other-model" (it asks)
    path: str | None = None


def describe_failure(doing: str, exc: BaseException, *, kind: str = "error", path: str | None = None) -> Failure:
    """A dialog-ready account of ``exc`` raised while ``doing`` (e.g. "opening 'x.jpg'"): the
    message of an error meant for people (npe.errors.UserError), a short note for everything else
    (with the traceback on stderr)."""
    title = f"Problem {doing}"
    if isinstance(exc, NoFaceError):
        return Failure(doing, "No face found", str(exc), "no-face", path)
    if isinstance(exc, OtherModelError):
        return Failure(doing, "Made with another model", str(exc), "other-model", path)
    if isinstance(exc, UserError):
        return Failure(doing, title, str(exc), kind, path)
    if isinstance(exc, MemoryError):
        return Failure(doing, title, "There is not enough memory for this. Close other programs or use a smaller photo.", kind, path)
    if isinstance(exc, OSError):
        where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
        return Failure(doing, title, f"Could not access{where}: {exc.strerror or exc}. Check the file and try again.", kind, path)
    print(f"npe: unexpected error while {doing}:", file=sys.stderr)
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return Failure(
        doing,
        title,
        f"Something unexpected went wrong while {doing} ({type(exc).__name__}). Your edit so far is kept; "
        "the details were written to the terminal. Please report them if this happens again.",
        kind,
        path,
    )
