"""The model's training curve as a picture: validation PSNR (encoder only, the trainer's EMA model, the
500 validation faces) against cumulative hours of training on the team's 2-core CPU, over every run
that led to the shipped weights, with a PSNR bar (--bar) and the PCA-100 baseline.

    python benchmarks/training_curve.py [--runs benchmarks/training_curve.csv] [--out resources/docs/training_curve.png]
        [--line "z optimised (generator's ceiling)" 23.64]

The points live in ``training_curve.csv`` (run, hours, val_psnr): the runs' metrics.jsonl files are
outside git and did not all survive (benchmarks/training_log.md says where each figure comes from).
``--add RUN METRICS.jsonl HOURS0`` appends a run's validation records from its metrics.jsonl, its
hours counted from HOURS0 by the run's own train_seconds. Draws with Pillow only.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
COLOURS = ["#1f77b4", "#d62728", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#2ca02c", "#000000", "#393b79", "#e6550d", "#637939"]


def read_points(path: Path) -> dict[str, list[tuple[float, float]]]:
    runs: dict[str, list[tuple[float, float]]] = {}
    with open(path, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(line for line in stream if not line.startswith("#")):
            runs.setdefault(row["run"], []).append((float(row["hours"]), float(row["val_psnr"])))
    return runs


def points_from_metrics(metrics: Path, hours0: float) -> list[tuple[float, float]]:
    """Validation records of a metrics.jsonl, at the train_seconds of the nearest step record before them."""
    points, seconds = [], 0.0
    for line in metrics.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "train_seconds" in record:
            seconds = float(record["train_seconds"])
        if "val_psnr" in record:
            points.append((hours0 + seconds / 3600.0, float(record["val_psnr"])))
    return points


def _font(size: int):
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def draw(runs: dict[str, list[tuple[float, float]]], lines: dict[str, float], out: Path, size=(1000, 480)) -> None:
    width, height = size
    left, right, top, bottom = 70, 300, 30, 50
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    font, small = _font(14), _font(12)
    hours = [h for points in runs.values() for h, _ in points]
    values = [v for points in runs.values() for _, v in points] + list(lines.values())
    x_max = max(hours) * 1.05
    y_min, y_max = int(min(values)) - 0.5, int(max(values)) + 1.0

    def at(h: float, v: float) -> tuple[float, float]:
        return (left + (width - left - right) * h / x_max, top + (height - top - bottom) * (y_max - v) / (y_max - y_min))

    pen.rectangle([left, top, width - right, height - bottom], outline="black")
    value = y_min
    while value <= y_max + 1e-9:
        x, y = at(0, value)
        pen.line([left, y, width - right, y], fill="#e6e6e6")
        pen.text((left - 8, y), f"{value:g}", fill="black", font=small, anchor="rm")
        value += 0.5
    step = 1 if x_max <= 12 else 2
    for tick in range(0, int(x_max) + 1, step):
        x, _ = at(tick, y_min)
        pen.line([x, height - bottom, x, height - bottom + 4], fill="black")
        pen.text((x, height - bottom + 8), str(tick), fill="black", font=small, anchor="mt")
    pen.text(((left + width - right) / 2, height - 18), "hours of training (2-core CPU, cumulative over runs)", fill="black", font=font, anchor="mm")
    pen.text((12, top - 22), "validation PSNR (dB), encoder only", fill="black", font=font)
    legend_y = top + 4
    label_y = -1e9
    for (label, value), colour in sorted(zip(lines.items(), ("#555555", "#2ca02c", "#8c564b", "#aaaaaa")), key=lambda item: -item[0][1]):
        _, y = at(0, value)
        pen.line([left, y, width - right, y], fill=colour, width=2)
        label_y = max(y, label_y + 15)  # labels of close levels stack instead of overlapping
        pen.text((width - right + 10, label_y), f"{label} {value:.2f}", fill=colour, font=small, anchor="lm")
    for index, (name, points) in enumerate(runs.items()):  # (more runs than colours: the colours come round again)
        colour = COLOURS[index % len(COLOURS)]
        xy = [at(h, v) for h, v in sorted(points)]
        if len(xy) > 1:
            pen.line(xy, fill=colour, width=2)
        for x, y in xy:
            pen.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        pen.line([width - right + 10, legend_y + 75, width - right + 30, legend_y + 75], fill=colour, width=3)
        pen.text((width - right + 36, legend_y + 75), name, fill="black", font=small, anchor="lm")
        legend_y += 20
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, default=HERE / "training_curve.csv")
    parser.add_argument("--out", type=Path, default=HERE.parent / "resources" / "docs" / "training_curve.png")
    parser.add_argument("--add", nargs=3, metavar=("RUN", "METRICS", "HOURS0"), help="append a run's validation points to --runs first")
    parser.add_argument("--bar", type=float, default=23.7, help="a PSNR bar to draw, in dB (default: 23.7)")
    parser.add_argument("--pca", type=float, default=23.70, help="PCA-100 on the same faces (default: 23.70)")
    parser.add_argument("--line", nargs=2, action="append", default=[], metavar=("LABEL", "DB"), help="another level to draw (repeatable)")
    args = parser.parse_args()
    if args.add:
        name, metrics, hours0 = args.add
        with open(args.runs, "a", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            for hours, value in points_from_metrics(Path(metrics), float(hours0)):
                writer.writerow([name, f"{hours:.3f}", f"{value:.3f}"])
    runs = read_points(args.runs)
    lines = {"bar / PCA-100": args.bar} if abs(args.bar - args.pca) < 0.005 else {"bar": args.bar, "PCA-100": args.pca}
    lines.update({label: float(value) for label, value in args.line})
    draw(runs, lines, args.out)
    for name, points in runs.items():
        last = max(points)
        print(f"{name}: {len(points)} points, last {last[1]:.2f} dB at {last[0]:.2f} h")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
