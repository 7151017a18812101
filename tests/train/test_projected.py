"""The projected discriminator (npe.train.projected): heads on frozen Lite0 features that learn to tell
photos from blur, a hinge term the generator step adds, and a trainer that trains it and resumes it."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from npe.config import LossWeights, TrainConfig
from npe.model import IAN
from npe.train import objective
from npe.train.loop import Trainer
from npe.train.perceptual import load_lite0
from npe.train.projected import PROJECTED_LAYERS, ProjectedDiscriminator, discriminator_hinge_loss, real_accuracy


@pytest.fixture(scope="module")
def network():
    return load_lite0(layers=PROJECTED_LAYERS)


def test_only_the_heads_train_and_every_scale_gives_a_map_of_logits(network):
    projected = ProjectedDiscriminator(network, resolution=64)
    logits = projected(torch.zeros(2, 3, 64, 64))
    assert len(logits) == 4 and all(logit.shape[:2] == (2, 1) for logit in logits)
    trainable = {id(parameter) for parameter in projected.trainable_parameters()}
    assert trainable and all(id(parameter) not in trainable for parameter in projected.network.parameters())
    assert all(id(parameter) not in trainable for parameter in projected.mixers.parameters())
    projected.train()
    assert not projected.network.training  # the borrowed batch norm keeps its statistics
    assert not any(key.startswith("network.") for key in projected.trained_state())


def test_the_heads_learn_to_tell_sharp_images_from_their_blur(network):
    torch.manual_seed(0)
    projected = ProjectedDiscriminator(network, resolution=32)
    optimizer = torch.optim.Adam(projected.trainable_parameters(), lr=2e-4, betas=(0.0, 0.99))
    sharp = (torch.rand(16, 3, 8, 8) * 2 - 1).repeat_interleave(4, -1).repeat_interleave(4, -2)  # blocky
    blurred = F.avg_pool2d(F.pad(sharp, (2, 2, 2, 2), mode="replicate"), 5, stride=1)
    with torch.no_grad():
        before = real_accuracy(projected(sharp)), real_accuracy(projected(blurred))
    for _ in range(60):
        loss = discriminator_hinge_loss(projected(sharp), projected(blurred))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after_sharp, after_blur = real_accuracy(projected(sharp)), real_accuracy(projected(blurred))
    assert after_sharp == 1.0 and after_blur == 0.0, (before, after_sharp, after_blur)


def test_the_generator_step_adds_the_hinge_term_scaled_to_a_share_of_the_reconstruction_gradient(tiny_config, images, network):
    model = IAN(tiny_config).train()
    projected = ProjectedDiscriminator(network, resolution=32).eval()  # (spectral norm's power step stays put)
    weights = dataclasses.replace(LossWeights(), projected=0.5, feature=0.0)  # the reconstruction terms: pixel L1 alone
    last = model.generator.to_rgb.weight

    def gradient(step: objective.GeneratorLoss) -> torch.Tensor:
        return torch.autograd.grad(step.total, last, retain_graph=True)[0]

    torch.manual_seed(3)
    plain = objective.generator_loss(model, images, weights, prior_count=2, adversarial_scale=0.4)
    torch.manual_seed(3)
    step = objective.generator_loss(model, images, weights, prior_count=2, adversarial_scale=0.4, projected=projected)
    generated = torch.cat([step.reconstructions, step.samples])
    hinge = sum(-logit.mean() for logit in projected(generated))
    assert "g_proj" not in plain.values and step.values["g_proj"] == pytest.approx(float(hinge.detach()), rel=1e-5)
    hinge_gradient = torch.autograd.grad(hinge, last, retain_graph=True)[0]
    added = gradient(step) - gradient(plain)
    # The term's gradient is the hinge's own, scaled by 0.5 x 0.4 x the balance ...
    balance = step.values["proj_balance"]
    assert torch.allclose(added, 0.5 * 0.4 * balance * hinge_gradient, rtol=1e-3, atol=1e-7)
    # ... so that its norm there is 0.5 x 0.4 times the reconstruction terms' (here the pixel term's).
    pixel = weights.pixel * (images - step.reconstructions).abs().mean()
    pixel_norm = torch.autograd.grad(pixel, last, retain_graph=True)[0].norm()
    assert float(added.norm()) == pytest.approx(0.5 * 0.4 * float(pixel_norm), rel=1e-3)
    before_adversarial = objective.generator_loss(model, images, weights, prior_count=0, adversarial_scale=None, projected=projected)
    assert "g_proj" not in before_adversarial.values


def test_the_trainer_trains_it_beside_the_ians_discriminator_and_resumes_it(tmp_path, tiny_config, faces32):
    losses = dataclasses.replace(LossWeights(), projected=0.1)
    config = TrainConfig(batch_size=8, warmup_steps=0, adversarial_ramp_steps=1, threads=1, losses=losses)
    trainer = Trainer(tiny_config, config, faces32[:40], faces32[40:], tmp_path / "run", log=lambda message: None)
    assert trainer.projected is not None
    heads = [parameter.detach().clone() for parameter in trainer.projected.trainable_parameters()]
    values = trainer.train_step()
    assert {"g_proj", "p_d", "p_acc"} <= set(values)
    moved = [not torch.equal(old, new) for old, new in zip(heads, trainer.projected.trainable_parameters())]
    assert any(moved)
    trainer.save_checkpoint()
    again = Trainer(tiny_config, config, faces32[:40], faces32[40:], tmp_path / "run", log=lambda message: None)
    assert again.projected is not None
    again.load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    for saved, loaded in zip(trainer.projected.trained_state().values(), again.projected.trained_state().values()):
        assert torch.equal(saved, loaded)
    assert again.opt_p is not None and again.opt_p.state_dict()["state"]
    plain = Trainer(tiny_config, TrainConfig(batch_size=8, threads=1), faces32[:40], faces32[40:], tmp_path / "plain", log=lambda m: None)
    assert plain.projected is None and "opt_p" not in plain.checkpoint_state()
