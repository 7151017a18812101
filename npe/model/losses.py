"""IAN losses as small pure functions of logits, images, activations and weights."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

# Class indices of the ternary discriminator.
REAL, GENERATED, RECONSTRUCTED = 0, 1, 2


def _labels(logits: torch.Tensor, label: int) -> torch.Tensor:
    return torch.full((logits.shape[0],), label, dtype=torch.long, device=logits.device)


def discriminator_loss(
    logits_real: torch.Tensor, logits_generated: torch.Tensor, logits_reconstructed: torch.Tensor
) -> torch.Tensor:
    """Ternary adversarial loss: D tells real, generated (G(z), z ~ p(z)) and reconstructed (G(E(x))) apart.

    With 1-logit inputs (the binary ablation) it is the usual real/fake loss, both fakes counted as fake.
    """
    if logits_real.shape[1] == 1:
        fake = torch.cat([logits_generated, logits_reconstructed])
        return F.binary_cross_entropy_with_logits(logits_real, torch.ones_like(logits_real)) + 0.5 * (
            F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)) * 2
        )
    return (
        F.cross_entropy(logits_real, _labels(logits_real, REAL))
        + F.cross_entropy(logits_generated, _labels(logits_generated, GENERATED))
        + F.cross_entropy(logits_reconstructed, _labels(logits_reconstructed, RECONSTRUCTED))
    )


def generator_adversarial_loss(logits_generated: torch.Tensor, logits_reconstructed: torch.Tensor) -> torch.Tensor:
    """G wants both its samples and its reconstructions classified as real."""
    total = torch.zeros((), device=logits_generated.device)
    for logits in (logits_generated, logits_reconstructed):
        if logits.shape[0] == 0:
            continue
        if logits.shape[1] == 1:
            total = total + F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        else:
            total = total + F.cross_entropy(logits, _labels(logits, REAL))
    return total


def pixel_loss(images: torch.Tensor, reconstructions: torch.Tensor) -> torch.Tensor:
    """L1 reconstruction error, mean per pixel and channel."""
    return (images - reconstructions).abs().mean()


def feature_loss(features_real: Sequence[torch.Tensor], features_reconstructed: Sequence[torch.Tensor]) -> torch.Tensor:
    """Feature-wise L2 between the trunk's activations of X and of its reconstruction (targets detached).

    Each layer's error is divided by the mean square of its target activations, so the loss
    keeps its scale while the (unnormalised) discriminator features drift during training.
    """
    if len(features_real) != len(features_reconstructed) or not features_real:
        raise ValueError("feature lists must be non-empty and of equal length")
    terms = [
        F.mse_loss(rec, real.detach()) / (real.detach().pow(2).mean() + 1e-6)
        for real, rec in zip(features_real, features_reconstructed)
    ]
    return torch.stack(terms).mean()


def kl_loss(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)), mean over the batch and the latents (nats per latent)."""
    return 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).mean()


def orthogonal_regularisation(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """Sum over conv weights of the mean |W W^T - I| (W as filters x fan-in), Brock et al. sec. 3.3."""
    total: torch.Tensor | None = None
    for weight in weights:
        matrix = weight.flatten(1)
        gram = matrix @ matrix.t()
        eye = torch.eye(gram.shape[0], device=gram.device, dtype=gram.dtype)
        term = (gram - eye).abs().mean()
        total = term if total is None else total + term
    if total is None:
        raise ValueError("no weights given")
    return total


def conv_weights(module: nn.Module) -> list[torch.Tensor]:
    """The conv filter banks of a module (regular, transposed and MDC), for the orthogonal penalty."""
    from npe.model.blocks import MDConv

    found = []
    for sub in module.modules():
        if isinstance(sub, nn.ConvTranspose2d):
            found.append(sub.weight.transpose(0, 1))  # filters are the output channels
        elif isinstance(sub, (nn.Conv2d, MDConv)):
            found.append(sub.weight)
    return found


def reparameterise(mean: torch.Tensor, log_var: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    noise = torch.randn(mean.shape, generator=generator, device="cpu").to(mean.device) if generator else torch.randn_like(mean)
    return mean + noise * (0.5 * log_var).exp()
