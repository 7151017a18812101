"""README figure: named attributes applied to a real, public-domain photo (scikit-image's
astronaut, Eileen Collins) through the editor's own path: Workspace -> EditSession.move_attributes,
the masking technique pasting the change back into the full photo.

    python benchmarks/attribute_figure.py [--weights W] [--out resources/docs/attributes_astronaut.png]

Re-run it whenever a new model (and its `npe directions` file) ships. Prints what it wrote and each
panel's label; the panels show the face region of the full-resolution result.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from npe.editing.attributes import edit_label
from npe.editing.workspace import Workspace

# The photo is of a smiling woman, so the telling moves are away from that: less smile, more male.
EDITS: tuple[dict[str, float], ...] = ({}, {"Smiling": -2.0}, {"Eyeglasses": 2.0}, {"Bangs": 2.0}, {"Male": 2.0}, {"Young": -2.0})
PANEL = 200  # pixels per panel side
MARGIN = 0.35  # of the face box, shown around it


def face_region(image: np.ndarray, box: object) -> np.ndarray:
    """The face box (plus a margin) of ``image``, square, resized to PANEL."""
    half = box.size * (0.5 + MARGIN)
    x0, y0 = max(0, int(box.center_x - half)), max(0, int(box.center_y - half))
    x1, y1 = min(image.shape[1], int(box.center_x + half)), min(image.shape[0], int(box.center_y + half))
    return np.asarray(Image.fromarray(np.ascontiguousarray(image[y0:y1, x0:x1])).resize((PANEL, PANEL), Image.LANCZOS))


def make_figure(weights: str | None, out: Path) -> list[str]:
    from skimage import data

    workspace = Workspace()
    workspace.load_model(weights, "cpu")
    workspace.require_attributes()
    with tempfile.TemporaryDirectory() as folder:
        photo = Path(folder) / "astronaut.png"
        Image.fromarray(data.astronaut()).save(photo)
        session = workspace.open_photo(photo)
    panels, labels = [], []
    for values in EDITS:
        if values:
            session.move_attributes(values)
        panels.append(face_region(session.result(), session.box))
        labels.append(edit_label(values) if values else "Photo")
        if values:
            session.undo()
    label_height = 24
    sheet = Image.new("RGB", (PANEL * len(panels), PANEL + label_height), "white")
    draw = ImageDraw.Draw(sheet)
    try:  # a font with σ and −; PIL's built-in one has neither
        font = ImageFont.truetype("DejaVuSans.ttf", 14)
    except OSError:
        font, labels = ImageFont.load_default(), [label.replace("σ", "sd").replace("\u2212", "-") for label in labels]
    for index, (panel, label) in enumerate(zip(panels, labels)):
        sheet.paste(Image.fromarray(panel), (index * PANEL, 0))
        width = draw.textlength(label, font=font)
        draw.text((index * PANEL + (PANEL - width) / 2, PANEL + 4), label, fill="black", font=font)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, optimize=True)
    return labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", help="model weights (default: the bundled model)")
    parser.add_argument("--out", type=Path, default=Path("resources/docs/attributes_astronaut.png"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    labels = make_figure(args.weights, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB): {' | '.join(labels)}")


if __name__ == "__main__":
    main()
