"""Do edits work on real photos? One white stroke over closed mouths and one dark stroke across
foreheads of validation photos the model never trained on (CelebA 008501-009000), through the
editor's EditSession ("session": fitted to the photo, the local brush, as users get it) and through
the bare local brush on the tuned per-photo generator ("new", the calibration harness).

    python benchmarks/edit_quality.py [--limit N] [--grid-dir DIR] [--only session|new] [--classify]

Faces are picked by CelebA's labels: mouth edits on Mouth_Slightly_Open = -1 and Smiling = -1,
forehead edits on Bangs = -1 and Bald = -1 (the first 50 of each in the split). Per edit it prints
  respond  the mean luminance under the brush moves >= 0.04 (0-1 scale) the right way,
  local    pixels > 25 px from the stroke (89x109 scale) change by <= 2/255 on average and
           <= 8/255 at the 99th percentile (per pixel: the largest change over its channels),
the rate of each, reconstruction PSNR (encoder only, and after inversion), seconds to open a photo,
and writes a before/after grid PNG (original | session | new per face) to --grid-dir,
which must lie outside git: CelebA images may not be committed. Uses 1 torch thread.

--classify adds the issue's attribute test: the small CelebA attribute classifier
(benchmarks/attribute_classifier.py) reads the model-framed 64x64 crop of the original photo, of
each brush's result and of the photo with the same stroke simply painted on (same points, radius
and colour, at full opacity: a hard round brush with an antialiased edge, and a soft one), and it
prints how often it reads "mouth open" (and "smiling") after the mouth stroke and "bangs" after the
forehead stroke, over all faces and over those it read as negative before. An edit must beat paint.
It also writes a grid per edit (original | paint | brushes), a green bar under a cell where the
classifier reads the edit's first attribute.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DATA = Path("/work/shared/data")
VALIDATION = range(8501, 9001)
FAR = 25.0  # photo pixels at 89x109: "far from the stroke"
RESPOND = 0.04  # luminance change under the brush, 0-1 scale
LOCAL_MEAN, LOCAL_P99 = 2.0, 8.0  # uint8 levels
RADIUS = 3.0  # photo pixels: the stroke
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Edit:
    name: str
    labels: dict[str, int]
    color: tuple[int, int, int]
    sign: int  # +1: should get lighter, -1: darker
    # The stroke's end points in units of the CropConfig box side, from its centre: derived from the
    # CelebA framing (on the 89x109 photos the box is 54 px at (44.5, 60.5); the mouth lies near
    # (44.5, 78), the eyes near y 52, mid-forehead near y 40).
    start: tuple[float, float]
    end: tuple[float, float]
    passes: int = 2  # there and back: a short scribble, as a user would paint
    reads: tuple[str, ...] = ()  # classifier attributes the edit should turn on (--classify)


EDITS = (
    Edit("mouth", {"Mouth_Slightly_Open": -1, "Smiling": -1}, (255, 255, 255), +1, (-6.5 / 54, 17.5 / 54), (6.5 / 54, 17.5 / 54),
         reads=("Mouth_Slightly_Open", "Smiling")),
    Edit("forehead", {"Bangs": -1, "Bald": -1}, (40, 30, 25), -1, (-11.5 / 54, -20.5 / 54), (11.5 / 54, -20.5 / 54),
         reads=("Bangs",)),
)


def read_labels(path: Path) -> dict[str, dict[str, int]]:
    lines = path.read_text().splitlines()
    names = lines[1].split()
    return {parts[0]: dict(zip(names, map(int, parts[1:]))) for parts in (line.split() for line in lines[2:]) if parts}


def pick_faces(labels: dict[str, dict[str, int]], edit: Edit, count: int) -> list[str]:
    names = [f"{index:06d}.jpg" for index in VALIDATION]
    return [name for name in names if all(labels[name][key] == value for key, value in edit.labels.items())][:count]


def read_photos(names: list[str]) -> dict[str, np.ndarray]:
    from PIL import Image

    with zipfile.ZipFile(DATA / "celeba-9k.zip") as archive:
        return {name: np.asarray(Image.open(io.BytesIO(archive.read("img_align_celeba/" + name))).convert("RGB")) for name in names}


def stroke_points(edit: Edit, box, spacing: float = 1.0) -> list[tuple[float, float]]:
    """The stroke in photo pixels: start -> end -> start ... (``passes`` legs), ``spacing`` apart."""
    from npe.editing.brush import densify

    ends = [(box.center_x + du * box.size, box.center_y + dv * box.size) for du, dv in (edit.start, edit.end)]
    legs = [ends[index % 2] for index in range(edit.passes + 1)]
    return densify(legs, spacing)


def distance_map(shape: tuple[int, int], points: list[tuple[float, float]]) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32) + 0.5
    best = np.full(shape, np.inf, np.float32)
    for x, y in points:
        best = np.minimum(best, (xx - x) ** 2 + (yy - y) ** 2)
    return np.sqrt(best)


def paint_stroke(photo: np.ndarray, points, color: tuple[int, int, int], radius: float = RADIUS, soft: bool = False) -> np.ndarray:
    """The baseline an edit must beat: the stroke painted onto the photo as a paint program would,
    the colour composited at full opacity with the brush's footprint (the union of round dabs at
    ``points``). Hard: coverage 1 within ``radius``, a 1 px antialiased edge. Soft: a raised-cosine
    falloff from 1 at the centre to 0 at ``radius`` (the profile of the model brush's weights)."""
    distance = distance_map(photo.shape[:2], points)
    if soft:
        alpha = np.where(distance < radius, 0.5 * (1.0 + np.cos(np.pi * np.minimum(distance / radius, 1.0))), 0.0)
    else:
        alpha = np.clip(radius + 0.5 - distance, 0.0, 1.0)
    alpha = alpha.astype(np.float32)[..., None]
    painted = photo.astype(np.float32) * (1.0 - alpha) + np.asarray(color, np.float32) * alpha
    return np.clip(np.rint(painted), 0, 255).astype(np.uint8)


def measure(photo: np.ndarray, result: np.ndarray, points, edit: Edit) -> dict[str, float]:
    distance = distance_map(photo.shape[:2], points)
    before, after = photo.astype(np.float32), result.astype(np.float32)
    under = distance <= RADIUS
    moved = float(((after - before) @ LUMA)[under].mean()) / 255.0
    change = np.abs(after - before).max(axis=2)[distance > FAR]
    mean, p99 = float(change.mean()), float(np.percentile(change, 99))
    return {
        "moved": moved,
        "respond": float(edit.sign * moved >= RESPOND),
        "far_mean": mean,
        "far_p99": p99,
        "local": float(mean <= LOCAL_MEAN and p99 <= LOCAL_P99),
    }


# --- the two brushes, behind one thin adapter each (re-point them at the refactored session) -------


class SessionBrush:
    """What users get: EditSession.from_photo (fitted to the photo) / begin_stroke / stroke_to /
    end_stroke / result, with the edit's reach (REACH)."""

    name = "session"

    def __init__(self, model, tune: bool = True) -> None:
        self.model = model
        self.tune = tune

    def open(self, photo: np.ndarray, box) -> dict[str, float]:
        from npe.data.convert import to_model
        from npe.editing import EditSession
        from npe.editing.inversion import psnr

        self.session = EditSession.from_photo(self.model, photo, box=box, directions=None, tune=self.tune)
        crop = to_model(np.ascontiguousarray(self.session.crop))
        with torch.no_grad():
            encoder = psnr(self.model.decode(self.model.encode(crop)), crop)
        return {"psnr_before": encoder, "psnr_after": psnr(to_model(np.ascontiguousarray(self.session.reconstruction)), crop)}

    def paint(self, points, color, edit_name: str = "") -> tuple[np.ndarray, list[float]]:
        from npe.editing.stroke import BrushSettings

        timings = []
        self.session.begin_stroke(color=color, radius=RADIUS, reach=REACH.get(edit_name, BrushSettings.reach))
        for x, y in points:
            started = time.perf_counter()
            self.session.stroke_to(x, y)
            timings.append((time.perf_counter() - started) * 1000)
        self.session.end_stroke()
        return self.session.result(), timings


class NewBrush:
    """Per-photo inversion, then npe.editing.local_brush on the tuned generator, composited with the
    change mask limited to the stroke's reach (greyscale photos: luminance of the change)."""

    name = "new"

    def __init__(self, model, brush_settings, inversion_settings, reach: dict[str, float] | None = None) -> None:
        self.model = model
        self.brush_settings = brush_settings
        self.inversion_settings = inversion_settings
        self.reach = reach or {}

    def open(self, photo: np.ndarray, box) -> dict[str, float]:
        from npe.data.faces import crop_face
        from npe.editing.inversion import decode, invert
        from npe.editing.local_brush import is_greyscale

        self.photo, self.box = photo, box
        self.crop = crop_face(photo, box, self.model.config.resolution)
        self.inversion = invert(self.model, self.crop, self.inversion_settings)
        self.latent0 = torch.from_numpy(self.inversion.latent)[None]
        self.grey = is_greyscale(self.crop)
        with torch.no_grad():
            self.reconstruction = decode(self.model, self.latent0, self.inversion.tuned)
        return {"psnr_before": self.inversion.psnr_encoder, "psnr_after": self.inversion.psnr_tuned}

    def paint(self, points, color, edit_name: str = "") -> tuple[np.ndarray, list[float]]:
        from dataclasses import replace

        from npe.editing.brush import brush_weights, color_target
        from npe.editing.compose import MaskSettings, change_mask, feather_for, full_result, photo_to_crop
        from npe.editing.inversion import decode
        from npe.editing.local_brush import LocalStroke, greyscale_delta, limit_change_mask

        settings = self.brush_settings
        if edit_name in self.reach:
            settings = replace(settings, reach=self.reach[edit_name])
        resolution = self.model.config.resolution
        tuned = self.inversion.tuned
        stroke = LocalStroke(lambda z: decode(self.model, z, tuned), self.latent0, self.model.latent_basis, settings, grey=self.grey)
        target = color_target(color)
        radius = RADIUS * resolution / self.box.size
        timings = []
        for x, y in points:
            started = time.perf_counter()
            u, v = photo_to_crop(self.box, resolution, x, y)
            stroke.step(brush_weights(resolution, float(u), float(v), radius), target, (float(u), float(v)), radius)
            timings.append((time.perf_counter() - started) * 1000)
        with torch.no_grad():
            delta = decode(self.model, stroke.latent, tuned) - self.reconstruction
        if self.grey:
            delta = greyscale_delta(delta)
        mask = limit_change_mask(change_mask(delta, MaskSettings()), stroke.composite_reach())
        feather = feather_for((self.photo.shape[1], self.photo.shape[0]), self.box)
        return full_result(self.photo, self.box, delta, mask, None, feather), timings


def _grid(rows: list[list[np.ndarray]], path: Path, window: tuple[int, int, int, int], per_line: int = 4, zoom: int = 3,
          marks: list[list[bool]] | None = None) -> None:
    """Per face the ``window`` (x0, y0, x1, y1: the face box) of each image side by side, ``zoom``x;
    with ``marks`` (per face, per image) a bar under each image: green where it is True, grey not."""
    from PIL import Image

    x0, y0, x1, y1 = window

    def framed(image: np.ndarray, mark: bool | None) -> np.ndarray:
        window_pixels = image[y0:y1, x0:x1]
        if mark is None:
            return window_pixels
        bar = np.empty((3,) + window_pixels.shape[1:], np.uint8)
        bar[:] = (40, 200, 60) if mark else (200, 200, 200)
        bar[:, -2:] = 255  # neighbouring bars stay apart
        return np.concatenate([window_pixels, bar], axis=0)

    cells = [np.concatenate([framed(image, None if marks is None else marks[r][c]) for c, image in enumerate(row)], axis=1)
             for r, row in enumerate(rows)]
    height, width = cells[0].shape[:2]
    gap = 4
    lines = -(-len(cells) // per_line)
    canvas = np.full((lines * (height + gap), per_line * (width + gap), 3), 255, np.uint8)
    for index, cell in enumerate(cells):
        y, x = divmod(index, per_line)
        canvas[y * (height + gap) : y * (height + gap) + height, x * (width + gap) : x * (width + gap) + width] = cell
    Image.fromarray(canvas).resize((canvas.shape[1] * zoom, canvas.shape[0] * zoom), Image.Resampling.LANCZOS).save(path)


def _p(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def classify_report(edit: Edit, classifier, crops: dict[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    """Print, per attribute the edit should turn on, how often the classifier reads it in each
    column of ``crops`` (name -> per-face 64x64 crops; "before" first), over all faces and over
    those read negative before. Returns name -> N x A bool readings."""
    read = {name: classifier.classify(np.stack(images)) for name, images in crops.items()}
    for attribute in edit.reads:
        column = classifier.column(attribute)
        negative = ~read["before"][:, column]
        rates = " | ".join(f"{name} {read[name][:, column].mean():6.1%}" for name in crops)
        turned = " | ".join(f"{name} {read[name][negative, column].mean():6.1%}" for name in crops if name != "before")
        print(f"{edit.name:<9} reads {attribute:<20} {rates};  among the {int(negative.sum())} read negative before: {turned}", flush=True)
    return read


def run(brushes, edits, count: int, grid_dir: Path | None, classifier=None) -> None:
    from npe.data.faces import aligned_crop_box, crop_face, find_face

    labels = read_labels(DATA / "list_attr_celeba-9k.txt")
    for edit in edits:
        names = pick_faces(labels, edit, count)
        photos = read_photos(names)
        figures = {brush.name: [] for brush in brushes}
        rows = []
        # --classify: per column, the classifier's view of each face (the model's CropConfig framing)
        columns = ["before", "paint", "soft paint"] + [brush.name for brush in brushes]
        crops: dict[str, list[np.ndarray]] = {column: [] for column in columns}
        paint_rows = []
        for name in names:
            photo = photos[name]
            row = [photo]
            for brush in brushes:
                started, started_cpu = time.perf_counter(), time.process_time()
                try:  # opening a photo includes finding the face (its box is discarded: the aligned
                    find_face(photo)  # CelebA box below is the framing the model was trained on)
                except Exception:  # noqa: BLE001 - a miss still costs the search
                    pass
                box = aligned_crop_box(photo.shape[1], photo.shape[0])
                opened = brush.open(photo, box)
                opened["open_s"] = time.perf_counter() - started
                opened["open_cpu_s"] = time.process_time() - started_cpu  # a shared machine's wall time includes waiting
                points = stroke_points(edit, box)
                result, timings = brush.paint(points, edit.color, edit.name)
                figures[brush.name].append({**opened, **measure(photo, result, points, edit), "steps_ms": timings[3:]})
                row.append(result)
            rows.append(row)
            if classifier is not None:
                from attribute_classifier import RESOLUTION as classifier_resolution  # benchmarks/ is on sys.path

                painted = paint_stroke(photo, points, edit.color)
                images = [photo, painted, paint_stroke(photo, points, edit.color, soft=True)] + row[1:]
                for column, image in zip(columns, images):
                    crops[column].append(crop_face(image, box, classifier_resolution))
                paint_rows.append([photo, painted] + row[1:])
        for brush in brushes:
            rs = figures[brush.name]
            steps = [t for r in rs for t in r["steps_ms"]]
            print(
                f"{edit.name:<9} {brush.name:<4} n={len(rs):<3} respond {100 * np.mean([r['respond'] for r in rs]):5.1f}%  "
                f"local {100 * np.mean([r['local'] for r in rs]):5.1f}%  moved {np.median([r['moved'] for r in rs]):+.3f}  "
                f"far mean {np.mean([r['far_mean'] for r in rs]):5.2f} p99 {np.median([r['far_p99'] for r in rs]):5.1f} (median)  "
                f"PSNR {np.median([r['psnr_before'] for r in rs]):5.2f} -> {np.median([r['psnr_after'] for r in rs]):5.2f} dB  "
                f"open {np.median([r['open_s'] for r in rs]):5.2f} s (max {max(r['open_s'] for r in rs):.2f}; CPU {np.median([r['open_cpu_s'] for r in rs]):.2f} s)  "
                f"step {np.median(steps):5.1f} / p95 {_p(steps, 95):5.1f} ms",
                flush=True,
            )
        if grid_dir is not None:
            grid_dir.mkdir(parents=True, exist_ok=True)
            path = grid_dir / f"edit_quality_{edit.name}.png"
            box = aligned_crop_box(photos[names[0]].shape[1], photos[names[0]].shape[0])
            window = box.pixel_bounds(photos[names[0]].shape[1], photos[names[0]].shape[0])
            _grid(rows, path, window)
            print(f"grid: {path} (per face: original | {' | '.join(b.name for b in brushes)})")
        if classifier is not None and names:
            read = classify_report(edit, classifier, crops)
            if grid_dir is not None:
                column = classifier.column(edit.reads[0])
                shown = ["before", "paint"] + [brush.name for brush in brushes]
                marks = [[bool(read[c][face, column]) for c in shown] for face in range(len(names))]
                path = grid_dir / f"edit_quality_{edit.name}_paint.png"
                _grid(paint_rows, path, window, marks=marks)
                print(f"grid: {path} (per face: original | paint | {' | '.join(b.name for b in brushes)}; "
                      f"green bar: the classifier reads {edit.reads[0]})")


def step_latency(model, threads: int, positions: int = 200) -> tuple[float, float, float, float]:
    """Median and p95 ms of one local-brush step (brush weights, Adam step = one generator backward
    + forward on the tuned generator) and of step + reach-limited change mask, on skimage's
    astronaut (a photo that may be used freely), ``threads`` torch threads."""
    from skimage import data

    from npe.data.faces import find_face
    from npe.editing.brush import brush_weights, color_target
    from npe.editing.compose import change_mask, photo_to_crop
    from npe.editing.inversion import InversionSettings, decode
    from npe.editing.local_brush import LocalBrushSettings, LocalStroke, limit_change_mask

    torch.set_num_threads(threads)
    photo = np.ascontiguousarray(data.astronaut())
    brush = NewBrush(model, LocalBrushSettings(), InversionSettings())
    brush.open(photo, find_face(photo))
    tuned, resolution = brush.inversion.tuned, model.config.resolution
    stroke = LocalStroke(lambda z: decode(model, z, tuned), brush.latent0, model.latent_basis, LocalBrushSettings())
    target, radius = color_target((255, 255, 255)), 3.5
    angles = np.linspace(0, 6 * np.pi, positions + 10)
    steps, totals, cpu = [], [], []
    for index, angle in enumerate(angles):
        u, v = 32 + 12 * np.sin(angle), 36 + 8 * np.sin(0.5 * angle)
        started, started_cpu = time.perf_counter(), time.process_time()
        stroke.step(brush_weights(resolution, u, v, radius), target, (u, v), radius)
        stepped = time.perf_counter()
        limit_change_mask(change_mask(stroke.image() - brush.reconstruction), stroke.composite_reach())
        done, done_cpu = time.perf_counter(), time.process_time()
        if index >= 10:
            steps.append((stepped - started) * 1000)
            totals.append((done - started) * 1000)
            cpu.append((done_cpu - started_cpu) * 1000)
    # CPU time per step: on a shared machine wall time includes waiting for a core; with one
    # thread, CPU time is what the step costs on an idle core.
    return float(np.median(steps)), _p(steps, 95), float(np.median(totals)), _p(totals, 95), float(np.median(cpu)), _p(cpu, 95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=50, help="faces per edit (default 50)")
    parser.add_argument("--grid-dir", type=Path, default=Path("/root/npe-scratch/edit_quality"), help="where the grids go (outside git)")
    parser.add_argument("--only", choices=("session", "new"), help="run one brush only (session: the wired EditSession)")
    parser.add_argument("--edit", choices=[edit.name for edit in EDITS], help="run one edit only")
    parser.add_argument("--weights", help="model weights (default: the bundled model)")
    parser.add_argument("--latency", action="store_true", help="only time the local brush step (1 and 2 threads)")
    parser.add_argument("--classify", action="store_true",
                        help="also read the edits' attributes with the attribute classifier, beside simply painting the stroke")
    args = parser.parse_args()
    torch.set_num_threads(1)

    from npe.editing.inversion import InversionSettings
    from npe.editing.local_brush import LocalBrushSettings
    from npe.model import load_default, load_weights

    model = load_weights(args.weights) if args.weights else load_default()
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if args.latency:
        for threads in (1, 2):
            step, step95, total, total95, cpu, cpu95 = step_latency(model, threads)
            print(f"local brush step, {threads} thread(s): wall median {step:.2f} ms p95 {step95:.2f} ms; "
                  f"with reach-limited change mask: wall median {total:.2f} p95 {total95:.2f} ms, "
                  f"CPU median {cpu:.2f} p95 {cpu95:.2f} ms (all threads)")
        return
    brushes = []
    if args.only in (None, "session"):
        brushes.append(SessionBrush(model))
    if args.only in (None, "new"):
        brushes.append(NewBrush(model, LocalBrushSettings(), InversionSettings(), reach=REACH))
    edits = [edit for edit in EDITS if args.edit in (None, edit.name)]
    classifier = None
    if args.classify:
        from attribute_classifier import load_classifier  # noqa: E402 - benchmarks/ is on sys.path

        classifier = load_classifier()
    run(brushes, edits, args.limit, args.grid_dir, classifier)


# Reach per edit (crop pixels beyond the brush): local for the mouth, wider for hair from a forehead.
REACH = {"mouth": 4.0, "forehead": 16.0}

if __name__ == "__main__":
    main()
