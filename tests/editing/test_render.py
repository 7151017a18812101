"""The renderer's wiring: what it caches and when it must not, the protect mask reaching the crop
composite and the preview after the document changes, the scale check, and the feathering rule
(none when the box is the whole picture) reaching both the result and the preview."""

from __future__ import annotations

import numpy as np
import pytest

from npe.editing import EditSession
from npe.editing.render import Renderer

BLACK = (0, 0, 0)


def _paint_dark(session: EditSession) -> None:
    session.paint([(85.0, 70.0), (100.0, 70.0), (115.0, 70.0)], color=BLACK, radius=14, steps=3, strength=6.0)


def test_renders_are_cached_until_the_document_changes(session):
    _paint_dark(session)
    result, crop, preview, half = session.result(), session.result_crop(), session.preview(), session.preview(0.5)
    # Asked again without a change: the very same (read-only) arrays, not recomputed copies.
    assert session.result() is result and session.result_crop() is crop
    assert session.preview() is preview and session.preview(0.5) is half and half is not preview
    renderer = session.renderer
    delta, mask = renderer.delta_mask()
    assert renderer.delta_mask()[0] is delta and renderer.delta_mask()[1] is mask
    # A new latent drops every cached image.
    session.set_latent_value(0, 2.5)
    assert session.result() is not result and session.result_crop() is not crop and session.preview() is not preview
    assert renderer.delta_mask()[1] is not mask


def test_a_fresh_renderer_of_the_same_document_renders_the_same(session):
    _paint_dark(session)
    other = Renderer(session.document)
    np.testing.assert_array_equal(other.result(), session.result())
    np.testing.assert_array_equal(other.result_crop(), session.result_crop())
    np.testing.assert_array_equal(other.preview(1.0), session.preview())


@pytest.mark.parametrize("scale", [0.0, -0.5, float("nan")])
def test_a_scale_that_is_not_positive_is_refused(session, scale):
    with pytest.raises(ValueError, match="scale must be positive"):
        session.preview(scale)


def test_the_protect_mask_reaches_the_crop_composite_once_painted(session, photo):
    _paint_dark(session)
    before = np.array(session.result_crop())  # rendered (and its protect coverage looked up) first
    assert session.renderer.protect_crop() is None  # nothing protected yet
    # Protect a 40 x 40 px square of the 80 px box around the stroke: its inner crop pixels are
    # wholly covered (the box maps 80 photo px to R crop px) and must keep the crop exactly.
    x0, y0 = 80, 50
    session.paint_protect([(float(x), float(y)) for x in range(x0, x0 + 41, 4) for y in range(y0, y0 + 41, 4)], radius=4)
    protect = session.protect_mask
    assert protect[y0 : y0 + 40, x0 : x0 + 40].all()
    coverage = session.renderer.protect_crop()
    assert coverage is not None and session.renderer.protect_crop() is coverage  # cached per protect revision
    r = session.resolution
    u0, u1 = int(np.ceil((x0 - 60) * r / 80)) + 1, int((x0 + 40 - 60) * r / 80) - 1
    v0, v1 = int(np.ceil((y0 - 30) * r / 80)) + 1, int((y0 + 40 - 30) * r / 80) - 1
    assert np.all(coverage[v0:v1, u0:u1] == 1.0) and coverage[0, 0] == 0.0
    after = session.result_crop()
    inner = (slice(v0, v1), slice(u0, u1))
    assert np.abs(before[inner].astype(int) - session.crop[inner].astype(int)).max() > 8  # the stroke showed there
    np.testing.assert_array_equal(after[inner], session.crop[inner])
    # Where nothing is protected, the composite is what it was.
    np.testing.assert_array_equal(after[r - 3 :, :], before[r - 3 :, :])


def test_the_preview_follows_a_moved_box_and_keeps_its_protect_mask(session, photo):
    assert session.paint_protect([(96.0, 66.0), (104.0, 74.0)], radius=6)
    protect = np.array(session.protect_mask)
    _paint_dark(session)
    session.preview()  # the compositor is built for the first box
    assert session.set_box((104.0, 72.0, 84.0))
    session.set_latent_value(0, 3.0)
    result, preview = session.result().astype(int), session.preview().astype(int)
    # The preview is made for the new box (as the result is) and the protect mask still holds.
    assert np.array_equal(session.protect_mask, protect)
    np.testing.assert_array_equal(preview[protect], photo[protect])
    changed = np.abs(result - photo.astype(int)).max(axis=2) > 8
    assert changed.sum() > 1000
    assert np.abs(preview - result)[changed].mean() < 3.5
    # Beyond the new box's border fade (its left edge at x = 62, the fade 8% of 84 px: to x = 55.3)
    # the photo is kept; the old box's fade reached x = 53.6.
    np.testing.assert_array_equal(preview[:, :55], photo[:, :55])
    np.testing.assert_array_equal(result[:, :55], photo[:, :55])


def test_a_whole_picture_box_is_not_feathered_in_the_result_or_the_preview(model):
    session = EditSession.random(model, seed=5)
    session.set_latent_value(0, 3.0)  # a slider changes the whole generated face, border included
    original = session.reconstruction.astype(int)
    generated = session.generated.astype(int)
    border = np.zeros(generated.shape[:2], bool)
    border[:2, :] = border[-2:, :] = border[:, :2] = border[:, -2:] = True
    assert np.abs(generated - original)[border].max() > 20  # the change reaches the border
    # No fade at the picture's edge: the result is G(z) there too (a sample's mask is all ones).
    assert np.abs(session.result().astype(int) - generated)[border].max() <= 1
    assert np.abs(session.result_crop().astype(int) - generated).max() <= 1  # X + (G(z) - G(z0)), rounded
    assert np.abs(session.preview().astype(int) - generated)[border].max() <= 2


def test_the_renderers_own_mask_settings_make_the_mask(session):
    from npe.editing.compose import MaskSettings, change_mask

    _paint_dark(session)
    settings = MaskSettings(sigma=2.0, gain=3.0)
    delta, mask = Renderer(session.document, settings).delta_mask()
    reach = session.document.limit.astype(np.float32) / 255.0
    raw = (session.document.generated - session.document.recon).detach()  # the mask reads the change as made
    np.testing.assert_allclose(mask.numpy(), change_mask(raw, settings).numpy() * reach, atol=1e-6)
    assert not np.allclose(mask.numpy(), session.change_mask(), atol=1e-3)  # the default gain is 10


def test_a_reopened_session_keeps_its_protect_mask_in_the_preview(session, photo, model, tmp_path):
    assert session.paint_protect([(92.0, 70.0), (108.0, 70.0)], radius=8)
    _paint_dark(session)
    path = session.save(tmp_path / "protected.npe")
    reopened = EditSession.load(path, model)
    protect = reopened.protect_mask
    assert protect.sum() > 200 and np.array_equal(protect, session.protect_mask)
    preview = reopened.preview()  # the first preview of the reopened document
    np.testing.assert_array_equal(preview[protect], photo[protect])
    assert np.any(preview != photo)
