"""Folding an MDC block into one conv (npe.model.blocks.fold_mdc), or freezing it into one conv per
dilation (freeze_mdc), computes the same function."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from npe.model import IAN
from npe.model.blocks import FrozenMDConv, MDConv, fold_mdc, folded_mdc_conv, freeze_mdc


def _random_mdc(in_channels, out_channels, dilations, seed=0):
    torch.manual_seed(seed)
    conv = MDConv(in_channels, out_channels, dilations)
    with torch.no_grad():  # not the initial even mix: every scale and the bias distinct
        conv.scales.normal_()
        conv.bias.normal_()
    return conv


def _reference(conv: MDConv, x: torch.Tensor) -> torch.Tensor:
    """The MDC block written out term by term from its definition (Brock et al. 2017, sec. 3.2)."""
    out = conv.bias.view(1, -1, 1, 1).expand(x.shape[0], -1, x.shape[2], x.shape[3]).clone()
    for index, dilation in enumerate(conv.dilations):
        term = F.conv2d(x, conv.weight, dilation=dilation, padding=dilation)
        out += term * conv.scales[index].view(1, -1, 1, 1)
    mean_filter = conv.weight.mean(dim=(2, 3), keepdim=True)
    return out + F.conv2d(x, mean_filter) * conv.scales[-1].view(1, -1, 1, 1)


@pytest.mark.parametrize(("dilations", "kernel"), [((1, 2, 3), 7), ((1, 2), 5), ((1, 3), 7), ((2,), 5)])
def test_a_folded_block_equals_the_block(dilations, kernel):
    conv = _random_mdc(5, 6, dilations)
    folded = folded_mdc_conv(conv)
    assert isinstance(folded, nn.Conv2d) and folded.kernel_size == (kernel, kernel)
    x = torch.randn(3, 5, 13, 11)  # odd, non-square: the borders must match too
    with torch.no_grad():
        assert torch.allclose(folded(x), _reference(conv, x), atol=1e-5)
        assert torch.allclose(folded(x), conv(x), atol=1e-5)
        channels_last = x.to(memory_format=torch.channels_last)
        assert torch.allclose(folded.to(memory_format=torch.channels_last)(channels_last), conv(x), atol=1e-5)


def test_a_folded_generator_gives_the_same_images_and_gradients_to_z(tiny_config):
    torch.manual_seed(0)
    model = IAN(tiny_config).eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, MDConv):
                module.scales.normal_()
    folded = fold_mdc(copy.deepcopy(model))
    assert any(isinstance(m, MDConv) for m in model.modules())
    assert not any(isinstance(m, MDConv) for m in folded.modules())
    latent = torch.randn(2, tiny_config.latent_dim, requires_grad=True)
    image = model.decode(latent)
    (grad,) = torch.autograd.grad(image.square().mean(), latent)
    folded_latent = latent.detach().clone().requires_grad_()
    folded_image = folded.decode(folded_latent)
    (folded_grad,) = torch.autograd.grad(folded_image.square().mean(), folded_latent)
    assert torch.allclose(folded_image, image, atol=1e-5)
    assert torch.allclose(folded_grad, grad, atol=1e-6, rtol=1e-4)
    assert grad.abs().sum() > 0


def test_folding_keeps_frozen_weights_frozen():
    conv = _random_mdc(2, 2, (1, 2, 3))
    conv.requires_grad_(False)
    assert not any(p.requires_grad for p in folded_mdc_conv(conv).parameters())


@pytest.mark.parametrize(("dilations", "passes"), [((1, 2, 3), 3), ((1, 2), 2), ((2, 3), 3), ((2,), 2)])
def test_a_frozen_block_equals_the_block_with_one_pass_per_dilation(dilations, passes, monkeypatch):
    """The mean-filter term rides in the dilation-1 kernel's centre tap; without a dilation 1 it
    stays a pass of its own."""
    conv = _random_mdc(5, 6, dilations)
    frozen = FrozenMDConv(conv)
    calls = []
    original = F.conv2d

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    x = torch.randn(3, 5, 13, 11)
    with torch.no_grad():
        monkeypatch.setattr(F, "conv2d", counting)
        out = frozen(x)
        monkeypatch.undo()
        assert len(calls) == passes
        assert torch.allclose(out, _reference(conv, x), atol=1e-5)
        channels_last = x.to(memory_format=torch.channels_last)
        assert torch.allclose(frozen.to(memory_format=torch.channels_last)(channels_last), conv(x), atol=1e-5)
    assert not list(frozen.parameters())  # fixed: nothing for an optimiser to move


def test_a_frozen_generator_gives_the_same_images_and_gradients_to_z(tiny_config):
    """In float64, so that only a wrong map (not float32 rounding through the pixel norms) could differ."""
    torch.manual_seed(0)
    model = IAN(tiny_config).eval().double()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, MDConv):
                module.scales.normal_()
    frozen = freeze_mdc(copy.deepcopy(model))
    assert not any(isinstance(m, MDConv) for m in frozen.modules())
    assert any(isinstance(m, FrozenMDConv) for m in frozen.modules())
    latent = torch.randn(2, tiny_config.latent_dim, requires_grad=True, dtype=torch.float64)
    image = model.decode(latent)
    (grad,) = torch.autograd.grad(image.square().mean(), latent)
    frozen_latent = latent.detach().clone().requires_grad_()
    frozen_image = frozen.decode(frozen_latent)
    (frozen_grad,) = torch.autograd.grad(frozen_image.square().mean(), frozen_latent)
    assert torch.allclose(frozen_image, image, atol=1e-12)
    assert torch.allclose(frozen_grad, grad, atol=1e-14, rtol=1e-10)
    assert grad.abs().sum() > 0
