"""The seed's edits on real photos at their own resolution: for each photo, each edit of
benchmarks/edit_quality.py painted through the editor as users get it (the photo fitted, the face
found), shown as the face region at full resolution: original | paint | brush | old brush.

    python benchmarks/photo_sheet.py [PHOTO ...] [--out DIR] [--astronaut]

PHOTOs default to /work/shared/data/photos/* (their sheets go to --out, outside git: those photos
may not be committed). --astronaut makes the sheet of scikit-image's astronaut (public domain), the
one committed as a README figure (resources/docs/astronaut_edits.png), with the seed's edits only.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from edit_quality import EDITS, RADIUS, SKIN, paint_stroke, skin_colour, stroke_points  # noqa: E402

BOX = 54.0  # the face box's side at which edit_quality's strokes and radius are given


def sheet(model, photo: np.ndarray, edits=EDITS, label: str = "") -> Image.Image:
    from npe.editing import EditSession

    session = EditSession.from_photo(model, photo, tune=True)
    radius = RADIUS / BOX * session.box.size
    x0, y0, x1, y1 = session.editable_rect
    rows = []
    for edit in edits:
        points = stroke_points(edit, session.box, max(1.0, radius / 3))
        color = skin_colour(photo, session.box) if edit.color == SKIN else edit.color
        cells = [photo, paint_stroke(photo, points, color, radius)]
        for objective in ("semantic", "pixel"):
            session.begin_stroke(color=color, radius=radius, reach=edit.reach, objective=objective)
            for x, y in points:
                session.stroke_to(x, y)
            cells.append(session.result())
            session.cancel_stroke()
        rows.append((edit.name, [cell[y0:y1, x0:x1] for cell in cells]))
    height, width = rows[0][1][0].shape[:2]
    gap, title = 6, 18
    canvas = Image.new("RGB", (4 * width + 3 * gap, title + len(rows) * (height + gap + title)), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 2), f"{label}  original | paint | brush | old brush", fill=(0, 0, 0))
    for r, (name, cells) in enumerate(rows):
        top = title + r * (height + gap + title)
        draw.text((4, top + 2), name, fill=(0, 0, 0))
        for c, cell in enumerate(cells):
            canvas.paste(Image.fromarray(np.ascontiguousarray(cell)), (c * (width + gap), top + title))
    return canvas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=Path("/root/npe-scratch/sheets"))
    parser.add_argument("--astronaut", action="store_true", help="the committed figure: resources/docs/astronaut_edits.png")
    parser.add_argument("--edit", nargs="+", choices=[edit.name for edit in EDITS], help="these edits only")
    parser.add_argument("--weights", help="model weights (default: the bundled model)")
    args = parser.parse_args()
    import torch

    from npe.data.image_io import load_image
    from npe.model import load_default, load_weights

    torch.set_num_threads(1)
    model = (load_weights(args.weights) if args.weights else load_default()).eval()
    edits = [edit for edit in EDITS if (edit.name in args.edit if args.edit else edit.sheet and (edit.seed or not args.astronaut))]
    if args.astronaut:
        from skimage import data

        out = Path(__file__).resolve().parent.parent / "resources" / "docs" / "astronaut_edits.png"
        sheet(model, data.astronaut(), edits, "astronaut (skimage, public domain)").save(out, optimize=True)
        print(f"wrote {out}")
        return 0
    photos = args.photos or sorted(p for p in Path("/work/shared/data/photos").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in photos:
        try:
            photo = load_image(path)
        except Exception as exc:  # noqa: BLE001 - one bad photo should not stop the sheet
            print(f"{path.name}: {exc}")
            continue
        image = photo if isinstance(photo, np.ndarray) else getattr(photo, "pixels", photo)
        out = args.out / f"sheet_{path.stem}.png"
        sheet(model, np.asarray(image)[..., :3], edits, path.name).save(out)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
