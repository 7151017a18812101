"""The IAN's loss terms against closed forms and hand-computed values (npe.model.losses)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from npe.model import losses
from npe.model.blocks import MDConv


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_kl_of_the_prior_to_itself_is_zero():
    assert losses.kl_loss(torch.zeros(3, 5), torch.zeros(3, 5)).item() == 0.0


def test_kl_matches_the_gaussian_closed_form():
    mean = torch.tensor([[1.0, 2.0]])
    log_var = torch.log(torch.tensor([[4.0, 0.25]]))
    # 0.5 (mu^2 + s^2 - 1 - ln s^2) per latent, by hand: 1.306853 and 2.318147, mean 1.8125
    assert losses.kl_loss(mean, log_var).item() == pytest.approx(1.8125, abs=1e-6)
    # One latent, N(0, e^2) against N(0, 1): 0.5 (e^2 - 1 - 2) = 2.194528
    assert losses.kl_loss(torch.zeros(1, 1), torch.full((1, 1), 2.0)).item() == pytest.approx(0.5 * (math.e**2 - 3), rel=1e-6)
    reference = kl_divergence(Normal(mean, (0.5 * log_var).exp()), Normal(0.0, 1.0)).mean()
    assert losses.kl_loss(mean, log_var).item() == pytest.approx(reference.item(), rel=1e-6)
    # The KL grows with the distance from the prior, never below zero.
    assert losses.kl_loss(-mean, log_var) == losses.kl_loss(mean, log_var)
    assert losses.kl_loss(mean * 2, log_var) > losses.kl_loss(mean, log_var) > 0


def test_pixel_loss_is_the_mean_absolute_error():
    images = torch.full((2, 3, 2, 2), 0.25)
    reconstructions = images.clone()
    reconstructions[0] = 0.75  # 12 of 24 values off by 0.5
    reconstructions[1, 0, 0, 0] = -0.95  # one off by 1.2
    assert losses.pixel_loss(images, reconstructions).item() == pytest.approx((12 * 0.5 + 1.2) / 24)
    assert losses.pixel_loss(reconstructions, images) == losses.pixel_loss(images, reconstructions)


def test_feature_loss_is_each_layers_error_over_its_target_energy_then_averaged():
    real = [torch.full((2, 3, 4, 4), 2.0, requires_grad=True), torch.ones(2, 5, 2, 2, requires_grad=True)]
    reconstructed = [(real[0] + 1.0).detach().requires_grad_(), (real[1] + 3.0).detach().requires_grad_()]
    value = losses.feature_loss(real, reconstructed)
    # layer 1: 1^2 / 2^2; layer 2: 3^2 / 1^2 (with the 1e-6 guard)
    assert value.item() == pytest.approx((1 / (4 + 1e-6) + 9 / (1 + 1e-6)) / 2, rel=1e-6)
    value.backward()
    assert real[0].grad is None and real[1].grad is None  # targets are constants
    assert reconstructed[0].grad is not None and reconstructed[0].grad.abs().sum() > 0
    with pytest.raises(ValueError, match="^feature lists must be non-empty and of equal length$"):
        losses.feature_loss(real, reconstructed[:1])
    with pytest.raises(ValueError, match="^feature lists must be non-empty and of equal length$"):
        losses.feature_loss([], [])


def test_ternary_discriminator_loss_values():
    zeros = torch.zeros(4, 3)
    assert losses.discriminator_loss(zeros, zeros, zeros).item() == pytest.approx(3 * math.log(3))
    a = 2.0
    right = torch.tensor([[a, 0.0, 0.0]]), torch.tensor([[0.0, a, 0.0]]), torch.tensor([[0.0, 0.0, a]])
    one_right = math.log(math.exp(a) + 2) - a
    one_wrong = math.log(math.exp(a) + 2)
    assert losses.discriminator_loss(*right).item() == pytest.approx(3 * one_right, rel=1e-6)
    # Each class is scored against its own label: real, generated, reconstructed in that order.
    assert losses.discriminator_loss(right[0], right[2], right[1]).item() == pytest.approx(one_right + 2 * one_wrong, rel=1e-6)
    assert (losses.REAL, losses.GENERATED, losses.RECONSTRUCTED) == (0, 1, 2)


def test_binary_discriminator_loss_values():
    real, generated, reconstructed = torch.tensor([[1.0]]), torch.tensor([[2.0]]), torch.tensor([[-1.0]])
    expected = softplus(-1.0) + (softplus(2.0) + softplus(-1.0)) / 2
    assert losses.discriminator_loss(real, generated, reconstructed).item() == pytest.approx(expected, rel=1e-6)


def test_generator_adversarial_loss_wants_both_fakes_called_real():
    zeros = torch.zeros(3, 3)
    assert losses.generator_adversarial_loss(zeros, zeros).item() == pytest.approx(2 * math.log(3))
    assert losses.generator_adversarial_loss(torch.zeros(0, 3), zeros).item() == pytest.approx(math.log(3))
    fooled = torch.tensor([[4.0, 0.0, 0.0]])
    caught = torch.tensor([[0.0, 4.0, 0.0]])
    assert losses.generator_adversarial_loss(fooled, caught).item() == pytest.approx(
        math.log(math.exp(4) + 2) - 4 + math.log(math.exp(4) + 2), rel=1e-6
    )
    binary = losses.generator_adversarial_loss(torch.tensor([[1.0]]), torch.tensor([[-2.0]]))
    assert binary.item() == pytest.approx(softplus(-1.0) + softplus(2.0), rel=1e-6)


def test_orthogonal_regularisation_values():
    # Two identical unit filters: W W^T - I = [[0, 1], [1, 0]], mean |.| = 0.5.
    weight = torch.tensor([[1.0, 0.0], [1.0, 0.0]]).view(2, 2, 1, 1)
    assert losses.orthogonal_regularisation([weight]).item() == pytest.approx(0.5)
    # Summed over weights: a 2 x 2 identity adds nothing, 3 * identity adds mean |9 I - I| = 4.
    assert losses.orthogonal_regularisation([weight, torch.eye(2).view(2, 2, 1, 1)]).item() == pytest.approx(0.5)
    assert losses.orthogonal_regularisation([weight, 3 * torch.eye(2).view(2, 2, 1, 1)]).item() == pytest.approx(4.5)
    q, _ = torch.linalg.qr(torch.randn(9, 9))
    assert losses.orthogonal_regularisation([q.t().reshape(9, 1, 3, 3)]).item() < 1e-5
    with pytest.raises(ValueError, match="^no weights given$"):
        losses.orthogonal_regularisation([])
    # The penalty keeps the weights' precision (mixed-precision training).
    assert losses.orthogonal_regularisation([weight.bfloat16()]).dtype == torch.bfloat16


def test_conv_weights_finds_every_filter_bank_with_filters_first():
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 5, 4), MDConv(5, 6), nn.Linear(2, 2))
    found = losses.conv_weights(module)
    assert [tuple(w.shape) for w in found] == [(4, 3, 3, 3), (5, 4, 4, 4), (6, 5, 3, 3)]
    assert found[0] is module[0].weight and found[2] is module[2].weight
    assert torch.equal(found[1], module[1].weight.transpose(0, 1))


def test_reparameterise_is_mean_plus_noise_times_the_standard_deviation():
    mean = torch.tensor([[1.0, -2.0, 0.5]])
    log_var = torch.log(torch.tensor([[4.0, 0.25, 1.0]]))
    noise = torch.randn(mean.shape, generator=torch.Generator().manual_seed(3))
    drawn = losses.reparameterise(mean, log_var, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(drawn, mean + noise * torch.tensor([[2.0, 0.5, 1.0]]))
    torch.manual_seed(5)
    unseeded_noise = torch.randn_like(mean)
    torch.manual_seed(5)
    assert torch.allclose(losses.reparameterise(mean, log_var), mean + unseeded_noise * torch.tensor([[2.0, 0.5, 1.0]]))


def test_reparameterised_samples_have_the_posterior_statistics():
    mean, log_var = torch.full((20000, 1), 3.0), torch.full((20000, 1), math.log(0.09))
    drawn = losses.reparameterise(mean, log_var, generator=torch.Generator().manual_seed(0))
    assert drawn.mean().item() == pytest.approx(3.0, abs=0.01)
    assert drawn.std().item() == pytest.approx(0.3, rel=0.02)
    assert F.mse_loss(drawn, mean).item() == pytest.approx(0.09, rel=0.03)


def test_every_term_stays_on_its_inputs_device():
    """On the 'meta' device (shapes only, no data) a term that makes a tensor on the CPU fails, as it would on a GPU."""
    logits = torch.zeros(4, 3, device="meta")
    assert losses.discriminator_loss(logits, logits, logits).device.type == "meta"
    assert losses.generator_adversarial_loss(logits, logits).device.type == "meta"
    assert losses.orthogonal_regularisation([torch.zeros(2, 2, 3, 3, device="meta")]).device.type == "meta"
    mean = torch.zeros(2, 5, device="meta")
    assert losses.reparameterise(mean, mean).device.type == "meta"
    with torch.device("meta"):  # a seeded draw is made on the CPU, where its generator lives, then moved
        assert losses.reparameterise(mean, mean, generator=torch.Generator()).device.type == "meta"
