"""Calibrate npe.data.faces: fit the detection box -> CelebA framing constants and measure the face finder.

CelebA "aligned & cropped" photos are the ground truth: every face sits at the same place with level
eyes, so the true crop square of each (CropConfig fractions) and its roll (0) are known. Each photo
is enlarged (the archive holds half-scale 89x109 copies, small for a 24-pixel detector window) and
padded by edge replication, so the finder sees a face with context, as in a real photo.

    python benchmarks/calibrate_faces.py --data /path/to/celeba-9k.zip [--count 400]

Prints the fitted constants (copy them into npe/data/faces.py), then, with those constants and on
photos not used for the fit: the detection rate, the mean IoU of the predicted crop against the
true one, and the roll error on copies turned by random known angles. Reads the archive in memory;
writes nothing.
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from npe.config import CropConfig  # noqa: E402
from npe.data import faces  # noqa: E402
from npe.data.faces import CropBox  # noqa: E402

PAD = 0.35  # padding on every side, as a fraction of the enlarged photo's width


def read_photos(archive: Path, count: int) -> list[tuple[str, np.ndarray]]:
    """``count`` photos spread evenly over the archive (sorted names), decoded in memory."""
    with zipfile.ZipFile(archive) as zipped:
        names = sorted(n for n in zipped.namelist() if n.lower().endswith((".jpg", ".jpeg", ".png")))
        step = max(1, len(names) // count)
        chosen = names[::step][:count]
        return [(name, np.array(Image.open(io.BytesIO(zipped.read(name))).convert("RGB"))) for name in chosen]


def present(photo: np.ndarray, enlarge: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Enlarged, padded photo and where the aligned original lies in it: (centre x, centre y, width)."""
    height, width = photo.shape[:2]
    big = np.asarray(Image.fromarray(photo).resize((width * enlarge, height * enlarge), Image.Resampling.BICUBIC))
    pad = round(PAD * width * enlarge)
    padded = np.pad(big, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    return padded, (pad + width * enlarge / 2, pad + height * enlarge / 2, float(width * enlarge))


def turn(photo: np.ndarray, angle: float) -> tuple[np.ndarray, CropBox]:
    """The photo turned counter-clockwise by ``angle`` about its centre (same size, edges repeated),
    and the frame that maps output pixels back: crop_face with it undoes nothing, it *is* the turn."""
    height, width = photo.shape[:2]
    # A crop box of the whole photo turned by -angle shows the content turned by +angle.
    frame = CropBox(width / 2, height / 2, float(max(width, height)), -angle)
    turned = faces.crop_face(photo, frame, max(width, height))
    return turned, frame


def rotate_point(x: float, y: float, center: tuple[float, float], angle: float) -> tuple[float, float]:
    """Where a point lands when the image turns counter-clockwise (on screen) by ``angle`` about ``center``."""
    radians = math.radians(angle)
    dx, dy = x - center[0], y - center[1]
    return (
        center[0] + dx * math.cos(radians) + dy * math.sin(radians),
        center[1] - dx * math.sin(radians) + dy * math.cos(radians),
    )


def cross(a: np.ndarray, b: np.ndarray) -> float:
    """z component of the cross product of two 2-D vectors."""
    return float(a[0] * b[1] - a[1] * b[0])


def polygon_area(points: np.ndarray) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def clip_polygon(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman: the part of convex polygon ``subject`` inside convex polygon ``clip``."""
    sign = 1.0 if cross(clip[1] - clip[0], clip[2] - clip[1]) > 0 else -1.0
    output = list(subject)
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        inside = lambda p: sign * cross(b - a, p - a) >= 0  # noqa: E731
        points, output = output, []
        for j, current in enumerate(points):
            previous = points[j - 1]
            if inside(current):
                if not inside(previous):
                    output.append(intersect(previous, current, a, b))
                output.append(current)
            elif inside(previous):
                output.append(intersect(previous, current, a, b))
        if not output:
            return np.zeros((0, 2))
    return np.array(output)


def intersect(p: np.ndarray, q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    direction, edge = q - p, b - a
    t = cross(a - p, edge) / cross(direction, edge)
    return p + t * direction


def iou(first: CropBox, second: CropBox) -> float:
    """Intersection over union of two (possibly rotated) squares."""
    overlap = clip_polygon(first.corners(), second.corners())
    shared = polygon_area(overlap) if len(overlap) >= 3 else 0.0
    return shared / (first.size**2 + second.size**2 - shared)


def true_box(aligned: tuple[float, float, float], crop: CropConfig) -> CropBox:
    center_x, center_y, width = aligned
    height = width * faces._CELEBA_ASPECT
    return CropBox(
        center_x + (crop.center_x - 0.5) * width, center_y + (crop.center_y - 0.5) * height, crop.size * width
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/celeba-9k.zip"), help="CelebA aligned zip")
    parser.add_argument("--count", type=int, default=400, help="photos to use (half fit, half evaluate)")
    parser.add_argument("--enlarge", type=int, nargs="+", default=[2, 3], help="enlargement factors to present")
    parser.add_argument("--max-roll", type=float, default=25.0, help="largest random turn for the roll test")
    args = parser.parse_args()

    photos = read_photos(args.data, args.count)
    crop = CropConfig()
    fit_rows: list[tuple[float, float, float, float]] = []  # (dx, dy, width ratio, roll) per fit photo
    evaluation: list[tuple[int, np.ndarray, tuple[float, float, float]]] = []
    misses = {"fit": 0}
    started = time.perf_counter()
    for index, (_, photo) in enumerate(photos):
        enlarge = args.enlarge[index % len(args.enlarge)]
        padded, aligned = present(photo, enlarge)
        if index % 2:  # odd photos: held out for evaluation
            evaluation.append((enlarge, padded, aligned))
            continue
        face = faces._locate(padded)
        if face is None:
            misses["fit"] += 1
            continue
        fit_rows.append(
            (
                (aligned[0] - face.center_x) / face.width,
                (aligned[1] - face.center_y) / face.width,
                aligned[2] / face.width,
                face.angle,
            )
        )
    columns = list(zip(*fit_rows))
    fitted = {
        "_ALIGNED_CENTER_X": statistics.median(columns[0]),
        "_ALIGNED_CENTER_Y": statistics.median(columns[1]),
        "_ALIGNED_WIDTH": statistics.median(columns[2]),
        "_ANGLE_BIAS": statistics.median(columns[3]),
    }
    spread = {name: np.subtract(*np.percentile(column, [75, 25])) for name, column in zip(fitted, columns)}
    print(f"fit on {len(fit_rows)} photos ({misses['fit']} without a detection), enlarged {args.enlarge}x:")
    for name, value in fitted.items():
        print(f"{name} = {value:.4f}  # interquartile range {spread[name]:.4f}")

    for name, value in fitted.items():  # evaluate with the new constants
        setattr(faces, name, value)
    rng = np.random.default_rng(0)
    found = 0
    overlaps, rolled_overlaps, roll_errors, upright_rolls, seconds = [], [], [], [], []
    rolled_found = 0
    for enlarge, padded, aligned in evaluation:
        expected = true_box(aligned, crop)
        start = time.perf_counter()
        face = faces._locate(padded)
        seconds.append(time.perf_counter() - start)
        if face is not None:
            found += 1
            box = faces.crop_box_for(face, crop)
            overlaps.append(iou(box, expected))
            upright_rolls.append(box.angle)
        angle = float(rng.uniform(-args.max_roll, args.max_roll))
        turned, frame = turn(padded, angle)
        # Where the true square went: the crop of `turned` is the photo seen through `frame`.
        height, width = padded.shape[:2]
        side = max(width, height)
        offset = ((side - width) / 2, (side - height) / 2)
        center = rotate_point(expected.center_x + offset[0], expected.center_y + offset[1], (side / 2, side / 2), angle)
        turned_expected = CropBox(center[0], center[1], expected.size, angle)
        face = faces._locate(turned)
        if face is not None:
            rolled_found += 1
            box = faces.crop_box_for(face, crop)
            rolled_overlaps.append(iou(box, turned_expected))
            roll_errors.append(box.angle - angle)
    total = len(evaluation)
    errors = np.abs(np.array(roll_errors))
    print(f"\nheld-out photos: {total} (CropConfig {crop})")
    print(f"upright: detection rate {found / total:.1%}, mean IoU {np.mean(overlaps):.3f} "
          f"(median {np.median(overlaps):.3f}, IoU>0.5: {np.mean(np.array(overlaps) > 0.5):.1%}), "
          f"roll read on level faces: median |angle| {np.median(np.abs(upright_rolls)):.2f} deg")
    print(f"turned by up to +-{args.max_roll:g} deg: detection rate {rolled_found / total:.1%}, mean IoU "
          f"{np.mean(rolled_overlaps):.3f}, roll error median {np.median(errors):.2f} deg, "
          f"90th percentile {np.percentile(errors, 90):.2f} deg, over 10 deg: {np.mean(errors > 10):.1%}")
    size = f"{padded.shape[1]}x{padded.shape[0]}"
    print(f"time per upright photo (last one {size}): median {np.median(seconds) * 1000:.0f} ms")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
