"""Interactive latency of the editor's brain: one brush step with the masked composite at display
size, the exact full-resolution result, and opening a new photo (face finding + crop + encode), also
from a 12-megapixel JPEG file.

Uses the bundled weights when they load, else the default 64x64 config with random weights (same
cost), and a 512x512 photo (skimage's astronaut), opened as the editor opens a photo: with the
per-photo tuning (``--no-tune``: the encoder's z only). Prints median and 95th-percentile milliseconds.

    python benchmarks/edit_latency.py [--threads N] [--positions N] [--weights W] [--no-tune]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import torch


def _percentiles(timings: list[float]) -> tuple[float, float]:
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[max(0, int(np.ceil(0.95 * len(ordered))) - 1)]


def _model(weights: str | None):
    from npe.config import ModelConfig
    from npe.model import IAN, WeightsError, load_default, load_weights

    try:
        model = load_weights(weights) if weights else load_default()
        return model, getattr(model, "name", weights)
    except WeightsError:
        if weights:
            raise
        torch.manual_seed(0)
        return IAN(ModelConfig()).eval(), "default config, random weights (no bundled model yet)"


def _photo() -> np.ndarray:
    from skimage import data

    return np.ascontiguousarray(data.astronaut())  # 512 x 512 x 3


def _box(photo: np.ndarray):
    from npe.data.faces import find_face
    from npe.errors import NoFaceError
    from npe.geometry import CropBox

    try:
        return find_face(photo), "found"
    except NoFaceError:
        return CropBox(240.0, 150.0, 200.0), "fixed (no face found)"


def brush_latency(session, positions: int, scale: float, objective: str = "semantic") -> dict[str, tuple[float, float]]:
    """Per brush position: stroke_to (gradient step, G forward+backward) + preview at ``scale``."""
    box = session.box
    radius = box.size / 12
    # A back-and-forth path across the face, as a mouse drag would report it.
    angles = np.linspace(0, 6 * np.pi, positions + 10)
    path = [(box.center_x + 0.3 * box.size * np.sin(a), box.center_y + 0.2 * box.size * np.sin(0.5 * a)) for a in angles]
    steps, composites, totals = [], [], []
    session.begin_stroke(color=(40, 30, 30), radius=radius, objective=objective)
    for index, (x, y) in enumerate(path):
        started = time.perf_counter()
        session.stroke_to(float(x), float(y))
        stepped = time.perf_counter()
        session.preview(scale)
        done = time.perf_counter()
        if index >= 10:  # first calls allocate and pick kernels
            steps.append((stepped - started) * 1000)
            composites.append((done - stepped) * 1000)
            totals.append((done - started) * 1000)
    session.end_stroke()
    return {"step": _percentiles(steps), "composite": _percentiles(composites), "total": _percentiles(totals)}


def stroke_start_latency(session, repeats: int) -> tuple[float, float]:
    """A stroke's first position when the brush must first measure each direction's change at z (one
    batched decode of the brush's directions; later strokes near the same z reuse it)."""
    from npe.editing.brush import stroke as brush_stroke

    box = session.box
    timings = []
    for _ in range(repeats):
        brush_stroke._JACOBIANS.clear()
        started = time.perf_counter()
        session.begin_stroke(color=(40, 30, 30), radius=box.size / 12)
        session.stroke_to(box.center_x, box.center_y)
        timings.append((time.perf_counter() - started) * 1000)
        session.cancel_stroke()
    return _percentiles(timings)


def result_latency(session, repeats: int) -> tuple[float, float]:
    """The exact full-resolution result (export path: paste_back + protect) after a latent change."""
    timings = []
    for index in range(repeats):
        session.set_latent_value(index % session.latent_dim, float(session.latent[index % session.latent_dim]) + 0.3)
        started = time.perf_counter()
        session.result()
        timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings)


def open_latency(model, photo: np.ndarray, repeats: int, tune: bool) -> dict[str, tuple[float, float]]:
    """Opening a photo: face finding, then crop + encode (+ tuning) + first decode (EditSession.from_photo)."""
    from npe.editing import EditSession

    finding, encoding, totals = [], [], []
    for index in range(repeats + 2):
        started = time.perf_counter()
        box, _ = _box(photo)
        found = time.perf_counter()
        EditSession.from_photo(model, photo, box=box, directions=None, tune=tune or None)
        done = time.perf_counter()
        if index >= 2:
            finding.append((found - started) * 1000)
            encoding.append((done - found) * 1000)
            totals.append((done - started) * 1000)
    return {"find": _percentiles(finding), "encode": _percentiles(encoding), "total": _percentiles(totals)}


def twelve_megapixel_jpeg(folder: str) -> str:
    """A 4000x3000 JPEG (what a phone camera writes) with the astronaut scaled to its full height."""
    from PIL import Image

    canvas = Image.new("RGB", (4000, 3000), (96, 110, 124))
    canvas.paste(Image.fromarray(_photo()).resize((3000, 3000), Image.Resampling.BICUBIC), (500, 0))
    path = os.path.join(folder, "twelve-megapixels.jpg")
    canvas.save(path, quality=92)
    return path


def open_file_latency(model, path: str, repeats: int) -> tuple[float, float]:
    """Opening a photo file as the editor does (npe.editing.sources.open_photo: decode the file, find
    the face, crop, encode, fit)."""
    from npe.editing.sources import open_photo

    timings = []
    for index in range(repeats + 1):
        started = time.perf_counter()
        open_photo(model, path, tune=True)
        if index >= 1:
            timings.append((time.perf_counter() - started) * 1000)
    return _percentiles(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads (default: all cores)")
    parser.add_argument("--positions", type=int, default=200, help="brush positions to time (default: 200)")
    parser.add_argument("--repeats", type=int, default=20, help="repeats for result() and opening a photo (default: 20)")
    parser.add_argument("--scale", type=float, default=1.0, help="display scale of the preview (default: 1.0 = 512x512)")
    parser.add_argument("--weights", metavar="W", help="model weights (default: the bundled model)")
    parser.add_argument("--objective", choices=("semantic", "pixel"), default="semantic", help="the brush (default) or the old colour-only one")
    parser.add_argument("--no-tune", action="store_true", help="open the photo with the encoder's z only (no per-photo tuning)")
    parser.add_argument("--solver", choices=("finite", "gradient"), help="the semantic brush's solver (default: the editor's)")
    args = parser.parse_args()
    if args.solver:
        from edit_quality import use_solver

        use_solver(args.solver)
    torch.set_num_threads(args.threads)

    from npe.editing import EditSession

    model, label = _model(args.weights)
    photo = _photo()
    box, how = _box(photo)
    tune = not args.no_tune
    session = EditSession.from_photo(model, photo, box=box, directions=None, tune=tune or None)
    print(f"model: {label}; {model.config.resolution}px, {model.config.latent_dim} latents; torch threads: {args.threads}; "
          f"{'tuned to the photo' if tune else 'encoder z only (--no-tune)'}")
    print(f"photo: {photo.shape[1]}x{photo.shape[0]}, face box {how}: {box.size:.0f}px at ({box.center_x:.0f}, {box.center_y:.0f})")

    brush = brush_latency(session, args.positions, args.scale, args.objective)
    size = session.preview(args.scale).shape
    for name, what in (
        ("step", "brush step (G forward, the solve; + backward: gradient)"),
        ("composite", f"masked composite at display size {size[1]}x{size[0]}"),
        ("total", "brush step incl. composite"),
    ):
        median, p95 = brush[name]
        print(f"{what:<48} median {median:6.2f} ms   p95 {p95:6.2f} ms")
    median, p95 = stroke_start_latency(session, max(3, args.repeats // 4))
    print(f"{'first position of a stroke at a new z':<48} median {median:6.2f} ms   p95 {p95:6.2f} ms")
    median, p95 = result_latency(session, args.repeats)
    print(f"{'exact full-resolution result (export)':<48} median {median:6.2f} ms   p95 {p95:6.2f} ms")
    opening = open_latency(model, photo, max(3, args.repeats // 4) if tune else args.repeats, tune)
    for name, what in (
        ("find", "face finding"),
        ("encode", "crop + encode + tune + decode" if tune else "crop + encode + decode (session setup)"),
        ("total", "open a photo (find + crop + encode + tune)" if tune else "open a photo (face finding + crop + encode)"),
    ):
        median, p95 = opening[name]
        print(f"{what:<48} median {median:6.2f} ms   p95 {p95:6.2f} ms")
    with tempfile.TemporaryDirectory() as folder:
        median, p95 = open_file_latency(model, twelve_megapixel_jpeg(folder), max(3, args.repeats // 4))
    print(f"{'open a 12-megapixel JPEG (read + find + fit)':<48} median {median:6.2f} ms   p95 {p95:6.2f} ms")
    target = brush["total"][1]
    print(f"brush step p95 {target:.2f} ms: {'meets' if target <= 16 else 'misses'} the 16 ms target")


if __name__ == "__main__":
    main()
