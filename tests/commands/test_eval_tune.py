"""`npe eval --tune` and `npe reconstruct --tune`: opt-in per-photo tuning, the editor's own fitting;
by default both still measure the model itself (the encoder only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from npe import cli
from npe.editing.session import EditSession
from npe.model import load_weights, save_weights
from npe.train.evaluate import evaluate
from npe.train.metrics import psnr
from tests.train.conftest import write_aligned_photos


@pytest.fixture(autouse=True)
def _crop_cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def weights(smooth_tiny_model, tmp_path) -> Path:
    # 32 px: the generator has a stages.2 as well as to_rgb, so the tuning touches what the editor's does.
    tensors, _ = save_weights(smooth_tiny_model, tmp_path / "models" / "tiny", {"note": "random weights for tests"})
    return tensors


@pytest.fixture
def photos(tmp_path) -> Path:
    return write_aligned_photos(tmp_path / "photos", 6)


def _read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _reconstruct(weights: Path, photos: Path, out: Path, *extra: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{stem: (input crop, reconstruction)} written by `npe reconstruct`."""
    code = cli.main(["reconstruct", "--weights", str(weights), "--data", str(photos), "--out", str(out), "--limit", "2", *extra])
    assert code == 0
    stems = sorted(path.name[: -len(".input.png")] for path in out.glob("*.input.png"))
    assert len(stems) == 2 and len(list(out.glob("*.recon.png"))) == 2
    return {stem: (_read(out / f"{stem}.input.png"), _read(out / f"{stem}.recon.png")) for stem in stems}


def _encoder_only(weights: Path, crop: np.ndarray) -> np.ndarray:
    """G(E(x)) computed here directly with torch: the model alone."""
    model = load_weights(weights).eval()
    with torch.no_grad():
        image = torch.from_numpy(crop.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
        output = model.decode(model.encode(image))
    return ((output[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()


def _l1(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.abs(first.astype(np.float64) - second.astype(np.float64)).mean())


def test_the_flags_parse_and_are_off_by_default():
    parser = cli.build_command_parser()
    for command, extra in (("eval", []), ("reconstruct", ["--out", "o"])):
        assert parser.parse_args([command, "--data", "d", *extra]).tune is False
        assert parser.parse_args([command, "--data", "d", *extra, "--tune"]).tune is True
    assert parser.parse_args(["eval", "--data", "d", "--limit", "7"]).limit == 7
    assert parser.parse_args(["eval", "--data", "d"]).limit is None


def test_reconstruct_is_the_encoder_alone_by_default_and_tuned_with_the_flag(weights, photos, tmp_path, capsys):
    plain = _reconstruct(weights, photos, tmp_path / "plain")
    plain_output = capsys.readouterr()
    tuned = _reconstruct(weights, photos, tmp_path / "tuned", "--tune")
    tuned_output = capsys.readouterr()
    assert "tuned" not in plain_output.err + plain_output.out
    assert "tuned 2/2" in tuned_output.err and "(per-photo tuned)" in tuned_output.out
    for stem, (crop, reconstruction) in plain.items():
        assert np.abs(reconstruction.astype(int) - _encoder_only(weights, crop)).max() <= 1  # rounding of a conv path only
        tuned_crop, tuned_reconstruction = tuned[stem]
        np.testing.assert_array_equal(tuned_crop, crop)
        # Strictly and clearly closer to the photo than the model alone ...
        assert _l1(tuned_reconstruction, crop) < 0.8 * _l1(reconstruction, crop)
    # ... and the very face the editor shows when that crop is opened with tuning (one face: tuning is slow).
    editor = EditSession.from_crop(load_weights(weights), crop, tune=True).reconstruction
    assert np.abs(tuned_reconstruction.astype(int) - editor).max() <= 1
    with Image.open(tmp_path / "tuned" / f"{stem}.recon.png") as image:
        assert "per-photo" in image.info["tuned"]
    with Image.open(tmp_path / "plain" / f"{stem}.recon.png") as image:
        assert "tuned" not in image.info


def test_eval_labels_tuned_figures_and_leaves_the_model_figures_alone(weights, photos, tmp_path, capsys):
    args = ["eval", "--weights", str(weights), "--data", str(photos), "--split", "all", "--samples", "8", "--no-pca", "--limit", "2"]
    assert cli.main([*args, "--report", str(tmp_path / "plain.json")]) == 0
    plain_output = capsys.readouterr()
    assert cli.main([*args, "--tune", "--report", str(tmp_path / "tuned.json")]) == 0
    tuned_output = capsys.readouterr()
    plain = json.loads((tmp_path / "plain.json").read_text())
    tuned = json.loads((tmp_path / "tuned.json").read_text())

    assert "tuned" not in plain and "TUNED" not in plain_output.out
    assert plain["images"] == tuned["images"] == 2 and tuned["data"]["limit"] == 2
    # The model's own figures and verdicts are the same with or without --tune.
    assert tuned["reconstruction"] == plain["reconstruction"] and tuned["passes"] == plain["passes"]
    # The tuned figures say what they are, in the JSON and in the table.
    assert "NOT the model's quality" in tuned["tuned"]["note"]
    assert tuned["tuned"]["settings"]["tune_steps"] > 0 and tuned["tuned"]["seconds_per_face"] > 0
    assert "PER-PHOTO TUNED, NOT THE MODEL'S QUALITY" in tuned_output.out
    assert "tuned 2/2" in tuned_output.err
    assert tuned["tuned"]["psnr"] > plain["reconstruction"]["psnr"] + 1.0

    # The tuned PSNR is that of the pairs `npe reconstruct --tune` writes for the same faces.
    pairs = _reconstruct(weights, photos, tmp_path / "pairs", "--split", "all", "--tune")
    crops = np.stack([crop for crop, _ in pairs.values()])
    reconstructions = np.stack([reconstruction for _, reconstruction in pairs.values()])
    assert tuned["tuned"]["psnr"] == pytest.approx(psnr(crops, reconstructions), abs=0.05)


def test_eval_rejects_a_limit_below_one(weights, photos, capsys):
    assert cli.main(["eval", "--weights", str(weights), "--data", str(photos), "--limit", "0"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err


def test_evaluate_rejects_tuned_reconstructions_of_other_images(smooth_tiny_model):
    images = np.zeros((2, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="tuned reconstructions"):
        evaluate(smooth_tiny_model, images, samples=2, pca=False, tuned_reconstructions=images[:1])
