"""`npe directions`: a model's principal latent directions over its training faces (and, given CelebA
labels, one direction per named attribute), saved beside its weights as NAME.directions.safetensors
for the editor's sliders. Made once per model release; the file format is npe.editing.directions'."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from npe.editing.attributes import DEFAULT_ATTRIBUTES, AttributeDirections, read_celeba_attributes
from npe.editing.directions import DEFAULT_COUNT, Directions, DirectionsError, directions_path, fit_model_attributes, principal_directions, save_directions

if TYPE_CHECKING:
    from npe.model import IAN

BATCH_SIZE = 64


def add_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    """The `directions` subcommand's arguments."""
    parser = commands.add_parser(
        "directions", help=summary,
        description="Compute a model's principal latent directions over its training faces (and, given CelebA "
        "labels, one direction per named attribute) and save them beside the weights as NAME.directions.safetensors.",
    )
    parser.add_argument("--weights", required=True, metavar="W", help="model weights (NAME.safetensors with NAME.json beside it)")
    parser.add_argument("--data", required=True, nargs="+", metavar="ARCHIVE", help="zip archive(s) or folder(s) of face photos")
    parser.add_argument("--labels", metavar="FILE", help="CelebA attribute labels (list_attr_celeba.txt format) for the named directions")
    parser.add_argument("--attributes", nargs="+", default=list(DEFAULT_ATTRIBUTES), metavar="NAME", help="attributes to fit (CelebA names)")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help=f"principal directions to keep (default: {DEFAULT_COUNT})")
    parser.add_argument("--val-size", type=int, default=500, help="images held out as validation: the last N by name (default: 500)")
    parser.add_argument("--out", metavar="FILE", help="where to write (default: beside the weights)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: all cores)")


def training_split(names: Sequence[str], val_size: int) -> np.ndarray:
    """Indices of the training images: the same split `npe train` uses (npe.data.datasets.split_train_val)."""
    from npe.data.datasets import split_train_val

    train, _ = split_train_val(names, val_size)
    return np.asarray(train, dtype=np.int64)


@dataclass(frozen=True)
class BuiltDirections:
    """What `npe directions` makes: principal directions, attribute directions (None without
    labels) and how many training faces they came from."""

    principal: Directions
    attributes: AttributeDirections | None
    training_faces: int


def build_directions(
    model: IAN,
    images: np.ndarray,
    names: Sequence[str],
    *,
    val_size: int = 500,
    count: int = DEFAULT_COUNT,
    labels: str | os.PathLike | None = None,
    attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
    batch_size: int = BATCH_SIZE,
) -> BuiltDirections:
    """Encode the training split of ``images`` (the crops of ``names``; the last ``val_size`` by name
    are validation and never used) once, and fit the principal directions and, given a CelebA
    ``labels`` file, the attribute directions."""
    from npe.model.runtime import encode_images

    train = training_split(names, val_size)
    if train.size < 2:
        raise DirectionsError(f"only {train.size} training image(s); need at least 2")
    latents = encode_images(model, np.asarray(images)[train], batch_size)
    principal = principal_directions(latents, count)
    fitted = None
    if labels is not None:
        table = read_celeba_attributes(labels).for_images([names[i] for i in train], attributes)
        fitted = fit_model_attributes(model, latents, table, attributes)
    return BuiltDirections(principal, fitted, int(train.size))


def directions_command(args: argparse.Namespace) -> int:
    """Build the directions of --weights over --data and write them (beside the weights unless --out)."""
    from npe.commands.evaluate import load_crops
    from npe.model.runtime import load_model

    model = load_model(args.weights, device="cpu", threads=args.threads if args.threads > 0 else os.cpu_count(), warm=False)
    crops = load_crops(args.data, model.config.resolution)  # the training framing, as `npe train` and `npe eval` read it
    built = build_directions(
        model, crops.images, crops.names, val_size=args.val_size, count=args.count, labels=args.labels, attributes=args.attributes
    )
    out = Path(args.out) if args.out else directions_path(args.weights)
    metadata = {"images": str(built.training_faces), "model": Path(args.weights).name}
    save_directions(built.principal, out, metadata, built.attributes)
    explained = ", ".join(f"{s:.2f}" for s in built.principal.stds[:5])
    print(f"wrote {out}: {len(built.principal)} directions from {built.training_faces} faces (std of the first: {explained})")
    if built.attributes is not None:
        print(f"  and {len(built.attributes)} attribute directions: {', '.join(built.attributes.names)}")
    return 0
