"""How much lipstick can the judge read from the lips alone? The ceiling of the lips row.

    python benchmarks/lipstick_ceiling.py [--limit N]

The lips row of edit_quality.py (red over the lips of validation faces without lipstick, picked by
CelebA's labels) scores a brush by the paint-robust judge's Wearing_Lipstick. This script asks what
any change of the lips' colour could score, with no model and no brush in the way: each face's lips
(npe.editing.brush.tint.lips_map on the judge's 64 px crop, the brush's own lips) are recoloured
straight to a lipstick colour, their texture kept (each pixel's CIELAB shifted by the lips' median's
distance to the target, weighted by the map). Printed per colour, for the lips row's faces (men and
women apart) and the validation women without lipstick (edit_quality's ``lips_women``):

  hit        the judge reads Wearing_Lipstick
  painted    the judge's mean "painted" probability
  unpainted  a hit not also read as painted
  male       the judge reads Male (identity: a lipstick edit must not change it)

and, from the labels, how many training men and women wear lipstick. The colours: the median lips of
300 training faces labelled Wearing_Lipstick (measured here), a deeper and a darker red, a pink, and
shifts of the lips' own colour toward red. CelebA images are read, nothing is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from pathlib import Path

import numpy as np
from skimage import color as skcolor

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import edit_quality as eq  # noqa: E402
from attribute_classifier import PAINTED, RESOLUTION, load_classifier  # noqa: E402

from npe.data.faces import aligned_crop_box, crop_face  # noqa: E402
from npe.editing.brush.tint import lips_map  # noqa: E402

TRAINING = range(1, 8001)  # CelebA 000001-008000: inside the training split (validation is 008501-009000)


def crops(names: list[str]) -> np.ndarray:
    """The judge's 64 px model-framed crops of CelebA photos (uint8 N x 64 x 64 x 3)."""
    photos = eq.read_photos(names)
    out = []
    for name in names:
        photo = photos[name]
        out.append(crop_face(photo, aligned_crop_box(photo.shape[1], photo.shape[0]), RESOLUTION))
    return np.stack(out)


def lips_colour(images: np.ndarray) -> np.ndarray:
    """The median over faces of each face's median lips colour (CIELAB)."""
    colours = []
    for image in images:
        lab = skcolor.rgb2lab(image / 255.0)
        lips = lips_map(lab) >= 0.5
        if lips.sum() > 3:
            colours.append(np.median(lab[lips], axis=0))
    return np.median(np.array(colours), axis=0)


def recolour(images: np.ndarray, target: np.ndarray | None = None, shift: np.ndarray | None = None) -> np.ndarray:
    """Each face's lips moved to ``target`` (their median goes there, texture kept) or by ``shift`` (CIELAB)."""
    out = []
    for image in images:
        lab = skcolor.rgb2lab(image / 255.0)
        weight = lips_map(lab)
        core = weight >= 0.5
        reference = np.median(lab[core], axis=0) if core.any() else lab[core.shape[0] // 2, core.shape[1] // 2]
        move = (target - reference) if target is not None else shift
        moved = lab + weight[..., None] * np.asarray(move, np.float64)
        with warnings.catch_warnings():  # a dark red's few out-of-gamut pixels are clipped, as the brush's are
            warnings.simplefilter("ignore", UserWarning)
            out.append((np.clip(skcolor.lab2rgb(moved), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    return np.stack(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=50, help="faces per row (as edit_quality.py)")
    args = parser.parse_args()

    labels = eq.read_labels(eq.DATA / "list_attr_celeba-9k.txt")
    for sex, male in (("men", 1), ("women", -1)):
        group = [name for name in labels if name[:6].isdigit() and int(name[:6]) in TRAINING and labels[name]["Male"] == male]
        wearing = sum(labels[name]["Wearing_Lipstick"] > 0 for name in group)
        print(f"training {sex}: {len(group)}, labelled Wearing_Lipstick {wearing} ({100 * wearing / len(group):.1f}%)")
    wearers = [name for name in (f"{index:06d}.jpg" for index in TRAINING) if labels[name]["Wearing_Lipstick"] > 0][:300]
    lipstick = lips_colour(crops(wearers))
    print(f"lips of 300 training faces wearing lipstick, median CIELAB: {np.round(lipstick, 1).tolist()}")

    judge = load_classifier()
    hit_column, painted_column, male_column = (judge.column(name) for name in ("Wearing_Lipstick", PAINTED, "Male"))
    lips = next(edit for edit in eq.EDITS if edit.name == "lips")
    rows = {"lips row": lips, "women without lipstick": dataclasses.replace(lips, labels={"Wearing_Lipstick": -1, "Male": -1})}
    colours: list[tuple[str, dict[str, np.ndarray]]] = [
        ("as photographed", {}),
        ("lipstick wearers' median", {"target": lipstick}),
        ("deeper red (45, 45, 25)", {"target": np.array([45.0, 45.0, 25.0])}),
        ("dark red (35, 50, 25)", {"target": np.array([35.0, 50.0, 25.0])}),
        ("pink (55, 50, 5)", {"target": np.array([55.0, 50.0, 5.0])}),
        ("own colour, a* +20 b* +8", {"shift": np.array([0.0, 20.0, 8.0])}),
        ("own colour, L -10 a* +25 b* +10", {"shift": np.array([-10.0, 25.0, 10.0])}),
    ]
    for title, edit in rows.items():
        names = eq.pick_faces(labels, edit, args.limit)
        is_man = np.array([labels[name]["Male"] > 0 for name in names])
        base = crops(names)
        print(f"\n{title}: {len(names)} faces ({is_man.sum()} men, {(~is_man).sum()} women)")
        print(f"{'lips':34s} {'hit':>5s} {'men':>5s} {'women':>6s} {'painted':>8s} {'unpainted':>10s} {'male':>5s}")
        for name, how in colours:
            images = recolour(base, **how) if how else base
            read = judge.probabilities(images)
            hit = read[:, hit_column] > 0.5
            men = f"{100 * hit[is_man].mean():5.0f}" if is_man.any() else "    -"
            women = f"{100 * hit[~is_man].mean():6.0f}" if (~is_man).any() else "     -"
            unpainted = hit & (read[:, painted_column] < 0.5)
            print(f"{name:34s} {100 * hit.mean():5.0f} {men} {women} {read[:, painted_column].mean():8.2f} "
                  f"{100 * unpainted.mean():10.0f} {100 * (read[:, male_column] > 0.5).mean():5.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
