"""The IAN training loop: alternating encoder/generator and discriminator steps, EMA, checkpoints, resume."""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from npe.config import ModelConfig, TrainConfig, from_dict, to_dict
from npe.fileio import atomic_write
from npe.data.convert import to_model, to_uint8
from npe.model import losses
from npe.train.augment import diff_augment, parse_policy
from npe.model.ian import IAN
from npe.model.io import save_weights

CHECKPOINT_NAME = "checkpoint.pt"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but PyTorch sees no CUDA GPU on this machine.")
    return torch.device(name)


def psnr(images: torch.Tensor, reconstructions: torch.Tensor) -> float:
    """Mean PSNR in dB of [-1, 1] images over the batch (peak = the [0, 1] range)."""
    mse = ((images - reconstructions) / 2).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(1.0 / mse)).mean())


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


def _save_grid(path: Path, images: np.ndarray, columns: int) -> None:
    from npe.data.image_io import save_png

    save_png(path, image_grid(images, columns))


class Trainer:
    """Trains an IAN on uint8 face crops (N x R x R x 3).

    Each iteration: (1) the encoder and generator step on pixel L1, trunk-feature L2, KL and the
    adversarial terms for reconstructions G(E(x)) and samples G(z); (2) the discriminator steps on
    the ternary loss over real / generated / reconstructed. With `recon_grad_to_trunk` the
    reconstruction gradients also reach the shared trunk and are applied with the discriminator's step.
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
    ) -> None:
        if train_images.ndim != 4 or train_images.shape[1:] != (model_config.resolution, model_config.resolution, 3):
            raise ValueError(
                f"training images must be N x {model_config.resolution} x {model_config.resolution} x 3, got {train_images.shape}"
            )
        if len(train_images) == 0:
            raise ValueError("no training images")
        self.model_config = model_config
        self.config = train_config
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.data_description = data_description or {}
        self.log = log or (lambda message: print(message, file=sys.stderr, flush=True))
        self.device = resolve_device(train_config.device)
        if train_config.threads > 0:
            torch.set_num_threads(train_config.threads)

        torch.manual_seed(train_config.seed)
        self.model = IAN(model_config).to(self.device)
        self.memory_format = torch.channels_last if train_config.channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        self.ema = copy.deepcopy(self.model).eval()
        for parameter in self.ema.parameters():
            parameter.requires_grad_(False)

        # Each objective gets its own Adam moments. The shared trunk receives reconstruction
        # gradients (~1e-6) and discriminator gradients (~1e-4): through one optimizer the
        # discriminator's first steps are divided by a second moment adapted to the tiny
        # reconstruction gradients, move the trunk by many learning rates at once and wreck the
        # encoder (measured: pixel L1 0.23 -> 0.42 within 25 steps). With two optimizers each
        # objective moves the trunk by its own learning rate.
        betas = (train_config.beta1, train_config.beta2)
        autoencoder = [*self.model.generator.parameters(), *self.model.encoder.parameters()]
        if model_config.recon_grad_to_trunk:
            autoencoder += list(self.model.trunk.parameters())
        self.opt_g = torch.optim.Adam(autoencoder, lr=train_config.lr_generator, betas=betas)
        assert self.model.classifier is not None
        self.opt_d = torch.optim.Adam(
            [
                {"params": list(self.model.trunk.parameters()), "lr": train_config.lr_discriminator * train_config.trunk_adversarial_scale},
                {"params": list(self.model.classifier.parameters())},
            ],
            lr=train_config.lr_discriminator,
            betas=betas,
        )
        self.train_images = torch.from_numpy(np.ascontiguousarray(train_images))
        self.val_images = np.ascontiguousarray(val_images)
        self.data_rng = torch.Generator().manual_seed(train_config.seed + 1)
        self.permutation = torch.randperm(len(self.train_images), generator=self.data_rng)
        self.cursor = 0
        self.step = 0
        self.images_seen = 0
        self.train_seconds = 0.0
        self.best_val_psnr = -math.inf
        fixed = torch.Generator().manual_seed(1234)
        self.fixed_latents = torch.randn(64, model_config.latent_dim, generator=fixed)
        self.metrics_path = self.out_dir / "metrics.jsonl"
        self.augment_policy = parse_policy(train_config.diffaugment)
        if train_config.lr_decay not in ("cosine", "none"):
            raise ValueError(f"lr_decay must be 'cosine' or 'none', got {train_config.lr_decay!r}")
        self._base_lrs = [[group["lr"] for group in opt.param_groups] for opt in (self.opt_g, self.opt_d)]

    # --- data -----------------------------------------------------------------------------
    def next_batch(self) -> torch.Tensor:
        size = min(self.config.batch_size, len(self.train_images))
        if self.cursor + size > len(self.permutation):
            self.permutation = torch.randperm(len(self.train_images), generator=self.data_rng)
            self.cursor = 0
        indices = self.permutation[self.cursor : self.cursor + size]
        self.cursor += size
        batch = to_model(self.train_images[indices])
        flip = torch.rand(size, generator=self.data_rng) < 0.5
        batch[flip] = batch[flip].flip(-1)
        return batch.to(self.device, memory_format=self.memory_format, non_blocking=True)

    # --- one iteration ---------------------------------------------------------------------
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
        start = cfg.lr_decay_start * cfg.steps
        progress = min(max((self.step - start) / max(cfg.steps - start, 1.0), 0.0), 1.0)
        return cfg.lr_final_ratio + (1.0 - cfg.lr_final_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def apply_lr_schedule(self) -> None:
        factor = self.lr_factor()
        for optimizer, base_lrs in zip((self.opt_g, self.opt_d), self._base_lrs):
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * factor

    def augment(self, images: torch.Tensor) -> torch.Tensor:
        """DiffAugment for the discriminator's inputs (identity when the policy is empty)."""
        return diff_augment(images, self.augment_policy) if self.augment_policy else images

    def train_step(self) -> dict[str, float]:
        cfg, weights, model = self.model_config, self.config.losses, self.model
        self.apply_lr_schedule()
        assert model.classifier is not None
        model.train()
        images = self.next_batch()
        batch = images.shape[0]
        adversarial = self.adversarial_active()
        trunk_params = list(model.trunk.parameters())
        head_params = list(model.classifier.parameters())

        # (1) encoder + generator
        for parameter in trunk_params:
            parameter.requires_grad_(cfg.recon_grad_to_trunk)
        mean, log_var, _ = model.encode_distribution(images)
        latent = losses.reparameterise(mean, log_var)
        prior_count = max(1, int(round(batch * self.config.prior_fraction))) if adversarial else 0
        if prior_count:
            latent = torch.cat([latent, torch.randn(prior_count, cfg.latent_dim, device=self.device)])
        generated = model.generator(latent)
        reconstructions, samples = generated[:batch], generated[batch:]
        for parameter in trunk_params + head_params:
            parameter.requires_grad_(False)

        loss_pixel = losses.pixel_loss(images, reconstructions)
        loss_kl = losses.kl_loss(mean, log_var)
        total = weights.pixel * loss_pixel + weights.kl * loss_kl
        values = {"pixel": loss_pixel.item(), "kl": loss_kl.item()}
        if self.augment_policy and adversarial:
            # The feature loss compares clean images with their reconstructions; the adversarial
            # terms classify augmented reconstructions and samples, as the discriminator saw them.
            if cfg.feature_loss:
                features = model.trunk(torch.cat([images, reconstructions]))
                loss_feature = losses.feature_loss([f[:batch] for f in features], [f[batch:] for f in features])
                total = total + weights.feature * loss_feature
                values["feature"] = loss_feature.item()
            logits, _ = model.discriminate(self.augment(torch.cat([reconstructions, samples])))
            loss_adv = losses.generator_adversarial_loss(logits[batch:], logits[:batch])
            total = total + weights.adversarial * self.adversarial_ramp() * loss_adv
            values["g_adv"] = loss_adv.item()
        elif adversarial or cfg.feature_loss:
            # Real images go through the same pass so the features and logits share one batch.
            logits, features = model.discriminate(torch.cat([images, reconstructions, samples]))
            if cfg.feature_loss:
                loss_feature = losses.feature_loss(
                    [f[:batch] for f in features], [f[batch : 2 * batch] for f in features]
                )
                total = total + weights.feature * loss_feature
                values["feature"] = loss_feature.item()
            if adversarial:
                loss_adv = losses.generator_adversarial_loss(logits[2 * batch :], logits[batch : 2 * batch])
                total = total + weights.adversarial * self.adversarial_ramp() * loss_adv
                values["g_adv"] = loss_adv.item()
        if cfg.ortho_reg and weights.ortho > 0:
            loss_ortho = losses.orthogonal_regularisation(losses.conv_weights(model.generator))
            total = total + weights.ortho * loss_ortho
            values["ortho_g"] = loss_ortho.item()
        self.opt_g.zero_grad(set_to_none=True)
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        self.opt_g.step()
        for parameter in trunk_params + head_params:
            parameter.requires_grad_(True)

        # (2) discriminator, with its own optimizer (see __init__)
        if adversarial:
            self.opt_d.zero_grad(set_to_none=True)
            logits, _ = model.discriminate(self.augment(torch.cat([images, samples.detach(), reconstructions.detach()])))
            loss_d = losses.discriminator_loss(
                logits[:batch], logits[batch : batch + prior_count], logits[batch + prior_count :]
            )
            total_d = self.adversarial_ramp() * loss_d
            if cfg.ortho_reg and weights.ortho > 0:
                total_d = total_d + weights.ortho * losses.orthogonal_regularisation(losses.conv_weights(model.trunk))
            total_d.backward()
            values["d"] = loss_d.item()
            with torch.no_grad():
                values["d_acc"] = float((logits.argmax(1)[:batch] == losses.REAL).float().mean()) if logits.shape[1] > 1 else float((logits[:batch] > 0).float().mean())
            self.opt_d.step()

        self.update_ema()
        self.step += 1
        self.images_seen += batch
        return values

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        for ema_param, param in zip(self.ema.parameters(), self.model.parameters()):
            ema_param.lerp_(param.detach(), 1 - decay)
        for ema_buffer, buffer in zip(self.ema.buffers(), self.model.buffers()):
            ema_buffer.copy_(buffer)

    # --- evaluation ------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, count: int = 500) -> dict[str, float]:
        self.ema.eval()
        images = to_model(self.val_images[:count]).to(self.device)
        reconstructions = torch.cat([self.ema.decode(self.ema.encode(chunk)) for chunk in images.split(128)])
        return {"val_psnr": psnr(images, reconstructions), "val_l1": float((images - reconstructions).abs().mean())}

    @torch.no_grad()
    def write_grids(self) -> None:
        self.ema.eval()
        samples = self.ema.decode(self.fixed_latents.to(self.device))
        _save_grid(self.out_dir / "samples.png", to_uint8(samples), 8)
        originals = self.val_images[:32]
        reconstructions = to_uint8(self.ema.decode(self.ema.encode(to_model(originals).to(self.device))))
        pairs = np.stack([originals, reconstructions], axis=1).reshape(-1, *originals.shape[1:])
        _save_grid(self.out_dir / "reconstructions.png", pairs, 8)

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
        }

    def save_checkpoint(self) -> Path:
        path = self.out_dir / CHECKPOINT_NAME
        atomic_write(path, lambda stream: torch.save(self.checkpoint_state(), stream))
        return path

    def load_checkpoint(self, path: str | Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        saved_config = from_dict(ModelConfig, json.loads(state["model_config"]))
        if saved_config != self.model_config:
            raise ValueError(f"checkpoint '{path}' was made with another model config: {saved_config}")
        for module, key in ((self.model, "model"), (self.ema, "ema")):
            # Checkpoints written before the sampling-distribution buffers existed lack only those.
            missing, unexpected = module.load_state_dict(state[key], strict=False)
            if unexpected or set(missing) - {"latent_mean", "latent_basis"}:
                raise ValueError(f"checkpoint '{path}' does not match the model: missing {missing}, unexpected {unexpected}")
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])
        self.images_seen = int(state["images_seen"])
        self.train_seconds = float(state["train_seconds"])
        self.cursor = int(state["cursor"])
        self.permutation = state["permutation"].cpu()
        self.data_rng.set_state(state["data_rng"].cpu())
        torch.set_rng_state(state["torch_rng"].cpu())
        self.best_val_psnr = float(state.get("best_val_psnr", -math.inf))

    def initialize_from(self, weights: IAN) -> None:
        """Start from trained inference weights (generator, trunk, encoder, sampling distribution);
        the discriminator head and the optimizers start fresh."""
        if weights.config != self.model_config:
            raise ValueError(f"the weights were made with another model config: {weights.config}")
        state = weights.inference_state_dict()
        for module in (self.model, self.ema):
            missing, unexpected = module.load_state_dict(state, strict=False)
            if unexpected or any(not key.startswith("classifier.") for key in missing):
                raise ValueError(f"weights do not fit the model: missing {missing}, unexpected {unexpected}")

    # --- export ----------------------------------------------------------------------------
    @torch.no_grad()
    def recalibrate_ema_batchnorm(self, batches: int = 20) -> None:
        """Recompute the EMA generator's batch-norm statistics for its own (averaged) weights."""
        norms = [m for m in self.ema.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if not norms:
            return
        saved_rng = torch.get_rng_state()
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative average over the calibration batches
        self.ema.train()
        generator = torch.Generator().manual_seed(99)
        for _ in range(batches):
            indices = torch.randint(len(self.train_images), (self.config.batch_size,), generator=generator)
            images = to_model(self.train_images[indices]).to(self.device)
            mean, _, _ = self.ema.encode_distribution(images)
            prior = torch.randn(int(len(images) * self.config.prior_fraction), self.model_config.latent_dim, generator=generator)
            self.ema.generator(torch.cat([mean, prior.to(self.device)]))
        for norm in norms:
            norm.momentum = 0.1
        self.ema.eval()
        torch.set_rng_state(saved_rng)

    @torch.no_grad()
    def encode_training_faces(self, model: IAN, batch: int = 256) -> torch.Tensor:
        """Posterior means of every training face (unflipped), N x latent_dim."""
        model.eval()
        chunks = [
            model.encode(to_model(self.train_images[start : start + batch]).to(self.device))
            for start in range(0, len(self.train_images), batch)
        ]
        return torch.cat(chunks).cpu()

    def export(self, path: str | Path, metrics: dict[str, Any] | None = None) -> tuple[Path, Path]:
        """Write the EMA model (generator + trunk + encoder) as NAME.safetensors + NAME.json, with its
        sampling distribution fitted to the encoded training faces."""
        export_model = copy.deepcopy(self.ema)
        export_model.fit_latent_distribution(self.encode_training_faces(export_model))
        metadata = {
            "training_data": self.data_description,
            "steps": self.step,
            "images_seen": self.images_seen,
            "train_seconds": round(self.train_seconds, 1),
            "train_config": to_dict(self.config),
            "device": str(self.device),
            "torch": torch.__version__,
            "metrics": metrics or {},
            "sampling": f"z = mean + basis @ N(0, I): a Gaussian fitted to the encoder's means of the {len(self.train_images)} training faces",
        }
        return save_weights(export_model, path, metadata)

    # --- the loop --------------------------------------------------------------------------
    def log_metrics(self, record: dict[str, Any]) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")

    def fit(self, steps: int, time_limit_minutes: float | None = None) -> None:
        """Train until `steps` total steps (or the time limit), checkpointing every few minutes."""
        cfg = self.config
        last_checkpoint = last_validation = time.monotonic()
        started = time.monotonic()
        window_images, window_start = 0, time.monotonic()
        running: dict[str, float] = {}
        while self.step < steps:
            step_start = time.monotonic()
            values = self.train_step()
            self.train_seconds += time.monotonic() - step_start
            window_images += cfg.batch_size
            for key, value in values.items():
                running[key] = 0.9 * running.get(key, value) + 0.1 * value
            now = time.monotonic()
            if self.step % cfg.log_every == 0 or self.step == steps:
                rate = window_images / max(now - window_start, 1e-6)
                window_images, window_start = 0, now
                eta = (steps - self.step) * cfg.batch_size / max(rate, 1e-6)
                losses_text = " ".join(f"{key} {value:.3f}" for key, value in running.items())
                self.log(
                    f"{_bar(self.step / steps)} step {self.step}/{steps} | {rate:.1f} img/s | ETA {_hms(eta)} | {losses_text}"
                )
                self.log_metrics({"step": self.step, "images_seen": self.images_seen, "images_per_s": round(rate, 2),
                                  "train_seconds": round(self.train_seconds, 1), **{k: round(v, 5) for k, v in running.items()}})
            if now - last_validation >= cfg.validate_minutes * 60 or self.step == steps:
                record = self.validate()
                self.best_val_psnr = max(self.best_val_psnr, record["val_psnr"])
                self.log(f"step {self.step}: validation PSNR {record['val_psnr']:.2f} dB")
                self.log_metrics({"step": self.step, "images_seen": self.images_seen, **record})
                self.write_grids()
                last_validation = time.monotonic()
            if now - last_checkpoint >= cfg.checkpoint_minutes * 60 or self.step == steps:
                self.save_checkpoint()
                last_checkpoint = time.monotonic()
            if time_limit_minutes is not None and now - started >= time_limit_minutes * 60:
                self.save_checkpoint()
                self.log(f"time limit reached at step {self.step}; checkpoint saved, continue with --resume")
                break


def _bar(fraction: float, width: int = 20) -> str:
    filled = int(round(min(max(fraction, 0.0), 1.0) * width))
    return f"[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}%"


def _hms(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
