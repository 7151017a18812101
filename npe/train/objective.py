"""The IAN objective of one training step: the encoder/generator loss and the discriminator loss.

Assembled from the pure terms in npe.model.losses. Which parameters a term may train is part of the
objective, so it is decided here (`requires_grad`), not in the loop. `augment` is DiffAugment (or any
differentiable callable): it is applied to every image the discriminator classifies, and never to the
encoder's input, the pixel loss or the feature loss of clean images.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from npe.config import LossWeights
from npe.model import losses
from npe.model.ian import IAN
from npe.train import projected as projected_loss
from npe.train.projected import ProjectedDiscriminator

Augment = Callable[[torch.Tensor], torch.Tensor]


def identity(images: torch.Tensor) -> torch.Tensor:
    return images


@contextlib.contextmanager
def requires_grad(parameters: Iterable[nn.Parameter], flag: bool) -> Iterator[None]:
    """Set requires_grad on `parameters` for the block, then back to True (training's resting state)."""
    parameters = list(parameters)
    for parameter in parameters:
        parameter.requires_grad_(flag)
    try:
        yield
    finally:
        for parameter in parameters:
            parameter.requires_grad_(True)


@dataclass
class GeneratorLoss:
    """The encoder/generator objective of one step, with what the discriminator step reuses."""

    total: torch.Tensor
    reconstructions: torch.Tensor
    samples: torch.Tensor
    values: dict[str, float] = field(default_factory=dict)


@dataclass
class Labels:
    """Attribute labels of a batch: `values` N x A in {0, 1}, `known` N x A (False where unlabelled)."""

    values: torch.Tensor
    known: torch.Tensor

    def loss(self, logits: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy over the known labels (0 when none is known)."""
        known = self.known.to(logits.dtype)
        terms = nn.functional.binary_cross_entropy_with_logits(logits, self.values.to(logits.dtype), reduction="none")
        return (terms * known).sum() / known.sum().clamp_min(1.0)


def _use_labels(model: IAN, labels: Labels | None) -> bool:
    return labels is not None and model.attribute_head is not None


def generator_loss(
    model: IAN,
    images: torch.Tensor,
    weights: LossWeights,
    *,
    prior_count: int,
    adversarial_scale: float | None,
    augment: Augment = identity,
    labels: Labels | None = None,
    perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    projected: ProjectedDiscriminator | None = None,
) -> GeneratorLoss:
    """Pixel L1 + KL + feature L2 (clean images vs their reconstructions) + the adversarial terms.

    `prior_count` latents drawn from N(0, I) are decoded beside the reconstructions; `adversarial_scale`
    is the ramp factor of the adversarial terms, None before they switch on. With `labels` (and a
    model with attribute heads) the linear read-out of z and the trunk's head on the reconstructions
    are asked for the photos' labels (`latent_attribute`, `attribute_consistency`). With `perceptual`
    (npe.train.perceptual.PerceptualDistance), each reconstruction's distance from its photo in borrowed
    features, weighted `weights.perceptual`. With `projected` (npe.train.projected), the hinge term of
    reconstructions and samples against it, weighted `weights.projected` and ramped. The trunk gets
    reconstruction gradients only through the encoder (with `recon_grad_to_trunk`); the discriminator
    passes are recorded with trunk and head frozen, so `total.backward()` never reaches them there.
    """
    cfg = model.config
    assert model.classifier is not None
    batch = images.shape[0]
    with requires_grad(model.trunk.parameters(), cfg.recon_grad_to_trunk):
        mean, log_var, _ = model.encode_distribution(images)
    latent = losses.reparameterise(mean, log_var)
    if prior_count:
        latent = torch.cat([latent, torch.randn(prior_count, cfg.latent_dim, device=images.device)])
    generated = model.generator(latent)
    reconstructions, samples = generated[:batch], generated[batch:]

    loss_pixel = losses.pixel_loss(images, reconstructions)
    loss_kl = losses.kl_loss(mean, log_var)
    total = weights.pixel * loss_pixel + weights.kl * loss_kl
    reconstruction = weights.pixel * loss_pixel  # the terms that ask for the photo back (the projected term's yardstick)
    values = {"pixel": loss_pixel.item(), "kl": loss_kl.item()}
    if perceptual is not None and weights.perceptual > 0:
        loss_perceptual = perceptual(reconstructions, images).mean()
        total = total + weights.perceptual * loss_perceptual
        reconstruction = reconstruction + weights.perceptual * loss_perceptual
        values["perceptual"] = loss_perceptual.item()
    adversarial = adversarial_scale is not None
    labelled = _use_labels(model, labels)
    if labelled and weights.latent_attribute > 0:
        assert labels is not None and model.latent_attributes is not None
        loss_latent = labels.loss(model.latent_attributes(mean))
        total = total + weights.latent_attribute * loss_latent
        values["z_attr"] = loss_latent.item()
    consistency = labelled and weights.attribute_consistency > 0
    # The discriminator's weights are constants here: these terms train only encoder and generator.
    if adversarial or cfg.feature_loss or consistency:
        heads = [*model.classifier.parameters(), *(model.attribute_head.parameters() if model.attribute_head is not None else [])]
        with requires_grad([*model.trunk.parameters(), *heads], False):
            recon_features: list[torch.Tensor] | None = None
            if cfg.feature_loss:
                features = model.trunk(torch.cat([images, reconstructions]))
                loss_feature = losses.feature_loss([f[:batch] for f in features], [f[batch:] for f in features])
                total = total + weights.feature * loss_feature
                reconstruction = reconstruction + weights.feature * loss_feature
                values["feature"] = loss_feature.item()
                recon_features = [f[batch:] for f in features]
            if consistency:
                assert labels is not None
                if recon_features is None:
                    recon_features = model.trunk(reconstructions)
                loss_consistency = labels.loss(model.attribute_logits(recon_features))
                total = total + weights.attribute_consistency * loss_consistency
                values["recon_attr"] = loss_consistency.item()
            if adversarial_scale is not None:
                logits, _ = model.discriminate(augment(torch.cat([reconstructions, samples])))
                loss_adv = losses.generator_adversarial_loss(logits[batch:], logits[:batch])
                total = total + weights.adversarial * adversarial_scale * loss_adv
                values["g_adv"] = loss_adv.item()
    last = model.generator.to_rgb.weight
    if projected is not None and adversarial_scale is not None and weights.projected > 0 and last.requires_grad:
        total = total + _balanced_projected_term(projected, generated, reconstruction, last, augment, weights.projected * adversarial_scale, values)
    # (A frozen generator -- encoder refinement -- has nothing for this term to train.)
    if cfg.ortho_reg and weights.ortho > 0 and any(p.requires_grad for p in model.generator.parameters()):
        loss_ortho = losses.orthogonal_regularisation(losses.conv_weights(model.generator))
        total = total + weights.ortho * loss_ortho
        values["ortho_g"] = loss_ortho.item()
    return GeneratorLoss(total, reconstructions, samples, values)


def _balanced_projected_term(
    projected: ProjectedDiscriminator,
    generated: torch.Tensor,
    reconstruction: torch.Tensor,
    last: torch.Tensor,
    augment: Augment,
    weight: float,
    values: dict[str, float],
) -> torch.Tensor:
    """The projected hinge term, scaled so that its gradient on the generator's last layer is `weight`
    times the reconstruction terms' there (the adaptive weight of Esser et al. 2021, "Taming
    Transformers"). Unscaled, it is some 1,700 times the pixel term's at the start of a run and wrecks
    the reconstructions within 100 steps (measured from the shipped weights: 21 -> 13.6 dB).

    The borrowed network is back-propagated once: its gradient on the images is taken here, and the
    returned term is the images times that gradient (constant), which gives the same parameter
    gradients as the hinge term itself, scaled."""
    loss = projected_loss.generator_hinge_loss(projected(augment(generated)))
    image_grad, = torch.autograd.grad(loss, generated, retain_graph=True)
    surrogate = (generated * image_grad.detach()).sum()
    adversarial_norm = torch.autograd.grad(surrogate, last, retain_graph=True)[0].norm()
    reconstruction_norm = torch.autograd.grad(reconstruction, last, retain_graph=True)[0].norm()
    balance = (reconstruction_norm / (adversarial_norm + 1e-8)).clamp(max=1e4).detach()
    values["g_proj"] = loss.item()
    values["proj_balance"] = float(balance)
    return weight * balance * surrogate


def discriminator_loss(
    model: IAN,
    images: torch.Tensor,
    samples: torch.Tensor,
    reconstructions: torch.Tensor,
    weights: LossWeights,
    *,
    adversarial_scale: float | None,
    augment: Augment = identity,
    labels: Labels | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The ternary (or binary) loss over real / generated / reconstructed, all augmented alike, and
    with `labels` the attribute head's loss on the (augmented) real photos.

    Generated images are detached: this trains only the trunk and the heads. `adversarial_scale`
    None (before the adversarial terms switch on) leaves only the attribute term.
    """
    cfg = model.config
    batch, prior_count = images.shape[0], samples.shape[0]
    labelled = _use_labels(model, labels) and weights.attribute > 0
    total = torch.zeros((), device=images.device)
    values: dict[str, float] = {}
    if adversarial_scale is not None:
        logits, features = model.discriminate(augment(torch.cat([images, samples.detach(), reconstructions.detach()])))
        loss_d = losses.discriminator_loss(logits[:batch], logits[batch : batch + prior_count], logits[batch + prior_count :])
        total = total + adversarial_scale * loss_d
        with torch.no_grad():
            real = logits[:batch]
            accuracy = (real.argmax(1) == losses.REAL) if real.shape[1] > 1 else (real[:, 0] > 0)
        values.update({"d": loss_d.item(), "d_acc": float(accuracy.float().mean())})
        if labelled:
            real_features = [f[:batch] for f in features]
    elif labelled:
        real_features = model.trunk(augment(images))
    else:
        return total, values
    if labelled:
        assert labels is not None
        loss_attribute = labels.loss(model.attribute_logits(real_features))
        total = total + weights.attribute * loss_attribute
        values["attr"] = loss_attribute.item()
    if cfg.ortho_reg and weights.ortho > 0:
        total = total + weights.ortho * losses.orthogonal_regularisation(losses.conv_weights(model.trunk))
    return total, values


def projected_discriminator_loss(
    projected: ProjectedDiscriminator,
    images: torch.Tensor,
    samples: torch.Tensor,
    reconstructions: torch.Tensor,
    *,
    adversarial_scale: float,
    augment: Augment = identity,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The projected discriminator's hinge loss: real photos against samples and reconstructions
    (detached), all augmented alike. Trains only its heads."""
    batch = images.shape[0]
    logits = projected(augment(torch.cat([images, samples.detach(), reconstructions.detach()])))
    real = [logit[:batch] for logit in logits]
    fake = [logit[batch:] for logit in logits]
    loss = projected_loss.discriminator_hinge_loss(real, fake)
    return adversarial_scale * loss, {"p_d": loss.item(), "p_acc": projected_loss.real_accuracy(real)}
