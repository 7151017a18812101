"""How well the named attribute sliders work: hit rates and entanglement on the validation split.

    python benchmarks/attribute_quality.py [--weights models/npe-celeba64] [--fit] [--limit 200]

For each attribute: validation faces (008501-009000) labelled without it are moved +2 std along its
direction; we report how often the attribute classifier (benchmarks/attribute_classifier.py) then
reads it, and how often each other attribute's reading flips (the entanglement table). The same
for -2 std on the faces labelled with it. Edits are made on the model's reconstruction G(E(x)),
and "before" is the classifier on that reconstruction. Before/after grids (first 8 faces of each
side) go to /root/npe-scratch/h5/attr-NAME.png (not in git: they are derived from CelebA).

Directions come from the file beside the weights, or with --fit are fitted afresh on the training
split (options --no-condition, --method means) without writing anything.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from attribute_classifier import ATTRIBUTES, DEFAULT_DATA, DEFAULT_LABELS, DEFAULT_MODEL, SCRATCH, load_classifier, training_data  # noqa: E402

ACCEPTANCE = ("Smiling", "Eyeglasses", "Bangs", "Male")


def save_grid(path: Path, rows: list[np.ndarray], zoom: int = 2) -> None:
    """Rows of uint8 images (each k x R x R x 3) stacked into one PNG, ``zoom`` x nearest."""
    from PIL import Image

    width = max(len(row) for row in rows)
    size = rows[0].shape[1]
    canvas = np.full((len(rows) * (size + 2), width * (size + 2), 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            canvas[r * (size + 2) : r * (size + 2) + size, c * (size + 2) : c * (size + 2) + size] = image
    Image.fromarray(canvas).resize((canvas.shape[1] * zoom, canvas.shape[0] * zoom), Image.NEAREST).save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    parser.add_argument("--value", type=float, default=2.0, help="edit size in standard deviations (default: 2)")
    parser.add_argument("--limit", type=int, default=0, help="at most this many faces per side and attribute (0: all)")
    parser.add_argument("--attributes", nargs="+", help="only these (default: every attribute in the directions)")
    parser.add_argument("--fit", action="store_true", help="fit directions afresh on the training split instead of reading the file")
    parser.add_argument("--no-condition", action="store_true", help="with --fit: raw classifier normals, no conditioning")
    parser.add_argument("--method", default="logistic", choices=("logistic", "means"), help="with --fit: the direction fitted")
    parser.add_argument("--grids", type=Path, default=SCRATCH, help="folder for the before/after grids")
    args = parser.parse_args()

    import torch

    from npe.editing.attributes import DEFAULT_ATTRIBUTES, apply_attributes
    from npe.editing.directions import find_attributes, fit_model_attributes
    from npe.model import load_weights
    from npe.model.runtime import decode_latents, encode_images

    torch.set_num_threads(1)
    started = time.time()
    model = load_weights(args.weights).eval()
    images, _, labels, train, validation = training_data(args.data, args.labels)  # columns: ATTRIBUTES
    if args.fit:
        conditions = {} if args.no_condition else None
        fitted = [ATTRIBUTES.index(name) for name in DEFAULT_ATTRIBUTES]
        directions = fit_model_attributes(model, encode_images(model, images[train], 64), labels[train][:, fitted], DEFAULT_ATTRIBUTES, conditions, method=args.method)
    else:
        directions = find_attributes(model, args.weights)
    classifier = load_classifier()
    names = [directions.canonical(name) for name in (args.attributes or directions.names)]
    column = {name: ATTRIBUTES.index(name) for name in ATTRIBUTES}  # label columns

    latents = encode_images(model, images[validation])
    before = classifier.classify(decode_latents(model, latents))
    truth = labels[validation]
    judged_names = [name for name in classifier.names if name in column]
    judged = [classifier.column(name) for name in judged_names]
    print(f"prepared in {time.time() - started:.0f} s; classifier on the unedited reconstructions vs labels: "
          + ", ".join(f"{n} {(before[:, classifier.column(n)] == truth[:, column[n]]).mean():.0%}" for n in judged_names))

    short = [name[:6] for name in judged_names]
    header = f"{'edit':<24}{'faces':>6}{'before':>7}{'hit':>6} | flips: " + " ".join(f"{s:>6}" for s in short)
    results = {}
    for sign in (+1, -1):
        print(f"\n{'+' if sign > 0 else '-'}{args.value:g} std on faces labelled {'without' if sign > 0 else 'with'} it")
        print(header)
        for name in names:
            a = column[name]
            chosen = np.flatnonzero(truth[:, a] != (sign > 0))
            if args.limit:
                chosen = chosen[: args.limit]
            if chosen.size == 0:
                continue
            moved = apply_attributes(latents[chosen], directions, {name: sign * args.value})
            after_images = decode_latents(model, moved)
            after = classifier.classify(after_images)
            target = classifier.column(name)
            wanted = sign > 0
            base_rate = float((before[chosen, target] == wanted).mean())
            hit = float((after[:, target] == wanted).mean())
            flips = [(after[:, j] != before[chosen, j]).mean() for j in judged]
            results[(name, sign)] = (hit, dict(zip(judged_names, flips)))
            cells = " ".join("     ." if other == name else f"{flip:6.0%}" for other, flip in zip(judged_names, flips))
            print(f"{name + (' +' if sign > 0 else ' -'):<24}{chosen.size:>6}{base_rate:>7.0%}{hit:>6.0%} | flips: {cells}", flush=True)
            if args.grids:
                args.grids.mkdir(parents=True, exist_ok=True)
                show = chosen[:8]
                rows = [decode_latents(model, latents[show]), after_images[:8]]
                save_grid(args.grids / f"attr-{name}-{'plus' if sign > 0 else 'minus'}.png", rows)

    print("\nacceptance (+{0:g} std): hit >= 70%, the other three of {1} flip <= 20%".format(args.value, "/".join(ACCEPTANCE)))
    for name in ACCEPTANCE:
        if (name, 1) not in results:
            continue
        hit, flips = results[(name, 1)]
        worst = max(flips[other] for other in ACCEPTANCE if other != name and other in flips)
        verdict = "PASS" if hit >= 0.7 and worst <= 0.2 else "FAIL"
        print(f"  {name:<12} hit {hit:.0%}, worst flip of the others {worst:.0%}: {verdict}")
    print(f"done in {time.time() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
