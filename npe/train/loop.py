"""The IAN training loop: data, alternating steps, learning-rate schedule, EMA, validation, checkpoints, logging.

The losses of a step are npe.train.objective's; export is npe.train.export's; the checkpoint file
format is npe.train.checkpoint's. Under torchrun every process runs this loop on its own shard of
each batch (npe.train.distributed); only the main process writes anything.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from npe.config import ModelConfig, TrainConfig, to_dict
from npe.data.convert import to_model, to_uint8
from npe.fileio import atomic_write_bytes
from npe.model.ian import IAN, TRAINING_ONLY
from npe.train import objective
from npe.train.augment import diff_augment, parse_policy
from npe.train.checkpoint import CHECKPOINT_NAME, configs_of, load_module, read_checkpoint, write_checkpoint
from npe.train.distributed import Processes
from npe.train.export import encode_faces, export_weights, recalibrate_batchnorm
from npe.model.runtime import decode_latents, encode_images, resolve_device
from npe.train.metrics import psnr
from npe.train.perceptual import PerceptualDistance, load_lite0
from npe.train.projected import PROJECTED_LAYERS, ProjectedDiscriminator

__all__ = ["CHECKPOINT_NAME", "Trainer", "cosine_lr_factor", "image_grid", "use_fast_cuda_kernels"]


def image_grid(images: np.ndarray, columns: int) -> np.ndarray:
    """Tile N x H x W x 3 uint8 images into one image, `columns` wide, with 2 px gaps."""
    count, height, width, _ = images.shape
    rows = math.ceil(count / columns)
    gap = 2
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), 24, np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        grid[row * (height + gap) : row * (height + gap) + height, column * (width + gap) : column * (width + gap) + width] = image
    return grid


def use_fast_cuda_kernels() -> None:
    """On a GPU: TF32 tensor cores for matrix products and convolutions (10-bit mantissa products,
    fp32 accumulation: far inside what GAN training notices) and cuDNN's autotuner (every training
    step has the same shapes). Process-wide; the CPU path is untouched."""
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True


def cosine_lr_factor(step: int, steps: int, start_fraction: float, final_ratio: float) -> float:
    """1 until `start_fraction` of the run, then a half cosine down to `final_ratio` at `steps`."""
    start = start_fraction * steps
    progress = min(max((step - start) / max(steps - start, 1.0), 0.0), 1.0)
    return final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class Trainer:
    """Trains an IAN on uint8 face crops (N x R x R x 3).

    Each iteration: (1) the encoder and generator step on pixel L1, trunk-feature L2, KL and the
    adversarial terms for reconstructions G(E(x)) and samples G(z); (2) the discriminator steps on
    the ternary loss over real / generated / reconstructed (npe.train.objective). `augment` (default:
    DiffAugment with the configured policy) is applied to the discriminator's inputs only.
    """

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        train_images: np.ndarray,
        val_images: np.ndarray,
        out_dir: str | Path,
        data_description: dict[str, Any] | None = None,
        log: Callable[[str], None] | None = None,
        *,
        processes: Processes | None = None,
        device: torch.device | None = None,
        augment: objective.Augment | None = None,
        train_labels: np.ndarray | None = None,
        train_repeats: np.ndarray | None = None,
    ) -> None:
        if train_images.ndim != 4 or train_images.shape[1:] != (model_config.resolution, model_config.resolution, 3):
            raise ValueError(
                f"training images must be N x {model_config.resolution} x {model_config.resolution} x 3, got {train_images.shape}"
            )
        if train_labels is not None and (train_labels.ndim != 2 or len(train_labels) != len(train_images)
                                         or train_labels.shape[1] != model_config.attributes):
            raise ValueError(f"labels must be N x {model_config.attributes} (one row per training image, "
                             f"ModelConfig.attributes columns), got {train_labels.shape}")
        self.processes = processes or Processes()
        if len(train_images) < self.processes.world_size:
            raise ValueError(f"{len(train_images)} training image(s) cannot be shared by {self.processes.world_size} processes")
        self.model_config = model_config
        self.config = train_config
        self.out_dir = Path(out_dir)
        if self.processes.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.data_description = data_description or {}
        default_log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
        self.log = (log or default_log) if self.processes.is_main else (lambda message: None)
        self.device = device or torch.device(resolve_device(train_config.device))
        if train_config.threads > 0:
            torch.set_num_threads(train_config.threads)
        if self.device.type == "cuda":
            use_fast_cuda_kernels()

        # The same seed on every process: identical initial replicas.
        torch.manual_seed(train_config.seed)
        self.model = IAN(model_config).to(self.device)
        self.memory_format = torch.channels_last if train_config.channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)  # type: ignore[call-overload]  # (torch's stubs lack memory_format)
        self.ema = copy.deepcopy(self.model).eval()
        # Borrowed features for the perceptual term (loaded only when it is on: a training extra).
        self.perceptual: PerceptualDistance | None = None
        if train_config.losses.perceptual > 0:
            self.perceptual = PerceptualDistance(load_lite0()).to(self.device)
        # A projected discriminator beside the IAN's own (also borrowed features; training only).
        self.projected: ProjectedDiscriminator | None = None
        self.opt_p: torch.optim.Optimizer | None = None
        if train_config.losses.projected > 0:
            self.projected = ProjectedDiscriminator(
                load_lite0(layers=PROJECTED_LAYERS), size=train_config.projected_size or None,
                resolution=model_config.resolution, seed=train_config.seed,
            ).to(self.device)
            self.opt_p = torch.optim.Adam(self.projected.trainable_parameters(), lr=train_config.projected_lr, betas=(0.0, 0.99))
        for parameter in self.ema.parameters():
            parameter.requires_grad_(False)
        self._seed_process_noise(0)

        # Each objective gets its own Adam moments. The shared trunk receives reconstruction
        # gradients (~1e-6) and discriminator gradients (~1e-4): through one optimizer the
        # discriminator's first steps are divided by a second moment adapted to the tiny
        # reconstruction gradients, move the trunk by many learning rates at once and wreck the
        # encoder (measured: pixel L1 0.23 -> 0.42 within 25 steps). With two optimizers each
        # objective moves the trunk by its own learning rate.
        betas = (train_config.beta1, train_config.beta2)
        if train_config.freeze_generator:  # (the EMA copy's parameters are frozen already)
            self.model.generator.requires_grad_(False)
        autoencoder: list[torch.nn.Parameter] = [] if train_config.freeze_generator else list(self.model.generator.parameters())
        autoencoder += list(self.model.encoder.parameters())
        if self.model.latent_attributes is not None:
            autoencoder += list(self.model.latent_attributes.parameters())
        if model_config.recon_grad_to_trunk:
            autoencoder += list(self.model.trunk.parameters())
        self.opt_g = torch.optim.Adam(autoencoder, lr=train_config.lr_generator, betas=betas)
        assert self.model.classifier is not None
        heads = list(self.model.classifier.parameters())
        if self.model.attribute_head is not None:
            heads += list(self.model.attribute_head.parameters())
        groups: list[dict[str, Any]] = [
            {"params": list(self.model.trunk.parameters()), "lr": train_config.lr_discriminator * train_config.trunk_adversarial_scale},
            {"params": heads},
        ]
        self.opt_d = torch.optim.Adam(groups, lr=train_config.lr_discriminator, betas=betas)
        self.train_images = torch.from_numpy(np.ascontiguousarray(train_images))
        # Attribute labels per training image: 1 present, 0 absent, NaN unknown (unlabelled photos).
        self.train_labels = None if train_labels is None else torch.from_numpy(np.asarray(train_labels, dtype=np.float32))
        self.batch_labels: objective.Labels | None = None
        self.val_images = np.ascontiguousarray(val_images)
        # The data order is the same on every process (same seed): each reads its slice of it.
        self.data_rng = torch.Generator().manual_seed(train_config.seed + 1)
        # An epoch draws photo i train_repeats[i] times (TrainConfig.oversample; once each without).
        if train_repeats is not None and (np.shape(train_repeats) != (len(train_images),) or np.min(train_repeats) < 1):
            raise ValueError(f"train_repeats must hold one whole number >= 1 per training image, got shape {np.shape(train_repeats)}")
        self.epoch_order = None if train_repeats is None else torch.repeat_interleave(
            torch.arange(len(train_images)), torch.as_tensor(np.asarray(train_repeats, dtype=np.int64)))
        self.permutation = self._epoch_permutation()
        self.cursor = 0
        self.step = 0
        self.images_seen = 0
        self.train_seconds = 0.0
        self.best_val_psnr = -math.inf
        self.initial_sampling: str | None = None  # the sampling text of --init-from weights
        fixed = torch.Generator().manual_seed(1234)
        self.fixed_latents = torch.randn(64, model_config.latent_dim, generator=fixed)
        self.metrics_path = self.out_dir / "metrics.jsonl"
        if augment is None:
            policy = parse_policy(train_config.diffaugment)
            augment = (lambda images: diff_augment(images, policy)) if policy else objective.identity
        self.augment = augment
        if train_config.lr_decay not in ("cosine", "none"):
            raise ValueError(f"lr_decay must be 'cosine' or 'none', got {train_config.lr_decay!r}")
        self._base_lrs = [[group["lr"] for group in opt.param_groups] for opt in self._optimizers()]

    def _seed_process_noise(self, step: int) -> None:
        """Processes other than the main one draw their own noise (reparameterisation, priors, augmentation)."""
        if not self.processes.is_main:
            torch.manual_seed(self.config.seed + 7919 * self.processes.rank + 104729 * step)

    # --- data -----------------------------------------------------------------------------
    @property
    def global_batch(self) -> int:
        """Images per step over all processes."""
        return min(self.config.batch_size, len(self.train_images) // self.processes.world_size) * self.processes.world_size

    def _epoch_permutation(self) -> torch.Tensor:
        """The order of one epoch's draws: a shuffle of every photo (with oversampling, of each photo
        as many times as it repeats)."""
        if self.epoch_order is None:
            return torch.randperm(len(self.train_images), generator=self.data_rng)
        return self.epoch_order[torch.randperm(len(self.epoch_order), generator=self.data_rng)]

    def next_batch(self) -> torch.Tensor:
        """This process's slice of the next global batch of the epoch's permutation, randomly flipped
        (and its labels in `batch_labels`, when the run has labels)."""
        span = self.global_batch
        size = span // self.processes.world_size
        if self.cursor + span > len(self.permutation):
            self.permutation = self._epoch_permutation()
            self.cursor = 0
        mine = slice(self.processes.rank * size, (self.processes.rank + 1) * size)
        indices = self.permutation[self.cursor : self.cursor + span][mine]
        self.cursor += span
        if self.train_labels is not None:  # (CelebA's attributes do not change under a mirror flip)
            rows = self.train_labels[indices].to(self.device)
            known = ~torch.isnan(rows)
            self.batch_labels = objective.Labels(torch.nan_to_num(rows), known)
        # uint8 crosses to the device (a quarter of the float bytes); conversion and flips happen there.
        batch = to_model(self.train_images[indices].to(self.device, non_blocking=True))
        flip = (torch.rand(span, generator=self.data_rng) < 0.5)[mine].to(self.device)
        batch = torch.where(flip[:, None, None, None], batch.flip(-1), batch)
        return batch.contiguous(memory_format=self.memory_format)

    # --- schedule -------------------------------------------------------------------------
    def adversarial_active(self) -> bool:
        return self.step >= self.config.warmup_steps and self.config.losses.adversarial > 0

    def adversarial_ramp(self) -> float:
        """0 -> 1 over `adversarial_ramp_steps` after the warm-up: scales both adversarial losses."""
        ramp_steps = max(self.config.adversarial_ramp_steps, 1)
        return min(max((self.step - self.config.warmup_steps + 1) / ramp_steps, 0.0), 1.0)

    def lr_factor(self) -> float:
        """The learning-rate multiplier at the current step (see TrainConfig.lr_decay)."""
        cfg = self.config
        if cfg.lr_decay == "none" or cfg.steps <= 0:
            return 1.0
        return cosine_lr_factor(self.step, cfg.steps, cfg.lr_decay_start, cfg.lr_final_ratio)

    def apply_lr_schedule(self) -> None:
        factor = self.lr_factor()
        for optimizer, base_lrs in zip(self._optimizers(), self._base_lrs):
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * factor

    # --- one iteration ---------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        self.apply_lr_schedule()
        self.model.train()
        images = self.next_batch()
        batch = images.shape[0]
        adversarial = self.adversarial_active()
        scale = self.adversarial_ramp() if adversarial else None
        prior_count = max(1, int(round(batch * self.config.prior_fraction))) if adversarial else 0

        # (1) encoder + generator; while the discriminator warms up they stay as they are and only make
        # the reconstructions and samples it learns from (at the full adversarial scale).
        if self.step < self.config.discriminator_warmup_steps:
            scale = 1.0 if self.config.losses.adversarial > 0 else None
            prior_count = max(1, int(round(batch * self.config.prior_fraction)))
            with torch.no_grad():
                step_g = objective.generator_loss(
                    self.model, images, self.config.losses, prior_count=prior_count, adversarial_scale=None, augment=self.augment,
                )
        else:
            step_g = objective.generator_loss(
                self.model, images, self.config.losses, prior_count=prior_count, adversarial_scale=scale, augment=self.augment,
                labels=self.batch_labels, perceptual=self.perceptual, projected=self.projected,
            )
            self.opt_g.zero_grad(set_to_none=True)
            self.opt_d.zero_grad(set_to_none=True)
            step_g.total.backward()
            self.processes.average_gradients(self._parameters(self.opt_g))
            self.opt_g.step()
        values = step_g.values

        # (2) discriminator (and attribute head), with its own optimizer (see __init__)
        if scale is not None or self.batch_labels is not None:
            self.opt_d.zero_grad(set_to_none=True)
            total_d, values_d = objective.discriminator_loss(
                self.model, images, step_g.samples, step_g.reconstructions, self.config.losses,
                adversarial_scale=scale, augment=self.augment, labels=self.batch_labels,
            )
            total_d.backward()
            self.processes.average_gradients(self._parameters(self.opt_d))
            self.opt_d.step()
            values.update(values_d)
        if scale is not None and self.projected is not None and self.opt_p is not None:
            self.opt_p.zero_grad(set_to_none=True)
            total_p, values_p = objective.projected_discriminator_loss(
                self.projected, images, step_g.samples, step_g.reconstructions, adversarial_scale=scale, augment=self.augment,
            )
            total_p.backward()
            self.processes.average_gradients(self.projected.trainable_parameters())
            self.opt_p.step()
            values.update(values_p)

        self.update_ema()
        self.step += 1
        self.images_seen += batch * self.processes.world_size
        return values

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.opt_g, self.opt_d] + ([self.opt_p] if self.opt_p is not None else [])

    @staticmethod
    def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.nn.Parameter]:
        return [parameter for group in optimizer.param_groups for parameter in group["params"]]

    @torch.no_grad()
    def update_ema(self) -> None:
        """ema <- decay * ema + (1 - decay) * model, with decay warming up as (1 + step) / (10 + step)."""
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        for ema_param, param in zip(self.ema.parameters(), self.model.parameters()):
            ema_param.lerp_(param.detach(), 1 - decay)
        for ema_buffer, buffer in zip(self.ema.buffers(), self.model.buffers()):
            ema_buffer.copy_(buffer)

    # --- evaluation ------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, count: int = 500) -> dict[str, float]:
        """Encoder-only reconstructions of the validation faces: PSNR, and the mean absolute error in
        the model's [-1, 1] range (of the uint8 reconstructions, as npe eval sees them)."""
        self.ema.eval()
        originals = self.val_images[:count]
        reconstructions = decode_latents(self.ema, encode_images(self.ema, originals, 128), 128)
        return {"val_psnr": psnr(originals, reconstructions), "val_l1": float((to_model(originals) - to_model(reconstructions)).abs().mean())}

    @torch.no_grad()
    def write_grids(self) -> None:
        from npe.data.image_io import save_png

        self.ema.eval()
        samples = self.ema.decode(self.fixed_latents.to(self.device))
        save_png(self.out_dir / "samples.png", image_grid(to_uint8(samples), 8))
        originals = self.val_images[:32]
        reconstructions = to_uint8(self.ema.decode(self.ema.encode(to_model(originals).to(self.device))))
        pairs = np.stack([originals, reconstructions], axis=1).reshape(-1, *originals.shape[1:])
        save_png(self.out_dir / "reconstructions.png", image_grid(pairs, 8))

    # --- checkpoints -----------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "step": self.step,
            "images_seen": self.images_seen,
            "train_seconds": self.train_seconds,
            "cursor": self.cursor,
            "permutation": self.permutation,
            "data_rng": self.data_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "model_config": json.dumps(to_dict(self.model_config)),
            "train_config": json.dumps(to_dict(self.config)),
            "best_val_psnr": self.best_val_psnr,
            **({"projected": self.projected.trained_state(), "opt_p": self.opt_p.state_dict()}
               if self.projected is not None and self.opt_p is not None else {}),
        }

    def save_checkpoint(self) -> Path | None:
        """Write OUT/checkpoint.pt (main process only; the others return None)."""
        if not self.processes.is_main:
            return None
        return write_checkpoint(self.out_dir / CHECKPOINT_NAME, self.checkpoint_state())

    def load_checkpoint(self, path: str | Path) -> None:
        state = read_checkpoint(path, self.device)
        saved_config, _ = configs_of(state)
        if saved_config != self.model_config:
            raise ValueError(f"checkpoint '{path}' was made with another model config: {saved_config}")
        load_module(self.model, state["model"], path)
        load_module(self.ema, state["ema"], path)
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        if self.projected is not None and self.opt_p is not None and "projected" in state:
            self.projected.load_trained_state(state["projected"])
            self.opt_p.load_state_dict(state["opt_p"])
        self.step = int(state["step"])
        self.images_seen = int(state["images_seen"])
        self.train_seconds = float(state["train_seconds"])
        self.cursor = int(state["cursor"])
        self.permutation = state["permutation"].cpu()
        self.data_rng.set_state(state["data_rng"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        self._seed_process_noise(self.step)
        self.best_val_psnr = float(state.get("best_val_psnr", -math.inf))
        self._forget_metrics_after(self.step)

    def _forget_metrics_after(self, step: int) -> None:
        """Drop metrics.jsonl records past `step`: a run that stopped without a checkpoint (a crash, a
        killed machine) logged steps that the resumed run takes again, and the log must hold each once."""
        if not self.processes.is_main or not self.metrics_path.is_file():
            return
        kept = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by the crash
            if isinstance(record, dict) and int(record.get("step", 0)) <= step:
                kept.append(line)
        atomic_write_bytes(self.metrics_path, "".join(f"{line}\n" for line in kept).encode("utf-8"))

    def initialize_from(self, weights: IAN) -> None:
        """Start from trained inference weights (generator, trunk, encoder, sampling distribution);
        the discriminator head and the optimizers start fresh."""
        # (The attribute heads are training-only: weights trained without them start runs with them.)
        # Switches of training alone (its heads, where reconstruction gradients flow) may differ from the weights.
        training_only = {field: getattr(self.model_config, field) for field in ("attributes", "recon_grad_to_trunk")}
        if dataclasses.replace(weights.config, **training_only) != self.model_config:
            raise ValueError(f"the weights were made with another model config: {weights.config}")
        state = weights.inference_state_dict()
        self.initial_sampling = str(weights.metadata.get("sampling", "")) if weights.metadata else None
        for module in (self.model, self.ema):
            missing, unexpected = module.load_state_dict(state, strict=False)
            if unexpected or any(not key.startswith(TRAINING_ONLY) for key in missing):
                raise ValueError(f"weights do not fit the model: missing {missing}, unexpected {unexpected}")

    # --- export ----------------------------------------------------------------------------
    def recalibrate_ema_batchnorm(self, batches: int = 20) -> None:
        recalibrate_batchnorm(
            self.ema, self.train_images, batch_size=self.config.batch_size, prior_fraction=self.config.prior_fraction, batches=batches
        )

    def encode_training_faces(self, model: IAN) -> torch.Tensor:
        return encode_faces(model, self.train_images)

    def export(self, path: str | Path, metrics: dict[str, Any] | None = None) -> tuple[Path, Path]:
        """Write the EMA model as NAME.safetensors + NAME.json (see npe.train.export.export_weights)."""
        metadata = {
            "training_data": self.data_description,
            "steps": self.step,
            "images_seen": self.images_seen,
            "train_seconds": round(self.train_seconds, 1),
            "train_config": to_dict(self.config),
            "device": str(self.device),
            "processes": self.processes.world_size,
            "torch": torch.__version__,
            "metrics": metrics or {},
        }
        sampling = None
        if self.config.freeze_generator:  # the generator's sampling distribution is kept with it
            sampling = "kept from the weights this encoder was refined from" + (f": {self.initial_sampling}" if self.initial_sampling else "")
        return export_weights(self.ema, self.train_images, path, metadata, sampling=sampling)

    # --- the loop --------------------------------------------------------------------------
    def log_metrics(self, record: dict[str, Any]) -> None:
        if self.processes.is_main:
            with open(self.metrics_path, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(record) + "\n")

    def fit(self, steps: int, time_limit_minutes: float | None = None) -> None:
        """Train until `steps` total steps (or the time limit), checkpointing every few minutes."""
        cfg, main = self.config, self.processes.is_main
        self.processes.broadcast_module(self.model)
        self.processes.broadcast_module(self.ema)
        last_checkpoint = last_validation = time.monotonic()
        started = time.monotonic()
        window_images, window_start = 0, time.monotonic()
        running: dict[str, float] = {}
        while self.step < steps:
            step_start = time.monotonic()
            values = self.train_step()
            self.train_seconds += time.monotonic() - step_start
            window_images += self.global_batch
            for key, value in values.items():
                running[key] = 0.9 * running.get(key, value) + 0.1 * value
            now = time.monotonic()
            if self.step % cfg.log_every == 0 or self.step == steps:
                rate = window_images / max(now - window_start, 1e-6)
                window_images, window_start = 0, now
                eta = (steps - self.step) * self.global_batch / max(rate, 1e-6)
                losses_text = " ".join(f"{key} {value:.3f}" for key, value in running.items())
                self.log(f"{_bar(self.step / steps)} step {self.step}/{steps} | {rate:.1f} img/s | ETA {_hms(eta)} | {losses_text}")
                self.log_metrics({"step": self.step, "images_seen": self.images_seen, "images_per_s": round(rate, 2),
                                  "train_seconds": round(self.train_seconds, 1), **{k: round(v, 5) for k, v in running.items()}})
            if main and (now - last_validation >= cfg.validate_minutes * 60 or self.step == steps):
                record = self.validate()
                self.best_val_psnr = max(self.best_val_psnr, record["val_psnr"])
                self.log(f"step {self.step}: validation PSNR {record['val_psnr']:.2f} dB")
                self.log_metrics({"step": self.step, "images_seen": self.images_seen, **record})
                self.write_grids()
                last_validation = time.monotonic()
            if main and (now - last_checkpoint >= cfg.checkpoint_minutes * 60 or self.step == steps):
                self.save_checkpoint()
                last_checkpoint = time.monotonic()
            # The main process's clock decides, so every process leaves the loop at the same step.
            out_of_time = time_limit_minutes is not None and now - started >= time_limit_minutes * 60
            if self.processes.main_decides(out_of_time, self.device):
                self.save_checkpoint()
                self.log(f"time limit reached at step {self.step}; checkpoint saved, continue with --resume")
                break


def _bar(fraction: float, width: int = 20) -> str:
    filled = int(round(min(max(fraction, 0.0), 1.0) * width))
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}%"


def _hms(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
