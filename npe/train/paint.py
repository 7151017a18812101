"""Paint augmentation: random strokes, blobs and bars of random colours, widths, opacities and edge
softness drawn onto face crops, labels unchanged.

A classifier trained with it learns that paint is not a face attribute (a white patch over the lips
is not teeth, a dark bar on a forehead is not a fringe), so it can judge brush edits without being
fooled by the glow an edit might be. The same marks, scored as "painted", train a detector of paint:
a realism read-out for edits. uint8 N x H x W x 3 in and out (numpy, no torch); each image draws
its own marks from ``rng``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Where in a model-framed crop (CelebA framing, fractions of the side) people paint: mouth, lips,
# eyes, forehead, chin/beard, hair. Half the marks go near one of these, half anywhere.
FACE_PARTS: tuple[tuple[float, float], ...] = (
    (0.50, 0.82), (0.50, 0.78), (0.34, 0.34), (0.66, 0.34), (0.50, 0.34), (0.50, 0.14), (0.50, 0.92),
    (0.30, 0.88), (0.70, 0.88), (0.20, 0.12), (0.80, 0.12), (0.15, 0.50), (0.85, 0.50),
)
# Colours people pick (white teeth, dark hair, red lips, yellow/blond, skin); the rest are random.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (255, 255, 255), (0, 0, 0), (40, 30, 25), (255, 0, 0), (200, 30, 40), (255, 255, 0), (230, 200, 90),
    (224, 172, 140), (160, 110, 80), (128, 128, 128),
)


# The marks that look most like an attribute to a classifier that has never seen paint: a part and
# the colour its attribute has (white teeth, red lips, a dark fringe, dark glasses, a shaved chin,
# blond hair). Positions as in FACE_PARTS; each draws a stroke across the part.
CONFUSERS: tuple[tuple[tuple[float, float], tuple[tuple[int, int, int] | None, ...]], ...] = (
    ((0.50, 0.82), ((255, 255, 255), (235, 235, 225))),
    ((0.50, 0.81), ((200, 30, 40), (190, 25, 45), (160, 20, 60))),
    ((0.50, 0.12), ((40, 30, 25), (20, 20, 20), (90, 60, 40))),
    ((0.50, 0.34), ((25, 25, 25), (0, 0, 0), (60, 50, 45))),
    ((0.50, 0.93), ((255, 255, 255), None)),  # None: the face's own skin colour
    ((0.50, 0.06), ((235, 205, 90), (255, 255, 0), (230, 200, 90))),
)


@dataclass(frozen=True)
class PaintSettings:
    """``probability``: share of images painted. ``max_marks``: marks per painted image (1 to this).
    ``width``: stroke / bar width range as a fraction of the side; ``blur``: alpha-edge softness range
    (fraction of the side; 0 = a hard antialiased edge); ``opacity``: range of the paint's opacity."""

    probability: float = 0.5
    max_marks: int = 3
    width: tuple[float, float] = (0.02, 0.16)
    blur: tuple[float, float] = (0.0, 0.06)
    opacity: tuple[float, float] = (0.45, 1.0)
    on_parts: float = 0.7  # share of marks placed near a face part (FACE_PARTS)
    palette: float = 0.6  # share of colours from PALETTE
    confusers: float = 0.6  # share of marks drawn from CONFUSERS

def _segment_distance(xx: np.ndarray, yy: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance from each pixel centre to the polyline through ``points`` (K x 2, pixels)."""
    best = np.full(xx.shape, np.inf, np.float32)
    for (ax, ay), (bx, by) in zip(points[:-1], points[1:]):
        dx, dy = bx - ax, by - ay
        length = dx * dx + dy * dy
        t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / length, 0.0, 1.0) if length > 0 else np.zeros_like(xx)
        best = np.minimum(best, np.hypot(xx - (ax + t * dx), yy - (ay + t * dy)))
    return best


def _blur(alpha: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0.3:
        return alpha
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(alpha, sigma, mode="constant")


def mark_alpha(size: int, rng: np.random.Generator, settings: PaintSettings = PaintSettings()) -> np.ndarray:
    """One random mark's coverage (size x size float32 in [0, 1]): a stroke (a polyline), a blob (an
    ellipse) or a bar (a rotated rectangle), with a soft or hard edge."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    if rng.random() < settings.on_parts:
        cx, cy = FACE_PARTS[rng.integers(len(FACE_PARTS))]
        centre = (np.array([cx, cy]) + rng.normal(0, 0.05, 2)) * size
    else:
        centre = rng.uniform(0.05, 0.95, 2) * size
    width = rng.uniform(*settings.width) * size
    kind = rng.choice(3, p=(0.5, 0.25, 0.25))
    if kind == 0:  # a stroke: 2-4 points, a scribble of up to half the side, mostly across the face
        count = int(rng.integers(2, 5))
        steps = rng.normal(0, 0.12, (count - 1, 2)) * size * np.array([1.0, rng.uniform(0.2, 1.0)])
        points = centre + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
        alpha = np.clip(width / 2 + 0.5 - _segment_distance(xx, yy, points), 0.0, 1.0)
    elif kind == 1:  # a blob
        radii = rng.uniform(0.03, 0.18, 2) * size
        angle = rng.uniform(0, np.pi)
        u = (xx - centre[0]) * np.cos(angle) + (yy - centre[1]) * np.sin(angle)
        v = -(xx - centre[0]) * np.sin(angle) + (yy - centre[1]) * np.cos(angle)
        radius = np.sqrt((u / radii[0]) ** 2 + (v / radii[1]) ** 2)
        alpha = np.clip((1.0 - radius) * radii.min() + 0.5, 0.0, 1.0)
    else:  # a bar across part of the face
        length = rng.uniform(0.2, 0.8) * size
        angle = rng.normal(0, 0.25) + (np.pi / 2 if rng.random() < 0.2 else 0.0)
        u = (xx - centre[0]) * np.cos(angle) + (yy - centre[1]) * np.sin(angle)
        v = -(xx - centre[0]) * np.sin(angle) + (yy - centre[1]) * np.cos(angle)
        alpha = np.clip(np.minimum(length / 2 - np.abs(u), width / 2 - np.abs(v)) + 0.5, 0.0, 1.0)
    alpha = _blur(alpha.astype(np.float32), rng.uniform(*settings.blur) * size)
    return (alpha * rng.uniform(*settings.opacity)).astype(np.float32)


def confuser_mark(image: np.ndarray, rng: np.random.Generator, settings: PaintSettings = PaintSettings()) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, colour) of a stroke across a face part in the colour of that part's attribute."""
    size = image.shape[0]
    (cx, cy), colours = CONFUSERS[rng.integers(len(CONFUSERS))]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    centre = (np.array([cx, cy]) + rng.normal(0, 0.025, 2)) * size
    half = rng.uniform(0.06, 0.3) * size
    tilt = rng.normal(0, 0.08) * half
    count = int(rng.integers(2, 4))
    xs = np.linspace(-half, half, count)
    points = np.stack([centre[0] + xs, centre[1] + tilt * xs / max(half, 1e-6) + rng.normal(0, 0.015 * size, count)], axis=1)
    width = rng.uniform(0.04, 0.16) * size
    alpha = np.clip(width / 2 + 0.5 - _segment_distance(xx, yy, points), 0.0, 1.0)
    alpha = _blur(alpha.astype(np.float32), rng.uniform(*settings.blur) * size) * rng.uniform(*settings.opacity)
    choice = colours[rng.integers(len(colours))]
    if choice is None:
        y, x = int(0.6 * size), int(rng.choice([0.3, 0.7]) * size)
        colour = image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3).mean(0)
    else:
        colour = np.array(choice, np.float32)
    return alpha.astype(np.float32), np.clip(colour + rng.normal(0, 10, 3), 0, 255).astype(np.float32)


def mark_colour(image: np.ndarray, rng: np.random.Generator, palette: float = 0.6) -> np.ndarray:
    """A paint colour (3 float32): a palette colour, a random one, or the image's own colour from
    elsewhere (the eyedropper), lightened or darkened."""
    choice = rng.random()
    if choice < palette:
        colour = np.array(PALETTE[rng.integers(len(PALETTE))], np.float32)
    elif choice < palette + (1 - palette) / 2:
        colour = rng.uniform(0, 255, 3).astype(np.float32)
    else:
        y, x = rng.integers(0, image.shape[0]), rng.integers(0, image.shape[1])
        colour = image[y, x].astype(np.float32) * rng.uniform(0.5, 1.5)
    return np.clip(colour + rng.normal(0, 12, 3), 0, 255).astype(np.float32)


def paint_marks(image: np.ndarray, rng: np.random.Generator, settings: PaintSettings = PaintSettings()) -> tuple[np.ndarray, np.ndarray]:
    """(painted uint8 H x W x 3, coverage float32 H x W) of 1 to ``max_marks`` marks on ``image``."""
    size = image.shape[0]
    painted = image.astype(np.float32)
    coverage = np.zeros(image.shape[:2], np.float32)
    for _ in range(int(rng.integers(1, settings.max_marks + 1))):
        if rng.random() < settings.confusers:
            alpha, colour = confuser_mark(image, rng, settings)
        else:
            alpha, colour = mark_alpha(size, rng, settings), mark_colour(image, rng, settings.palette)
        alpha = alpha[..., None]
        painted = painted * (1.0 - alpha) + colour * alpha
        coverage = np.maximum(coverage, alpha[..., 0])
    return np.clip(np.rint(painted), 0, 255).astype(np.uint8), coverage


def paint_batch(images: np.ndarray, rng: np.random.Generator, settings: PaintSettings = PaintSettings()) -> tuple[np.ndarray, np.ndarray]:
    """(images with ``settings.probability`` of them painted, N bool: which were). The inputs are not
    changed; labels stay what they were."""
    out = np.array(images, copy=True)
    painted = rng.random(len(images)) < settings.probability
    for index in np.flatnonzero(painted):
        out[index], coverage = paint_marks(images[index], rng, settings)
        painted[index] = bool(coverage.max() > 0.05)
    return out, painted
