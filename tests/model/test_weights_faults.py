"""Hostile weights files: a config with wrong types or absurd sizes, and non-finite tensors, are refused
with one clear line (a UserError) before anything is built or used."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file

from npe.config import ConfigError, ModelConfig
from npe.errors import UserError
from npe.model import WeightsError, load_weights, read_config, save_weights


def _with_model_field(config_path, **fields):
    document = json.loads(config_path.read_text())
    document["model"].update(fields)
    config_path.write_text(json.dumps(document))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("width", 1.5, "width must be a whole number, got 1.5"),
        ("latent_dim", 1_000_000_000, "latent_dim must be between 1 and 4096, got 1000000000"),
        ("generator_width", True, "generator_width must be a whole number, got True"),
        ("resolution", "64", "resolution must be a whole number, got '64'"),
        ("max_channels", 0, "max_channels must be between 1 and 4096, got 0"),
        ("mdc", 1, "mdc must be true or false, got 1"),
        ("mdc_dilations", [1, 2, 1000], "each of mdc_dilations must be between 1 and 8, got 1000"),
    ],
)
def test_a_bad_config_field_is_one_clear_line_before_the_model_is_built(tmp_path, tiny_model, monkeypatch, field, value, message):
    tensors_path, config_path = save_weights(tiny_model, tmp_path / "tiny")
    _with_model_field(config_path, **{field: value})

    def no_model(*args, **kwargs):  # nothing may be allocated for a config that is refused
        raise AssertionError("the model was built")

    monkeypatch.setattr("npe.model.io.IAN", no_model)
    with pytest.raises(WeightsError) as caught:
        load_weights(tensors_path)
    assert isinstance(caught.value, UserError)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(WeightsError, match=field):
        read_config(config_path)


def test_the_ranges_admit_every_shipped_kind_of_config():
    ModelConfig()  # the default
    ModelConfig(resolution=128, latent_dim=512, generator_top_width=32, mdc_dilations=(1, 2, 3, 4), mdc_blocks=(0, 1, 2, 2, 2, 2))
    with pytest.raises(ConfigError, match="generator_top_width must be between 0 and 1024"):
        ModelConfig(generator_top_width=-1)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path, tiny_model, bad):
    tensors_path, _ = save_weights(tiny_model, tmp_path / "tiny")
    tensors = load_file(str(tensors_path))
    key = "generator.to_rgb.weight"
    tensors[key] = tensors[key].clone()
    tensors[key].view(-1)[3] = bad
    save_file(tensors, str(tensors_path))
    with pytest.raises(WeightsError, match=r"NaN or infinite values in 'generator\.to_rgb\.weight'") as caught:
        load_weights(tensors_path)
    assert isinstance(caught.value, UserError)


def test_finite_weights_still_load_bit_exact(tmp_path, tiny_model):
    tensors_path, _ = save_weights(tiny_model, tmp_path / "tiny")
    loaded = load_weights(tensors_path)
    for key, value in tiny_model.inference_state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_an_old_config_without_generator_top_width_loads_as_before(tmp_path, tiny_model):
    tensors_path, config_path = save_weights(tiny_model, tmp_path / "tiny")
    document = json.loads(config_path.read_text())
    del document["model"]["generator_top_width"]
    config_path.write_text(json.dumps(document))
    loaded = load_weights(tensors_path)
    assert loaded.config == tiny_model.config and loaded.config.generator_top_width == 0
    assert loaded.generator.to_rgb.weight.shape[1] == tiny_model.config.generator_width


def test_generator_top_width_widens_only_the_full_resolution_stage(tiny_config):
    import dataclasses

    from npe.model import IAN

    narrow = IAN(tiny_config)
    wide = IAN(dataclasses.replace(tiny_config, generator_top_width=12))
    assert wide.generator.to_rgb.weight.shape[1] == 12
    assert wide.generator.stages[-1].up.weight.shape[:2] == (narrow.generator.stages[-1].up.weight.shape[0], 12)
    for stage_narrow, stage_wide in zip(narrow.generator.stages[:-1], wide.generator.stages[:-1]):
        assert stage_narrow.up.weight.shape == stage_wide.up.weight.shape


@pytest.mark.parametrize("fields", [{"width": 1.5}, {"latent_dim": 1_000_000_000}])
def test_the_command_line_prints_one_line_and_exits_2(tmp_path, tiny_model, capsys, fields):
    from npe.cli import main

    tensors_path, config_path = save_weights(tiny_model, tmp_path / "tiny")
    _with_model_field(config_path, **fields)
    assert main(["sample", "--weights", str(tensors_path), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("npe: Model config") and "\n" not in error and next(iter(fields)) in error
