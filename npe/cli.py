"""The `npe` command: argument parsing for the editor and its subcommands, and dispatch through one
table (SUBCOMMANDS: name, one-line summary, parser, handler in npe.commands).

Handlers import their (heavy) modules lazily so `npe --help` and `npe --version` stay instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from npe import __version__
from npe.errors import UserError


@dataclass(frozen=True)
class Subcommand:
    """One `npe COMMAND`: its ``summary`` line in `npe --help`, ``add_parser(commands, summary)`` for
    its arguments, and ``handler``, "module:function" under npe.commands, imported only to run it."""

    name: str
    summary: str
    add_parser: Callable[[argparse._SubParsersAction, str], None]
    handler: str

    def run(self, args: argparse.Namespace) -> int:
        # Imported by name (packaging/npe.spec bundles every npe.commands module for this).
        module, function = self.handler.split(":")
        return int(getattr(importlib.import_module(f"npe.commands.{module}"), function)(args))


def _add_weights(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--weights", metavar="W", help="model weights (NAME.safetensors with NAME.json beside it); default: the bundled model")


def _add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where the model runs (default: auto)")


def build_editor_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="npe",
        description=(
            "Neural Photo Editor: open a face photo and paint on it; a generative model makes the change plausible.\n\n"
            "subcommands (see 'npe COMMAND --help'):\n" + "\n".join(f"  {command.name:<12} {command.summary}" for command in SUBCOMMANDS)
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"npe {__version__}")
    parser.add_argument("image", nargs="?", help="a photo to open (the face is found and cropped automatically)")
    parser.add_argument("--index", type=int, metavar="N", help="start from bundled sample face N instead of a photo")
    parser.add_argument("--dataset", metavar="ARCHIVE|FOLDER", help="browse sample faces from your own face collection")
    _add_weights(parser)
    _add_device(parser)
    parser.add_argument("--screenshot", metavar="OUT.png", help="render the window offscreen to OUT.png and exit")
    parser.add_argument("--paint", metavar="X1,Y1,X2,Y2,...", action="append", default=[], help="with --screenshot: a stroke to paint first (image pixels)")
    parser.add_argument("--color", default="#ffffff", help="brush colour for --paint (default: #ffffff)")
    parser.add_argument("--radius", type=float, default=None, help="brush radius for --paint, in image pixels")
    parser.add_argument("--size", default="1280x800", help="window size for --screenshot (default: 1280x800)")
    parser.add_argument("--show-box", action="store_true", help="with --screenshot: select the Face box tool, so the box's handles show")
    return parser


def _train_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    train = commands.add_parser("train", help=summary, description="Train an Introspective Adversarial Network on face photos.")
    train.add_argument("data", nargs="+", metavar="DATA", help="zip archives or folders of CelebA-aligned face photos (several may be combined)")
    train.add_argument("--out", default="runs/ian", metavar="DIR", help="output folder: checkpoint, metrics.jsonl, grids, exported weights (default: runs/ian)")
    train.add_argument("--name", default="model", help="file name of the exported weights (default: model)")
    train.add_argument("--resolution", type=int, default=None, help="image size the model works at (default: 64)")
    train.add_argument("--latent-dim", type=int, default=None, help="number of latents (default: 100)")
    train.add_argument("--width", type=int, default=None, help="trunk channels at the first stage")
    train.add_argument("--generator-width", type=int, default=None, help="generator channels at full resolution")
    # The run settings below default to None: a --config file's value then applies, else TrainConfig's default.
    train.add_argument("--batch-size", type=int, default=None, help="images per step and process (default: 64)")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=int, help="total training steps")
    length.add_argument("--epochs", type=float, help="total passes over the training images")
    train.add_argument("--lr-g", type=float, default=None, help="learning rate of generator and encoder")
    train.add_argument("--lr-d", type=float, default=None, help="learning rate of the discriminator trunk")
    train.add_argument("--warmup-steps", type=int, default=None, help="VAE-only steps before the adversarial terms")
    train.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    _add_device(train)
    train.set_defaults(device=None)  # auto, unless --config names a device
    train.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    train.add_argument("--checkpoint-minutes", type=float, default=None, help="minutes between checkpoints (default: 5)")
    train.add_argument("--validate-minutes", type=float, default=None, help="minutes between validation and grids (default: 5)")
    train.add_argument("--time-limit", type=float, default=None, metavar="MINUTES", help="stop (with a checkpoint) after this many minutes")
    train.add_argument("--always-export", action="store_true",
                       help="also export the weights (and validate) when --time-limit stops the run before its last step")
    train.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt exactly where it stopped")
    train.add_argument("--init-from", metavar="W", help="start from these weights (e.g. the bundled model) instead of random ones; fresh optimizers and discriminator head")
    train.add_argument("--val-size", type=int, default=None, help="validation images: the last N by name (default: 500)")
    train.add_argument(
        "--labels", metavar="FILE",
        help="attribute labels in CelebA's list_attr format (matched to the photos by file name; photos without a row "
        "are unlabelled): training-only heads learn them, so z is laid out by meaning",
    )
    train.add_argument(
        "--refine-encoder", action="store_true",
        help="with --init-from: keep the generator as it is and train only the encoder to invert it "
        "(no adversarial terms; sharper reconstructions without changing the sample faces or directions)",
    )
    train.add_argument("--config", metavar="JSON", help="a JSON file with ModelConfig/TrainConfig fields to override")
    for flag, help_text in (
        ("--no-mdc", "plain 3x3 convs instead of MDC blocks"),
        ("--binary", "binary real/fake discriminator instead of the ternary one"),
        ("--no-feature-loss", "no feature-wise reconstruction loss"),
        ("--no-ortho", "no orthogonal regularisation"),
        ("--no-recon-grad-to-trunk", "reconstruction gradients do not train the shared trunk (the paper's setup)"),
    ):
        train.add_argument(flag, action="store_true", help=help_text)
    train.add_argument("--quiet", action="store_true", help="no progress lines")


def _eval_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    evaluate = commands.add_parser("eval", help=summary, description="Reconstruction PSNR/SSIM, sharpness ratio, sample SWD, and a PCA-100 baseline.")
    _add_weights(evaluate)
    evaluate.add_argument("--data", required=True, nargs="+", metavar="D", help="zip archive(s) or folder(s) of face photos")
    evaluate.add_argument("--split", choices=("val", "all"), default="val", help="images to measure on: the validation split (last 500 by name) or all (default: val)")
    evaluate.add_argument("--val-size", type=int, default=500)
    evaluate.add_argument("--samples", type=int, default=2000, help="random samples for the SWD (default: 2000)")
    evaluate.add_argument("--no-pca", action="store_true", help="skip the PCA baseline")
    evaluate.add_argument("--no-fd", action="store_true",
                          help="skip the Frechet distance in EfficientNet-Lite0's features (measured when the 'perceptual' extra is installed)")
    evaluate.add_argument("--report", metavar="FILE.json", help="where to write the JSON report (default: beside the weights, NAME.eval.json)")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--limit", type=int, default=None, help="measure on at most this many images (the first of the split)")
    evaluate.add_argument("--tune", action="store_true", help="also report reconstructions after the editor's per-photo tuning (slow, seconds per face; NOT the model's quality)")
    _add_device(evaluate)


def _reconstruct_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    reconstruct = commands.add_parser("reconstruct", help=summary, description="For each image: NAME.input.png (the face crop) and NAME.recon.png (its reconstruction).")
    _add_weights(reconstruct)
    reconstruct.add_argument("--data", required=True, nargs="+", metavar="D")
    reconstruct.add_argument("--out", required=True, metavar="DIR")
    reconstruct.add_argument("--split", choices=("val", "all"), default="all")
    reconstruct.add_argument("--val-size", type=int, default=500)
    reconstruct.add_argument("--limit", type=int, default=None, help="at most this many images")
    reconstruct.add_argument("--tune", action="store_true", help="reconstruct through the editor's per-photo tuning, as a photo opens (slow, seconds per face; default: the encoder only)")
    _add_device(reconstruct)


def _sample_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    sample = commands.add_parser("sample", help=summary, description="Decode random latents z ~ N(0, I) into face images.")
    _add_weights(sample)
    sample.add_argument("--n", type=int, default=16, help="how many faces (default: 16)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True, metavar="DIR")
    sample.add_argument("--grid", action="store_true", help="also write all samples as one grid.png")
    _add_device(sample)


def _edit_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    from npe.commands.edit import EXIT_STATUS_HELP

    edit = commands.add_parser("edit", help=summary, description="Apply brush strokes and latent edits to a photo and write the full-resolution result.", epilog=EXIT_STATUS_HELP)
    edit.add_argument("input", nargs="?", metavar="INPUT", help="the photo to edit")
    edit.add_argument("--index", type=int, metavar="N", help="start from bundled sample face N instead of INPUT")
    edit.add_argument("-o", "--output", required=True, metavar="OUT.png", help="the result: .png, .jpg, .webp or .tif (the extension names the format)")
    edit.add_argument("--overwrite", action="store_true", help="allow OUT to be INPUT itself (the original is replaced)")
    edit.add_argument("--stroke", action="append", default=[], metavar="X1,Y1,X2,Y2,...", help="brush positions in input pixels; repeat for several strokes, applied in order")
    edit.add_argument("--color", action="append", default=[], help="brush colour, e.g. '#ffffff' (one for all strokes, or one per stroke)")
    edit.add_argument("--radius", type=float, default=None, help="brush radius in input pixels")
    edit.add_argument("--strength", type=float, default=None, help="brush strength (default: 1.0)")
    edit.add_argument("--steps", type=int, default=None, help="brush steps per position (each also widens how far the stroke may move z)")
    edit.add_argument("--reach", type=float, default=None, metavar="PX", help="how far a stroke's change may spread beyond the brush, in pixels of the model's face crop (default 4: local; 16: e.g. hair from a forehead stroke)")
    edit.add_argument("--ways", action="store_true", help="list the ways the model has to make each stroke (on stderr), to pick one with --answer")
    edit.add_argument("--answer", action="append", type=int, default=[], metavar="N",
                      help="paint the stroke the model's N-th way (as --ways lists them; 0: its own, the default); one for all strokes, or one per stroke")
    edit.add_argument("--no-tune", action="store_true", help="skip fitting the model to the photo when it is opened (faster; the reconstruction is the encoder's)")
    edit.add_argument("--protect", action="append", default=[], metavar="X1,Y1,X2,Y2,...", help="paint the protect mask along these positions (same radius)")
    edit.add_argument("--direction", action="append", default=[], metavar="K=VALUE", help="move along principal direction K by VALUE (standard deviations)")
    edit.add_argument("--attribute", action="append", default=[], metavar="NAME=VALUE", help="move along a named attribute (CelebA name, any case: smiling, eyeglasses, bangs, male...) by VALUE standard deviations; repeatable")
    edit.add_argument("--crop-only", action="store_true", help="write the model-resolution crop instead of the full photo")
    edit.add_argument(
        "--strip-metadata", action="store_true",
        help="leave out the photo's EXIF (camera, date, location) and npe's edit notes; the colour profile is kept (it is how the pixels look)",
    )
    edit.add_argument("--whole-image", action="store_true", help="use the whole image when no face (or only a doubtful one) is found")
    edit.add_argument("--face", type=int, metavar="K", help="edit face K of the photo (0 = the largest, as `npe faces` lists them), even a doubtful one")
    edit.add_argument("--box", metavar="X,Y,SIDE[,ANGLE]", help="place the face square by hand: centre and side in photo pixels, roll in degrees (counter-clockwise)")
    edit.add_argument("--dataset", metavar="ARCHIVE|FOLDER", help="with --index: take face N from this collection instead of the bundled gallery")
    _add_weights(edit)
    _add_device(edit)


def _faces_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    from npe.commands.faces import add_parser

    add_parser(commands, summary)


def _directions_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    from npe.commands.directions import add_parser

    add_parser(commands, summary)


def _gallery_parser(commands: argparse._SubParsersAction, summary: str) -> None:
    from npe.commands.gallery import add_parser

    add_parser(commands, summary)


# Every subcommand, in the order `npe --help` lists them.
SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("train", "train an IAN on face photos (zip archives or folders)", _train_parser, "train:train_command"),
    Subcommand("eval", "measure a model: PSNR, SSIM, sharpness, SWD, PCA baseline", _eval_parser, "evaluate:eval_command"),
    Subcommand("reconstruct", "write face crops and their reconstructions as PNG pairs", _reconstruct_parser, "evaluate:reconstruct_command"),
    Subcommand("sample", "write random faces", _sample_parser, "evaluate:sample_command"),
    Subcommand("edit", "apply brush strokes and latent edits from the command line", _edit_parser, "edit:edit_command"),
    Subcommand("faces", "list the faces found in photos, with their crop squares and scores", _faces_parser, "faces:faces_command"),
    Subcommand("directions", "compute a model's slider directions (principal and attributes)", _directions_parser, "directions:directions_command"),
    Subcommand("gallery", "pick a model's sample faces for the gallery", _gallery_parser, "gallery:gallery_command"),
)
_BY_NAME = {command.name: command for command in SUBCOMMANDS}


def build_command_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or of ``only`` that one (`npe COMMAND` then imports nothing
    the other subcommands' arguments need)."""
    parser = argparse.ArgumentParser(prog="npe", description="Neural Photo Editor command-line tools.")
    parser.add_argument("--version", action="version", version=f"npe {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in SUBCOMMANDS:
        if only is None or command.name == only:
            command.add_parser(commands, command.summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from npe.fileio import remove_temps_on_signals

    remove_temps_on_signals()  # a terminated export leaves no temp file behind
    try:
        if argv and argv[0] in _BY_NAME:
            args = build_command_parser(only=argv[0]).parse_args(argv)
            return _BY_NAME[args.command].run(args)
        args = build_editor_parser().parse_args(argv)
        from npe.ui.app import run_editor

        return run_editor(args)
    except UserError as exc:
        print(f"npe: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("npe: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
