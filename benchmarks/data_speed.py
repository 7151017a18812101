"""Speed of the face data pipeline: find_face / crop_face / paste_back on a 12 MP photo, and
load_face_crops on a zip archive (first decode and cache hit).

    python benchmarks/data_speed.py [--data /path/to/celeba-9k.zip] [--repeat 3]

The photo is synthetic (skimage's astronaut enlarged into a 6000x4000 frame), so nothing from a
dataset is needed for the first part. Timings are medians after one warm-up call; on a shared or
busy machine run it twice.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from npe.data.datasets import load_face_crops  # noqa: E402
from npe.data.faces import crop_face, find_face, paste_back  # noqa: E402
from npe.errors import NoFaceError  # noqa: E402
from npe.geometry import CropBox  # noqa: E402


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median wall-clock and CPU seconds (CPU: all threads; it hardly changes on a busy machine)."""
    result = call()  # warm-up: imports, the cascade's XML, caches
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), result


def twelve_megapixels(face_scale: int) -> np.ndarray:
    """A 6000x4000 photo: a soft gradient with the astronaut enlarged ``face_scale`` times in it."""
    photo = np.empty((4000, 6000, 3), np.uint8)
    photo[:] = np.linspace(40, 210, 6000, dtype=np.float32).astype(np.uint8)[None, :, None]
    portrait = np.asarray(Image.fromarray(data.astronaut()).resize((512 * face_scale,) * 2, Image.Resampling.BICUBIC))
    photo[300 : 300 + portrait.shape[0], 1500 : 1500 + portrait.shape[1]] = portrait[: 4000 - 300]
    return photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="a zip or folder of aligned face photos (e.g. celeba-9k.zip)")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    for face_scale in (6, 3):
        photo = twelve_megapixels(face_scale)
        seconds, cpu, box = timed(lambda: find_face(photo), args.repeat)
        print(
            f"find_face, 6000x4000 photo, face ~{100 * face_scale} px wide: {seconds * 1000:.0f} ms "
            f"(CPU {cpu * 1000:.0f} ms) -> {box}"
        )
    seconds, _, _ = timed(lambda: crop_face(photo, box, args.resolution), args.repeat)
    print(f"crop_face to {args.resolution}x{args.resolution}: {seconds * 1000:.1f} ms")
    change = np.full((args.resolution, args.resolution, 3), 5.0, np.float32)
    seconds, _, _ = timed(lambda: paste_back(photo, box, change), args.repeat)
    print(f"paste_back, whole box changed: {seconds * 1000:.0f} ms")
    local = np.zeros((args.resolution, args.resolution), np.float32)
    local[args.resolution // 4 : args.resolution // 2, args.resolution // 4 : args.resolution // 2] = 1.0
    seconds, _, _ = timed(lambda: paste_back(photo, box, change, local), args.repeat)
    print(f"paste_back, a 1/16 of the box changed: {seconds * 1000:.0f} ms")
    noise = np.random.default_rng(0).integers(0, 256, (4000, 6000, 3), dtype=np.uint8)
    start = time.perf_counter()
    try:
        find_face(noise)
    except NoFaceError:
        pass
    print(f"find_face, 6000x4000 noise (no face: every fallback runs): {(time.perf_counter() - start) * 1000:.0f} ms")
    assert isinstance(box, CropBox)

    if args.data is not None:
        with tempfile.TemporaryDirectory() as cache:
            start = time.perf_counter()
            crops = load_face_crops([args.data], args.resolution, cache_dir=Path(cache))
            first = time.perf_counter() - start
            start = time.perf_counter()
            load_face_crops([args.data], args.resolution, cache_dir=Path(cache))
            cached = time.perf_counter() - start
        print(
            f"load_face_crops {args.data.name} at {args.resolution} px: {len(crops.names)} crops "
            f"({len(crops.skipped)} skipped), first {first:.1f} s, cached {cached:.2f} s"
        )


if __name__ == "__main__":
    main()
