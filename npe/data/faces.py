"""Cropping a face square out of a photo and pasting an edit of it back, with the CelebA framing.

The square, its box <-> crop affine and the border fade live in npe.geometry; finding faces lives
in npe.data.face_finder (``find_face`` here is kept for the editor: the best face's box).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from npe.config import CropConfig
from npe.errors import NoFaceError
from npe.geometry import CONTINUE_REACH, CropBox, apply, border_fade, pillow_coefficients, translation

__all__ = ["CELEBA_ASPECT", "aligned_crop_box", "check_photo", "crop_face", "crop_grid", "find_face", "paste_back", "warp"]

# scikit-image's transform module pulls in scipy (~0.7 s): it is imported where first used, so
# importing this module stays cheap.

CELEBA_ASPECT = 218 / 178  # height / width of the aligned photos that CropConfig fractions refer to


def aligned_crop_box(width: int, height: int, crop: CropConfig = CropConfig()) -> CropBox:
    """The CropConfig square of an already aligned (CelebA-style) photo of this size."""
    return CropBox(crop.center_x * width, crop.center_y * height, crop.size * width)


def find_face(photo: np.ndarray, crop: CropConfig = CropConfig()) -> CropBox:
    """The CelebA-framed, roll-aligned square around the largest face in a uint8 HxWx3 photo.

    The box may extend past the photo's edges (crop_face then repeats edge pixels). A doubtful
    face is still returned here; ``npe.data.face_finder.find_faces`` says which faces are
    doubtful. Raises NoFaceError.
    """
    from npe.data.face_finder import find_faces

    found = find_faces(photo, crop)
    if not found:
        raise NoFaceError()
    return found[0].box


# --- cropping -----------------------------------------------------------------------------------


_PRE_REDUCE_GAP = 3.0  # crop_face box-reduces first when shrinking by at least twice this


def _region(photo: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """photo[y0:y1, x0:x1], with edge replication wherever that rectangle leaves the photo."""
    height, width = photo.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
        return photo[y0:y1, x0:x1]
    rows = np.clip(np.arange(y0, y1), 0, height - 1)
    cols = np.clip(np.arange(x0, x1), 0, width - 1)
    return photo[rows[:, None], cols[None, :]]


def crop_face(photo: np.ndarray, box: CropBox, resolution: int) -> np.ndarray:
    """The box's content as an upright uint8 ``resolution`` x ``resolution`` x 3 crop, antialiased.

    Parts of the box outside the photo repeat the photo's edge pixels. An upright box is resampled
    in one step (Pillow's antialiased bicubic); a rotated one is first reduced (antialiased) to
    about the output size, then rotated with cubic-spline interpolation, so neither step aliases.
    """
    check_photo(photo)
    if resolution < 1:
        raise ValueError(f"resolution must be positive, got {resolution}")
    if not box.size > 0:
        raise ValueError(f"the face box must have a positive size, got {box.size}")
    scale = box.size / resolution  # photo pixels per crop pixel
    # Margin for the resampling filter's support (bicubic: 2 source pixels per output pixel).
    margin = 2 * max(1.0, scale) + 2
    rotated = abs(math.remainder(box.angle, 360.0)) > 1e-3
    corners = box.corners()
    x0 = math.floor(corners[:, 0].min() - margin)
    y0 = math.floor(corners[:, 1].min() - margin)
    x1 = math.ceil(corners[:, 0].max() + margin)
    y1 = math.ceil(corners[:, 1].max() + margin)
    factor = int(scale // _PRE_REDUCE_GAP)
    if factor >= 2:
        # A large shrink: box-average the part of the photo under the box by an integer factor
        # first (cheap, exact), so edge padding and the final resampling work on a small image.
        # Pillow's own reducing_gap does the same inside resize.
        height, width = photo.shape[:2]
        left, top = min(max(x0, 0), width - 1), min(max(y0, 0), height - 1)
        right, bottom = max(min(x1, width), left + 1), max(min(y1, height), top + 1)
        reduced = np.asarray(Image.fromarray(np.ascontiguousarray(photo[top:bottom, left:right])).reduce(factor))
        smaller = CropBox((box.center_x - left) / factor, (box.center_y - top) / factor, box.size / factor, box.angle)
        return crop_face(reduced, smaller, resolution)
    region = Image.fromarray(np.ascontiguousarray(_region(photo, x0, y0, x1, y1)))
    size = (resolution, resolution)
    if not rotated:
        half = box.size / 2
        left, top = box.center_x - half - x0, box.center_y - half - y0
        source = (left, top, left + box.size, top + box.size)
        return np.asarray(region.resize(size, Image.Resampling.BICUBIC, box=source)).copy()

    # Rotated: shrink the region (antialiased) until the box is about `resolution` pixels wide, then
    # rotate with cubic-spline interpolation at roughly 1:1, where interpolation cannot alias.
    shrink = min(1.0, resolution / box.size)
    if shrink < 1.0:
        new_size = (max(1, round(region.width * shrink)), max(1, round(region.height * shrink)))
        factor_x, factor_y = new_size[0] / region.width, new_size[1] / region.height
        region = region.resize(new_size, Image.Resampling.BICUBIC)
    else:
        factor_x = factor_y = 1.0
    # Output pixel -> photo (the box's crop_to_photo) -> region (its origin) -> the shrunk region.
    to_region = np.diag([factor_x, factor_y, 1.0]) @ translation(-x0, -y0) @ box.crop_to_photo(resolution)
    coefficients = pillow_coefficients(to_region)
    pixels = np.asarray(region, dtype=np.float32)
    upright = warp(pixels, coefficients, (resolution, resolution), order=3, edge="edge")
    return np.clip(np.rint(upright), 0, 255).astype(np.uint8)


def warp(
    image: np.ndarray, coefficients: tuple[float, ...], shape: tuple[int, int], *, order: int, edge: str
) -> np.ndarray:
    """Resample ``image`` on an output grid of ``shape`` (rows, cols) through an affine map.

    ``coefficients`` (a, b, c, d, e, f) send output point (x, y) to input (a x + b y + c, d x + e y + f)
    in continuous coordinates (pixel centres at +0.5), Pillow's convention; scikit-image puts
    centres on integers, hence the shift. Cubic splines reproduce smooth gradients exactly, unlike
    Pillow's 8-bit transforms, which truncate (a half-level darkening) and use a non-exact kernel.
    """
    from skimage.transform import AffineTransform, warp

    a, b, c, d, e, f = coefficients
    matrix = np.array(
        [[a, b, c + 0.5 * (a + b) - 0.5], [d, e, f + 0.5 * (d + e) - 0.5], [0.0, 0.0, 1.0]], dtype=np.float64
    )
    return warp(
        image, AffineTransform(matrix=matrix), output_shape=shape, order=order, mode=edge, cval=0.0,
        preserve_range=True,
    ).astype(np.float32, copy=False)


def check_photo(photo: np.ndarray) -> None:
    """Raise ValueError unless ``photo`` is a non-empty uint8 HxWx3 array."""
    if not isinstance(photo, np.ndarray) or photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        shape = getattr(photo, "shape", None)
        raise ValueError(f"expected a uint8 HxWx3 photo, got {getattr(photo, 'dtype', type(photo))} {shape}")
    if photo.shape[0] < 1 or photo.shape[1] < 1:
        raise ValueError(f"the photo is empty: shape {photo.shape}")


# --- pasting back -------------------------------------------------------------------------------


LUMA = (0.299, 0.587, 0.114)  # Rec. 601 luminance weights (what PIL's "L" conversion uses; npe.editing.compose shares them)


def covered_detail(window: np.ndarray, low: np.ndarray, change: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """What a darkening change hides: ``window + change`` with the photo's own fine detail (``window``
    minus ``low``, the photo as the model's crop sees it, upsampled) scaled by how much darker the
    change makes each pixel (luminance (low + change) / low, at most 1) where ``cover`` (H x W in
    [0, 1]) says something lies in front (dark lenses): a lens darker by 80% shows 20% of the eye behind
    it, not the eye's every lash over a dark ring. Float arrays H x W x 3; lightening is left as is."""
    luma = np.asarray(LUMA, np.float32)
    shade = np.minimum(change @ luma, 0.0) / np.maximum(low @ luma, 8.0)
    keep = 1.0 + cover * np.clip(shade, -1.0, 0.0)
    return window + change + (keep[..., None] - 1.0) * (window - low)


# How crisp an outline is drawn (outline_factor's sharpness per photo pixel per crop pixel): the lenses'
# edge, two crop pixels soft, spans about three photo pixels whatever the face's size
# (benchmarks/edit_quality_log.md, session 17).
OUTLINE_SHARPNESS = 0.6


def outline_factor(reach: np.ndarray, held: np.ndarray, sharpness: float) -> np.ndarray:
    """What to scale an upsampled change by so that where its reach is an object's outline (``held`` >
    0: a pair of sunglasses' lenses) that outline is drawn crisp at the photo's resolution: the reach
    (upsampled, in [0, 1]) made ``sharpness`` times steeper about its half level (a linear ramp; 1 or
    less: as upsampled), as a factor of the reach itself; 1 where nothing is held. Float arrays H x W.
    A 64-pixel model's change upsampled five times has edges five photo pixels soft per crop pixel; a
    lens has a hard one (soft, dark lenses read as bruised sockets)."""
    steep = np.clip((reach - 0.5) * max(float(sharpness), 1.0) + 0.5, 0.0, 1.0)
    return (1.0 + held * (steep / np.maximum(reach, 1e-3) - 1.0)).astype(np.float32)


def paste_back(
    photo: np.ndarray,
    box: CropBox,
    change: np.ndarray,
    mask: np.ndarray | None = None,
    feather: float = 0.08,
    cover: tuple[np.ndarray, np.ndarray] | None = None,
    extend: tuple[tuple[int, int, int, int], np.ndarray, np.ndarray] | None = None,
    outline: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """A new photo with an edit of the crop applied at full resolution: clip(round(photo + mask * change)).

    ``change`` is the edited crop minus the original crop (float RxRx3, uint8 units), ``mask`` how
    much of it to apply (float RxR in [0, 1]; None applies all of it). Both are upsampled into the
    box, turned with it (cubic spline for the change, bilinear for the mask). Inside the box the
    whole change is applied; where it reaches the box's border it goes on past it (the border's
    values) and fades to 0 over ``feather`` of the box's side (geometry.border_fade), so an edit
    never ends in a seam and never thins out inside the face. Only the rectangle the change can
    reach is computed; every pixel where the upsampled mask * change is 0, and every pixel beyond
    the fade, is bitwise the input's. The input is not modified.

    ``cover``: (the crop the change was made on, uint8 R x R x 3; where something lies in front of the
    face, float R x R in [0, 1]): there a darkening change also hides the photo's own fine detail
    (covered_detail).

    ``extend``: (a photo rectangle and how much a change at the box's border goes on at each of its
    pixels, compose.continuation_map's; how much of the change at each crop pixel may go on past the
    box, float R x R in [0, 1]): where such a change reaches the box's border it also goes on along
    pixels of the border's own colour (geometry.continuation), up to CONTINUE_REACH of the box's side:
    hair a stroke turned lighter goes on lighter past the box.

    ``outline``: (the reach the change was held to, float R x R in [0, 1]; where that reach is an
    object's outline, float R x R in [0, 1]): there the change's edge is drawn crisp at the photo's
    resolution (outline_factor, OUTLINE_SHARPNESS): a pair of sunglasses ends in a line, not a blur.
    """
    check_photo(photo)
    change = np.nan_to_num(np.asarray(change, dtype=np.float32))  # a NaN must not become a random byte
    if change.ndim != 3 or change.shape[2] != 3 or change.shape[0] != change.shape[1]:
        raise ValueError(f"change must be a square RxRx3 difference image, got shape {change.shape}")
    resolution = change.shape[0]
    if mask is None:
        mask = np.ones((resolution, resolution), dtype=np.float32)
    mask = np.clip(np.nan_to_num(np.asarray(mask, dtype=np.float32)), 0.0, 1.0)
    if mask.shape != (resolution, resolution):
        raise ValueError(f"mask must be {resolution}x{resolution} like the change, got shape {mask.shape}")
    if not 0.0 <= feather <= 0.5:
        raise ValueError(f"feather is a fraction of the box side between 0 and 0.5, got {feather}")
    if not box.size > 0:
        raise ValueError(f"the face box must have a positive size, got {box.size}")

    result = photo.copy()
    height, width = photo.shape[:2]
    reach = feather if extend is None or feather <= 0 else max(feather, CONTINUE_REACH)
    bounds = _support_bounds(box, mask, width, height, reach)
    if bounds is None:
        return result  # the box lies entirely outside the photo, or the mask is 0 everywhere
    x0, y0, x1, y1 = bounds

    # Region pixel -> photo -> crop coordinates (u, v in [0, R]): the inverse of crop_face's map.
    region_to_crop = box.photo_to_crop(resolution) @ translation(x0, y0)
    coefficients = pillow_coefficients(region_to_crop)

    # Weight first (cheap, bilinear), then the change only where some weight is left: brush edits
    # usually touch a small part of the box, and everything else must stay bitwise unchanged anyway.
    crop_u, crop_v = crop_grid(coefficients, (y1 - y0, x1 - x0))
    weight = warp(mask, coefficients, (y1 - y0, x1 - x0), order=1, edge="edge")  # past the border: its values
    fade = border_fade(crop_u, crop_v, resolution, feather)
    if reach > feather and extend is not None:
        (rx0, ry0, _, _), found, gate = extend
        goes_on = found[y0 - ry0 : y1 - ry0, x0 - rx0 : x1 - rx0] * warp(np.array(gate, np.float32), coefficients, (y1 - y0, x1 - x0), order=1, edge="edge")
        fade = np.maximum(fade, goes_on)
    weight *= fade
    rows = np.flatnonzero(weight.any(axis=1))
    cols = np.flatnonzero(weight.any(axis=0))
    if rows.size == 0 or not change.any():
        return result
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    shifted = pillow_coefficients(region_to_crop @ translation(left, top))  # same map, sub-rectangle origin
    shape = (bottom - top, right - left)
    delta = warp(change, shifted, shape, order=3, edge="edge")
    delta *= weight[top:bottom, left:right, None]
    if outline is not None and outline[1].any():
        held_to = warp(np.array(outline[0], np.float32), shifted, shape, order=1, edge="edge")
        held = warp(np.array(outline[1], np.float32), shifted, shape, order=1, edge="edge")
        delta *= outline_factor(held_to, held, OUTLINE_SHARPNESS * box.size / resolution)[..., None]
    window = (slice(y0 + top, y0 + bottom), slice(x0 + left, x0 + right))
    if cover is not None and cover[1].any():
        place = warp(np.array(cover[1], np.float32), shifted, shape, order=1, edge="edge")  # (a copy: warp needs it writable)
        low = warp(np.array(cover[0], np.float32), shifted, shape, order=3, edge="edge")
        edited = covered_detail(photo[window].astype(np.float32), low, delta, place)
    else:
        edited = photo[window].astype(np.float32) + delta
    result[window] = np.clip(np.rint(edited), 0, 255).astype(np.uint8)
    return result


def crop_grid(coefficients: tuple[float, ...], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The crop coordinates (u, v: float32 arrays of ``shape``) of the pixel centres of a photo region
    whose pixel -> crop map has Pillow ``coefficients`` (pillow_coefficients)."""
    us = (np.arange(shape[1], dtype=np.float32) + 0.5)[None, :]
    vs = (np.arange(shape[0], dtype=np.float32) + 0.5)[:, None]
    crop_u = np.float32(coefficients[0]) * us + np.float32(coefficients[1]) * vs + np.float32(coefficients[2])
    crop_v = np.float32(coefficients[3]) * us + np.float32(coefficients[4]) * vs + np.float32(coefficients[5])
    return crop_u, crop_v


def _support_bounds(box: CropBox, mask: np.ndarray, width: int, height: int, feather: float) -> tuple[int, int, int, int] | None:
    """The photo pixels paste_back must look at: the bounding rectangle of the box and its border
    fade, narrowed to where the crop's mask is not 0 (grown by 2 crop pixels for the bilinear
    upsampling, and by the fade where the mask reaches the border). On a large photo a small edit
    then costs a small region, not float copies of the whole box (a 79-megapixel photo edited as a
    whole image needed 5.4 GB)."""
    bounds = box.grown(feather).pixel_bounds(width, height)
    support = np.argwhere(mask > 0)
    if bounds is None or support.size == 0:
        return None
    resolution = mask.shape[0]
    margin = feather * resolution
    (v0, u0), (v1, u1) = support.min(axis=0) - 2, support.max(axis=0) + 3
    u0, v0 = (value - margin if value <= 0 else value for value in (u0, v0))
    u1, v1 = (value + margin if value >= resolution else value for value in (u1, v1))
    corners = apply(box.crop_to_photo(resolution), [(u0, v0), (u1, v0), (u1, v1), (u0, v1)])
    x0 = max(bounds[0], math.floor(corners[:, 0].min()))
    y0 = max(bounds[1], math.floor(corners[:, 1].min()))
    x1 = min(bounds[2], math.ceil(corners[:, 0].max()))
    y1 = min(bounds[3], math.ceil(corners[:, 1].max()))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1
