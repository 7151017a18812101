"""Measuring a model and writing its outputs: evaluate(), `npe eval`, `npe reconstruct`, `npe sample`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from npe import cli
from npe.config import ModelConfig
from npe.model import IAN, save_weights
from npe.commands import evaluate as commands
from npe.train import evaluate as evaluation

TINY = dict(resolution=16, latent_dim=8, width=4, generator_width=4, max_channels=16, encoder_hidden=16)
PHOTOS = 24  # the validation split is then the last 24 // 10 = 2 by name


def _face_photo(rng: np.random.Generator, width: int = 89, height: int = 109) -> np.ndarray:
    """A face-like picture in CelebA framing: skin ellipse, eyes and mouth around the crop centre."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    cx, cy = width * 0.5, height * 121 / 218  # the default crop centre
    image = np.broadcast_to(rng.uniform(0, 255, 3), (height, width, 3)).copy()
    image[((xx - cx) / (width * 0.2)) ** 2 + ((yy - cy) / (width * 0.26)) ** 2 < 1] = np.array([220, 180, 150]) * rng.uniform(0.6, 1.1)
    for side in (-1, 1):
        image[((xx - cx - side * width * 0.08) / 3.5) ** 2 + ((yy - cy + width * 0.06) / 2) ** 2 < 1] = (30, 20, 20)
    image[((xx - cx) / 8) ** 2 + ((yy - cy - width * 0.12) / (2 * rng.uniform(0.5, 1.5))) ** 2 < 1] = (150, 40, 50)
    return np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)


def _write_photos(folder: Path, count: int, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for index in range(count):
        image = Image.fromarray(_face_photo(rng))
        if index % 3 == 0:
            image.save(folder / f"{index + 1:06d}.png")
        else:
            image.save(folder / f"{index + 1:06d}.jpg", quality=95)
    return folder


@pytest.fixture(autouse=True)
def _crop_cache_in_tmp(tmp_path, monkeypatch):
    """The data loader caches crops; keep its cache out of the user's home folder."""
    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    torch.manual_seed(0)
    model = IAN(ModelConfig(**TINY)).eval()
    tensors, _ = save_weights(model, tmp_path / "models" / "tiny", {"note": "random weights for tests"})
    return tensors


@pytest.fixture
def photos(tmp_path) -> Path:
    return _write_photos(tmp_path / "photos", PHOTOS)


def _faces(count: int, size: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([np.asarray(Image.fromarray(_face_photo(rng)).resize((size, size), Image.BILINEAR)) for _ in range(count)])


def _tiny_model() -> IAN:
    torch.manual_seed(0)
    return IAN(ModelConfig(**TINY)).eval()


# --- evaluate() ---------------------------------------------------------------------------


REPORT_KEYS = {
    "images", "samples", "seed", "model", "reconstruction", "swd_resolutions", "swd_samples_vs_data",
    "swd_data_vs_data", "swd_samples_vs_half", "swd_finest_ratio", "sample_sharpness", "pca", "targets",
    "passes", "seconds",
}


def test_evaluate_reports_every_measure(tmp_path):
    model = _tiny_model()
    images, train = _faces(10), _faces(20, seed=1)
    report = evaluation.evaluate(model, images, train, samples=30, seed=0)
    assert REPORT_KEYS <= set(report)
    assert report["images"] == 10 and report["samples"] == 30
    assert report["model"]["config"]["resolution"] == 16
    assert set(report["reconstruction"]) == {"psnr", "ssim", "sharpness", "swd_vs_data"}
    assert report["swd_resolutions"] == [16]
    for key in ("swd_samples_vs_data", "swd_data_vs_data", "swd_samples_vs_half"):
        assert len(report[key]) == 1 and report[key][0] > 0
    assert report["swd_finest_ratio"] == pytest.approx(report["swd_samples_vs_half"][0] / report["swd_data_vs_data"][0])
    baseline = report["pca"]
    assert baseline["fitted_on"] == "training images" and baseline["train_images"] == 20
    assert {"psnr", "ssim", "sharpness", "swd_vs_data", "swd_samples_vs_data", "swd_finest_ratio"} <= set(baseline)
    # A random model reconstructs nothing; a PCA of similar faces does far better.
    assert baseline["psnr"] > report["reconstruction"]["psnr"]
    assert set(report["passes"]) == {"psnr", "ssim", "sharpness", "swd_finest_ratio"}
    assert set(report["targets"]) == {"psnr", "ssim", "sharpness", "sharpness_max", "swd_finest_ratio"}
    assert not report["passes"]["psnr"] and not report["passes"]["ssim"]
    written = evaluation.write_report(report, tmp_path / "report.json")
    assert json.loads(written.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))["images"] == len(images)


def test_evaluate_is_deterministic_and_keeps_the_model_mode():
    model = _tiny_model().train()
    images = _faces(8)
    first = evaluation.evaluate(model, images, samples=12, seed=3, pca=False)
    second = evaluation.evaluate(model, images, samples=12, seed=3, pca=False)
    assert model.training
    first.pop("seconds"), second.pop("seconds")
    assert first == second
    assert first["pca"] is None


def test_evaluate_without_training_images_fits_pca_in_sample():
    report = evaluation.evaluate(_tiny_model(), _faces(6), samples=6)
    assert report["pca"]["fitted_on"].startswith("evaluation images")
    assert "optimistic" in evaluation.format_table(report)


def test_evaluate_handles_a_single_image():
    report = evaluation.evaluate(_tiny_model(), _faces(1), samples=4, pca=False)
    assert report["swd_data_vs_data"] is None and report["swd_finest_ratio"] is None
    assert report["passes"]["swd_finest_ratio"] is False
    evaluation.format_table(report)


def test_evaluate_rejects_images_of_the_wrong_size():
    with pytest.raises(ValueError, match="16 x 16"):
        evaluation.evaluate(_tiny_model(), _faces(4, size=32))


def test_samples_depend_only_on_the_seed():
    model = _tiny_model()
    first = evaluation.sample_images(model, 5, seed=1, batch=2)
    np.testing.assert_array_equal(first, evaluation.sample_images(model, 5, seed=1, batch=5))
    assert not np.array_equal(first, evaluation.sample_images(model, 5, seed=2))


def test_sharpness_passes_only_inside_its_band(monkeypatch):
    images = _faces(6)
    for value, expected in ((0.3, False), (0.9, True), (8.0, False)):
        monkeypatch.setattr(evaluation, "sharpness_ratio", lambda originals, others, value=value: value)
        report = evaluation.evaluate(_tiny_model(), images, samples=4, pca=False)
        assert report["passes"]["sharpness"] is expected


def test_table_shows_ours_pca_and_targets():
    report = evaluation.evaluate(_tiny_model(), _faces(8), _faces(12, seed=1), samples=8)
    table = evaluation.format_table(report)
    for text in ("PSNR", "SSIM", "sharpness", "SWD", "16 px", "PCA-", ">= 21", "<= 3x", "FAIL", "real/real"):
        assert text in table


def test_with_borrowed_features_the_frechet_distances_are_reported_and_shown():
    from npe.train.perceptual import frechet_distance

    def colour_statistics(images: np.ndarray) -> np.ndarray:  # a stand-in feature: mean and spread per channel
        pixels = images.reshape(len(images), -1, 3).astype(np.float64)
        return np.concatenate([pixels.mean(axis=1), pixels.std(axis=1)], axis=1)

    images = _faces(12)
    report = evaluation.evaluate(_tiny_model(), images, samples=20, pca=False, features=colour_statistics)
    fd = report["fd_lite0"]
    generated = evaluation.sample_images(_tiny_model(), 20, seed=0)
    assert fd["samples_vs_data"] == pytest.approx(frechet_distance(colour_statistics(generated), colour_statistics(images)))
    assert fd["samples_vs_data"] > fd["data_vs_data"] > 0  # a random model's colours are far from faces'
    assert "Frechet dist. samples" in evaluation.format_table(report)
    assert "fd_lite0" not in evaluation.evaluate(_tiny_model(), images, samples=20, pca=False)


def test_output_names_are_file_safe_and_unique():
    names = ["celeba.zip:img_align_celeba/000001.jpg", "other/000001.jpg", "a b?.png", "UTK/1_0_0.jpg.chip.jpg", "x/000001.JPG"]
    assert commands.output_names(names) == ["000001", "000001-2", "a_b", "1_0_0.jpg.chip", "000001-3"]


def test_report_goes_to_the_current_folder_when_the_weights_folder_is_read_only(tmp_path, monkeypatch):
    weights = tmp_path / "installed" / "model.safetensors"
    weights.parent.mkdir()
    assert commands.default_report_path(weights) == weights.parent / "model.eval.json"
    monkeypatch.setattr(commands.os, "access", lambda path, mode: Path(path) != weights.parent)
    monkeypatch.chdir(tmp_path)
    assert commands.default_report_path(weights) == tmp_path / "model.eval.json"


# --- the commands -------------------------------------------------------------------------


def test_npe_eval_prints_a_table_and_writes_the_report(tiny_weights, photos, capsys):
    code = cli.main(["eval", "--weights", str(tiny_weights), "--data", str(photos), "--split", "all", "--samples", "24"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    report_path = tiny_weights.with_name("tiny.eval.json")
    assert f"report: {report_path}" in captured.out
    assert "reconstruction PSNR" in captured.out and "PCA-" in captured.out
    report = json.loads(report_path.read_text())
    assert REPORT_KEYS | {"data"} <= set(report)
    assert report["images"] == PHOTOS and report["data"]["split"] == "all"
    assert report["model"]["weights"] == str(tiny_weights) and report["model"]["name"] == "tiny"
    assert report["model"]["metadata"] == {"note": "random weights for tests"}
    assert not list(report_path.parent.glob(".*.tmp"))  # written through a temp file, nothing left over


def test_npe_eval_on_the_validation_split_fits_pca_on_the_rest(tiny_weights, photos, tmp_path, capsys):
    report_path = tmp_path / "val.json"
    code = cli.main(["eval", "--weights", str(tiny_weights), "--data", str(photos), "--samples", "8", "--report", str(report_path)])
    assert code == 0, capsys.readouterr().err
    report = json.loads(report_path.read_text())
    validation = PHOTOS // 10
    assert report["images"] == validation
    assert report["data"]["train_images"] == PHOTOS - validation
    assert report["pca"]["fitted_on"] == "training images" and report["pca"]["train_images"] == PHOTOS - validation
    assert report["data"]["last"].endswith(f"{PHOTOS:06d}.png") or report["data"]["last"].endswith(f"{PHOTOS:06d}.jpg")


def test_npe_reconstruct_writes_input_and_reconstruction_pairs(tiny_weights, photos, tmp_path, capsys):
    out = tmp_path / "pairs"
    code = cli.main(["reconstruct", "--weights", str(tiny_weights), "--data", str(photos), "--out", str(out), "--limit", "5"])
    assert code == 0, capsys.readouterr().err
    files = sorted(path.name for path in out.iterdir())
    stems = [f"{index:06d}" for index in range(1, 6)]
    assert files == sorted([f"{stem}.input.png" for stem in stems] + [f"{stem}.recon.png" for stem in stems])
    for name in files:
        with Image.open(out / name) as image:
            assert image.size == (16, 16) and image.mode == "RGB"


def test_npe_reconstruct_keeps_members_with_the_same_name_apart(tiny_weights, tmp_path, capsys):
    first = _write_photos(tmp_path / "a", 2, seed=1)
    second = _write_photos(tmp_path / "b", 2, seed=2)
    out = tmp_path / "pairs"
    code = cli.main(["reconstruct", "--weights", str(tiny_weights), "--data", str(first), str(second), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert len(list(out.glob("*.input.png"))) == 4 and len(list(out.glob("*.recon.png"))) == 4


def test_npe_sample_is_deterministic_by_seed(tiny_weights, tmp_path, capsys):
    def run(folder: str, seed: int) -> dict[str, bytes]:
        out = tmp_path / folder
        code = cli.main(["sample", "--weights", str(tiny_weights), "--n", "5", "--seed", str(seed), "--out", str(out), "--grid"])
        assert code == 0, capsys.readouterr().err
        return {path.name: path.read_bytes() for path in out.iterdir()}

    first, again, other = run("a", 7), run("b", 7), run("c", 8)
    assert sorted(first) == ["grid.png"] + [f"sample_{index:04d}.png" for index in range(5)]
    assert first == again
    assert first["sample_0000.png"] != other["sample_0000.png"]
    with Image.open(tmp_path / "a" / "grid.png") as grid:
        assert grid.size == (3 * 16 + 2 * 2, 2 * 16 + 2)  # 3 columns, 2 rows, 2 px gaps


def _one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert lines and lines[-1].startswith("npe: ")
    return lines[-1]


def test_corrupt_weights_give_exit_code_2_and_a_clear_message(tiny_weights, photos, capsys):
    tiny_weights.write_bytes(b"this is not a safetensors file")
    code = cli.main(["eval", "--weights", str(tiny_weights), "--data", str(photos)])
    assert code == 2
    message = _one_line_error(capsys)
    assert "corrupt" in message and str(tiny_weights) in message
    absent = tiny_weights.with_name("absent.safetensors")
    assert cli.main(["sample", "--weights", str(absent), "--out", str(absent.parent / "samples")]) == 2
    assert "is missing" in _one_line_error(capsys)


@pytest.mark.parametrize("command", ["eval", "reconstruct"])
def test_missing_or_empty_data_gives_exit_code_2(tiny_weights, tmp_path, capsys, command):
    extra = ["--out", str(tmp_path / "out")] if command == "reconstruct" else []
    assert cli.main([command, "--weights", str(tiny_weights), "--data", str(tmp_path / "nowhere"), *extra]) == 2
    assert "does not exist" in _one_line_error(capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main([command, "--weights", str(tiny_weights), "--data", str(empty), *extra]) == 2
    _one_line_error(capsys)


def test_an_unwritable_output_folder_gives_exit_code_2(tiny_weights, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    assert cli.main(["sample", "--weights", str(tiny_weights), "--out", str(blocker)]) == 2
    assert "a-file" in _one_line_error(capsys)
    assert cli.main(["sample", "--weights", str(tiny_weights), "--out", str(blocker / "below")]) == 2
    _one_line_error(capsys)
    assert cli.main(["sample", "--weights", str(tiny_weights), "--n", "0", "--out", str(tmp_path / "s")]) == 2
    assert "--n" in _one_line_error(capsys)


def test_an_unwritable_report_path_gives_exit_code_2(tiny_weights, photos, tmp_path, capsys):
    report = tmp_path / "no-such-folder" / "report.json"
    code = cli.main(["eval", "--weights", str(tiny_weights), "--data", str(photos), "--report", str(report), "--samples", "4"])
    assert code == 2
    assert "no-such-folder" in _one_line_error(capsys)
