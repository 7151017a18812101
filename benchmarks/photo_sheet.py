"""The seed's edits on real photos at their own resolution: for each photo, each edit of
benchmarks/edit_quality.py painted through the editor as users get it (the photo fitted, the face
found), shown as the face region at full resolution: original | paint | brush | old brush.

    python benchmarks/photo_sheet.py [PHOTO ...] [--out DIR] [--astronaut]

PHOTOs default to /work/shared/data/photos/* (their sheets go to --out, outside git: those photos
may not be committed). --astronaut makes the sheet of scikit-image's astronaut (public domain), the
one committed as a README figure (resources/docs/astronaut_edits.png).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from edit_quality import EDITS, RADIUS, SKIN, paint_stroke  # noqa: E402

BOX = 54.0  # the face box's side at which edit_quality's strokes and radius are given


def stroke_in_photo(session, edit, spacing: float) -> list[tuple[float, float]]:
    from npe.editing.brush.footprint import densify

    box = session.box
    (ux, uy), (vx, vy) = box.axes
    ends = [(box.center_x + box.size * (a * ux + b * vx), box.center_y + box.size * (a * uy + b * vy)) for a, b in (edit.start, edit.end)]
    legs = [ends[index % 2] for index in range(edit.passes + 1)]
    return densify(legs, spacing)


def skin_from(photo: np.ndarray, session) -> tuple[int, int, int]:
    box = session.box
    patches = []
    for du in (-0.2, 0.2):
        x, y = int(box.center_x + du * box.size), int(box.center_y + 0.08 * box.size)
        patches.append(photo[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3].reshape(-1, 3))
    return tuple(int(c) for c in np.median(np.concatenate(patches), axis=0))


def sheet(model, photo: np.ndarray, edits=EDITS, label: str = "") -> Image.Image:
    from npe.editing import EditSession

    session = EditSession.from_photo(model, photo, tune=True)
    radius = RADIUS / BOX * session.box.size
    x0, y0, x1, y1 = session.editable_rect
    rows = []
    for edit in edits:
        points = stroke_in_photo(session, edit, max(1.0, radius / 3))
        color = skin_from(photo, session) if edit.color == SKIN else edit.color
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
    args = parser.parse_args()
    import torch

    from npe.data.image_io import load_image
    from npe.model import load_default

    torch.set_num_threads(1)
    model = load_default().eval()
    edits = [edit for edit in EDITS if args.edit is None or edit.name in args.edit]
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
