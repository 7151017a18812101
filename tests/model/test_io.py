"""Weights files: bit-exact round trip, clear errors for missing, truncated, corrupt or mismatched files."""

from __future__ import annotations

import json

import pytest
import torch

from npe.model import IAN, WeightsError, load_weights, save_weights, weight_paths


def test_round_trip_is_bit_exact(tmp_path, tiny_model):
    tensors_path, config_path = save_weights(tiny_model, tmp_path / "tiny", {"steps": 7})
    assert tensors_path.name == "tiny.safetensors" and config_path.name == "tiny.json"
    loaded = load_weights(tmp_path / "tiny.safetensors")
    original = tiny_model.inference_state_dict()
    assert set(loaded.state_dict()) == set(original)
    for key, value in original.items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert loaded.metadata == {"steps": 7}
    images = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.equal(loaded.decode(loaded.encode(images)), tiny_model.decode(tiny_model.encode(images)))


def test_inference_weights_drop_the_discriminator_head(tmp_path, tiny_model):
    tensors_path, _ = save_weights(tiny_model, tmp_path / "tiny")
    from safetensors import safe_open

    with safe_open(str(tensors_path), "pt") as handle:
        assert not any(key.startswith("classifier.") for key in handle.keys())


def test_any_of_the_two_paths_or_the_stem_loads(tmp_path, tiny_model):
    save_weights(tiny_model, tmp_path / "tiny")
    for path in ("tiny", "tiny.json", "tiny.safetensors"):
        assert isinstance(load_weights(tmp_path / path), IAN)


def test_missing_files_give_clear_errors(tmp_path, tiny_model):
    with pytest.raises(WeightsError, match="missing"):
        load_weights(tmp_path / "nothing.safetensors")
    tensors_path, config_path = save_weights(tiny_model, tmp_path / "tiny")
    tensors_path.unlink()
    with pytest.raises(WeightsError, match="missing"):
        load_weights(config_path)


@pytest.mark.parametrize("keep", [0, 7, 100, -40])
def test_truncated_weights_give_a_clear_error(tmp_path, tiny_model, keep):
    tensors_path, _ = save_weights(tiny_model, tmp_path / "tiny")
    data = tensors_path.read_bytes()
    tensors_path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_weights(tensors_path)


def test_corrupt_header_gives_a_clear_error(tmp_path, tiny_model):
    tensors_path, _ = save_weights(tiny_model, tmp_path / "tiny")
    data = bytearray(tensors_path.read_bytes())
    data[8:40] = b"\xff" * 32
    tensors_path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_weights(tensors_path)


def test_a_pickle_is_never_loaded(tmp_path, tiny_model):
    tensors_path, _ = save_weights(tiny_model, tmp_path / "tiny")
    torch.save(tiny_model.state_dict(), tensors_path)  # a pickle disguised as safetensors
    with pytest.raises(WeightsError):
        load_weights(tensors_path)


def test_config_that_does_not_match_the_tensors(tmp_path, tiny_model):
    _, config_path = save_weights(tiny_model, tmp_path / "tiny")
    document = json.loads(config_path.read_text())
    document["model"]["latent_dim"] = 17
    config_path.write_text(json.dumps(document))
    with pytest.raises(WeightsError, match="do not match"):
        load_weights(config_path)


def test_invalid_config_gives_a_clear_error(tmp_path, tiny_model):
    _, config_path = save_weights(tiny_model, tmp_path / "tiny")
    config_path.write_text("{not json")
    with pytest.raises(WeightsError, match="unreadable or invalid"):
        load_weights(config_path)
    config_path.write_text(json.dumps({"model": {"resolution": 33}}))
    with pytest.raises(WeightsError, match="power of two"):
        load_weights(config_path)


def test_wrong_dtype_is_reported(tmp_path, tiny_model):
    from safetensors.torch import load_file, save_file

    tensors_path, _ = save_weights(tiny_model, tmp_path / "tiny")
    tensors = load_file(str(tensors_path))
    key = next(iter(tensors))
    tensors[key] = tensors[key].double()
    save_file(tensors, str(tensors_path))
    with pytest.raises(WeightsError, match="float64"):
        load_weights(tensors_path)


def test_weight_paths():
    assert [p.name for p in weight_paths("a/b.json")] == ["b.safetensors", "b.json"]
    assert [p.name for p in weight_paths("a/b.v2")] == ["b.v2.safetensors", "b.v2.json"]


def test_a_file_that_is_not_weights_is_named_as_such(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 not weights")
    with pytest.raises(WeightsError, match="is not a model weights file"):
        load_weights(photo)
