"""Per-photo inversion: refine the encoder's z on the photo's crop, then briefly tune part of the
generator on that crop (pivotal tuning, Roich et al. 2021) so G(z0) reproduces the face the user sees.

The shared model is never modified: the tuned state is a small set of fp16 parameter deltas
(``TunedGenerator``) applied through ``torch.func.functional_call``. The deltas are rounded to fp16
*before* they are used, so the state a session saves (the fp16 arrays) rebuilds the generator the
user painted with bit for bit.

What the editor decodes through on a tuned photo is *anchored* (``anchored_decode``): at z0 it is
the tuned reconstruction (the face the user sees, which the brush's colour term judges); a change
from z0 is shaped by the shared generator's stages up to 32 px and drawn by the tuned last stage
and to_rgb layer (ANCHOR_TUNED_PREFIXES). Changes through the fully tuned generator read less like
what was painted for (a white stroke over a mouth: a white glow on the lips rather than teeth):
tuning the middle stage on one closed-mouth photo bends it toward that photo. Changes with only
to_rgb tuned drew the astronaut's new fringe teal. The measurements: benchmarks/edit_quality_log.md
("anchored decoding on tuned photos").
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.func import functional_call

from npe.data.convert import to_model
from npe.model.blocks import fold_mdc, freeze_mdc
from npe.editing.errors import SessionError

if TYPE_CHECKING:
    from npe.model import IAN

# Generator parameters the tuning touches (name prefixes inside model.generator). The late, high-
# resolution stages hold the detail the encoder misses; the projection and the first stages (93%
# of the weights) stay shared, so how z maps to a face -- what the brush relies on -- is kept.
TUNED_PREFIXES = ("stages.2.", "stages.3.", "to_rgb.")


class InversionCancelled(SessionError):
    """The photo's inversion was cancelled before it finished (the encoder's z is still usable)."""


@dataclass(frozen=True)
class InversionSettings:
    """``latent_steps`` Adam steps on z (lr ``latent_lr``, L1 + a light whitened prior), then
    ``tune_steps`` Adam steps (lr ``tune_lr``, L1) on the generator parameters under ``prefixes``."""

    latent_steps: int = 20
    latent_lr: float = 0.03
    latent_prior: float = 1e-3  # weight of mean(w^2), w = whitened z: keeps the refined z a face's code
    tune_steps: int = 60
    tune_lr: float = 1e-3
    prefixes: tuple[str, ...] = TUNED_PREFIXES

    def __post_init__(self) -> None:
        if self.latent_steps < 0 or self.tune_steps < 0:
            raise SessionError("Inversion step counts must be >= 0.")


@dataclass
class TunedGenerator:
    """Per-photo generator parameters: ``deltas`` (name inside model.generator -> fp16 tensor) added
    to the shared model's parameters. Empty deltas = the shared generator itself."""

    deltas: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Storage size of the deltas in bytes."""
        return sum(delta.numel() * delta.element_size() for delta in self.deltas.values())

    def parameters(self, model: IAN) -> dict[str, torch.Tensor]:
        """The tuned parameters (base + delta, fp32) for functional_call on model.generator."""
        base = dict(model.generator.named_parameters())
        return {name: base[name].detach() + delta.to(base[name]) for name, delta in self.deltas.items()}

    def to_arrays(self, prefix: str = "tuned/") -> dict[str, np.ndarray]:
        """The deltas as fp16 numpy arrays keyed ``prefix + name`` (for a session file's array store)."""
        return {prefix + name: delta.cpu().numpy().copy() for name, delta in self.deltas.items()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], model: IAN, prefix: str = "tuned/") -> TunedGenerator:
        """Rebuild from ``to_arrays``' output; SessionError if the arrays do not fit ``model``."""
        base = dict(model.generator.named_parameters())
        deltas: dict[str, torch.Tensor] = {}
        for key, array in arrays.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix):]
            if name not in base or tuple(array.shape) != tuple(base[name].shape) or array.dtype != np.float16:
                raise SessionError(f"The saved tuning ('{name}') does not fit this model. Reopen the photo to tune it again.")
            deltas[name] = torch.from_numpy(np.array(array)).to(base[name].device)
        return cls(deltas)


def decode(model: IAN, latent: torch.Tensor, tuned: TunedGenerator | None = None) -> torch.Tensor:
    """G(latent) with the tuned parameters (N x 3 x R x R in [-1, 1]); differentiable in ``latent``."""
    if tuned is None or not tuned.deltas:
        return model.decode(latent)
    return functional_call(model.generator, tuned.parameters(model), (latent,), strict=False)


# What stays tuned in the changes (anchored_decode): the last stage and layer draw texture in this
# photo's colours; the stages that shape a mouth or a fringe (up to 32 px) are the shared model's.
ANCHOR_TUNED_PREFIXES = ("stages.3.", "to_rgb.")


@dataclass(frozen=True)
class Anchor:
    """``offset`` = G_tuned(z0) − G_colour(z0) (1 x 3 x R x R) and ``colour``, the tuned generator's
    deltas under ANCHOR_TUNED_PREFIXES alone (G_colour): see ``anchored_decode``."""

    offset: torch.Tensor
    colour: TunedGenerator
    # colour.parameters(model), added up once: the brush decodes through them at every step.
    parameters: dict[str, torch.Tensor] = field(default_factory=dict)


def anchor_for(model: IAN, latent0: torch.Tensor, tuned: TunedGenerator | None) -> Anchor | None:
    """The anchor of a tuned photo at its z0 (no graph); None untuned."""
    if tuned is None or not tuned.deltas:
        return None
    colour = TunedGenerator({name: delta for name, delta in tuned.deltas.items() if name.startswith(ANCHOR_TUNED_PREFIXES)})
    with torch.no_grad():
        offset = decode(model, latent0, tuned) - decode(model, latent0, colour)
    return Anchor(offset.detach(), colour, colour.parameters(model))


def anchored_decode(model: IAN, latent: torch.Tensor, anchor: Anchor | None) -> torch.Tensor:
    """G_colour(latent) + anchor.offset: the tuned face at z0, the shared stages' changes from there
    in this photo's colours. Differentiable in ``latent``; one generator forward. Untuned: G(latent)."""
    if anchor is None:
        return model.decode(latent)
    if not anchor.parameters:
        return model.decode(latent) + anchor.offset
    return functional_call(model.generator, anchor.parameters, (latent,), strict=False) + anchor.offset


def folding_pays(device: torch.device | str = "cpu") -> bool:
    """Whether the editor's generator folds its MDC blocks: on a GPU, and on a CPU where the brush
    runs on two threads or more (npe.model.runtime.cpu_threads: half the cores). On one thread the
    folded 7x7 convs are the slower ones (G forward+backward, channels_last, on a 2-core AMD EPYC:
    folded 16.1 ms median against 15.0 unfolded with AVX2 kernels, 13.5 against 12.7 with AVX-512; on two
    threads 12.4 against 13.1 and 12.0 against 13.8; figures in benchmarks/edit_quality_log.md).
    Decided by the core count, not by timing, so a machine always renders a session the same way."""
    from npe.model.runtime import cpu_threads

    return torch.device(device).type != "cpu" or cpu_threads() > 1


class EditingGenerator(torch.nn.Module):
    """What a document decodes through: ``anchored_decode(model, z, anchor)`` as one module built
    once per photo. The anchor's tuned parameters are added into a private copy of the generator,
    each MDC block is folded into its single 7x7 conv where that is faster (``fold``, default
    ``folding_pays``; npe.model.blocks.fold_mdc: the same linear map, one pass instead of four), else
    frozen into one 3x3 pass per dilation (npe.model.blocks.freeze_mdc: the mean-filter term in the
    dilation-1 kernel), and the weights are channels_last. Equal to ``anchored_decode`` up to float rounding. Never trained:
    the training code keeps the MDC parametrisation."""

    def __init__(self, model: IAN, anchor: Anchor | None = None, *, fold: bool | None = None) -> None:
        super().__init__()
        generator = copy.deepcopy(model.generator)
        generator.requires_grad_(False).eval()
        if anchor is not None and anchor.parameters:
            with torch.no_grad():
                for name, value in anchor.parameters.items():
                    generator.get_parameter(name).copy_(value)
        device = next(generator.parameters()).device
        if folding_pays(device) if fold is None else fold:
            fold_mdc(generator)
        else:
            freeze_mdc(generator)
        self.generator = generator.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs lack the keyword
        offset = anchor.offset.detach().clone() if anchor is not None else None
        self.register_buffer("offset", offset)
        self.latent_dim = int(model.config.latent_dim)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        if latent.ndim != 2 or latent.shape[1] != self.latent_dim:
            raise ValueError(f"expected latents of shape N x {self.latent_dim}, got {tuple(latent.shape)}")
        image = self.generator(latent)
        return image if self.offset is None else image + self.offset


def psnr(image: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR in dB of two [-1, 1] images on the 0-1 scale."""
    mse = float(((image - target) / 2).square().mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


@dataclass
class Inversion:
    """What ``invert`` found: the refined z0 (float32 (D,)), the tuned generator, and timings/quality."""

    latent: np.ndarray
    tuned: TunedGenerator
    psnr_encoder: float  # G(E(x)) vs x, shared generator
    psnr_latent: float  # G(refined z) vs x, shared generator
    psnr_tuned: float  # tuned G(refined z) vs x
    seconds: float


Progress = Callable[[float, str], object]  # (fraction done 0-1, what is running)


def invert(
    model: IAN,
    crop: np.ndarray,
    settings: InversionSettings = InversionSettings(),
    *,
    latent: np.ndarray | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    seed: int = 0,
) -> Inversion:
    """Invert the uint8 R x R x 3 ``crop``: start from ``latent`` (default: the encoder's z), refine z,
    then tune the generator. ``cancelled()`` is checked before every step (raises InversionCancelled);
    ``progress(fraction, stage)`` is called after each. Deterministic for a given torch build and
    thread count (no randomness is drawn; ``seed`` fixes torch's generator for safety)."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    device = next(model.parameters()).device
    target = to_model(np.ascontiguousarray(crop)).to(device)
    with torch.no_grad():
        start = model.encode(target) if latent is None else torch.as_tensor(np.asarray(latent, np.float32)).reshape(1, -1).to(device)
        psnr_encoder = psnr(model.decode(start), target)
    total = max(1, settings.latent_steps + settings.tune_steps)
    done = 0

    def tick(stage: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / total, stage)

    def check() -> None:
        if cancelled is not None and cancelled():
            raise InversionCancelled("Fitting the model to this photo was cancelled.")

    # 1. z: Adam on L1, with a light prior on the whitened code (keeps z where faces are).
    inverse_basis = torch.linalg.inv(model.latent_basis.double()).float()
    z = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=settings.latent_lr)
    for _ in range(settings.latent_steps):
        check()
        whitened = (z - model.latent_mean) @ inverse_basis.t()
        loss = (model.decode(z) - target).abs().mean() + settings.latent_prior * whitened.square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tick("latent")
    z = z.detach()
    with torch.no_grad():
        psnr_latent = psnr(model.decode(z), target)

    # 2. Pivotal tuning of the late generator stages on this crop, z fixed.
    base = {name: p.detach() for name, p in model.generator.named_parameters() if name.startswith(settings.prefixes)}
    if not base and settings.tune_steps:
        raise SessionError(f"No generator parameters match {settings.prefixes}.")
    deltas = {name: torch.zeros_like(p, requires_grad=True) for name, p in base.items()}
    optimizer = torch.optim.Adam(list(deltas.values()), lr=settings.tune_lr)
    for _ in range(settings.tune_steps):
        check()
        params = {name: base[name] + deltas[name] for name in base}
        output = functional_call(model.generator, params, (z,), strict=False)
        loss = (output - target).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tick("tune")
    tuned = TunedGenerator({name: delta.detach().half() for name, delta in deltas.items()} if settings.tune_steps else {})
    with torch.no_grad():
        psnr_tuned = psnr(decode(model, z, tuned), target)
    return Inversion(z[0].cpu().numpy().astype(np.float32), tuned, psnr_encoder, psnr_latent, psnr_tuned, time.perf_counter() - started)
