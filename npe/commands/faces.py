"""`npe faces PHOTO... [--json]`: the faces found in each photo, their crop squares and scores."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

_CORNERS = ("top-left", "top-right", "bottom-right", "bottom-left")


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """The `faces` subcommand's arguments."""
    faces = commands.add_parser(
        "faces",
        help=summary,
        description="For each photo, print the faces found, largest first: the four corners of each crop "
        "square in photo pixels (top-left, top-right, bottom-right, bottom-left as seen in the crop) and a score.",
    )
    faces.add_argument("photos", nargs="+", metavar="PHOTO", help="photos to look at")
    faces.add_argument("--json", action="store_true", help='one JSON object per line: {"path": ..., "faces": [...]}')


def faces_command(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the faces of every photo; 0 when all could be read, 2 when some could not (said on stderr)."""
    from npe.data.face_finder import find_faces
    from npe.data.image_io import ImageLoadError, load_image

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    status = 0
    for path in args.photos:
        try:
            photo = load_image(path)
        except ImageLoadError as exc:
            print(f"npe: {exc}", file=err)
            status = 2
            continue
        found = find_faces(photo)
        if args.json:
            record = {"path": os.fspath(path), "faces": [face.to_json() for face in found]}
            print(json.dumps(record), file=out, flush=True)
            continue
        if not found:
            print(f"{path}: no face found", file=out)
            continue
        print(f"{path}: {len(found)} face{'s' if len(found) > 1 else ''} ({photo.shape[1]}x{photo.shape[0]})", file=out)
        for number, face in enumerate(found, 1):
            corners = ", ".join(f"{name} ({x:.1f}, {y:.1f})" for name, (x, y) in zip(_CORNERS, face.corners()))
            print(f"  face {number}: score {face.score:.3f} ({face.confidence}); {corners}", file=out)
            if face.smaller_than():
                print(f"    only {face.box.size:.0f} px wide, smaller than the model's 64 px: it will look blurred", file=out)
    return status
