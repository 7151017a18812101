"""DiffAugment (Zhao et al. 2020): differentiable colour, translation and cutout for the discriminator's inputs.

The same random transform family is applied to real and generated images wherever the discriminator
classifies them, so it cannot tell them apart by the augmentation, and gradients flow through it to the
generator. The encoder's path (clean images in, clean reconstructions compared) never sees it.
Images are [-1, 1] NCHW; each image draws its own parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """'color,translation,cutout' -> its parts; '' or 'none' -> (). Unknown parts are an error."""
    parts = tuple(part.strip() for part in policy.split(",") if part.strip() and part.strip() != "none")
    unknown = [part for part in parts if part not in POLICIES]
    if unknown:
        raise ValueError(f"unknown DiffAugment polic{'ies' if len(unknown) > 1 else 'y'} {', '.join(unknown)} (known: {', '.join(POLICIES)})")
    return parts


def _uniform(images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.rand(images.shape[0], 1, 1, 1, generator=generator, device="cpu").to(images)


def brightness(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    return images + (_uniform(images, generator) - 0.5)


def saturation(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    grey = images.mean(dim=1, keepdim=True)
    return (images - grey) * (_uniform(images, generator) * 2) + grey


def contrast(images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * (_uniform(images, generator) + 0.5) + mean


def translation(images: torch.Tensor, ratio: float = 0.125, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling with zeros (grey)."""
    count, _, height, width = images.shape
    shift_y, shift_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    offset_y = torch.randint(-shift_y, shift_y + 1, (count, 1, 1), generator=generator).to(images.device)
    offset_x = torch.randint(-shift_x, shift_x + 1, (count, 1, 1), generator=generator).to(images.device)
    rows = torch.arange(height, device=images.device).view(1, -1, 1)
    cols = torch.arange(width, device=images.device).view(1, 1, -1)
    # Index into a 1-pixel zero border: sources outside the image read the border.
    source_y = torch.clamp(rows + offset_y + 1, 0, height + 1).expand(count, height, width)
    source_x = torch.clamp(cols + offset_x + 1, 0, width + 1).expand(count, height, width)
    padded = F.pad(images, [1, 1, 1, 1])
    batch = torch.arange(count, device=images.device).view(-1, 1, 1).expand(count, height, width)
    return padded.permute(0, 2, 3, 1)[batch, source_y, source_x].permute(0, 3, 1, 2)


def cutout(images: torch.Tensor, ratio: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Zero a square of ``ratio`` of the image's size at a random place in each image."""
    count, _, height, width = images.shape
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    centre_y = torch.randint(0, height + (1 - size_y % 2), (count, 1, 1), generator=generator).to(images.device)
    centre_x = torch.randint(0, width + (1 - size_x % 2), (count, 1, 1), generator=generator).to(images.device)
    rows = torch.arange(height, device=images.device).view(1, -1, 1)
    cols = torch.arange(width, device=images.device).view(1, 1, -1)
    top, left = centre_y - size_y // 2, centre_x - size_x // 2
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return images * (~inside).unsqueeze(1).to(images.dtype)


def diff_augment(images: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator | None = None) -> torch.Tensor:
    """Apply the policy's transforms in DiffAugment's order (colour, translation, cutout)."""
    if "color" in policy:
        images = contrast(saturation(brightness(images, generator), generator), generator)
    if "translation" in policy:
        images = translation(images, generator=generator)
    if "cutout" in policy:
        images = cutout(images, generator=generator)
    return images
