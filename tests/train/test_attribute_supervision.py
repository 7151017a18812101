"""Attribute supervision (ModelConfig.attributes, `npe train --labels`): what each term trains, that
unknown labels count for nothing, that the heads never reach exported weights, and the command's
label handling (matching by file name, resume needing the same labels)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from npe.cli import main
from npe.commands.train import label_rows
from npe.config import LossWeights, TrainConfig
from npe.editing.attributes import AttributeLabels
from npe.model import IAN, load_weights, save_weights
from npe.train import objective
from npe.train.loop import Trainer
from tests.train.conftest import write_aligned_photos

WEIGHTS = LossWeights(attribute=0.6, attribute_consistency=0.3, latent_attribute=0.2, ortho=0.0)


@pytest.fixture
def config(tiny_config):
    return dataclasses.replace(tiny_config, attributes=3)


@pytest.fixture
def model(config):
    torch.manual_seed(0)
    return IAN(config).train()


@pytest.fixture
def labels():
    values = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]], dtype=torch.float32)
    return objective.Labels(values, torch.ones_like(values, dtype=torch.bool))


def _grad_norm(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_label_loss_is_the_mean_cross_entropy_over_known_labels_only():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    values = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    known = torch.tensor([[True, False], [True, True]])
    by_hand = (math.log1p(math.exp(-2.0)) + math.log1p(math.exp(0.5)) + math.log1p(math.exp(-3.0))) / 3
    assert objective.Labels(values, known).loss(logits).item() == pytest.approx(by_hand, rel=1e-6)
    # Whatever an unknown label says, it changes nothing; with nothing known the loss is 0.
    assert objective.Labels(1 - values * known, known).loss(logits).item() != pytest.approx(by_hand)
    flipped_unknown = torch.where(known, values, 1 - values)
    assert objective.Labels(flipped_unknown, known).loss(logits).item() == pytest.approx(by_hand, rel=1e-6)
    assert objective.Labels(values, torch.zeros_like(known)).loss(logits).item() == 0.0


def test_the_generator_step_adds_the_latent_and_reconstruction_attribute_terms(model, images, labels):
    torch.manual_seed(3)
    step = objective.generator_loss(model, images, WEIGHTS, prior_count=2, adversarial_scale=0.5, labels=labels)
    v = step.values
    assert {"z_attr", "recon_attr"} <= set(v)
    expected = v["pixel"] + 0.005 * v["kl"] + v["feature"] + 0.1 * 0.5 * v["g_adv"] + 0.2 * v["z_attr"] + 0.3 * v["recon_attr"]
    assert step.total.item() == pytest.approx(expected, rel=1e-5)
    # Each read-out is its term computed from the step's own tensors.
    with torch.no_grad():
        mean, _, _ = model.encode_distribution(images)
        assert v["z_attr"] == pytest.approx(labels.loss(model.latent_attributes(mean)).item(), rel=1e-5)
        recon = model.attribute_logits(model.trunk(step.reconstructions))
        assert v["recon_attr"] == pytest.approx(labels.loss(recon).item(), rel=1e-5)


def test_reconstruction_attributes_train_the_generator_not_the_attribute_head(model, images, labels):
    only_consistency = LossWeights(pixel=0.0, feature=0.0, kl=0.0, adversarial=0.0, ortho=0.0, attribute_consistency=1.0, latent_attribute=0.0)
    step = objective.generator_loss(model, images, only_consistency, prior_count=0, adversarial_scale=None, labels=labels)
    step.total.backward()
    assert _grad_norm(model.generator) > 0 and _grad_norm(model.encoder) > 0
    assert _grad_norm(model.attribute_head) == 0 and _grad_norm(model.latent_attributes) == 0
    assert all(p.requires_grad for p in model.attribute_head.parameters())  # frozen only for the step


def test_the_latent_read_out_trains_the_encoder_and_its_linear_head(model, images, labels):
    only_latent = LossWeights(pixel=0.0, feature=0.0, kl=0.0, adversarial=0.0, ortho=0.0, attribute_consistency=0.0, latent_attribute=1.0)
    step = objective.generator_loss(model, images, only_latent, prior_count=0, adversarial_scale=None, labels=labels)
    step.total.backward()
    assert _grad_norm(model.latent_attributes) > 0 and _grad_norm(model.encoder) > 0
    assert _grad_norm(model.generator) == 0


def test_without_labels_the_generator_step_is_the_plain_one(model, images):
    torch.manual_seed(3)
    step = objective.generator_loss(model, images, WEIGHTS, prior_count=2, adversarial_scale=0.5)
    assert not {"z_attr", "recon_attr"} & set(step.values)


def test_the_discriminator_step_trains_the_attribute_head_on_real_photos(model, images, labels):
    samples = torch.zeros(2, 3, 32, 32)
    total, values = objective.discriminator_loss(model, images, samples, images, WEIGHTS, adversarial_scale=0.5, labels=labels)
    logits, _ = model.discriminate(torch.cat([images, samples, images]))
    assert values["attr"] == pytest.approx(labels.loss(model.attribute_logits(model.trunk(images))).item(), rel=1e-5)
    assert total.item() == pytest.approx(0.5 * values["d"] + 0.6 * values["attr"], rel=1e-5)
    # Before the adversarial terms switch on only the attribute term is left, and it trains the head.
    total, values = objective.discriminator_loss(model, images, samples, images, WEIGHTS, adversarial_scale=None, labels=labels)
    assert set(values) == {"attr"} and total.item() == pytest.approx(0.6 * values["attr"], rel=1e-5)
    total.backward()
    assert _grad_norm(model.attribute_head) > 0 and _grad_norm(model.classifier) == 0


def test_inference_weights_hold_no_attribute_heads_and_say_so(model, tmp_path):
    assert not any(key.startswith(("attribute_head.", "latent_attributes.")) for key in model.inference_state_dict())
    save_weights(model, tmp_path / "m.safetensors")
    assert json.loads((tmp_path / "m.json").read_text())["model"]["attributes"] == 0
    loaded = load_weights(tmp_path / "m.safetensors")
    assert loaded.attribute_head is None and loaded.config.attributes == 0


def test_a_run_with_labels_starts_from_weights_trained_without_them(tmp_path, config, tiny_config, faces32):
    torch.manual_seed(5)
    plain = IAN(tiny_config).eval()
    labels = np.random.default_rng(0).integers(0, 2, (len(faces32) - 4, 3)).astype(np.float32)
    labels[::3] = np.nan  # unlabelled photos
    run = TrainConfig(batch_size=4, steps=3, warmup_steps=1, adversarial_ramp_steps=1, threads=1, log_every=1)
    trainer = Trainer(config, run, faces32[:-4], faces32[-4:], tmp_path, train_labels=labels)
    trainer.initialize_from(plain)
    assert torch.equal(trainer.model.generator.project.weight, plain.generator.project.weight)
    before = trainer.model.attribute_head[0].weight.detach().clone()
    trainer.fit(3)
    assert not torch.equal(before, trainer.model.attribute_head[0].weight)
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert any("attr" in record and "z_attr" in record for record in records)
    with pytest.raises(ValueError, match="labels must be"):
        Trainer(config, run, faces32[:-4], faces32[-4:], tmp_path / "x", train_labels=labels[:, :2])


def test_label_rows_match_photos_by_file_name_and_leave_others_unknown():
    table = AttributeLabels(("000001.jpg", "000002.jpg"), ("A", "B"), np.array([[True, False], [False, True]]))
    rows = label_rows(table, ["celeba/000002.jpg", "000001.jpg", "extra/123456.jpg"])
    assert rows[:2].tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert np.isnan(rows[2]).all()


def test_train_with_labels_and_resume_needs_them_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "cache"))
    faces = write_aligned_photos(tmp_path / "faces", 10)
    rng = np.random.default_rng(0)
    rows = [f"{index:06d}.jpg " + " ".join(str(v) for v in rng.choice([-1, 1], 3)) for index in range(7)]
    label_file = tmp_path / "labels.txt"
    label_file.write_text("\n".join(["7", "A B C", *rows]) + "\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"model": {"max_channels": 8, "encoder_hidden": 8, "classifier_hidden": 8},
                                  "train": {"warmup_steps": 1, "adversarial_ramp_steps": 1}}))
    flags = ["--resolution", "16", "--latent-dim", "8", "--width", "4", "--generator-width", "4", "--batch-size", "4",
             "--threads", "1", "--val-size", "2", "--device", "cpu", "--quiet"]
    out = tmp_path / "run"
    assert main(["train", str(faces), "--out", str(out), "--steps", "2", "--config", str(config), "--labels", str(label_file), *flags]) == 0
    weights = load_weights(out / "model.safetensors")
    assert weights.metadata["training_data"]["labels"] == {"file": "labels.txt", "attributes": 3, "labelled_train_images": 7}
    assert main(["train", str(faces), "--out", str(out), "--steps", "3", "--resume", "--quiet"]) == 2
    assert "--labels" in capsys.readouterr().err
    assert main(["train", str(faces), "--out", str(out), "--steps", "3", "--resume", "--quiet", "--labels", str(label_file)]) == 0
    assert load_weights(out / "model.safetensors").metadata["steps"] == 3
    missing = tmp_path / "none.txt"
    assert main(["train", str(faces), "--out", str(tmp_path / "run2"), "--steps", "1", "--labels", str(missing), *flags]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_oversampling_repeats_photos_with_the_attribute_by_the_largest_factor():
    from npe.commands.train import oversample_repeats
    from npe.errors import UserError

    labels = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [np.nan, np.nan]], dtype=np.float32)
    assert oversample_repeats(labels, ("A", "B"), {}) is None
    assert oversample_repeats(labels, ("A", "B"), {"A": 3}).tolist() == [3, 1, 3, 1, 1]
    assert oversample_repeats(labels, ("A", "B"), {"A": 3, "B": 5}).tolist() == [3, 5, 5, 1, 1]
    with pytest.raises(UserError, match="no such attribute.*A, B"):
        oversample_repeats(labels, ("A", "B"), {"Eyeglases": 4})
    for factor in (0, 2.5, True, "4"):
        with pytest.raises(UserError, match="whole number"):
            oversample_repeats(labels, ("A", "B"), {"A": factor})
    with pytest.raises(UserError, match="--labels"):
        oversample_repeats(None, (), {"A": 2})


def test_an_oversampled_epoch_draws_each_photo_as_often_as_it_repeats(tmp_path, tiny_config, faces32):
    train = faces32[:8]
    run = TrainConfig(batch_size=2, steps=1, threads=1)
    plain = Trainer(tiny_config, run, train, faces32[-2:], tmp_path / "plain")
    # Without oversampling the data order is what it always was (the seed's randperm).
    assert torch.equal(plain.permutation, torch.randperm(8, generator=torch.Generator().manual_seed(run.seed + 1)))
    repeats = np.array([1, 4, 1, 1, 2, 1, 1, 1])
    trainer = Trainer(tiny_config, run, train, faces32[-2:], tmp_path / "over", train_repeats=repeats)
    assert np.bincount(trainer.permutation.numpy(), minlength=8).tolist() == repeats.tolist()
    drawn = [trainer.permutation[i : i + 2] for i in range(0, 12, 2)]
    for _ in range(6):  # one whole epoch of 12 draws, batch by batch, then a new shuffle
        trainer.next_batch()
    assert trainer.cursor == 12
    assert np.bincount(torch.cat(drawn).numpy(), minlength=8).tolist() == repeats.tolist()
    trainer.next_batch()
    assert trainer.cursor == 2 and np.bincount(trainer.permutation.numpy(), minlength=8).tolist() == repeats.tolist()
    with pytest.raises(ValueError, match="train_repeats"):
        Trainer(tiny_config, run, train, faces32[-2:], tmp_path / "bad", train_repeats=np.array([1, 0, 1, 1, 1, 1, 1, 1]))


def test_train_oversamples_from_the_config_and_rejects_an_unknown_attribute_before_loading(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "cache"))
    faces = write_aligned_photos(tmp_path / "faces", 10)
    rows = [f"{index:06d}.jpg " + ("1 -1" if index < 2 else "-1 -1") for index in range(8)]
    label_file = tmp_path / "labels.txt"
    label_file.write_text("\n".join(["8", "Eyeglasses Male", *rows]) + "\n")
    flags = ["--resolution", "16", "--latent-dim", "8", "--width", "4", "--generator-width", "4", "--batch-size", "4",
             "--threads", "1", "--val-size", "2", "--device", "cpu", "--labels", str(label_file)]
    config = tmp_path / "config.json"
    model = {"max_channels": 8, "encoder_hidden": 8, "classifier_hidden": 8}
    config.write_text(json.dumps({"model": model, "train": {"warmup_steps": 1, "adversarial_ramp_steps": 1, "oversample": {"Eyeglasses": 3}}}))
    assert main(["train", str(faces), "--out", str(tmp_path / "run"), "--steps", "2", "--config", str(config), *flags]) == 0
    assert "oversampled: 2 photos drawn up to 3 times an epoch (13 draws for 9 photos)" in capsys.readouterr().err
    config.write_text(json.dumps({"model": model, "train": {"oversample": {"Glasses": 3}}}))
    assert main(["train", str(faces), "--out", str(tmp_path / "run2"), "--steps", "2", "--config", str(config), *flags]) == 2
    error = capsys.readouterr().err
    assert "cannot oversample 'Glasses'" in error and "loading face crops" not in error
