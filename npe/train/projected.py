"""A projected discriminator beside the IAN's own (Sauer et al., "Projected GANs Converge Faster", 2021).

The IAN's discriminator shares its trunk with the encoder, which shapes those features for
reconstruction; in every run it sits at chance once the generator may answer it (benchmarks/
training_log.md). This one reads EfficientNet-Lite0's frozen ImageNet features instead: at four
scales, each mixed across channels by a fixed random 1x1 convolution (Projected GAN's CCM), then
judged by a small trained head of spectrally normalised strided convolutions that ends in a map of
logits. Hinge loss. Training only: never exported, never on the brush's path.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from npe.train.perceptual import Lite0Features

# Lite0 blocks read: 24, 40, 112 and 320 channels at 1/4, 1/8, 1/16 and 1/32 of the input side.
PROJECTED_LAYERS = (2, 4, 10, 15)


def _head(channels: int, side: int) -> nn.Sequential:
    """Strided 4x4 convolutions down to 4 px (or less), then a 1-channel map of logits."""
    layers: list[nn.Module] = []
    width = channels
    while side > 4:
        out = min(width * 2, 256)
        layers += [spectral_norm(nn.Conv2d(width, out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
        width, side = out, side // 2
    layers.append(spectral_norm(nn.Conv2d(width, 1, min(side, 4), padding=0)))
    return nn.Sequential(*layers)


class ProjectedDiscriminator(nn.Module):
    """Logit maps (one per scale) for images in [-1, 1] at any side; ``size`` resizes them first (None:
    as they are). The network and the channel mixers are frozen; only the heads train."""

    def __init__(self, network: Lite0Features, size: int | None = None, resolution: int = 64, channels: int = 64,
                 seed: int = 0) -> None:
        super().__init__()
        self.network = network.requires_grad_(False).eval()
        self.size = size
        side = size or resolution
        with torch.no_grad():
            probes = self.network(torch.zeros(1, 3, side, side))
        generator = torch.Generator().manual_seed(seed)
        self.mixers = nn.ModuleList()
        self.heads = nn.ModuleList()
        for feature in probes:
            mixer = nn.Conv2d(feature.shape[1], channels, 1, bias=False)
            with torch.no_grad():  # fixed random projection (Projected GAN keeps them untrained)
                bound = (3.0 / feature.shape[1]) ** 0.5  # unit variance out for unit variance in
                mixer.weight.uniform_(-bound, bound, generator=generator)
            self.mixers.append(mixer.requires_grad_(False))
            self.heads.append(_head(channels, feature.shape[-1]))

    def train(self, mode: bool = True) -> ProjectedDiscriminator:
        super().train(mode)
        self.network.eval()  # the borrowed batch-norm statistics are never updated
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [parameter for parameter in self.heads.parameters() if parameter.requires_grad]

    def trained_state(self) -> dict[str, torch.Tensor]:
        """What a checkpoint keeps: mixers and heads (the borrowed network is reloaded from its file)."""
        return {key: value for key, value in self.state_dict().items() if not key.startswith("network.")}

    def load_trained_state(self, state: dict[str, torch.Tensor]) -> None:
        missing, unexpected = self.load_state_dict(state, strict=False)
        missing = [key for key in missing if not key.startswith("network.")]
        if unexpected or missing:
            raise ValueError(f"projected discriminator state does not fit: missing {missing}, unexpected {unexpected}")

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        if self.size is not None and images.shape[-1] != self.size:
            images = F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return [head(mixer(feature)) for feature, mixer, head in zip(self.network(images), self.mixers, self.heads)]


def generator_hinge_loss(logits: list[torch.Tensor]) -> torch.Tensor:
    """The generator wants high logits: -mean, summed over scales."""
    return sum((-logit.mean() for logit in logits), torch.zeros((), device=logits[0].device))


def discriminator_hinge_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """relu(1 - D(real)) + relu(1 + D(fake)), means summed over scales."""
    total = torch.zeros((), device=real[0].device)
    for logits_real, logits_fake in zip(real, fake):
        total = total + F.relu(1.0 - logits_real).mean() + F.relu(1.0 + logits_fake).mean()
    return total


def real_accuracy(real: list[torch.Tensor]) -> float:
    """The share of real images whose mean logit (over scales and positions) is positive."""
    scores = torch.stack([logits.flatten(1).mean(1) for logits in real]).mean(0)
    return float((scores > 0).float().mean())
