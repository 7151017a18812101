"""The face square, its one box <-> crop affine map and the one border fade: every warp, point map,
preview grid and box overlay (npe.data, npe.editing and npe.ui alike) goes through this module.

Coordinates are continuous photo pixels: pixel (0, 0) spans [0, 1) x [0, 1). A crop of resolution R
has its own continuous coordinates in [0, R]; ``CropBox.crop_to_photo(R)`` is the 3x3 matrix that
sends a crop point to the photo, ``photo_to_crop(R)`` its inverse. Crop resampling, paste-back,
the face finder, the editor's preview and brush positions, and the GUI's box overlay all go
through these two matrices. numpy only: no torch, no Qt, nothing of npe above the base layer.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CropBox:
    """The face square in a photo, in photo pixel coordinates (continuous: pixel (0, 0) spans [0, 1)).

    ``angle`` is the face's roll in degrees, counter-clockwise as seen on screen: a head tilted
    towards its right shoulder (the viewer's left) has a positive angle. ``crop_face`` rotates by
    it so the crop comes out upright.
    """

    center_x: float
    center_y: float
    size: float
    angle: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CropBox:
        """Rebuild from ``to_dict`` output (e.g. a session file); missing angle means upright."""
        try:
            box = cls(
                center_x=float(data["center_x"]),
                center_y=float(data["center_y"]),
                size=float(data["size"]),
                angle=float(data.get("angle", 0.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a valid face box: {data!r} ({exc})") from exc
        if not box.size > 0 or not all(map(math.isfinite, (box.center_x, box.center_y, box.size, box.angle))):
            raise ValueError(f"not a valid face box: {data!r} (size must be positive and all values finite)")
        return box

    @classmethod
    def whole_image(cls, width: int, height: int) -> CropBox:
        """The largest centred square: the fallback when no face is found."""
        return cls(width / 2, height / 2, float(min(width, height)))

    @classmethod
    def from_matrix(cls, crop_to_photo: np.ndarray, resolution: float = 1.0) -> CropBox:
        """The box whose ``crop_to_photo(resolution)`` is this similarity (rotation, scale, shift)."""
        matrix = np.asarray(crop_to_photo, dtype=np.float64)
        a, b = matrix[0, 0], matrix[1, 0]  # the crop's x axis in the photo, times the scale
        scale = math.hypot(a, b)
        center = matrix @ np.array([resolution / 2, resolution / 2, 1.0])
        return cls(float(center[0]), float(center[1]), float(scale * resolution), math.degrees(math.atan2(-b, a)))

    @property
    def axes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """Unit vectors of the crop's x (rightwards) and y (downwards) axes, in photo coordinates."""
        radians = math.radians(self.angle)
        cos, sin = math.cos(radians), math.sin(radians)
        return (cos, -sin), (sin, cos)

    def crop_to_photo(self, resolution: float = 1.0) -> np.ndarray:
        """3x3 affine: a point of a ``resolution``-pixel crop (continuous, [0, R]) -> photo pixels."""
        (ux, uy), (vx, vy) = self.axes
        step = self.size / resolution  # photo pixels per crop pixel
        half = resolution / 2
        return np.array(
            [
                [step * ux, step * vx, self.center_x - half * step * (ux + vx)],
                [step * uy, step * vy, self.center_y - half * step * (uy + vy)],
                [0.0, 0.0, 1.0],
            ]
        )

    def photo_to_crop(self, resolution: float = 1.0) -> np.ndarray:
        """3x3 affine: photo pixels -> a point of a ``resolution``-pixel crop (the inverse map)."""
        (ux, uy), (vx, vy) = self.axes
        per_pixel = resolution / self.size
        half = resolution / 2
        # The inverse of a rotation is its transpose.
        return np.array(
            [
                [per_pixel * ux, per_pixel * uy, half - per_pixel * (self.center_x * ux + self.center_y * uy)],
                [per_pixel * vx, per_pixel * vy, half - per_pixel * (self.center_x * vx + self.center_y * vy)],
                [0.0, 0.0, 1.0],
            ]
        )

    def to_photo(self, points: Any, resolution: float = 1.0) -> np.ndarray:
        """Crop points (Nx2 x, y in a ``resolution`` crop) in photo pixels."""
        return apply(self.crop_to_photo(resolution), points)

    def to_crop(self, points: Any, resolution: float = 1.0) -> np.ndarray:
        """Photo points (Nx2) in the coordinates of a ``resolution`` crop."""
        return apply(self.photo_to_crop(resolution), points)

    def corners(self) -> np.ndarray:
        """The square's corners as a 4x2 (x, y) array in photo pixels, in the order top-left,
        top-right, bottom-right, bottom-left as seen in the (upright) crop."""
        return self.to_photo([(0, 0), (1, 0), (1, 1), (0, 1)])

    def mapped(self, matrix: np.ndarray) -> CropBox:
        """The same square seen through a similarity ``matrix`` (3x3, this box's photo -> another's)."""
        return CropBox.from_matrix(np.asarray(matrix, dtype=np.float64) @ self.crop_to_photo(1.0))

    def grown(self, fraction: float) -> CropBox:
        """The same square with ``fraction`` of its side added on every side (the reach of the border fade)."""
        return CropBox(self.center_x, self.center_y, self.size * (1.0 + 2.0 * fraction), self.angle)

    def pixel_bounds(self, width: int, height: int) -> tuple[int, int, int, int] | None:
        """The pixels the square touches in a width x height photo: (x0, y0, x1, y1), or None if none."""
        corners = self.corners()
        x0 = max(0, math.floor(corners[:, 0].min()))
        y0 = max(0, math.floor(corners[:, 1].min()))
        x1 = min(width, math.ceil(corners[:, 0].max()))
        y1 = min(height, math.ceil(corners[:, 1].max()))
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1


def apply(matrix: np.ndarray, points: Any) -> np.ndarray:
    """Nx2 points through a 3x3 affine matrix."""
    array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return array @ matrix[:2, :2].T + matrix[:2, 2]


def scaling(factor: float) -> np.ndarray:
    """3x3 matrix of a uniform scaling about the origin (e.g. a working copy -> the photo)."""
    return np.diag([factor, factor, 1.0])


def translation(dx: float, dy: float) -> np.ndarray:
    """3x3 matrix of a shift by (dx, dy) (e.g. a region's origin -> the photo)."""
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy], [0.0, 0.0, 1.0]])


def pillow_coefficients(output_to_input: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """The (a, b, c, d, e, f) of Pillow's affine convention: output (x, y) -> input (a x + b y + c, d x + e y + f)."""
    (a, b, c), (d, e, f) = np.asarray(output_to_input, dtype=np.float64)[:2]
    return float(a), float(b), float(c), float(d), float(e), float(f)


def fit_similarity(source: Any, target: Any, weights: Any = None) -> np.ndarray:
    """Least-squares rotation + uniform scale + shift (no reflection) taking ``source`` points onto
    ``target`` points (Nx2 each, optionally weighted), as a 3x3 matrix (Umeyama 1991)."""
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    weights = np.ones(len(source)) if weights is None else np.asarray(weights, np.float64)
    mean_s = np.average(source, axis=0, weights=weights)
    mean_t = np.average(target, axis=0, weights=weights)
    # With complex numbers a similarity is z -> w z + t; the least-squares w is a ratio of sums.
    zs = (source - mean_s) @ np.array([1.0, 1j])
    zt = (target - mean_t) @ np.array([1.0, 1j])
    w = complex(np.sum(weights * np.conj(zs) * zt) / np.sum(weights * np.abs(zs) ** 2))
    rotation = np.array([[w.real, -w.imag], [w.imag, w.real]])
    shift = mean_t - rotation @ mean_s
    return np.array([[w.real, -w.imag, shift[0]], [w.imag, w.real, shift[1]], [0.0, 0.0, 1.0]])


def smoothstep(t: Any) -> Any:
    """0 up to 0, 3t^2 - 2t^3 between, 1 from 1 on: an ease with no kink at either end. ``t``: a
    numpy array or a torch tensor (both have ``clip``). The border fade's ease."""
    t = t.clip(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# How far beyond the face box a change that reaches its border goes on along pixels of the border's own
# colour (the same hair, falling past the box), as a fraction of the box's side; and the colour distance
# (RGB levels, root mean square over the channels) at which a pixel counts half as the border's colour.
CONTINUE_REACH = 0.6
CONTINUE_LEVELS = 16.0


def continuation(pixels: np.ndarray, border: np.ndarray, crop_u: np.ndarray, crop_v: np.ndarray, resolution: float,
                 reach: float = CONTINUE_REACH) -> np.ndarray:
    """How much a change at the face box's border goes on at pixels beyond the box: float32 h x w in
    [0, 1], 0 inside the box. ``pixels``: their colours (h x w x 3, 0-255, smoothed to the crop's scale
    by the caller); ``border``: the crop's colour at the box border point nearest each (the crop sampled
    with its edge values replicated); ``crop_u``, ``crop_v``: their crop coordinates. A pixel like its
    border's colour (CONTINUE_LEVELS) carries the change on, easing to 0 over ``reach`` of the box's side:
    hair turned lighter inside the box goes on lighter down the hair beyond it, not ending at the box's
    edge as a band; the backdrop or a shoulder of another colour keeps its pixels."""
    outside = np.maximum.reduce([-crop_u, crop_u - resolution, -crop_v, crop_v - resolution]) / resolution
    distance = np.sqrt(np.mean(np.square(np.asarray(pixels, np.float32) - np.asarray(border, np.float32)), axis=-1))
    like = np.exp(-np.log(2.0) * np.square(distance / CONTINUE_LEVELS))
    fade = smoothstep(1.0 - outside / reach) if reach > 0 else np.zeros_like(outside)
    return np.where(outside > 0, like * fade, 0.0).astype(np.float32)


def border_fade(crop_u: np.ndarray, crop_v: np.ndarray, resolution: float, feather: float) -> np.ndarray:
    """The one border fade: 1 inside the box; outside it, easing to 0 over ``feather`` of its side; 0 beyond.

    The fade lies outside the box so that the box's own pixels carry the whole change: an edit that
    reaches the border (a fringe at the top of the face) goes on past it and dies away there, instead
    of thinning out inside the face and ending at the box's edge as a band. ``crop_u``, ``crop_v``
    are crop coordinates (in [0, resolution] inside the box) of the pixels to weigh, e.g.
    ``CropBox.to_crop`` of photo pixel centres. float32, like its inputs' grid.
    """
    inset = np.minimum(np.minimum(crop_u, resolution - crop_u), np.minimum(crop_v, resolution - crop_v))
    if feather <= 0:
        return (inset > 0).astype(np.float32)
    return smoothstep((1.0 + inset / (feather * resolution)).astype(np.float32))
