"""The training step's objective (npe.train.objective) and the loop's schedule and EMA (npe.train.loop):
augmentation only where the discriminator looks, the closed-form cosine, a hand-computed EMA."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from npe.config import LossWeights, TrainConfig
from npe.model import IAN, losses
from npe.train import objective
from npe.train.loop import Trainer, cosine_lr_factor

WEIGHTS = LossWeights()


class Spy:
    """An augment that records what it is given and replaces it by a different (still differentiable) image."""

    def __init__(self) -> None:
        self.inputs: list[torch.Tensor] = []

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.inputs.append(images.detach().clone())
        return images.flip(-1) * 0.5


def _trunk_inputs(model: IAN) -> tuple[list[torch.Tensor], torch.utils.hooks.RemovableHandle]:
    seen: list[torch.Tensor] = []
    handle = model.trunk.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    return seen, handle


@pytest.fixture
def model(tiny_config):
    torch.manual_seed(0)
    return IAN(tiny_config).train()


def test_the_generator_step_augments_only_what_the_discriminator_classifies(model, images):
    spy = Spy()
    seen, handle = _trunk_inputs(model)
    torch.manual_seed(7)
    step = objective.generator_loss(model, images, WEIGHTS, prior_count=2, adversarial_scale=1.0, augment=spy)
    handle.remove()
    # One augmentation: the reconstructions and samples the discriminator scores, nothing else.
    assert len(spy.inputs) == 1
    assert torch.equal(spy.inputs[0], torch.cat([step.reconstructions, step.samples]).detach())
    # The trunk sees: the exact clean batch (encoder), clean images beside their reconstructions (feature
    # loss), and then only the augmented images (adversarial term).
    assert len(seen) == 3
    assert torch.equal(seen[0], images)
    assert torch.equal(seen[1], torch.cat([images, step.reconstructions.detach()]))
    assert torch.equal(seen[2], spy(spy.inputs[0]))
    # The pixel, KL and feature terms do not depend on the augmentation at all.
    torch.manual_seed(7)
    clean = objective.generator_loss(model, images, WEIGHTS, prior_count=2, adversarial_scale=1.0)
    for key in ("pixel", "kl", "feature", "ortho_g"):
        assert step.values[key] == clean.values[key], key
    assert step.values["g_adv"] != clean.values["g_adv"]
    assert step.values["pixel"] == pytest.approx(losses.pixel_loss(images, step.reconstructions).item())


def test_without_the_adversarial_terms_nothing_is_augmented(model, images):
    spy = Spy()
    step = objective.generator_loss(model, images, WEIGHTS, prior_count=0, adversarial_scale=None, augment=spy)
    assert spy.inputs == [] and "g_adv" not in step.values and step.samples.shape[0] == 0


def test_the_discriminator_step_augments_real_generated_and_reconstructed_alike(model, images):
    spy = Spy()
    samples, reconstructions = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    seen, handle = _trunk_inputs(model)
    total, values = objective.discriminator_loss(model, images, samples, reconstructions, WEIGHTS, adversarial_scale=0.5, augment=spy)
    handle.remove()
    assert len(spy.inputs) == 1 and torch.equal(spy.inputs[0], torch.cat([images, samples, reconstructions]))
    assert len(seen) == 1 and torch.equal(seen[0], spy(spy.inputs[0]))
    logits, _ = model.discriminate(spy(spy.inputs[0]))
    expected = losses.discriminator_loss(logits[:4], logits[4:6], logits[6:])
    assert values["d"] == pytest.approx(expected.item(), rel=1e-6)
    ortho = losses.orthogonal_regularisation(losses.conv_weights(model.trunk))
    assert total.item() == pytest.approx(0.5 * expected.item() + WEIGHTS.ortho * ortho.item(), rel=1e-6)


def test_the_generator_step_gives_the_discriminator_no_gradient(model, images):
    step = objective.generator_loss(model, images, WEIGHTS, prior_count=2, adversarial_scale=1.0)
    step.total.backward()
    assert all(p.grad is None for p in model.classifier.parameters())
    assert all(p.requires_grad for p in model.parameters())  # left trainable for the discriminator's step
    # With recon_grad_to_trunk the trunk learns from the encoder's path, not from the discriminator passes.
    trunk_grads = [p.grad for p in model.trunk.parameters()]
    assert trunk_grads and all(g is not None and g.abs().sum() > 0 for g in trunk_grads)


def test_without_recon_grad_to_trunk_the_trunk_gets_no_generator_gradient(tiny_config, images):
    torch.manual_seed(0)
    model = IAN(dataclasses.replace(tiny_config, recon_grad_to_trunk=False)).train()
    objective.generator_loss(model, images, WEIGHTS, prior_count=2, adversarial_scale=1.0).total.backward()
    assert all(p.grad is None for p in model.trunk.parameters())
    assert all(p.grad is not None for p in model.encoder.parameters())


def test_the_trainer_augments_twice_per_adversarial_step_and_never_in_the_warm_up(tmp_path, tiny_config, faces32):
    spy = Spy()
    config = TrainConfig(batch_size=4, warmup_steps=1, threads=1, log_every=10**9)
    trainer = Trainer(tiny_config, config, faces32[:20], faces32[20:24], tmp_path, log=lambda m: None, augment=spy)
    trainer.train_step()
    assert spy.inputs == []
    trainer.train_step()
    assert [len(batch) for batch in spy.inputs] == [4 + 2, 4 + 2 + 4]


# --- schedule and EMA ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "start", "expected"),
    [(0, 0.0, 1.0), (25, 0.0, 0.1 + 0.45 * (1 + math.cos(math.pi / 4))), (50, 0.0, 0.55), (100, 0.0, 0.1), (150, 0.0, 0.1),
     (25, 0.5, 1.0), (75, 0.5, 0.55), (100, 0.5, 0.1)],
)
def test_cosine_lr_factor_closed_form(step, start, expected):
    assert cosine_lr_factor(step, 100, start, 0.1) == pytest.approx(expected, abs=1e-12)


def test_the_trainer_sets_every_learning_rate_by_the_schedule(tmp_path, tiny_config, faces32):
    config = TrainConfig(batch_size=4, steps=100, lr_final_ratio=0.1, threads=1, lr_generator=1e-3, lr_discriminator=2e-3)
    trainer = Trainer(tiny_config, config, faces32[:20], faces32[20:24], tmp_path, log=lambda m: None)
    trainer.step = 50
    trainer.apply_lr_schedule()
    assert [g["lr"] for g in trainer.opt_g.param_groups] == pytest.approx([1e-3 * 0.55])
    assert [g["lr"] for g in trainer.opt_d.param_groups] == pytest.approx([2e-3 * config.trunk_adversarial_scale * 0.55, 2e-3 * 0.55])
    constant = Trainer(tiny_config, dataclasses.replace(config, lr_decay="none"), faces32[:20], faces32[20:24], tmp_path, log=lambda m: None)
    constant.step = 50
    assert constant.lr_factor() == 1.0
    with pytest.raises(ValueError, match="lr_decay"):
        Trainer(tiny_config, dataclasses.replace(config, lr_decay="linear"), faces32[:20], faces32[20:24], tmp_path)


def test_ema_follows_the_hand_computed_average(tmp_path, tiny_config, faces32):
    config = TrainConfig(batch_size=4, threads=1, ema_decay=0.5)
    trainer = Trainer(tiny_config, config, faces32[:20], faces32[20:24], tmp_path, log=lambda m: None)
    weight, average = trainer.model.generator.to_rgb.weight, trainer.ema.generator.to_rgb.weight
    with torch.no_grad():
        weight.fill_(1.0)
        average.fill_(3.0)
    trainer.step = 0  # warm-up decay (1 + 0) / (10 + 0) = 0.1: 0.1 * 3 + 0.9 * 1
    trainer.update_ema()
    assert torch.allclose(average, torch.full_like(average, 1.2))
    trainer.step = 100  # min(0.5, 101 / 110) = 0.5: 0.5 * 1.2 + 0.5 * 5
    with torch.no_grad():
        weight.fill_(5.0)
    trainer.update_ema()
    assert torch.allclose(average, torch.full_like(average, 3.1))
    # Buffers are copied, not averaged.
    with torch.no_grad():
        trainer.model.latent_mean.fill_(7.0)
    trainer.update_ema()
    assert torch.equal(trainer.ema.latent_mean, trainer.model.latent_mean)


# --- how the terms add up ------------------------------------------------------------------------

ODD_WEIGHTS = LossWeights(adversarial=0.3, pixel=2.0, feature=0.7, kl=0.05, ortho=0.01)  # all different


def _fixed_logits(model: IAN, logits: torch.Tensor) -> None:
    """The discriminator answers ``logits`` whatever it is shown (to pin the accuracy read-out)."""
    model.discriminate = lambda images: (logits[: images.shape[0]], None)


@pytest.mark.parametrize("ternary", [True, False])
def test_the_discriminator_accuracy_is_the_share_of_real_images_called_real(tiny_config, images, ternary):
    torch.manual_seed(0)
    model = IAN(dataclasses.replace(tiny_config, ternary=ternary)).train()
    if ternary:  # rows 0, 2, 3 put most weight on REAL (class 0); row 1 on GENERATED
        real = torch.tensor([[2.0, 0.0, 1.0], [0.0, 3.0, 1.0], [1.0, 0.5, 0.2], [4.0, 1.0, 3.0]])
        rest = torch.zeros(6, 3)
    else:  # binary: a positive logit says real
        real = torch.tensor([[1.0], [-1.0], [0.5], [2.0]])
        rest = torch.zeros(6, 1)
    _fixed_logits(model, torch.cat([real, rest]))
    samples, reconstructions = torch.zeros(2, 3, 32, 32), torch.zeros(4, 3, 32, 32)
    _, values = objective.discriminator_loss(model, images, samples, reconstructions, WEIGHTS, adversarial_scale=1.0)
    assert values["d_acc"] == 0.75


@pytest.mark.parametrize(("ortho_reg", "ortho"), [(False, 0.01), (True, 0.0)])
def test_without_orthogonal_regularisation_the_totals_are_the_plain_terms(tiny_config, images, ortho_reg, ortho):
    torch.manual_seed(0)
    model = IAN(dataclasses.replace(tiny_config, ortho_reg=ortho_reg)).train()
    weights = dataclasses.replace(ODD_WEIGHTS, ortho=ortho)
    samples, reconstructions = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    total, values = objective.discriminator_loss(model, images, samples, reconstructions, weights, adversarial_scale=0.5)
    assert total.item() == pytest.approx(0.5 * values["d"], rel=1e-6)
    torch.manual_seed(3)
    step = objective.generator_loss(model, images, weights, prior_count=2, adversarial_scale=0.5)
    assert "ortho_g" not in step.values
    expected = 2.0 * step.values["pixel"] + 0.05 * step.values["kl"] + 0.7 * step.values["feature"] + 0.3 * 0.5 * step.values["g_adv"]
    assert step.total.item() == pytest.approx(expected, rel=1e-5)


def test_the_generator_total_weighs_each_term_by_its_own_weight(model, images):
    torch.manual_seed(3)
    step = objective.generator_loss(model, images, ODD_WEIGHTS, prior_count=2, adversarial_scale=0.25)
    v = step.values
    assert set(v) == {"pixel", "kl", "feature", "g_adv", "ortho_g"}
    expected = 2.0 * v["pixel"] + 0.05 * v["kl"] + 0.7 * v["feature"] + 0.3 * 0.25 * v["g_adv"] + 0.01 * v["ortho_g"]
    assert step.total.item() == pytest.approx(expected, rel=1e-5)
    # Each read-out is its term computed from the step's own tensors.
    assert v["ortho_g"] == pytest.approx(losses.orthogonal_regularisation(losses.conv_weights(model.generator)).item(), rel=1e-6)
    assert step.samples.shape == (2, 3, 32, 32) and step.reconstructions.shape == images.shape
    logits, _ = model.discriminate(torch.cat([step.reconstructions, step.samples]))
    assert v["g_adv"] == pytest.approx(losses.generator_adversarial_loss(logits[4:], logits[:4]).item(), rel=1e-5)
    features = model.trunk(torch.cat([images, step.reconstructions]))
    assert v["feature"] == pytest.approx(losses.feature_loss([f[:4] for f in features], [f[4:] for f in features]).item(), rel=1e-5)


def test_without_the_feature_loss_there_is_no_feature_term(tiny_config, images):
    torch.manual_seed(0)
    model = IAN(dataclasses.replace(tiny_config, feature_loss=False)).train()
    seen, handle = _trunk_inputs(model)
    step = objective.generator_loss(model, images, ODD_WEIGHTS, prior_count=0, adversarial_scale=None)
    handle.remove()
    assert set(step.values) == {"pixel", "kl", "ortho_g"} and len(seen) == 1  # the encoder's pass only
    v = step.values
    assert step.total.item() == pytest.approx(2.0 * v["pixel"] + 0.05 * v["kl"] + 0.01 * v["ortho_g"], rel=1e-5)


def test_requires_grad_freezes_for_the_block_and_leaves_parameters_trainable():
    layer = torch.nn.Linear(2, 2)
    with objective.requires_grad(layer.parameters(), False):
        assert not any(p.requires_grad for p in layer.parameters())
    assert all(p.requires_grad for p in layer.parameters())
    with pytest.raises(RuntimeError), objective.requires_grad(layer.parameters(), False):
        raise RuntimeError("a failing step")
    assert all(p.requires_grad for p in layer.parameters())  # restored even when the step fails
    x = torch.ones(3)
    assert objective.identity(x) is x
