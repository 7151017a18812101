"""The training loop: exact resume from a checkpoint, atomic checkpoints, EMA export."""

from __future__ import annotations

import json
import numpy as np
import pytest
import torch

from npe.config import TrainConfig
from npe.model import load_weights
from npe.train.checkpoint import CHECKPOINT_NAME
from npe.train.loop import Trainer


def _trainer(tmp_path, tiny_config, faces32, **overrides):
    settings = dict(batch_size=8, warmup_steps=2, threads=1, log_every=10**9, checkpoint_minutes=1e9, validate_minutes=1e9)
    config = TrainConfig(**{**settings, **overrides})
    return Trainer(tiny_config, config, faces32[:40], faces32[40:], tmp_path, log=lambda message: None)


def test_resume_continues_exactly(tmp_path, tiny_config, faces32):
    torch.use_deterministic_algorithms(True)
    try:
        # steps=8: the cosine learning-rate decay changes the rates at every step of this test.
        straight = _trainer(tmp_path / "a", tiny_config, faces32, steps=8)
        for _ in range(7):  # crosses the warm-up and an epoch boundary (40 images / batch 8)
            straight.train_step()

        first = _trainer(tmp_path / "b", tiny_config, faces32, steps=8)
        for _ in range(3):
            first.train_step()
        checkpoint = first.save_checkpoint()
        torch.manual_seed(999)  # whatever happens in between must not matter
        resumed = _trainer(tmp_path / "b", tiny_config, faces32, steps=8)
        resumed.load_checkpoint(checkpoint)
        assert resumed.step == 3 and resumed.lr_factor() == first.lr_factor() < 1
        for _ in range(4):
            resumed.train_step()
    finally:
        torch.use_deterministic_algorithms(False)
    assert resumed.step == straight.step == 7
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    for key, value in straight.ema.state_dict().items():
        assert torch.equal(value, resumed.ema.state_dict()[key]), key
    for optimizer in ("opt_g", "opt_d"):
        lrs = [group["lr"] for group in getattr(straight, optimizer).param_groups]
        assert lrs == [group["lr"] for group in getattr(resumed, optimizer).param_groups]


def test_resume_forgets_the_metrics_logged_after_its_checkpoint(tmp_path, tiny_config, faces32):
    # A run that died after its checkpoint (step 2) logged steps 3 and 4 and half a line; the resumed run
    # takes steps 3 and 4 again, so the log must not hold them twice.
    first = _trainer(tmp_path, tiny_config, faces32)
    for _ in range(2):
        first.train_step()
    checkpoint = first.save_checkpoint()
    lines = [{"step": 1, "pixel": 0.5}, {"step": 2, "val_psnr": 12.0}, {"step": 3, "pixel": 0.4}, {"step": 4, "pixel": 0.3}]
    first.metrics_path.write_text("".join(f"{json.dumps(line)}\n" for line in lines) + '{"step": 5, "pix', encoding="utf-8")
    resumed = _trainer(tmp_path, tiny_config, faces32)
    resumed.load_checkpoint(checkpoint)
    kept = [json.loads(line) for line in resumed.metrics_path.read_text(encoding="utf-8").splitlines()]
    assert kept == lines[:2]


def test_checkpoint_is_written_atomically(tmp_path, tiny_config, faces32, monkeypatch):
    trainer = _trainer(tmp_path, tiny_config, faces32)
    trainer.train_step()
    path = trainer.save_checkpoint()
    before = path.read_bytes()

    def broken_save(obj, stream):
        stream.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    trainer.train_step()
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_fit_writes_metrics_grids_and_checkpoint_and_export_loads(tmp_path, tiny_config, faces32):
    trainer = _trainer(tmp_path, tiny_config, faces32)
    trainer.fit(4)
    assert (tmp_path / CHECKPOINT_NAME).is_file()
    assert (tmp_path / "samples.png").is_file() and (tmp_path / "reconstructions.png").is_file()
    records = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert any("val_psnr" in line for line in records)
    trainer.recalibrate_ema_batchnorm(batches=2)
    tensors_path, _ = trainer.export(tmp_path / "tiny", metrics={"val_psnr": 1.0})
    model = load_weights(tensors_path)
    assert model.metadata["steps"] == 4
    assert model.metadata["metrics"] == {"val_psnr": 1.0}
    for key, value in trainer.ema.inference_state_dict().items():
        if not key.startswith("latent_"):
            assert torch.equal(model.state_dict()[key], value), key
    # The sampling distribution is fitted to the encoded training faces.
    encoded = trainer.encode_training_faces(trainer.ema)
    assert torch.allclose(model.latent_mean, encoded.mean(0), atol=1e-5)


def test_each_objective_moves_the_shared_trunk_through_its_own_optimizer(tmp_path, tiny_config, faces32):
    """On the real model the trunk's reconstruction gradients (~1e-6) and discriminator gradients
    (~1e-4) differ by orders of magnitude; through one Adam the discriminator's first steps were
    divided by a second moment adapted to the reconstruction gradients and wrecked the encoder
    (pixel L1 0.23 -> 0.42 in 25 steps). Each objective must normalise its own gradients."""
    trainer = _trainer(tmp_path, tiny_config, faces32)
    trunk = {id(p) for p in trainer.model.trunk.parameters()}
    autoencoder = {id(p) for group in trainer.opt_g.param_groups for p in group["params"]}
    assert trunk <= autoencoder
    (trunk_group,) = [g for g in trainer.opt_d.param_groups if {id(p) for p in g["params"]} == trunk]
    assert trunk_group["lr"] == trainer.config.lr_discriminator * trainer.config.trunk_adversarial_scale
    # Reconstruction-only steps leave the discriminator's optimizer untouched.
    trainer.train_step()
    assert trainer.adversarial_active() is False
    assert all(not trainer.opt_d.state[p] for p in trainer.model.trunk.parameters())


CHECKPOINT_KEYS = {
    "model", "ema", "opt_g", "opt_d", "step", "images_seen", "train_seconds", "cursor", "permutation",
    "data_rng", "torch_rng", "model_config", "train_config", "best_val_psnr",
}


def test_the_checkpoint_format_is_the_documented_one(tmp_path, tiny_config, faces32):
    """Runs in progress resume from these files: a key renamed or dropped breaks them."""
    trainer = _trainer(tmp_path, tiny_config, faces32)
    trainer.train_step()
    state = torch.load(trainer.save_checkpoint(), weights_only=True)
    assert set(state) == CHECKPOINT_KEYS
    assert isinstance(state["model_config"], str) and isinstance(state["train_config"], str)
    assert state["step"] == 1 and state["images_seen"] == 8 and state["cursor"] == 8
    assert state["permutation"].shape == (40,) and state["data_rng"].dtype == torch.uint8


def test_an_older_checkpoint_without_the_newer_entries_resumes(tmp_path, tiny_config, faces32):
    """Checkpoints from before best_val_psnr and the sampling-distribution buffers existed."""
    trainer = _trainer(tmp_path, tiny_config, faces32)
    for _ in range(3):
        trainer.train_step()
    state = trainer.checkpoint_state()
    del state["best_val_psnr"]
    for key in ("model", "ema"):
        state[key] = {name: value for name, value in state[key].items() if not name.startswith("latent_")}
    path = tmp_path / "old.pt"
    torch.save(state, path)
    resumed = _trainer(tmp_path / "r", tiny_config, faces32)
    resumed.load_checkpoint(path)
    assert resumed.step == 3 and resumed.best_val_psnr == -np.inf
    assert torch.equal(resumed.model.latent_basis, torch.eye(tiny_config.latent_dim))
    resumed.train_step()
    assert resumed.step == 4


def test_a_checkpoint_of_another_model_is_refused(tmp_path, tiny_config, faces32):
    import dataclasses

    trainer = _trainer(tmp_path, tiny_config, faces32)
    path = trainer.save_checkpoint()
    other = Trainer(dataclasses.replace(tiny_config, latent_dim=8), TrainConfig(threads=1), faces32[:40], faces32[40:],
                    tmp_path / "o", log=lambda message: None)
    with pytest.raises(ValueError, match="another model config"):
        other.load_checkpoint(path)


def test_encoder_refinement_moves_the_encoder_and_keeps_the_generator(tmp_path, tiny_config, faces32):
    """freeze_generator: the generator (and its EMA) stay bit-identical, the encoder learns, and its
    reconstructions of the training faces get better; adversarial terms off, so no discriminator step."""
    trainer = _trainer(tmp_path, tiny_config, faces32, steps=30, freeze_generator=True, warmup_steps=0, lr_generator=2e-3)
    trainer.config.losses.adversarial = 0.0
    generator = {key: value.clone() for key, value in trainer.model.generator.state_dict().items()}
    encoder = {key: value.clone() for key, value in trainer.model.encoder.state_dict().items()}
    first = trainer.train_step()["pixel"]
    for _ in range(29):
        last = trainer.train_step()["pixel"]
    for key, value in generator.items():
        assert torch.equal(value, trainer.model.generator.state_dict()[key]), key
        assert torch.equal(value, trainer.ema.generator.state_dict()[key]), key
    assert any(not torch.equal(value, trainer.model.encoder.state_dict()[key]) for key, value in encoder.items())
    assert last < first
    assert all(not trainer.opt_d.state[p] for p in trainer.model.classifier.parameters())


def test_batches_are_the_permuted_images_some_mirrored(tmp_path, tiny_config, faces32):
    from npe.data.convert import to_model

    trainer = _trainer(tmp_path, tiny_config, faces32)
    rng_state = trainer.data_rng.get_state()
    permutation, cursor = trainer.permutation.clone(), trainer.cursor
    batch = trainer.next_batch()
    originals = to_model(faces32[:40][permutation[cursor : cursor + 8].numpy()])
    trainer.data_rng.set_state(rng_state)
    flips = torch.rand(8, generator=trainer.data_rng) < 0.5
    assert 0 < int(flips.sum()) < 8  # this seed mirrors some, not all
    for image, original, flipped in zip(batch, originals, flips):
        assert torch.equal(image, original.flip(-1) if flipped else original)
    assert batch.is_contiguous(memory_format=torch.channels_last)


def test_while_the_discriminator_warms_up_only_it_learns(tmp_path, tiny_config, faces32):
    trainer = _trainer(tmp_path, tiny_config, faces32, discriminator_warmup_steps=2, warmup_steps=2)
    before = {name: value.clone() for name, value in trainer.model.state_dict().items()}

    def changed(prefix: str) -> bool:
        return any(not torch.equal(value, before[name]) for name, value in trainer.model.state_dict().items() if name.startswith(prefix))

    for _ in range(2):
        values = trainer.train_step()
        assert "d" in values  # the discriminator's loss: it trained
    assert changed("classifier") and not changed("generator") and not changed("encoder")
    trainer.train_step()
    assert changed("generator") and changed("encoder")


def test_init_from_may_change_where_reconstruction_gradients_flow_but_not_the_network(tmp_path, tiny_config, faces32):
    import dataclasses

    weights = _trainer(tmp_path / "w", tiny_config, faces32).ema  # trained with recon_grad_to_trunk (the default)
    detached = Trainer(dataclasses.replace(tiny_config, recon_grad_to_trunk=False), TrainConfig(threads=1), faces32[:40], faces32[40:],
                       tmp_path / "d", log=lambda message: None)
    detached.initialize_from(weights)
    for loaded, trained in zip(detached.model.trunk.parameters(), weights.trunk.parameters()):
        assert torch.equal(loaded, trained)
    assert not any(p is q for p in detached.opt_g.param_groups[0]["params"] for q in detached.model.trunk.parameters())
    wider = Trainer(dataclasses.replace(tiny_config, latent_dim=8), TrainConfig(threads=1), faces32[:40], faces32[40:],
                    tmp_path / "o", log=lambda message: None)
    with pytest.raises(ValueError, match="another model config"):
        wider.initialize_from(weights)
