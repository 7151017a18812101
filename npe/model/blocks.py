"""Building blocks of the IAN: the Multiscale Dilated Convolution (MDC) block and small conv stacks."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


class MDConv(nn.Module):
    """Multiscale Dilated Convolution (Brock et al. 2017, sec. 3.2).

    One 3x3 filter bank W is applied at several dilations; each dilation's output is
    scaled by a learned per-channel coefficient and the results are summed, together
    with a 1x1 "mean filter" term (W averaged over its 3x3 taps). The receptive field
    grows with the largest dilation while the parameter count stays that of one 3x3 conv.
    """

    def __init__(self, in_channels: int, out_channels: int, dilations: tuple[int, ...] = (1, 2, 3)) -> None:
        super().__init__()
        self.dilations = tuple(int(d) for d in dilations)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        # Start as an even mix of the scales; the mean-filter term starts small.
        scales = torch.full((len(self.dilations) + 1, out_channels), 1.0 / len(self.dilations))
        scales[-1] = 0.1
        self.scales = nn.Parameter(scales)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        terms = []
        for index, dilation in enumerate(self.dilations):
            # Folding the per-channel scale into the kernel is cheaper than scaling the output.
            kernel = self.weight * self.scales[index].view(-1, 1, 1, 1)
            terms.append(F.conv2d(x, kernel, dilation=dilation, padding=dilation))
        mean_kernel = self.weight.mean(dim=(2, 3), keepdim=True) * self.scales[-1].view(-1, 1, 1, 1)
        terms.append(F.conv2d(x, mean_kernel, bias=self.bias))
        out = terms[0]
        for term in terms[1:]:  # summed in this order (the folded kernel and saved sessions match it)
            out = out + term
        return out


class PixelNorm(nn.Module):
    """Normalises each pixel's feature vector to unit RMS (Karras et al. 2018).

    Unlike batch norm it does not depend on the batch: training batches that mix encoded and
    prior latents, and the editor's batch-of-one brush steps, all see the same function.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "pixel":
        return PixelNorm()
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation '{kind}' (expected batch, pixel or none)")


class ResidualBlock(nn.Module):
    """Pre-activation residual block: x + conv(relu(norm(x))), with an MDC or a plain 3x3 conv."""

    def __init__(self, channels: int, mdc: bool, dilations: tuple[int, ...], norm: str = "batch") -> None:
        super().__init__()
        self.norm = make_norm(norm, channels)
        self.conv: nn.Module
        if mdc:
            self.conv = MDConv(channels, channels, dilations)
        else:
            self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(F.relu(self.norm(x)))


class UpStage(nn.Module):
    """Doubles the resolution: 4x4 stride-2 transposed conv, normalisation, ReLU, then residual blocks."""

    def __init__(
        self, in_channels: int, out_channels: int, blocks: int, mdc: bool, dilations: tuple[int, ...], norm: str = "batch"
    ) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=norm != "batch")
        self.norm = make_norm(norm, out_channels)
        self.blocks = nn.Sequential(*(ResidualBlock(out_channels, mdc, dilations, norm) for _ in range(blocks)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(F.relu(self.norm(self.up(x))))


class DownStage(nn.Module):
    """Halves the resolution: 4x4 stride-2 conv, optional batch norm, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, norm: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=not norm)
        self.norm = nn.BatchNorm2d(out_channels) if norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(self.norm(self.conv(x)), 0.2)


def folded_mdc_conv(conv: MDConv) -> nn.Conv2d:
    """One (2*max_dilation+1)-square conv computing exactly what `conv` computes, for inference.

    For fixed weights an MDC block is linear in its input: the dilated 3x3 taps of each scale land on a
    sparse grid of the larger kernel and the 1x1 mean term on its centre, so their sum is one conv
    (7x7 for dilations 1, 2, 3) that costs one pass instead of four. Zero padding of each term equals
    the zero padding of the folded kernel, so borders match as well.
    """
    reach = max(conv.dilations)
    out_channels, in_channels = conv.weight.shape[:2]
    folded = nn.Conv2d(in_channels, out_channels, 2 * reach + 1, padding=reach)
    folded = folded.to(device=conv.weight.device, dtype=conv.weight.dtype)
    with torch.no_grad():
        kernel = torch.zeros_like(folded.weight)
        for index, dilation in enumerate(conv.dilations):
            taps = slice(reach - dilation, reach + dilation + 1, dilation)
            kernel[:, :, taps, taps] += conv.weight * conv.scales[index].view(-1, 1, 1, 1)
        kernel[:, :, reach, reach] += conv.weight.mean(dim=(2, 3)) * conv.scales[-1].view(-1, 1)
        folded.weight.copy_(kernel)
        if folded.bias is not None and conv.bias is not None:
            folded.bias.copy_(conv.bias)
    folded.requires_grad_(conv.weight.requires_grad)
    return folded


class FrozenMDConv(nn.Module):
    """An MDC block with fixed weights, as one conv per dilation: each scale's kernel multiplied out
    once, and the 1x1 mean-filter term added to the centre tap of the dilation-1 kernel (the same
    linear map, one pass fewer than the block and no kernel products per call). For inference and the
    brush's gradient to z where one thread runs it: there the three 3x3 passes are faster than one
    folded 7x7 pass (benchmarks/edit_quality_log.md). Training keeps the MDC parametrisation."""

    def __init__(self, conv: MDConv) -> None:
        super().__init__()
        self.dilations = conv.dilations
        with torch.no_grad():
            kernels = [conv.weight * conv.scales[index].view(-1, 1, 1, 1) for index in range(len(conv.dilations))]
            mean = conv.weight.mean(dim=(2, 3), keepdim=True) * conv.scales[-1].view(-1, 1, 1, 1)
            if 1 in conv.dilations:
                kernels[conv.dilations.index(1)][:, :, 1:2, 1:2] += mean
                self.register_buffer("mean_kernel", None)
            else:
                self.register_buffer("mean_kernel", mean.detach().clone())
        for index, kernel in enumerate(kernels):
            self.register_buffer(f"kernel{index}", kernel.detach().clone())
        self.register_buffer("bias", conv.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first = self.dilations[0]
        out = F.conv2d(x, self.get_buffer("kernel0"), bias=self.get_buffer("bias"), dilation=first, padding=first)
        for index in range(1, len(self.dilations)):
            dilation = self.dilations[index]
            out = out + F.conv2d(x, self.get_buffer(f"kernel{index}"), dilation=dilation, padding=dilation)
        if self.mean_kernel is not None:
            out = out + F.conv2d(x, self.get_buffer("mean_kernel"))
        return out


def _replace_mdc(module: nn.Module, make: Callable[[MDConv], nn.Module]) -> nn.Module:
    for name, child in list(module.named_children()):
        if isinstance(child, MDConv):
            setattr(module, name, make(child))
        else:
            _replace_mdc(child, make)
    return module


def freeze_mdc(module: nn.Module) -> nn.Module:
    """Replace every MDConv inside `module` (in place) by its FrozenMDConv; returns `module`."""
    return _replace_mdc(module, FrozenMDConv)


def fold_mdc(module: nn.Module) -> nn.Module:
    """Replace every MDConv inside `module` (in place) by its folded single conv; returns `module`.

    For inference and the brush's gradient to z only: training must keep the MDC parametrisation.
    """
    return _replace_mdc(module, folded_mdc_conv)
