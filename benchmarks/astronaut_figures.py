"""README figures on a real, committable photo: scikit-image's astronaut (a NASA portrait in the
public domain) opened in the editor as users get it (fitted to the photo), then a white stroke over
the mouth (local reach) and a dark stroke across the forehead (wide reach), each shown before |
after, cropped to the face. Writes resources/docs/astronaut_mouth.png and astronaut_forehead.png.

    python benchmarks/astronaut_figures.py [--out resources/docs]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Stroke end points in units of the face box's side from its centre (as benchmarks/edit_quality.py).
STROKES = {
    "mouth": ((255, 255, 255), (-0.12, 0.30), (0.12, 0.30), 4.0),
    "forehead": ((40, 30, 25), (-0.22, -0.36), (0.22, -0.36), 16.0),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("resources/docs"))
    args = parser.parse_args()
    import torch
    from skimage import data

    from npe.editing import EditSession
    from npe.editing.brush import densify
    from npe.model.runtime import load_model

    torch.set_num_threads(1)
    model = load_model(None, device="cpu")
    photo = data.astronaut()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (color, start, end, reach) in STROKES.items():
        session = EditSession.from_photo(model, photo, tune=True)
        box = session.box
        (ux, uy), (vx, vy) = box.axes
        ends = [(box.center_x + box.size * (a * ux + b * vx), box.center_y + box.size * (a * uy + b * vy)) for a, b in (start, end)]
        radius = box.size / 30
        session.paint(densify(ends + ends[::-1], radius / 2), color=color, radius=radius, reach=reach)
        x0, y0, x1, y1 = session.editable_rect
        before, after = photo[y0:y1, x0:x1], session.result()[y0:y1, x0:x1]
        gap = np.full((before.shape[0], 6, 3), 255, np.uint8)
        figure = Image.fromarray(np.concatenate([before, gap, after], axis=1))
        figure = figure.resize((figure.width * 2, figure.height * 2), Image.Resampling.LANCZOS)  # the face box is small
        path = args.out / f"astronaut_{name}.png"
        figure.save(path, optimize=True)
        print(f"wrote {path} ({path.stat().st_size // 1024} KB), stroke {ends[0][0]:.0f},{ends[0][1]:.0f} -> {ends[1][0]:.0f},{ends[1][1]:.0f}, radius {radius:.1f} px")


if __name__ == "__main__":
    main()
