"""The method's numerical core against independent oracles: the change mask M (scipy's Gaussian
filter and the paper's gain), the masked composite, commit's re-encoding, and the session file's inflate guard."""

from __future__ import annotations

import math
import zipfile

import numpy as np
import pytest
import torch
from scipy import ndimage

from npe.data.convert import to_model
from npe.data.faces import crop_face
from npe.editing.compose import MaskSettings, change_mask
from npe.editing.errors import SessionError

BLACK = (0, 0, 0)


def reference_mask(delta: np.ndarray, sigma: float, gain: float) -> np.ndarray:
    """M = min(gain · g_sigma(mean_c |Δ|), 1) with scipy's Gaussian (radius ceil(3 sigma), edge
    pixels repeated): the paper's formula, computed without npe."""
    magnitude = np.abs(delta).mean(axis=0)
    radius = max(1, math.ceil(3 * sigma))
    blurred = ndimage.gaussian_filter(magnitude.astype(np.float64), sigma, mode="nearest", radius=radius)
    return np.minimum(gain * blurred, 1.0)


LUMA = np.array([0.299, 0.587, 0.114])


def reference_chroma(delta: np.ndarray, sigma: float) -> np.ndarray:
    """Δ (3 x R x R) with its Rec. 601 luminance kept and the rest (Δ minus that luminance on each channel)
    blurred by scipy's Gaussian (radius ceil(3 sigma), edge pixels repeated)."""
    light = np.tensordot(LUMA, delta.astype(np.float64), axes=1)
    radius = max(1, math.ceil(3 * sigma))
    colour = [ndimage.gaussian_filter(channel - light, sigma, mode="nearest", radius=radius) for channel in delta.astype(np.float64)]
    return light[None] + np.stack(colour)


@pytest.mark.parametrize(("resolution", "sigma"), [(64, 1.0), (32, 1.0), (48, 1.5)])
def test_smooth_chroma_keeps_the_lightness_and_blurs_the_colour(resolution, sigma):
    from npe.editing.compose import luminance, smooth_chroma

    rng = np.random.default_rng(resolution)
    delta = rng.normal(0, 0.1, (3, resolution, resolution)).astype(np.float32)
    delta[:, 8:16, 8:16] += np.array([0.5, -0.2, 0.1], np.float32)[:, None, None]  # a coloured patch
    got = smooth_chroma(torch.from_numpy(delta)[None], sigma)
    np.testing.assert_allclose(got[0].numpy(), reference_chroma(delta, sigma * resolution / 64), atol=1e-5)
    np.testing.assert_allclose(luminance(got).numpy(), luminance(torch.from_numpy(delta)[None]).numpy(), atol=1e-6)
    colour = lambda d: d - np.tensordot(LUMA, d, axes=1)[None]  # noqa: E731
    assert np.abs(colour(got[0].numpy())).std() < 0.9 * np.abs(colour(delta)).std()  # less colour noise
    np.testing.assert_array_equal(smooth_chroma(torch.from_numpy(delta)[None], 0.0)[0].numpy(), delta)


def _decode(model, latent: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.decode(torch.from_numpy(np.array(latent, np.float32))[None])[0].numpy()


@pytest.mark.parametrize(("resolution", "sigma", "gain"), [(64, 1.0, 10.0), (32, 1.0, 3.0), (48, 2.0, 10.0)])
def test_change_mask_matches_a_reference_blur_and_gain(resolution, sigma, gain):
    rng = np.random.default_rng(resolution)
    delta = np.zeros((3, resolution, resolution), np.float32)
    delta[:, 10:20, 12:30] = rng.normal(0, 0.08, (3, 10, 18))  # a local change, blurred into its surround
    delta[:, 4:7, 4:7] = 0.9  # a strong patch: saturates M, and its blur reaches beyond it
    got = change_mask(torch.from_numpy(delta)[None], MaskSettings(sigma=sigma, gain=gain)).numpy()
    np.testing.assert_allclose(got, reference_mask(delta, sigma * resolution / 64, gain), atol=1e-6)
    assert got[5, 5] == 1.0 and 0 < got[5, 8] < 1.0 and got[5, 8] > 10 * got[5, -1]  # saturated, then blurred


def reference_reach(resolution: int, points: list[tuple[float, float]], radius: float, reach: float = 4.0, feather: float = 6.0) -> np.ndarray:
    """1 within radius + reach crop pixels of a brush centre, a smoothstep to 0 over ``feather``."""
    centres = np.arange(resolution) + 0.5
    distance = np.min([np.hypot(centres[None, :] - u, centres[:, None] - v) for u, v in points], axis=0)
    ramp = np.clip(1.0 - (distance - radius - reach) / feather, 0.0, 1.0)
    return ramp * ramp * (3.0 - 2.0 * ramp)


def test_session_mask_and_composite_follow_the_formula(session, model):
    points = [(85.0, 70.0), (100.0, 70.0), (115.0, 70.0)]
    # The pixel objective's reach is the disc alone (the semantic one widens it: test_brush.py).
    session.paint(points, color=BLACK, radius=12, steps=3, strength=6.0, objective="pixel")
    from npe.editing.compose import CHROMA_SIGMA

    raw = _decode(model, session.latent) - _decode(model, session.latent0)  # Δ = G(z) − G(z0), float
    r = session.resolution
    delta = reference_chroma(raw, CHROMA_SIGMA * r / 64)  # carried with its colour blurred, its lightness kept
    # M, limited to the stroke's reach (the box is 80 px around (100, 70): crop = (photo - 60) R / 80).
    crop_points = [(r / 2 + (x - 100.0) * r / 80, r / 2 + (y - 70.0) * r / 80) for x, y in points]
    mask = reference_mask(raw, 1.0 * r / 64, 10.0) * reference_reach(r, crop_points, 12 * r / 80)
    np.testing.assert_allclose(session.change_mask(), mask, atol=1 / 255)  # the limit is kept as uint8
    assert mask.max() > 0.5  # the stroke made a visible change
    # Y = X + M·Δ in uint8 levels (Δ in [-1, 1] units is 127.5 levels per unit).
    expected = np.clip(np.rint(session.crop.astype(np.float64) + mask[..., None] * delta.transpose(1, 2, 0) * 127.5), 0, 255)
    assert np.abs(session.result_crop().astype(np.float64) - expected).max() <= 1.0


def test_commit_re_encodes_the_result(session, model):
    session.paint([(85.0, 70.0), (115.0, 70.0)], color=BLACK, radius=12, steps=3, strength=6.0)
    result = np.array(session.result())
    assert session.commit()
    crop = crop_face(result, session.box, session.resolution)
    with torch.no_grad():
        encoded = model.encode(to_model(crop))[0].numpy()
    np.testing.assert_array_equal(session.photo, result)
    np.testing.assert_array_equal(session.crop, crop)
    np.testing.assert_allclose(session.latent0, encoded, atol=1e-6)
    np.testing.assert_allclose(session.latent, encoded, atol=1e-6)
    np.testing.assert_array_equal(session.result(), result)  # z = z0 again: nothing more changes


# --- the brush (its objective is tested in test_local_brush.py) --------------------------------------


def test_strength_zero_leaves_the_session_latent_at_its_start(session):
    start = session.latent
    assert not session.paint([(85.0, 70.0), (115.0, 70.0)], color=BLACK, radius=12, steps=3, strength=0.0)
    np.testing.assert_array_equal(session.latent, start)
    assert session.history_labels == []


# --- the session file --------------------------------------------------------------------------------


def test_a_member_that_would_inflate_past_the_limit_is_refused(session, tmp_path):
    from npe.editing.sessionzip import MAX_MEMBER_BYTES

    path = session.save(tmp_path / "s.npe")
    data = bytearray(path.read_bytes())
    # Claim, in the central directory, that session.json inflates to one byte more than the limit.
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:
        name_length = int.from_bytes(data[entry + 28 : entry + 30], "little")
        if data[entry + 46 : entry + 46 + name_length] == b"session.json":
            data[entry + 24 : entry + 28] = (MAX_MEMBER_BYTES + 1).to_bytes(4, "little")
        entry = data.find(b"PK\x01\x02", entry + 4)
    bomb = tmp_path / "bomb.npe"
    bomb.write_bytes(bytes(data))
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo("session.json").file_size == MAX_MEMBER_BYTES + 1
    with pytest.raises(SessionError, match="implausibly large"):
        type(session).load(bomb, session.model)
