"""Choosing which face box a photo is edited with, before anything is encoded: the faces the finder
reports, the user's pick among them (``face``), the whole image, or a box placed by hand, with the
rule that a doubtful face never proceeds silently. The GUI and `npe edit` both go through here."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from npe.editing.errors import SessionError
from npe.errors import NoFaceError
from npe.geometry import CropBox

if TYPE_CHECKING:
    from npe.data.face_finder import Face

FaceFinder = Callable[[np.ndarray], "Sequence[Face]"]  # uint8 HxWx3 photo -> faces, largest first
BoxTuple = tuple[float, float, float, float]  # center_x, center_y, size, angle (photo pixels, degrees)


def default_face_finder(photo: np.ndarray) -> list[Face]:
    from npe.data.face_finder import find_faces

    return find_faces(photo)


class DoubtfulFaceError(SessionError):
    """The only face to use is doubtful: the caller must ask (accept it, place the box, whole image)."""

    def __init__(self, message: str, report: FaceReport, index: int) -> None:
        super().__init__(message)
        self.report = report
        self.index = index  # which face was doubtful


class FaceIndexError(SessionError):
    """The face asked for (``face=K``) does not exist."""


@dataclass(frozen=True)
class FoundFace:
    """One face as the views show it: its square, its score in [0, 1] and the verdict."""

    box: BoxTuple
    score: float
    confident: bool


@dataclass(frozen=True)
class FaceReport:
    """What was found in a photo and which box the document was opened with.

    ``faces`` largest first (the order `npe faces` prints); ``chosen`` the index used, or None when
    the box came from elsewhere; ``how``: "confident" (the largest confident face, unasked), "picked"
    (the user's ``face=K``), "doubtful" (a doubtful face used so the user can look at it),
    "whole-image", "by-hand".
    """

    faces: tuple[FoundFace, ...]
    chosen: int | None
    how: str
    box: BoxTuple

    @property
    def doubtful(self) -> bool:
        """A doubtful face is in use: the user should say whether it is the face."""
        return self.how == "doubtful"

    def summary(self) -> str:
        """One line saying which face of how many is used (for `npe edit` and the status bar)."""
        count = len(self.faces)
        found = f"{count} face{'s' if count != 1 else ''} found"
        if self.how == "by-hand":
            return f"{found}; using the box placed by hand"
        if self.how == "whole-image":
            return f"{found}; using the whole image"
        assert self.chosen is not None  # every other way of choosing names a face
        face = self.faces[self.chosen]
        which = {"confident": "the largest confident one", "picked": "as asked", "doubtful": "a doubtful one"}[self.how]
        return f"{found}; using face {self.chosen} ({which}, score {face.score:.2f}, {face.box[2]:.0f} px)"


def as_box(box: CropBox | Sequence[float]) -> CropBox:
    """A CropBox from a CropBox or (center_x, center_y, size[, angle]); SessionError if it is not one."""
    if isinstance(box, CropBox):
        values: tuple[float, ...] = (box.center_x, box.center_y, box.size, box.angle)
    else:
        values = tuple(float(v) for v in box)
        if len(values) not in (3, 4):
            raise SessionError(f"A face box is X, Y, SIDE and optionally ANGLE; got {len(values)} numbers.")
    if not all(map(math.isfinite, values)) or not values[2] > 0:
        raise SessionError(f"A face box needs finite numbers and a positive side; got {', '.join(f'{v:g}' for v in values)}.")
    return CropBox(*values)


def box_tuple(box: CropBox) -> BoxTuple:
    return float(box.center_x), float(box.center_y), float(box.size), float(box.angle)


def choose_face(
    photo: np.ndarray,
    finder: FaceFinder,
    *,
    face: int | None = None,
    box: CropBox | Sequence[float] | None = None,
    whole_image: bool = False,
    accept_doubtful: bool = False,
) -> tuple[CropBox, FaceReport]:
    """The box to open ``photo`` with, and the report of how it was chosen.

    ``box`` (placed by hand) wins; otherwise the faces are found: ``face=K`` takes face K (any
    verdict: the user has looked); without it the largest confident face is used. A doubtful face
    (no confident one) raises DoubtfulFaceError unless ``accept_doubtful`` (the GUI opens it and
    asks). No face, or only doubtful ones: the whole image if ``whole_image``; else
    NoFaceError. A confident face is used even with ``whole_image``: that is the fallback.
    """
    height, width = photo.shape[:2]
    if box is not None:
        chosen = as_box(box)
        return chosen, FaceReport((), None, "by-hand", box_tuple(chosen))
    faces = tuple(FoundFace(box_tuple(f.box), float(f.score), bool(f.confident)) for f in finder(photo))
    if face is not None:
        if not 0 <= face < len(faces):
            if not faces:
                raise FaceIndexError(f"Face {face} was asked for, but no face was found in this photo.")
            raise FaceIndexError(f"Face {face} was asked for, but {len(faces)} face{'s were' if len(faces) > 1 else ' was'} found (0-{len(faces) - 1}, largest first).")
        return CropBox(*faces[face].box), FaceReport(faces, face, "picked", faces[face].box)
    confident = [index for index, found in enumerate(faces) if found.confident]
    if confident:
        index = confident[0]
        return CropBox(*faces[index].box), FaceReport(faces, index, "confident", faces[index].box)
    if faces and not whole_image:
        report = FaceReport(faces, 0, "doubtful", faces[0].box)
        if not accept_doubtful:
            raise DoubtfulFaceError(
                f"The face found is doubtful (score {faces[0].score:.2f}; a confident face scores at least "
                f"{_confident_score():.2f}), so it is not used without asking.", report, 0,
            )
        return CropBox(*faces[0].box), report
    if not whole_image:
        raise NoFaceError()
    whole = CropBox.whole_image(width, height)
    return whole, FaceReport(faces, None, "whole-image", box_tuple(whole))


def _confident_score() -> float:
    from npe.data.face_finder import CONFIDENT_SCORE

    return float(CONFIDENT_SCORE)


def report_for_box(report: FaceReport | None, box: CropBox, how: str = "by-hand") -> FaceReport:
    """``report``'s faces with another box in use (the user moved it or picked another face)."""
    faces = report.faces if report is not None else ()
    box_values = box_tuple(box)
    chosen = next((index for index, found in enumerate(faces) if np.allclose(found.box, box_values)), None)
    return FaceReport(faces, chosen, "picked" if chosen is not None else how, box_values)

