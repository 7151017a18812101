"""The Introspective Adversarial Network: a shared discriminator/encoder trunk and an MDC generator."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from npe.config import ModelConfig
from npe.model.blocks import DownStage, ResidualBlock, UpStage, make_norm


# Modules that only training uses; exported (inference) weights leave them out.
TRAINING_ONLY = ("classifier.", "attribute_head.", "latent_attributes.")


def _stage_channels(base: int, stages: int, cap: int) -> list[int]:
    """Channels per trunk stage: base, 2*base, 4*base, ... capped."""
    return [min(base * 2**index, cap) for index in range(stages)]


class Trunk(nn.Module):
    """Strided convolutions shared by the discriminator and the encoder; returns every stage's activations."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        channels = _stage_channels(config.width, config.num_stages, config.max_channels)
        stages = []
        previous = 3
        for index, out_channels in enumerate(channels):
            stages.append(DownStage(previous, out_channels, norm=config.trunk_norm and index > 0))
            previous = out_channels
        self.stages = nn.ModuleList(stages)
        self.out_features = previous * 4 * 4

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        features = []
        hidden = images
        for stage in self.stages:
            hidden = stage(hidden)
            features.append(hidden)
        return features


class EncoderHead(nn.Module):
    """Maps the trunk's last activations to the mean and log-variance of q(z|x)."""

    def __init__(self, in_features: int, hidden: int, latent_dim: int) -> None:
        super().__init__()
        self.hidden: nn.Module = nn.Identity()
        if hidden > 0:
            self.hidden = nn.Sequential(nn.Linear(in_features, hidden), nn.LeakyReLU(0.2))
            in_features = hidden
        self.mean = nn.Linear(in_features, latent_dim)
        self.log_var = nn.Linear(in_features, latent_dim)
        nn.init.zeros_(self.log_var.bias)

    def forward(self, trunk_output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.hidden(trunk_output.flatten(1))
        return self.mean(hidden), self.log_var(hidden).clamp(-12.0, 6.0)


class Generator(nn.Module):
    """z -> fully connected 4x4 map -> upsampling stages with MDC blocks -> tanh image in [-1, 1]."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        stages = config.num_stages
        # Channels shrink toward the output: generator_width at full resolution, doubling per stage up.
        channels = [min(config.generator_width * 2 ** (stages - index), config.max_channels) for index in range(stages + 1)]
        if config.generator_top_width > 0:
            channels[-1] = config.generator_top_width
        self.base_channels = channels[0]
        norm = config.generator_norm
        self.project = nn.Linear(config.latent_dim, channels[0] * 16, bias=norm != "batch")
        self.project_norm = make_norm(norm, channels[0])
        self.base_blocks = nn.Sequential(
            *(ResidualBlock(channels[0], config.mdc, config.mdc_dilations, norm) for _ in range(config.mdc_blocks[0]))
        )
        self.stages = nn.ModuleList(
            UpStage(channels[index], channels[index + 1], config.mdc_blocks[index + 1], config.mdc, config.mdc_dilations, norm)
            for index in range(stages)
        )
        self.to_rgb = nn.Conv2d(channels[-1], 3, 3, padding=1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        hidden = self.project(latent).view(-1, self.base_channels, 4, 4)
        hidden = self.base_blocks(F.relu(self.project_norm(hidden)))
        for stage in self.stages:
            hidden = stage(hidden)
        return torch.tanh(self.to_rgb(hidden))


class IAN(nn.Module):
    """Introspective Adversarial Network (Brock et al., ICLR 2017).

    `trunk` + `classifier` form the discriminator (3-way real/generated/reconstructed when
    `config.ternary`, else real/fake); `trunk` + `encoder` infer z; `generator` decodes z.
    Images are float tensors in [-1, 1], NCHW, at `config.resolution`. ``name`` and ``metadata`` are
    what npe.model.load_weights read beside the tensors (the file's stem, its JSON metadata); a model
    built in memory has neither ("" and {}).
    """

    latent_mean: torch.Tensor
    latent_basis: torch.Tensor

    def __init__(self, config: ModelConfig, with_classifier: bool = True) -> None:
        super().__init__()
        self.config = config
        self.name = ""
        self.metadata: dict[str, Any] = {}
        self.trunk = Trunk(config)
        self.encoder = EncoderHead(self.trunk.out_features, config.encoder_hidden, config.latent_dim)
        self.generator = Generator(config)
        # The distribution random faces are drawn from: z = latent_mean + latent_basis @ noise,
        # noise ~ N(0, I). N(0, I) until `fit_latent_distribution` fits a Gaussian to the encoded
        # training faces (ex-post density estimation, Ghosh et al. 2020): with a light KL term the
        # encoder's codes fill only part of N(0, I), and samples from there look like faces.
        self.register_buffer("latent_mean", torch.zeros(config.latent_dim))
        self.register_buffer("latent_basis", torch.eye(config.latent_dim))
        self.classifier: nn.Module | None = None
        if with_classifier:
            outputs = 3 if config.ternary else 1
            if config.classifier_hidden > 0:
                self.classifier = nn.Sequential(
                    nn.Linear(self.trunk.out_features, config.classifier_hidden),
                    nn.LeakyReLU(0.2),
                    nn.Linear(config.classifier_hidden, outputs),
                )
            else:
                self.classifier = nn.Linear(self.trunk.out_features, outputs)
        # Training-only attribute heads (config.attributes > 0): see ModelConfig.attributes.
        self.attribute_head: nn.Module | None = None
        self.latent_attributes: nn.Linear | None = None
        if with_classifier and config.attributes > 0:
            hidden = config.classifier_hidden or 256
            self.attribute_head = nn.Sequential(
                nn.Linear(self.trunk.out_features, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, config.attributes)
            )
            self.latent_attributes = nn.Linear(config.latent_dim, config.attributes)

    # --- inference API -------------------------------------------------------------------
    def encode_distribution(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Mean and log-variance of q(z|x), plus the trunk's activations of `images`."""
        self._check_images(images)
        features = self.trunk(images)
        mean, log_var = self.encoder(features[-1])
        return mean, log_var, features

    @torch.no_grad()
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """z = E(x): the posterior mean for each image (N x latent_dim)."""
        mean, _, _ = self.encode_distribution(images)
        return mean

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """x = G(z): images in [-1, 1], N x 3 x R x R. Differentiable (the paintbrush needs gradients)."""
        if latent.ndim != 2 or latent.shape[1] != self.config.latent_dim:
            raise ValueError(f"expected latents of shape N x {self.config.latent_dim}, got {tuple(latent.shape)}")
        return self.generator(latent)

    def discriminate(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Classifier logits (N x 3, or N x 1 for the binary ablation) and trunk activations."""
        if self.classifier is None:
            raise RuntimeError("this model was loaded for inference only; it has no discriminator head")
        features = self.trunk(images)
        return self.classifier(features[-1].flatten(1)), features

    def attribute_logits(self, features: list[torch.Tensor]) -> torch.Tensor:
        """The trunk's attribute head on trunk activations (N x attributes logits)."""
        if self.attribute_head is None:
            raise RuntimeError("this model has no attribute head (ModelConfig.attributes is 0, or it was loaded for inference)")
        return self.attribute_head(features[-1].flatten(1))

    def latents_from_noise(self, noise: torch.Tensor) -> torch.Tensor:
        """Map N(0, I) noise (N x latent_dim) to latents of the model's sampling distribution."""
        return self.latent_mean + noise.to(self.latent_basis) @ self.latent_basis.t()

    def sample_latents(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Random latents from the model's sampling distribution (seeded by `generator`, on the CPU)."""
        noise = torch.randn(count, self.config.latent_dim, generator=generator, device="cpu")
        return self.latents_from_noise(noise.to(self.latent_basis.device))

    @torch.no_grad()
    def fit_latent_distribution(self, latents: torch.Tensor) -> None:
        """Fit the sampling distribution to encoded faces (N x latent_dim posterior means)."""
        latents = latents.double()
        if latents.ndim != 2 or latents.shape[1] != self.config.latent_dim or latents.shape[0] < 2:
            raise ValueError(f"need at least 2 latents of size {self.config.latent_dim}, got {tuple(latents.shape)}")
        mean = latents.mean(0)
        covariance = torch.cov((latents - mean).t())
        eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
        basis = eigenvectors * eigenvalues.clamp_min(0).sqrt()
        self.latent_mean.copy_(mean.to(self.latent_mean))
        self.latent_basis.copy_(basis.to(self.latent_basis))

    def _check_images(self, images: torch.Tensor) -> None:
        res = self.config.resolution
        if images.ndim != 4 or images.shape[1:] != (3, res, res):
            raise ValueError(f"expected images of shape N x 3 x {res} x {res}, got {tuple(images.shape)}")

    # --- parts ---------------------------------------------------------------------------
    def inference_state_dict(self) -> dict[str, torch.Tensor]:
        """The tensors needed to encode and decode (the discriminator and attribute heads are dropped)."""
        return {key: value for key, value in self.state_dict().items() if not key.startswith(TRAINING_ONLY)}
