"""Measure how fast the editor starts: from process start to the first painted window, and to the
first face on the canvas (model loaded; the example photo found, fitted and painted, or with
``--index N`` sample face N rendered and painted).

    python benchmarks/startup.py [--runs 3] [--weights W] [--index N]

Each run is a fresh Python process (`npe` as a user would start it, offscreen), so imports are
cold in the interpreter (the OS file cache is warm after the first run; the first run is shown
too). Without --weights it uses the bundled model, or, if that is missing, a default-size random
IAN(ModelConfig()) saved to a temp folder. Prints one line per run and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUDGET_S = 3.0

# Runs in the child: start the editor as run_editor does and report when things were painted.
CHILD = r"""
import json, sys, time
marks = {}
from npe.cli import build_editor_parser
args = build_editor_parser().parse_args(sys.argv[2:])
from PySide6.QtCore import QEvent, QObject, QTimer
from npe.ui.app import create_editor, start_editor
editor = create_editor(args, read_only_settings=True)
canvas = editor.window.canvas

class PaintWatch(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            # The paint happens right after the filter: note the time once it is done.
            QTimer.singleShot(0, self.after_paint)
        return False

    def after_paint(self):
        now = time.time()
        marks.setdefault("window", now)
        if canvas.displayed_image() is not None and "face" not in marks:
            marks["face"] = now
            editor.app.quit()

watch = PaintWatch()
canvas.installEventFilter(watch)
editor.window.fatal.connect(lambda failure: (marks.setdefault("error", failure.message), editor.app.quit()))
editor.window.resize(1280, 800)
editor.window.show()
start_editor(editor, args)
QTimer.singleShot(120_000, editor.app.quit)
editor.app.exec()
editor.window.shutdown()
start = float(sys.argv[1])
print(json.dumps({k: (v - start if isinstance(v, float) else v) for k, v in marks.items()}))
"""


def default_weights(folder: Path) -> str | None:
    """None to use the bundled model; else a random default-size model saved in ``folder``."""
    sys.path.insert(0, str(REPO))
    from npe.resources import default_weights as bundled

    try:
        if bundled().is_file():
            return None
    except FileNotFoundError:
        pass
    import torch

    from npe.model import IAN, ModelConfig, save_weights

    torch.manual_seed(0)
    path = folder / "random-default"
    save_weights(IAN(ModelConfig()).eval(), path)
    return f"{path}.safetensors"


def run_once(weights: str | None, env: dict[str, str], index: int | None = None) -> dict[str, float | str]:
    command = [sys.executable, "-c", CHILD, ""]
    options = ["--weights", weights] if weights else []
    if index is not None:
        options += ["--index", str(index)]
    start = time.time()
    command[3] = repr(start)
    done = subprocess.run(command + options, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"the editor failed to start:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--weights", help="model weights (default: bundled, else a random default-size model)")
    parser.add_argument("--index", type=int, help="start on sample face N (default: the example photo, as `npe` alone does)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        weights = args.weights or default_weights(Path(folder))
        env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                   PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   XDG_CONFIG_HOME=str(Path(folder) / "config"))
        print(f"model: {weights or 'bundled'}; platform: {env['QT_QPA_PLATFORM']}; runs: {args.runs}")
        windows, faces = [], []
        for run in range(1, args.runs + 1):
            marks = run_once(weights, env, args.index)
            if "error" in marks:
                raise SystemExit(f"the model could not be loaded: {marks['error']}")
            windows.append(float(marks["window"]))
            faces.append(float(marks["face"]))
            print(f"run {run}: window painted {marks['window']:.2f} s, first face painted {marks['face']:.2f} s")
    window, face = statistics.median(windows), statistics.median(faces)
    verdict = "within" if window < BUDGET_S else "OVER"
    print(f"startup to a painted window: {window:.2f} s (median; {verdict} the {BUDGET_S:.0f} s budget); "
          f"to the first face: {face:.2f} s")
    return 0 if window < BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
