"""The masking technique (Brock et al. 2017, eq. 5): Y = X + M·Δ with Δ = G(z) − G(z0) and
M = min(gain · g(mean_c |Δ|), 1), and putting the change back into the full-resolution photo.

Two ways to put it back: ``full_result`` (exact, for export: npe.data.faces.paste_back plus the
protect mask) and ``PreviewCompositor`` (fast, for the canvas while painting: the same maths with
torch's bicubic sampling on a cached grid, at any display scale, over the face box and its border
fade only). The box's own pixels carry the whole change; where it reaches the box's border it goes on
past it and fades out there (``FEATHER`` of the box's side), so a fringe or a chin is not cut by the box.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from npe.data.faces import LUMA, OUTLINE_SHARPNESS, covered_detail, crop_grid, outline_factor, paste_back, warp
from npe.geometry import CONTINUE_REACH, CropBox, apply, border_fade, continuation, pillow_coefficients, translation

PIXEL_UNITS = 127.5  # one unit of the model's [-1, 1] range in uint8 levels
FEATHER = 0.08  # fraction of the box side beyond the box over which a pasted change fades out (paste_back's default)


@dataclass(frozen=True)
class MaskSettings:
    """``sigma``: Gaussian blur of the change, in pixels of a 64-pixel crop (scaled with the
    resolution). ``gain``: the mask saturates (M = 1) where the blurred mean absolute change
    reaches 1/gain in [-1, 1] units (0.1 ≈ 13 grey levels: a visible change)."""

    sigma: float = 1.0
    gain: float = 10.0


@functools.lru_cache(maxsize=16)
def gaussian_kernel(sigma: float) -> torch.Tensor:
    """A normalised 1-D Gaussian of radius ceil(3 sigma) (cached and shared: never modify it; the
    mask of every brush step uses it)."""
    radius = max(1, math.ceil(3 * sigma))
    positions = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-0.5 * (positions / sigma) ** 2)
    return kernel / kernel.sum()


def blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of N x C x H x W with ``sigma`` pixels, edges replicated."""
    if sigma <= 0:
        return image
    kernel = gaussian_kernel(sigma).to(image)
    radius = kernel.numel() // 2
    channels = image.shape[1]
    padded = F.pad(image, (radius, radius, 0, 0), mode="replicate")
    image = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    padded = F.pad(image, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(padded, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def change_mask(delta: torch.Tensor, settings: MaskSettings = MaskSettings()) -> torch.Tensor:
    """M for a change Δ (1 x 3 x R x R, [-1, 1] units): float R x R in [0, 1]."""
    magnitude = blur(delta.detach().abs().mean(dim=1, keepdim=True), settings.sigma * delta.shape[-1] / 64)
    return (magnitude[0, 0] * settings.gain).clamp_(max=1.0)


# The change's colour is carried smoother than its lightness (as JPEG's chroma subsampling does: the eye
# reads detail in lightness). The model's texture differs between two codes, and its colour part, upsampled,
# mottled new hair with orange and green flecks at 5x (edit_quality_log.md, session 16).
CHROMA_SIGMA = 1.0  # pixels of a 64-pixel crop


def smooth_chroma(delta: torch.Tensor, sigma: float = CHROMA_SIGMA) -> torch.Tensor:
    """A change Δ (N x 3 x R x R) with its lightness (Rec. 601 luminance) kept and its colour (Δ minus
    that luminance on each channel) blurred by ``sigma`` pixels of a 64-pixel crop."""
    if sigma <= 0:
        return delta
    light = luminance(delta)
    return light + blur(delta - light, sigma * delta.shape[-1] / 64)


def crop_composite(crop: np.ndarray, delta: torch.Tensor, mask: torch.Tensor, protect: np.ndarray | None) -> np.ndarray:
    """Y = X + M·Δ at model resolution (uint8 R x R x 3); ``protect`` (float R x R, 1 = protected)
    scales the mask down and fully protected pixels keep X exactly."""
    weight = mask.detach().cpu().numpy()
    if protect is not None:
        weight = weight * (1.0 - protect)
    change = delta.detach()[0].permute(1, 2, 0).cpu().numpy() * PIXEL_UNITS
    out = np.clip(np.rint(crop.astype(np.float32) + weight[..., None] * change), 0, 255).astype(np.uint8)
    if protect is not None:
        keep = protect >= 1.0
        out[keep] = crop[keep]
    return out


def full_result(
    photo: np.ndarray,
    box: CropBox,
    delta: torch.Tensor,
    mask: torch.Tensor,
    protect: np.ndarray | None,
    feather: float = FEATHER,
    cover: tuple[np.ndarray, np.ndarray] | None = None,
    extend: tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None = None,
    outline: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The edited photo at full resolution: paste_back of M·Δ into the box (``cover``: paste_back's,
    where a darkening change also hides the photo's fine detail; ``extend``: paste_back's, where the
    change that may go on past the box does; ``outline``: paste_back's, where the change's edge is an
    object's, drawn crisp), then every protected pixel (``protect``: bool H x W) restored from ``photo``
    bit for bit."""
    change = delta.detach()[0].permute(1, 2, 0).cpu().numpy() * PIXEL_UNITS
    result = paste_back(photo, box, change, mask.detach().cpu().numpy(), feather=feather, cover=cover, extend=extend, outline=outline)
    if protect is not None:
        result[protect] = photo[protect]
    return result


def feather_for(photo_size: tuple[int, int], box: CropBox) -> float:
    """No feathering when the box covers the whole photo (a crop or a sample: there is no seam to
    hide, and its border pixels should be editable); the usual fade otherwise."""
    width, height = photo_size
    corners = box.corners()
    covers = corners[:, 0].min() <= 0 and corners[:, 1].min() <= 0 and corners[:, 0].max() >= width and corners[:, 1].max() >= height
    return 0.0 if covers and abs(math.remainder(box.angle, 90.0)) < 1e-6 else FEATHER


@dataclass
class _Scaled:
    """What a PreviewCompositor keeps for one display scale: the scaled photo, the rectangle the box
    and its border fade touch (None: nothing of it shows) and, over that rectangle, the sampling grid into the crop,
    the border fade, the photo's pixels and the protect mask (made when first needed)."""

    base: np.ndarray
    sx: float
    sy: float
    rect: tuple[int, int, int, int] | None = None
    grid: torch.Tensor | None = None  # 1 x h x w x 2, grid_sample's [-1, 1] crop coordinates
    ramp: torch.Tensor | None = None  # h x w border fade
    window: torch.Tensor | None = None  # h x w x 3 float photo pixels
    protect: torch.Tensor | None = None  # h x w bool, True = keep
    covered: tuple[slice, slice, torch.Tensor, torch.Tensor] | None = None  # rows, cols of the rectangle where cover > 0, the crop (low) and cover sampled there
    fade: torch.Tensor | None = None  # h x w border fade alone, and
    goes_on: torch.Tensor | None = None  # h x w continuation (an extended entry: ramp is their maximum)


class PreviewCompositor:
    """The result at display resolution, fast enough for every brush step.

    Everything that does not depend on z is cached per scale: the scaled photo, the box's rectangle,
    the sampling grid from that rectangle into the crop, the border fade and the protect mask. Each
    call then costs one bicubic ``grid_sample`` of the 4-channel (Δ, M) crop over the rectangle and
    a few element-wise operations. Pixels beyond the box's border fade and protected pixels keep the
    (scaled) photo's values exactly; elsewhere it may differ from ``full_result`` by a level or two
    of interpolation (cubic spline there, bicubic here).
    """

    def __init__(self, photo: np.ndarray, box: CropBox, resolution: int, feather: float = FEATHER,
                 cover: tuple[np.ndarray, np.ndarray] | None = None, extend: np.ndarray | None = None) -> None:
        self.photo = photo
        self.box = box
        self.resolution = resolution
        self.feather = feather
        self.cover = cover if cover is not None and cover[1].any() else None  # full_result's
        self.extend = extend if feather > 0 else None  # full_result's (nothing lies beyond a whole-picture box)
        self._protect: np.ndarray | None = None
        self._cache: dict[tuple[float, bool], _Scaled] = {}

    def set_protect(self, protect: np.ndarray | None) -> None:
        """The photo-resolution protect mask (bool H x W) or None; drops what depended on it."""
        self._protect = protect if protect is not None and protect.any() else None
        for entry in self._cache.values():
            entry.protect = None

    def size(self, scale: float) -> tuple[int, int]:
        height, width = self.photo.shape[:2]
        return max(1, round(width * scale)), max(1, round(height * scale))

    def _entry(self, scale: float, extended: bool = False) -> _Scaled:
        """The cache for one display scale; ``extended``: with the rectangle and fade grown by the
        change's continuation past the box (geometry.continuation)."""
        entry = self._cache.get((scale, extended))
        if entry is not None:
            return entry
        if len(self._cache) > 4:  # zooming through many scales must not grow memory without bound
            self._cache.pop(next(iter(self._cache)))
        width, height = self.size(scale)
        if scale == 1.0:
            base = self.photo
        else:
            base = np.asarray(Image.fromarray(self.photo).resize((width, height), Image.Resampling.BOX))
        sx, sy = width / self.photo.shape[1], height / self.photo.shape[0]
        # The box in display pixels (an exact scale when sx == sy; photos keep their aspect ratio).
        box = CropBox(self.box.center_x * sx, self.box.center_y * sy, self.box.size * (sx + sy) / 2, self.box.angle)
        entry = _Scaled(base, sx, sy)
        reach = max(self.feather, CONTINUE_REACH) if extended else self.feather
        rect = box.grown(reach).pixel_bounds(width, height)  # the box and its fade beyond
        if rect is not None:
            x0, y0, x1, y1 = rect
            grid_x, grid_y = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
            crop_points = apply(box.photo_to_crop(self.resolution), np.stack([grid_x, grid_y], axis=-1))
            u, v = (crop_points[:, axis].reshape(grid_x.shape) for axis in (0, 1))
            fade = ramp = border_fade(u.astype(np.float32), v.astype(np.float32), self.resolution, self.feather)
            goes_on = self._continuation(base[y0:y1, x0:x1], u, v, box.size) if extended and self.extend is not None else None
            if goes_on is not None:  # where some of it shows: the rectangle is narrowed to that below
                ramp = np.maximum(fade, goes_on)
            rows = np.flatnonzero(ramp.any(axis=1))
            cols = np.flatnonzero(ramp.any(axis=0))
            if rows.size > 0:
                top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
                entry.rect = (x0 + left, y0 + top, x0 + right, y0 + bottom)
                u, v = u[top:bottom, left:right], v[top:bottom, left:right]
                # grid_sample with align_corners=False: -1 and 1 are the crop's outer pixel edges.
                grid = np.stack([u / self.resolution * 2 - 1, v / self.resolution * 2 - 1], axis=-1).astype(np.float32)
                entry.grid = torch.from_numpy(grid).unsqueeze(0)
                entry.ramp = torch.from_numpy(np.ascontiguousarray(ramp[top:bottom, left:right]))
                if goes_on is not None:
                    entry.fade = torch.from_numpy(np.ascontiguousarray(fade[top:bottom, left:right]))
                    entry.goes_on = torch.from_numpy(np.ascontiguousarray(goes_on[top:bottom, left:right]))
                window = base[y0 + top : y0 + bottom, x0 + left : x0 + right]
                entry.window = torch.from_numpy(np.ascontiguousarray(window)).float()
                if self.cover is not None:
                    entry.covered = self._covered(entry.grid)
        self._cache[(scale, extended)] = entry
        return entry

    def _continuation(self, window: np.ndarray, u: np.ndarray, v: np.ndarray, side: float) -> np.ndarray:
        """continuation_weights over a display window, against the extend crop's colour at the nearest
        border point (bilinear, edge values replicated)."""
        assert self.extend is not None
        grid = torch.from_numpy(np.stack([u / self.resolution * 2 - 1, v / self.resolution * 2 - 1], axis=-1).astype(np.float32))[None]
        source = torch.from_numpy(np.ascontiguousarray(self.extend, dtype=np.float32)).permute(2, 0, 1)[None]
        border = F.grid_sample(source, grid, mode="bilinear", padding_mode="border", align_corners=False)[0].permute(1, 2, 0).numpy()
        return continuation_weights(window, border, u.astype(np.float32), v.astype(np.float32), self.resolution, side)

    def _covered(self, grid: torch.Tensor) -> tuple[slice, slice, torch.Tensor, torch.Tensor] | None:
        """The crop (bicubic) and the cover (bilinear) sampled on ``grid``, over the rectangle where the
        cover is not 0 (None: nowhere)."""
        assert self.cover is not None
        crop, place = self.cover
        sampled = F.grid_sample(torch.tensor(place, dtype=torch.float32)[None, None], grid, mode="bilinear",
                                padding_mode="border", align_corners=False)[0, 0]
        rows, cols = torch.nonzero(sampled.sum(1)).squeeze(1), torch.nonzero(sampled.sum(0)).squeeze(1)
        if rows.numel() == 0:
            return None
        ys, xs = slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
        source = torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32)).permute(2, 0, 1)[None]
        low = F.grid_sample(source, grid[:, ys, xs], mode="bicubic", padding_mode="border", align_corners=False)[0].permute(1, 2, 0)
        return ys, xs, low.contiguous(), sampled[ys, xs].contiguous()

    def _protect_window(self, entry: _Scaled) -> torch.Tensor | None:
        """The protect mask over the cached rectangle at this scale (True = keep), or None."""
        if self._protect is None or entry.rect is None:
            return None
        if entry.protect is None:
            x0, y0, x1, y1 = entry.rect
            height, width = self.photo.shape[:2]
            # Nearest photo pixel of each display pixel's centre.
            cols = np.clip(((np.arange(x0, x1) + 0.5) / entry.sx).astype(np.int64), 0, width - 1)
            rows = np.clip(((np.arange(y0, y1) + 0.5) / entry.sy).astype(np.int64), 0, height - 1)
            entry.protect = torch.from_numpy(self._protect[rows[:, None], cols[None, :]].copy())
        return entry.protect

    def render(self, delta: torch.Tensor, mask: torch.Tensor, scale: float = 1.0, gate: torch.Tensor | None = None,
               outline: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """The composite at ``scale`` x photo size (uint8, a new array); ``gate`` (float R x R in [0, 1]):
        how much of the change at each crop pixel may go on past the box along the border's colours
        (full_result's ``extend``; needs the crop given to the compositor); ``outline``: full_result's
        (the change's edge drawn crisp where it is an object's, at this scale's resolution)."""
        extended = gate is not None and self.extend is not None
        entry = self._entry(float(scale), extended)
        out = entry.base.copy()
        if entry.rect is None or entry.grid is None or entry.ramp is None or entry.window is None:
            return out
        x0, y0, x1, y1 = entry.rect
        source = torch.cat([delta.detach().float().cpu() * PIXEL_UNITS, mask.detach().float().cpu()[None, None]], dim=1)
        sampled = F.grid_sample(source, entry.grid, mode="bicubic", padding_mode="border", align_corners=False)[0]
        if extended and entry.goes_on is not None and entry.fade is not None and gate is not None:
            gates = F.grid_sample(gate.detach().float().cpu()[None, None], entry.grid, mode="bilinear", padding_mode="border", align_corners=False)[0, 0]
            weight = sampled[3].clamp_(0.0, 1.0).mul_(torch.maximum(entry.fade, entry.goes_on * gates))
        else:
            weight = sampled[3].clamp_(0.0, 1.0).mul_(entry.ramp)
        protect = self._protect_window(entry)
        if protect is not None:
            weight.masked_fill_(protect, 0.0)
        change = sampled[:3].permute(1, 2, 0).mul_(weight.unsqueeze(-1))
        if outline is not None and outline[1].any():
            maps = torch.from_numpy(np.stack([outline[0], outline[1]]).astype(np.float32))[None]
            reach, held = F.grid_sample(maps, entry.grid, mode="bilinear", padding_mode="border", align_corners=False)[0]
            sharpness = OUTLINE_SHARPNESS * self.box.size * (entry.sx + entry.sy) / 2 / self.resolution
            change.mul_(torch.from_numpy(outline_factor(reach.numpy(), held.numpy(), sharpness)).unsqueeze(-1))
        window = entry.window + change
        if entry.covered is not None:  # full_result's covered_detail, over the cover's rectangle only
            ys, xs, low, place = entry.covered
            hidden = covered_detail(entry.window[ys, xs].numpy(), low.numpy(), change[ys, xs].numpy(), place.numpy())
            window[ys, xs] = torch.from_numpy(hidden)
        window = window.round_().clamp_(0, 255).to(torch.uint8)
        out[y0:y1, x0:x1] = window.numpy()
        return out


def hair_hue_map(image: np.ndarray, size: int = 256) -> np.ndarray:
    """parts.hair_hue of an RGB image (uint8 H x W x 3), float32 H x W: worked out on a copy at most
    ``size`` pixels on its longer side and scaled back (bilinear), so a large photo costs little."""
    from skimage import color as skcolor

    from npe.editing.parts import hair_hue

    height, width = image.shape[:2]
    if height == 0 or width == 0:
        return np.zeros((height, width), np.float32)
    factor = min(1.0, size / max(height, width))
    small = image if factor >= 1.0 else np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize(
        (max(1, round(width * factor)), max(1, round(height * factor))), Image.Resampling.BOX))
    hue = hair_hue(skcolor.rgb2lab(small.astype(np.float64) / 255.0))
    if factor >= 1.0:
        return hue
    return np.asarray(Image.fromarray(hue).resize((width, height), Image.Resampling.BILINEAR), np.float32)


def continuation_weights(window: np.ndarray, border: np.ndarray, crop_u: np.ndarray, crop_v: np.ndarray, resolution: int,
                         side: float) -> np.ndarray:
    """geometry.continuation over a window of photo pixels (uint8 h x w x 3, smoothed over one crop pixel:
    a strand of hair is not a colour), ``border`` the crop's colour at the box border point nearest each,
    and only onto colours hair may have (hair_hue_map): the one rule the result and the preview share
    (``side``: the box's side in the window's pixels)."""
    from scipy.ndimage import uniform_filter

    if not window.size:
        return np.zeros(window.shape[:2], np.float32)
    size = max(1, round(side / resolution))
    smooth = uniform_filter(window.astype(np.float32), size=(size, size, 1), mode="nearest")
    return continuation(smooth, border, crop_u, crop_v, resolution) * hair_hue_map(np.ascontiguousarray(window))


def continuation_map(photo: np.ndarray, box: CropBox, crop: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """continuation_weights over the photo rectangle that the box grown by CONTINUE_REACH covers:
    ((x0, y0, x1, y1), float32 map), or None when that lies outside the photo. It depends on the photo,
    the box and the crop only: made once per photo, for full_result's ``extend``."""
    height, width = photo.shape[:2]
    rect = box.grown(CONTINUE_REACH).pixel_bounds(width, height)
    if rect is None:
        return None
    x0, y0, x1, y1 = rect
    resolution = crop.shape[0]
    coefficients = pillow_coefficients(box.photo_to_crop(resolution) @ translation(x0, y0))
    crop_u, crop_v = crop_grid(coefficients, (y1 - y0, x1 - x0))
    border = warp(np.asarray(crop, np.float32), coefficients, (y1 - y0, x1 - x0), order=1, edge="edge")
    return rect, continuation_weights(photo[y0:y1, x0:x1], border, crop_u, crop_v, resolution, box.size)


# --- the brush's share of the composite: its reach, and grey photos ----------------------------


def limit_change_mask(change_mask: torch.Tensor, reach: torch.Tensor) -> torch.Tensor:
    """The composite mask M · reach: the masking technique's change mask (compose.change_mask) can
    no longer carry a change beyond the strokes' feathered reach (the union over the edit's strokes)."""
    return change_mask * reach.to(change_mask)


def lighten_ceiling(crop: np.ndarray | torch.Tensor, change: torch.Tensor, ceiling: float, region: torch.Tensor, steps: int = 12) -> torch.Tensor:
    """The share (R x R in [0, 1]) of a masked change ``change`` (M·Δ, 1 x 3 x R x R, [-1, 1] units)
    that keeps each pixel of ``region`` (float R x R; 1 = held, 0 = free) of ``crop`` (uint8 R x R x 3,
    or the same as a float 3 x R x R tensor) from lightening past ``ceiling`` (Rec. 601 luminance, 0-255; a pixel already lighter may not
    lighten at all): 1 wherever the whole change stays below it. The lightening is measured on the
    composite as it is shown (each channel clipped to 0-255: a channel pushed below 0 lightens the
    pixel by what it cannot lose), and the largest share that fits found by bisection (``steps``)."""
    if isinstance(crop, torch.Tensor):
        pixels = crop.to(change)
    else:
        pixels = torch.tensor(np.asarray(crop), dtype=change.dtype, device=change.device).permute(2, 0, 1)
    moved = change.detach()[0] * PIXEL_UNITS
    weights = torch.tensor(LUMA, dtype=pixels.dtype, device=pixels.device).view(3, 1, 1)
    before = (pixels * weights).sum(0)
    room = before.clamp(min=ceiling) - before

    def lift(share: torch.Tensor) -> torch.Tensor:
        return ((pixels + share * moved).clamp(0.0, 255.0) * weights).sum(0) - before

    low, high = torch.zeros_like(before), torch.ones_like(before)
    for _ in range(steps):
        middle = (low + high) / 2
        fits = lift(middle) <= room
        low, high = torch.where(fits, middle, low), torch.where(fits, high, middle)
    share = torch.where(lift(torch.ones_like(before)) <= room, torch.ones_like(before), low)
    return 1.0 - region.to(share) * (1.0 - share)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """N x 3 x H x W (or 1 x 3 x 1 x 1 colours) -> N x 1 x H x W Rec. 601 luminance, same units."""
    weights = torch.tensor(LUMA, dtype=image.dtype, device=image.device).view(1, 3, 1, 1)
    return (image * weights).sum(dim=1, keepdim=True)


def greyscale_delta(delta: torch.Tensor) -> torch.Tensor:
    """A change Δ (N x 3 x H x W) as its luminance on all three channels: a grey photo stays grey."""
    return luminance(delta).expand_as(delta).contiguous()


def is_greyscale(image: np.ndarray, tolerance: int = 2) -> bool:
    """True if a uint8 H x W x 3 image has equal channels within ``tolerance`` levels."""
    pixels = np.asarray(image).astype(np.int16)
    return bool(np.abs(pixels[..., 0] - pixels[..., 1]).max() <= tolerance and np.abs(pixels[..., 1] - pixels[..., 2]).max() <= tolerance)
