"""Calibrate and measure npe.data.face_finder on faces whose true CelebA square is known.

    python benchmarks/calibrate_faces.py [--data DIR] [--placed 500] [--fit] [--cascade]

Runs on one torch thread (the figures are for one CPU core). Measures:
- placed faces: validation CelebA photos (008501-009000) scaled 2-5x, rolled -30..30 degrees and
  pasted on a larger smooth background; the true square follows from CelebA's framing. Correct
  means: centre within 0.15 of the side, side 0.8-1.35x, roll within 10 degrees;
- the same validation photos as they are (89x109: tiny faces);
- UTKFace crops padded into larger canvases (found %; their framing differs from CelebA's);
- skimage.data pictures without faces: faces reported (should be 0);
- seconds per photo, and for a 12-megapixel photo with and without a face.
``--fit`` refits TEMPLATE (landmarks in the CelebA square) on training-split photos (000001-008500).
``--cascade`` also measures the fallback cascade alone on the placed faces.
Reads the archives in memory; writes nothing.
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from npe.data import cascade, face_finder, mtcnn  # noqa: E402
from npe.data.faces import aligned_crop_box  # noqa: E402
from npe.geometry import CropBox  # noqa: E402


def read(archive: Path, names: list[str]) -> list[np.ndarray]:
    with zipfile.ZipFile(archive) as zipped:
        return [np.array(Image.open(io.BytesIO(zipped.read(name))).convert("RGB")) for name in names]


def celeba_names(archive: Path, first: int, last: int) -> list[str]:
    with zipfile.ZipFile(archive) as zipped:
        return sorted(n for n in zipped.namelist() if n.endswith(".jpg") and first <= int(Path(n).stem) <= last)


def smooth_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A two-colour gradient with a faint low-frequency wave: no texture a detector could use."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    a, b = rng.uniform(30, 225, 3), rng.uniform(30, 225, 3)
    t = (xs / width * rng.uniform(0.2, 1) + ys / height * rng.uniform(0.2, 1))[..., None] / 2
    wave = 10 * np.sin(xs / width * 3 + rng.uniform(0, 6))[..., None]
    return np.clip(a * (1 - t) + b * t + wave, 0, 255).astype(np.uint8)


def place(photo: np.ndarray, scale: float, roll: float, rng: np.random.Generator) -> tuple[np.ndarray, CropBox]:
    """The photo scaled, turned counter-clockwise by ``roll`` and pasted on a larger canvas, and its true square."""
    height, width = photo.shape[:2]
    size = (round(width * scale), round(height * scale))
    image = Image.fromarray(photo).resize(size, Image.Resampling.BICUBIC)
    turned = image.rotate(roll, resample=Image.Resampling.BICUBIC, expand=True)
    mask = Image.new("L", size, 255).rotate(roll, resample=Image.Resampling.BICUBIC, expand=True)
    canvas_w, canvas_h = round(turned.width * 1.8), round(turned.height * 1.6)
    canvas = Image.fromarray(smooth_background(rng, canvas_w, canvas_h))
    left = int(rng.integers(0, canvas_w - turned.width + 1))
    top = int(rng.integers(0, canvas_h - turned.height + 1))
    canvas.paste(turned, (left, top), mask)
    true = aligned_crop_box(size[0], size[1])
    # PIL turns about the image centre; with expand the centre moves to the middle of the new size.
    dx, dy = true.center_x - size[0] / 2, true.center_y - size[1] / 2
    radians = math.radians(roll)
    x = left + turned.width / 2 + dx * math.cos(radians) + dy * math.sin(radians)
    y = top + turned.height / 2 - dx * math.sin(radians) + dy * math.cos(radians)
    return np.asarray(canvas), CropBox(x, y, true.size, roll)


def judge(found: CropBox | None, true: CropBox) -> tuple[bool, float, float, float]:
    """(correct, centre error / side, side ratio, roll error) of a found square against the true one."""
    if found is None:
        return False, math.inf, 0.0, math.inf
    centre = math.hypot(found.center_x - true.center_x, found.center_y - true.center_y) / true.size
    ratio = found.size / true.size
    roll = abs(math.remainder(found.angle - true.angle, 360.0))
    return centre <= 0.15 and 0.8 <= ratio <= 1.35 and roll <= 10, centre, ratio, roll


def summarise(label: str, rows: list[tuple[bool, float, float, float]], found: int, seconds: list[float]) -> None:
    total = len(rows)
    hits = [row for row in rows if math.isfinite(row[1])]
    centre = np.array([row[1] for row in hits]) if hits else np.array([np.nan])
    ratio = np.array([row[2] for row in hits]) if hits else np.array([np.nan])
    roll = np.array([row[3] for row in hits]) if hits else np.array([np.nan])
    print(
        f"{label}: found {found / total:.1%}, correct {sum(row[0] for row in rows) / total:.1%} of {total}; "
        f"centre error / side median {np.median(centre):.3f} (95th pct {np.percentile(centre, 95):.3f}), "
        f"side ratio median {np.median(ratio):.3f} [{np.percentile(ratio, 5):.2f}, {np.percentile(ratio, 95):.2f}], "
        f"roll error median {np.median(roll):.1f} deg (95th pct {np.percentile(roll, 95):.1f}); "
        f"{np.median(seconds) * 1000:.0f} ms per photo (median)"
    )


def largest(photo: np.ndarray) -> tuple[CropBox | None, list[face_finder.Face]]:
    faces = face_finder.find_faces(photo)
    return (faces[0].box if faces else None), faces


def cascade_box(photo: np.ndarray) -> CropBox | None:
    found = cascade.locate(photo)
    return None if found is None else cascade.crop_box_for(found)


def fit_template(archive: Path, count: int) -> None:
    names = celeba_names(archive, 1, 8500)
    names = names[:: max(1, len(names) // count)][:count]
    points = []
    for photo in read(archive, names):
        big = np.asarray(Image.fromarray(photo).resize((178, 218), Image.Resampling.BICUBIC))
        padded = np.pad(big, ((60, 60), (60, 60), (0, 0)), mode="edge")
        found = mtcnn.detect(padded)
        if found:
            true = aligned_crop_box(178, 218)
            points.append(CropBox(true.center_x + 60, true.center_y + 60, true.size).to_crop(found[0].landmarks))
    template = np.median(np.array(points), axis=0)
    print(f"TEMPLATE from {len(points)} of {len(names)} training photos:\n{np.round(template, 4).tolist()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"), help="folder with the archives")
    parser.add_argument("--placed", type=int, default=500, help="validation photos to place (at most 500)")
    parser.add_argument("--utk", type=int, default=200, help="UTKFace crops to pad")
    parser.add_argument("--fit", action="store_true", help="refit TEMPLATE on training photos first")
    parser.add_argument("--cascade", action="store_true", help="also measure the cascade alone on placed faces")
    args = parser.parse_args()
    torch.set_num_threads(1)
    celeba = args.data / "celeba-9k.zip"
    if args.fit:
        fit_template(celeba, 300)

    rng = np.random.default_rng(0)
    names = celeba_names(celeba, 8501, 9000)
    names = names[:: max(1, len(names) // args.placed)][: args.placed]
    photos = read(celeba, names)
    face_finder.find_faces(photos[0])  # load the weights before timing

    rows, cascade_rows, seconds, cascade_seconds, found, cascade_found = [], [], [], [], 0, 0
    scores, doubtful = [], 0
    for photo in photos:
        canvas, true = place(photo, float(rng.uniform(2, 5)), float(rng.uniform(-30, 30)), rng)
        start = time.perf_counter()
        box, faces = largest(canvas)
        seconds.append(time.perf_counter() - start)
        found += box is not None
        rows.append(judge(box, true))
        if faces:
            scores.append(faces[0].score)
            doubtful += not faces[0].confident
        if args.cascade:
            start = time.perf_counter()
            box = cascade_box(canvas)
            cascade_seconds.append(time.perf_counter() - start)
            cascade_found += box is not None
            cascade_rows.append(judge(box, true))
    summarise("placed faces (2-5x, rolled +-30 deg)", rows, found, seconds)
    if scores:
        print(f"  scores of the largest face: median {np.median(scores):.3f}, 5th pct {np.percentile(scores, 5):.3f}; "
              f"doubtful {doubtful} of {len(scores)}")
    if args.cascade:
        summarise("  the cascade alone, same photos", cascade_rows, cascade_found, cascade_seconds)

    rows, seconds, found, small = [], [], 0, 0
    for photo in photos:
        start = time.perf_counter()
        box, faces = largest(photo)
        seconds.append(time.perf_counter() - start)
        found += box is not None
        small += bool(faces) and faces[0].smaller_than()
        rows.append(judge(box, aligned_crop_box(photo.shape[1], photo.shape[0])))
    summarise("validation photos as they are (89x109, tiny faces)", rows, found, seconds)
    print(f"  flagged smaller than the model's 64 px: {small} of {found}")

    with zipfile.ZipFile(args.data / "utkface-crop-9k.zip") as zipped:
        utk_names = sorted(n for n in zipped.namelist() if n.endswith(".jpg"))
    utk_names = utk_names[:: max(1, len(utk_names) // args.utk)][: args.utk]
    found, ratios = 0, []
    for crop in read(args.data / "utkface-crop-9k.zip", utk_names):
        canvas = smooth_background(rng, 520, 440)
        left, top = int(rng.integers(0, 320)), int(rng.integers(0, 240))
        canvas[top : top + 200, left : left + 200] = crop
        box, _ = largest(canvas)
        if box is not None and left <= box.center_x <= left + 200 and top <= box.center_y <= top + 200:
            found += 1
            ratios.append(box.size / 200)
    print(f"UTKFace crops padded to 520x440: found inside the crop {found / len(utk_names):.1%} of {len(utk_names)}, "
          f"square side / crop side median {np.median(ratios):.2f}")

    from skimage import data

    total, confident = 0, 0
    report = []
    for name in ("coffee", "chelsea", "rocket", "coins", "brick", "grass", "gravel", "moon", "horse", "immunohistochemistry"):
        picture = getattr(data, name)()
        if picture.dtype == bool:
            picture = picture.astype(np.uint8) * 255
        if picture.ndim == 2:
            picture = np.repeat(picture[:, :, None], 3, axis=2)
        faces = face_finder.find_faces(np.ascontiguousarray(picture[:, :, :3]))
        total += len(faces)
        confident += sum(face.confident for face in faces)
        report.append(f"{name} {len(faces)}")
    print(f"pictures without faces: {total} faces reported ({confident} confident): {', '.join(report)}")

    big_face = Image.fromarray(photos[1]).resize((540, 660), Image.Resampling.BICUBIC)
    twelve = Image.fromarray(smooth_background(rng, 4000, 3000))
    twelve.paste(big_face, (1700, 1100))
    for label, picture in (("with a face", np.asarray(twelve)), ("without a face", smooth_background(rng, 4000, 3000))):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            faces = face_finder.find_faces(picture)
            times.append(time.perf_counter() - start)
        print(f"12-megapixel photo {label}: {min(times):.2f} s (best of 3, one thread), {len(faces)} face(s)")


if __name__ == "__main__":
    main()
