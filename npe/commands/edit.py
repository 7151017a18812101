"""`npe edit`: brush strokes, protect strokes, direction and attribute moves applied to a photo from the command line."""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import TYPE_CHECKING

from npe.errors import NoFaceError, UserError

if TYPE_CHECKING:
    from npe.editing.face_choice import DoubtfulFaceError
    from npe.editing.session import EditSession
    from npe.editing.workspace import Workspace

DEFAULT_STEPS = 2  # per brush position: a command-line stroke has far fewer positions than a mouse drag
EXIT_DOUBTFUL_FACE = 3  # the face found is doubtful: nothing was written, the message says how to go on
EXIT_STATUS_HELP = (
    "exit status: 0 the result was written; 2 a problem to fix (said in one line on stderr); "
    f"{EXIT_DOUBTFUL_FACE} the face found is doubtful, so nothing was written: accept it with --face K "
    "(`npe faces PHOTO` lists the faces), place the square with --box X,Y,SIDE[,ANGLE], or use --whole-image."
)


def edit_command(args: argparse.Namespace, workspace: Workspace | None = None) -> int:
    """Run `npe edit`; returns 0, or EXIT_DOUBTFUL_FACE (message on stderr). Problems the user can fix raise npe.errors.UserError, which the
    `npe` command prints as one line with exit status 2. ``workspace``: one with its own
    collaborators (tests); by default a fresh one that loads ``--weights``."""
    from npe.editing.attributes import parse_attribute_values
    from npe.editing.brush import BrushSettings
    from npe.editing.brush.footprint import densify
    from npe.editing.face_choice import DoubtfulFaceError
    from npe.editing.workspace import Workspace

    colors = [_color(text) for text in args.color] or [(255, 255, 255)]
    strokes = [_points(text, "--stroke") for text in args.stroke]
    protects = [_points(text, "--protect") for text in args.protect]
    moves = [_direction(text) for text in args.direction]
    attribute_values = parse_attribute_values(args.attribute)  # {name: std}; names checked once loaded
    box = _box(args.box) if args.box is not None else None
    _check_options(args, colors, strokes)
    _check_output(args)

    workspace = workspace if workspace is not None else Workspace()
    workspace.load_model(args.weights, args.device)
    for warning in workspace.warnings:
        print(f"npe: warning: {warning}", file=sys.stderr)
    if attribute_values:  # no attributes for this model, or an unknown name: said before any work on the photo
        attributes = workspace.require_attributes()
        for name in attribute_values:
            attributes.index(name)
    try:
        session = _open(workspace, args, box)
        width, height = session.photo_size
        for points in strokes + protects:
            for x, y in points:
                if not (0 <= x <= width and 0 <= y <= height):
                    raise UserError(f"the point ({x:g}, {y:g}) is outside the image ({width}x{height} pixels)")
        radius = args.radius if args.radius is not None else session.default_radius
        _check_strokes_reach_the_face(session, strokes, radius)
        for points in protects:
            session.paint_protect(points, radius)
        for k, value in moves:
            # "move by VALUE": relative to where the photo already lies along direction K.
            current = session.direction_values()
            session.set_direction(k, (float(current[k]) if k < current.size else 0.0) + value)
        if attribute_values:  # one undo step: z + sum v * scale * d, as the Attributes panel does
            session.move_attributes(attribute_values)
        for number, points in enumerate(strokes):
            session.paint(
                densify(points, max(1.0, radius / 2)),
                color=colors[number] if len(colors) > 1 else colors[0],
                radius=radius,
                strength=args.strength if args.strength is not None else 1.0,
                steps=args.steps if args.steps is not None else DEFAULT_STEPS,
                reach=args.reach if args.reach is not None else BrushSettings.reach,
            )
            if session.stroke_hint:
                print(f"npe: stroke {number + 1}: {session.stroke_hint}", file=sys.stderr)
            _answer(session, number, args.answer[number] if len(args.answer) > 1 else (args.answer[0] if args.answer else 0), args.ways)
        said = len(workspace.warnings)
        written = workspace.export_png(args.output, crop_only=args.crop_only, strip_metadata=args.strip_metadata)
    except DoubtfulFaceError as exc:
        print(f"npe: {_doubtful_message(args.input, exc)}", file=sys.stderr)
        return EXIT_DOUBTFUL_FACE
    except NoFaceError as exc:
        raise UserError(f"{exc} (Or pass --whole-image to edit the whole image, or --box X,Y,SIDE[,ANGLE] to place the face square by hand.)") from None
    kind = "crop" if args.crop_only else "photo"
    shape = session.result_crop().shape if args.crop_only else session.result().shape
    print(f"wrote {written} ({kind}, {shape[1]}x{shape[0]}, {session.history_index} edit step(s))")
    for note in workspace.warnings[said:]:  # how it was written: a palette image as RGBA, 16 bits in a JPEG...
        print(f"npe: note: {note}", file=sys.stderr)
    return 0


def _answer(session: EditSession, number: int, chosen: int, show: bool) -> None:
    """Paint stroke ``number`` the ``chosen`` way the model has to make it (0: its own); with ``show``,
    list the ways on stderr first."""
    ways = session.stroke_alternatives
    listed = ", ".join(f"{i} {label}" + (" (its own)" if i == 0 else "") for i, (label, _) in enumerate(ways))
    if show:
        print(f"npe: stroke {number + 1}: " + (f"ways to make it: {listed}" if ways else "no other way to make it than its own"), file=sys.stderr)
    if chosen == 0:
        return
    if not ways:
        raise UserError(f"stroke {number + 1} has no other way to make it than its own (--answer {chosen}): give --answer 0 for it")
    if chosen >= len(ways):
        raise UserError(f"stroke {number + 1} has {len(ways)} ways to make it ({listed}), not --answer {chosen}")
    session.use_alternative(chosen)


def _check_options(args: argparse.Namespace, colors: list[tuple[int, int, int]], strokes: list[list[tuple[float, float]]]) -> None:
    if len(colors) not in (1, len(strokes)) and strokes:
        raise UserError(f"give one --color for all strokes or one per stroke: got {len(colors)} colours for {len(strokes)} strokes")
    if len(args.answer) not in (0, 1, len(strokes)) or (args.answer and not strokes):
        raise UserError(f"give one --answer for all strokes or one per stroke: got {len(args.answer)} for {len(strokes)} strokes")
    if any(answer < 0 for answer in args.answer):
        raise UserError(f"--answer must be 0 or more (0: the stroke's own way), got {min(args.answer)}")
    if args.radius is not None and not (math.isfinite(args.radius) and args.radius > 0):
        raise UserError(f"--radius must be a positive number of pixels, got {args.radius:g}")
    if args.strength is not None and not (math.isfinite(args.strength) and args.strength >= 0):
        raise UserError(f"--strength must be a number >= 0, got {args.strength:g}")
    if args.steps is not None and not 1 <= args.steps <= 100:
        raise UserError(f"--steps must be from 1 to 100, got {args.steps}")
    from npe.editing.brush import REACH_RANGE

    low, high = REACH_RANGE
    if args.reach is not None and not (math.isfinite(args.reach) and low <= args.reach <= high):
        raise UserError(f"--reach must be from {low} to {high} pixels of the model's face crop, got {args.reach:g}")
    if args.input is not None and args.index is not None:
        raise UserError("give either INPUT or --index N, not both")
    if args.input is None and args.index is None:
        raise UserError("nothing to edit: give a photo (INPUT) or a sample face (--index N)")
    if args.dataset is not None and args.index is None:
        raise UserError("--dataset needs --index N (which face of the collection to edit)")
    if args.index is not None and args.index < 0:
        raise UserError(f"--index must be 0 or more, got {args.index}")
    face, box = args.face, args.box
    if (face is not None or box is not None) and args.input is None:
        raise UserError("--face and --box choose the face square of a photo (INPUT), not of a sample face")
    if face is not None and box is not None:
        raise UserError("give either --face K (a face that was found) or --box X,Y,SIDE[,ANGLE] (placed by hand), not both")
    if box is not None and args.whole_image:
        raise UserError("give either --box X,Y,SIDE[,ANGLE] or --whole-image, not both")
    if face is not None and face < 0:
        raise UserError(f"--face must be 0 or more (0 is the largest face), got {face}")


def _check_output(args: argparse.Namespace) -> None:
    from npe.data.export import export_format

    export_format(args.output)  # an unknown extension fails before the model loads
    if args.input is not None and not args.overwrite:
        try:
            same = os.path.samefile(args.input, args.output)
        except OSError:  # either does not exist (yet): they are not one file
            same = False
        if same:
            raise UserError(f"'{args.output}' is the input photo itself; choose another output name, or pass --overwrite to replace the original.")


def _check_strokes_reach_the_face(session: EditSession, strokes: list[list[tuple[float, float]]], radius: float) -> None:
    """A stroke whose brush never touches the face box would change nothing: say so, instead of a
    result identical to the photo and exit status 0."""
    x0, y0, x1, y1 = session.editable_rect
    for number, points in enumerate(strokes, start=1):
        if not any(x0 - radius < x < x1 + radius and y0 - radius < y < y1 + radius for x, y in points):
            raise UserError(
                f"stroke {number} lies outside the face box ({x0},{y0})-({x1},{y1}), where nothing can change; "
                "paint on the face (or pass --whole-image for a photo without one)."
            )


def _open(workspace: Workspace, args: argparse.Namespace, box: tuple[float, ...] | None) -> EditSession:
    tune = not args.no_tune  # fit the model to the photo (samples need no fitting)
    if args.index is None:
        session = workspace.open_photo(args.input, whole_image=args.whole_image, face=args.face, box=box, tune=tune)
        report = workspace.faces
        if report is not None and (len(report.faces) > 1 or report.how == "picked"):
            print(report.summary())  # which face of several: say so, in one line
        return session
    if args.dataset is None:
        return workspace.open_sample(args.index)
    return workspace.open_collection_face(args.dataset, args.index, tune=tune)


def _box(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise UserError(f"--box '{text}': expected X,Y,SIDE[,ANGLE] (the square's centre and side in photo pixels, roll in degrees)") from None
    if len(values) not in (3, 4) or not all(map(math.isfinite, values)) or not values[2] > 0:
        raise UserError(f"--box '{text}': expected X,Y,SIDE[,ANGLE] with a positive SIDE (photo pixels; ANGLE in degrees, counter-clockwise)")
    return values


def _doubtful_message(path: str, exc: DoubtfulFaceError) -> str:
    face = exc.report.faces[exc.index]
    x, y, side, angle = face.box
    return (
        f"{exc} Nothing was written. To go on: --face {exc.index} to accept it (`npe faces {path}` lists the faces), "
        f"--box X,Y,SIDE[,ANGLE] to place the square by hand (it found --box {x:.0f},{y:.0f},{side:.0f},{angle:.1f}), "
        "or --whole-image to edit the whole image."
    )


def _points(text: str, option: str) -> list[tuple[float, float]]:

    try:
        values = [float(part) for part in text.replace(" ", "").split(",") if part != ""]
    except ValueError:
        raise UserError(f"{option} '{text}': expected numbers X1,Y1,X2,Y2,... (image pixels)") from None
    if len(values) < 2 or len(values) % 2 or not all(map(math.isfinite, values)):
        raise UserError(f"{option} '{text}': expected an even number of coordinates X1,Y1,X2,Y2,... (at least one point)")
    return list(zip(values[0::2], values[1::2]))


def _color(text: str) -> tuple[int, int, int]:
    from npe.editing.brush import ColorError, parse_color

    try:
        return parse_color(text)
    except ColorError as exc:
        raise UserError(f"--color: {exc}") from None


def _direction(text: str) -> tuple[int, float]:

    key, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError
        k, amount = int(key), float(value)
    except ValueError:
        raise UserError(f"--direction '{text}': expected K=VALUE, e.g. 0=1.5 (direction 0, +1.5 standard deviations)") from None
    if k < 0 or not math.isfinite(amount):
        raise UserError(f"--direction '{text}': K must be 0 or more and VALUE a finite number")
    return k, amount
