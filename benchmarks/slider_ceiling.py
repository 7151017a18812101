"""What the model's own named direction does on an edit's faces, moved as a slider through the
editor's composite: the ceiling a brush stroke for that edit can be compared with.

For each of benchmarks/edit_quality.py's edits, the same 50 validation faces (picked by their labels),
opened as the editor opens them (fitted), then the named attribute set to +2σ and +3σ
(`EditSession.set_attribute`), judged by the committed paint-robust judge: hit (reads the edit's
attribute), unpainted (a hit not also read as painted), painted (mean), identity (Male, Eyeglasses,
Young read as before, those the edit asks for excepted).

    python benchmarks/slider_ceiling.py [--limit 50] [--pair mouth=Smiling eyes=Eyeglasses ...]

Default pairs: mouth=Smiling, mouth=Mouth_Slightly_Open, mouth=Heavy_Makeup, forehead=Bangs,
eyes=Eyeglasses, beard_white=No_Beard. Opened photos are cached as edit_quality.py caches them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import edit_quality as eq  # noqa: E402

PAIRS = ("mouth=Smiling", "mouth=Mouth_Slightly_Open", "mouth=Heavy_Makeup", "forehead=Bangs", "eyes=Eyeglasses", "beard_white=No_Beard")
AMOUNTS = (2.0, 3.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=50, help="faces per edit (default 50)")
    parser.add_argument("--pair", nargs="+", default=list(PAIRS), help="EDIT=ATTRIBUTE pairs")
    parser.add_argument("--sessions", type=Path, default=Path("/root/npe-scratch/sessions"), help="cache of opened photos (.npe)")
    args = parser.parse_args()
    import torch

    from attribute_classifier import PAINTED, RESOLUTION, load_classifier

    from npe.data.faces import aligned_crop_box, crop_face
    from npe.editing.directions import find_attributes
    from npe.model import load_default

    torch.set_num_threads(1)
    model = load_default().eval()
    attributes = find_attributes(model)
    judge = load_classifier()
    edits = {edit.name: edit for edit in eq.EDITS}
    labels = eq.read_labels(eq.DATA / "list_attr_celeba-9k.txt")
    for pair in args.pair:
        name, attribute = pair.split("=")
        edit = edits[name]
        faces = eq.pick_faces(labels, edit, args.limit)
        photos = eq.read_photos(faces)
        columns: dict[str, list[np.ndarray]] = {"before": [], **{f"+{amount:g}σ": [] for amount in AMOUNTS}}
        for face in faces:
            photo = photos[face]
            box = aligned_crop_box(photo.shape[1], photo.shape[0])
            session = eq.open_session(model, attributes, photo, box, face, args.sessions)
            columns["before"].append(crop_face(session.result(), box, RESOLUTION))
            for amount in AMOUNTS:
                session.set_attribute(attribute, amount)
                columns[f"+{amount:g}σ"].append(crop_face(session.result(), box, RESOLUTION))
                session.undo()
        reads = [judge.column(a) for a in edit.reads]
        painted = judge.column(PAINTED)
        identity = [judge.column(a) for a in eq.IDENTITY if a not in edit.reads]
        before = judge.probabilities(np.stack(columns["before"])) > 0.5
        for column, crops in columns.items():
            p = judge.probabilities(np.stack(crops))
            hit = (p[:, reads] > 0.5).any(axis=1)
            kept = ((p[:, identity] > 0.5) == before[:, identity]).all(axis=1)
            print(f"{name:<12} {attribute:<20} {column:<7} n={len(faces)}  hit {hit.mean():6.1%}  unpainted {(hit & (p[:, painted] < 0.5)).mean():6.1%}"
                  f"  painted {p[:, painted].mean():.3f}  identity {kept.mean():6.1%}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
