"""The edit session: brush, masking, protect mask, latent edits, history, files (npe.editing.session)."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from npe.editing import BrushSettings, EditSession, SessionError
from npe.editing.brush import ColorError
from npe.editing.compose import FEATHER
from npe.editing.directions import principal_directions
from npe.errors import NoFaceError
from npe.geometry import CropBox

BLACK = (0, 0, 0)


def kinds(labels):
    """Undo steps by kind: "Paint: Smiling +1.8 σ" (what the stroke did) reads "Paint"."""
    return [label.split(": ")[0] for label in labels]


def _brush_region(session: EditSession, x: float, y: float, radius: float) -> np.ndarray:
    """Crop pixels within the brush (model resolution) as a boolean mask."""
    u, v = session.to_crop_coords(x, y)
    r = radius * session.resolution / session.box.size
    centres = np.arange(session.resolution) + 0.5
    return (centres[None, :] - u) ** 2 + (centres[:, None] - v) ** 2 < (0.6 * r) ** 2


def _paint_dark(session: EditSession, y: float = 70.0) -> None:
    # The step lengths are calibrated on the bundled model; the tiny random one needs longer steps.
    session.paint([(85.0, y), (100.0, y), (115.0, y)], color=BLACK, radius=12, steps=3, strength=6.0)


# --- creation --------------------------------------------------------------------------------


def test_photo_session_holds_original_crop_latents(session, photo, box):
    assert session.photo.shape == photo.shape and np.array_equal(session.photo, photo)
    assert session.box == box
    assert session.crop.shape == (32, 32, 3) and session.crop.dtype == np.uint8
    assert session.latent0.shape == (16,) and np.array_equal(session.latent, session.latent0)
    assert session.reconstruction.shape == (32, 32, 3)
    # Nothing edited yet: the result is the photo itself, bit for bit.
    assert np.array_equal(session.result(), photo)
    assert not session.is_modified and not session.can_undo


def test_photo_session_does_not_keep_a_reference_to_the_callers_array(model, photo, box):
    session = EditSession.from_photo(model, photo, box=box)
    photo[:] = 0
    assert session.photo.any()
    with pytest.raises(ValueError):
        session.result()[0, 0, 0] = 1  # handed-out images are read-only


def test_from_photo_finds_the_face(model, astronaut_path):
    session = EditSession.from_photo(model, astronaut_path)
    width, height = session.photo_size
    assert (width, height) == (512, 512)
    assert 40 < session.box.size < 400
    assert session.name == "astronaut.png"


def test_no_face_raises_unless_whole_image_is_asked_for(model, tmp_path):
    flat = np.full((120, 90, 3), 128, np.uint8)
    with pytest.raises(NoFaceError, match="No face"):
        EditSession.from_photo(model, flat)
    session = EditSession.from_photo(model, flat, whole_image_if_no_face=True)
    assert session.box == CropBox.whole_image(90, 120)


def test_unreadable_photo_gives_a_clear_error(model, tmp_path):
    from npe.data.image_io import ImageLoadError

    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    with pytest.raises(ImageLoadError, match="broken.jpg"):
        EditSession.from_photo(model, broken)
    with pytest.raises(ImageLoadError, match="does not exist"):
        EditSession.from_photo(model, tmp_path / "missing.png")


def test_crop_latent_random_and_gallery_sessions(model):
    crop = np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    from_crop = EditSession.from_crop(model, crop)
    assert from_crop.box == CropBox(24.0, 24.0, 48.0) and not from_crop.is_sample

    a, b = EditSession.random(model, seed=5), EditSession.random(model, seed=5)
    assert a.is_sample and np.array_equal(a.photo, b.photo) and a.photo.shape == (32, 32, 3)
    # A sample's original is its own decoded latent.
    assert np.array_equal(a.latent0, a.latent)
    assert np.array_equal(a.photo, a.generated)

    first = EditSession.from_gallery(model, 3)  # no gallery file: seeded fallback, deterministic
    again = EditSession.from_gallery(model, 3)
    other = EditSession.from_gallery(model, 4)
    assert np.array_equal(first.latent, again.latent) and not np.array_equal(first.latent, other.latent)
    with pytest.raises(SessionError, match="sample -1"):
        EditSession.from_gallery(model, -1)


def test_bad_images_and_latents_are_refused(model):
    with pytest.raises(SessionError, match="uint8"):
        EditSession.from_crop(model, np.zeros((32, 32, 3), np.float32))
    with pytest.raises(SessionError, match="16 values"):
        EditSession.from_latent(model, np.zeros(5))
    with pytest.raises(SessionError, match="finite"):
        EditSession.from_latent(model, np.full(16, np.nan))


# --- the brush -------------------------------------------------------------------------------


def test_stroke_moves_the_image_toward_the_colour_and_leaves_the_outside_untouched(session, photo, box):
    region = _brush_region(session, 100, 70, 12)
    before = session.generated[region].astype(float).mean()
    _paint_dark(session)
    after = session.generated[region].astype(float).mean()
    assert after < before - 10  # toward black under the brush

    result = session.result()
    assert result.shape == photo.shape
    changed = np.any(result != photo, axis=2)
    assert changed.any()
    # Everything beyond the face box and its border fade (8% of its side) keeps every original pixel.
    x0, y0, x1, y1 = box.grown(FEATHER).pixel_bounds(photo.shape[1], photo.shape[0])
    outside = np.ones(photo.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert not changed[outside].any()
    # And the change is darker where it was painted.
    painted = result[62:78, 88:112].astype(float).mean()
    assert painted < photo[62:78, 88:112].astype(float).mean()
    assert kinds(session.history_labels) == ["Paint"] and session.is_modified


def test_brush_is_soft_and_round(session):
    from npe.editing.brush.footprint import brush_weights

    weights = brush_weights(32, 16.5, 16.5, 6.0).numpy()
    assert weights.max() == pytest.approx(1.0, abs=0.02)
    assert weights[16, 16] > weights[16, 19] > weights[16, 21] > 0  # falls off smoothly
    assert weights[16, 22] == 0 and weights[22, 22] == 0  # zero beyond the radius: a disc, not a square
    assert weights[16, 21] == pytest.approx(weights[21, 16])


def test_stroke_outside_the_image_or_without_begin_is_an_error(session):
    with pytest.raises(SessionError, match="outside the image"):
        session.paint([(10, 10), (500, 10)], color="white", radius=5)
    assert not session.can_undo and not session.stroke_active  # nothing was painted
    with pytest.raises(SessionError, match="begin_stroke"):
        session.stroke_to(10, 10)


def test_a_brush_outside_the_face_box_changes_nothing(session, photo):
    assert session.paint([(5.0, 5.0), (20.0, 5.0)], color="black", radius=4) is False
    assert np.array_equal(session.result(), photo) and not session.can_undo


@pytest.mark.parametrize("text", ["#12345", "blurple", "300,0,0", "#ggg000", ""])
def test_bad_colour_strings_are_refused(session, text):
    with pytest.raises(ColorError, match="colour"):
        session.begin_stroke(color=text, radius=5)


def test_colour_strings():
    from npe.editing.brush import parse_color

    assert parse_color("#ff8800") == (255, 136, 0)
    assert parse_color("F80") == (255, 136, 0)
    assert parse_color(" 10, 20,30 ") == (10, 20, 30)
    assert parse_color("White") == (255, 255, 255)


def test_bad_brush_settings_are_refused():
    with pytest.raises(SessionError, match="radius"):
        BrushSettings(radius=0)
    with pytest.raises(SessionError, match="strength"):
        BrushSettings(strength=-1)
    with pytest.raises(SessionError, match="Steps"):
        BrushSettings(steps=0)


def test_zero_strength_paints_nothing(session):
    assert session.paint([(90, 70), (110, 70)], color="black", radius=10, strength=0.0) is False


def test_lighten_and_darken(session):
    region = _brush_region(session, 100, 70, 15)
    before = session.generated[region].astype(float).mean()
    assert session.lighten(100, 70, -0.2, 15, steps=4)
    darker = session.generated[region].astype(float).mean()
    assert darker < before
    assert kinds(session.history_labels) == ["Darken"]
    with session.grouped("Lighten"):  # a scroll gesture: several notches, one undo step
        for _ in range(3):
            session.lighten(100, 70, 0.2, 15)
    assert session.generated[region].astype(float).mean() > darker
    assert kinds(session.history_labels) == ["Darken", "Lighten"]


def test_cancel_stroke_restores_the_latent(session, photo):
    session.begin_stroke(color="black", radius=12, steps=3)
    session.stroke_to(100, 70)
    session.stroke_to(105, 70)
    assert session.stroke_active
    session.cancel_stroke()
    assert np.array_equal(session.latent, session.latent0)
    assert np.array_equal(session.result(), photo) and not session.can_undo


def test_preview_matches_the_result_closely_and_keeps_the_outside(session, photo):
    _paint_dark(session)
    result = session.result().astype(int)
    preview = session.preview().astype(int)
    assert preview.shape == result.shape
    # Bicubic (preview) and cubic-spline (result) upsampling differ a little at sharp changes.
    assert np.abs(preview - result).max() <= 32
    assert np.abs(preview - result).mean() < 1.0
    outside = np.ones(photo.shape[:2], bool)
    outside[23:117, 53:147] = False  # the box (30-110, 60-140) and its border fade (6.4 px)
    assert np.array_equal(preview[outside], photo[outside])
    # Where the edit shows, the preview follows the result closely (measured: 2.3 levels on average).
    changed = np.abs(result - photo.astype(int)).max(axis=2) > 8
    assert changed.sum() > 1000
    assert np.abs(preview - result)[changed].mean() < 3.5
    half = session.preview(0.5)
    assert half.shape == (75, 100, 3)
    # At half scale it shows the edit too: far nearer the scaled result than the scaled photo.
    scaled_result = np.asarray(Image.fromarray(session.result()).resize((100, 75), Image.BILINEAR)).astype(int)
    scaled_photo = np.asarray(Image.fromarray(photo).resize((100, 75), Image.BILINEAR)).astype(int)
    edited = np.abs(scaled_result - scaled_photo).max(axis=2) > 8
    to_result, to_photo = np.abs(half - scaled_result)[edited].mean(), np.abs(half - scaled_photo)[edited].mean()
    assert edited.sum() > 300 and to_result < 0.5 * to_photo


# --- masking and the protect mask ------------------------------------------------------------


def test_change_mask_is_in_unit_range_and_high_where_painted(session):
    assert session.change_mask().max() == 0.0  # no change, no mask
    _paint_dark(session)
    mask = session.change_mask()
    assert mask.shape == (32, 32) and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert mask[_brush_region(session, 100, 70, 12)].mean() > mask.mean()


def test_protected_pixels_never_change(session, photo):
    assert session.paint_protect([(92.0, 70.0), (108.0, 70.0)], radius=8)
    protect = session.protect_mask
    assert protect.shape == photo.shape[:2] and protect.dtype == bool and protect.sum() > 200
    _paint_dark(session)
    session.lighten(100, 70, 0.3, 20)
    session.set_latent_value(0, 3.0)
    for image in (session.result(), session.preview()):
        assert np.array_equal(image[protect], photo[protect])
        assert np.any(image != photo)  # something else did change
    assert session.result_crop().shape == (32, 32, 3)
    assert kinds(session.history_labels) == ["Protect", "Paint", "Lighten", "Latent 0"]
    # Erasing part of it lets those pixels change again, as one more undo step.
    assert session.paint_protect([(108.0, 70.0)], radius=8, erase=True)
    assert session.protect_mask.sum() < protect.sum()
    session.undo()
    assert np.array_equal(session.protect_mask, protect)


def test_protect_points_outside_the_image_are_refused(session):
    with pytest.raises(SessionError, match="outside the image"):
        session.paint_protect([(-5.0, 10.0)], radius=4)
    with pytest.raises(SessionError, match="radius"):
        session.paint_protect([(5.0, 10.0)], radius=0)


# --- latent edits ----------------------------------------------------------------------------


def test_latent_value_edit_changes_the_image_and_undo_restores_it(session, photo):
    session.set_latent_value(5, 4.0)
    assert session.latent[5] == 4.0
    assert np.any(session.result() != photo)
    assert kinds(session.history_labels) == ["Latent 5"]
    session.undo()
    assert np.array_equal(session.result(), photo) and np.array_equal(session.latent, session.latent0)
    with pytest.raises(SessionError, match="Latent 16 does not exist"):
        session.set_latent_value(16, 1.0)


def test_direction_edit_changes_the_image_and_undo_restores_it(session, photo):
    rng = np.random.default_rng(0)
    session.directions = principal_directions(rng.normal(size=(200, 16)) * np.linspace(3, 0.5, 16), count=4)
    values = session.direction_values()
    assert values.shape == (4,)
    session.set_direction(0, values[0] + 2.5)
    moved = session.direction_values()
    assert moved[0] == pytest.approx(values[0] + 2.5, abs=1e-4)
    assert moved[1:] == pytest.approx(values[1:], abs=1e-4)  # other sliders unchanged
    assert np.any(session.result() != photo)
    session.undo()
    assert np.array_equal(session.result(), photo)
    with pytest.raises(SessionError, match="Direction 9"):
        session.set_direction(9, 1.0)


def test_direction_edit_without_directions_explains_how_to_make_them(session):
    session.directions = None
    with pytest.raises(SessionError, match="npe directions --weights W"):
        session.set_direction(0, 1.0)


def test_slider_drag_in_a_group_is_one_small_step(session):
    with session.grouped("Direction 0"):
        for value in np.linspace(0, 2, 50):
            session.set_latent_value(0, float(value))
    assert kinds(session.history_labels) == ["Direction 0"]
    # Two latents, and the reach limit from before the drag (uint8 R x R; after it: everywhere, None).
    assert session.history_nbytes <= 2 * 16 * 4 + session.resolution**2


def test_reset_and_commit(session, photo):
    _paint_dark(session)
    edited = session.result().copy()
    assert session.reset()
    assert np.array_equal(session.result(), photo)
    session.undo()  # undo the reset
    assert np.array_equal(session.result(), edited)

    assert session.commit()
    assert np.array_equal(session.photo, edited)  # the result became the original
    assert np.array_equal(session.result(), edited)
    assert np.array_equal(session.latent, session.latent0)  # re-encoded
    assert kinds(session.history_labels) == ["Paint", "Commit"]  # the undone reset was dropped
    assert session.commit() is False  # nothing left to commit
    session.undo()
    assert np.array_equal(session.photo, photo) and np.array_equal(session.result(), edited)


def test_new_sample_is_one_undo_step(session, photo):
    session.new_sample(seed=7)
    assert session.is_sample and session.photo.shape == (32, 32, 3)
    session.undo()
    assert not session.is_sample and np.array_equal(session.result(), photo)
    session.redo()
    assert np.array_equal(session.photo, EditSession.random(session.model, seed=7).photo)


# --- history ---------------------------------------------------------------------------------


def test_undo_redo_is_bit_identical(session, photo):
    images = [session.result().copy()]
    _paint_dark(session)
    images.append(session.result().copy())
    session.paint_protect([(100.0, 60.0)], radius=6)
    images.append(session.result().copy())
    session.set_latent_value(2, -2.0)
    images.append(session.result().copy())
    session.commit()
    images.append(session.result().copy())
    session.paint([(90.0, 80.0), (110.0, 80.0)], color="#ffffff", radius=10, steps=2)
    images.append(session.result().copy())
    session.new_sample(seed=1)
    images.append(session.result().copy())
    steps = len(images) - 1
    assert session.history_index == steps

    for index in range(steps, 0, -1):
        assert session.undo()
        assert np.array_equal(session.result(), images[index - 1]), f"undo to {index - 1}"
    assert not session.undo()
    for index in range(1, steps + 1):
        assert session.redo()
        assert np.array_equal(session.result(), images[index]), f"redo to {index}"
    assert not session.redo()
    session.jump_to(2)
    assert np.array_equal(session.result(), images[2])
    session.jump_to(steps)
    assert np.array_equal(session.result(), images[steps])


def test_a_new_edit_after_undo_drops_the_redo_steps(session):
    _paint_dark(session)
    session.set_latent_value(1, 1.0)
    session.undo()
    assert session.can_redo
    session.set_latent_value(2, 1.0)
    assert not session.can_redo and kinds(session.history_labels) == ["Paint", "Latent 2"]


def test_history_is_bounded_and_small(model, photo, box):
    from npe.editing.history import History

    session = EditSession(model, EditSession.from_photo(model, photo, box=box).snapshot(), history=History(limit=20))
    for index in range(30):
        session.set_latent_value(index % 16, float(index % 5))
    assert len(session.history) == 20 and session.history_index == 20
    assert session.history_nbytes <= 20 * 2 * 16 * 4  # two latents per step, no images
    session.paint([(95.0, 70.0), (105.0, 70.0)], color="black", radius=10)
    session.paint_protect([(100.0, 70.0)], radius=5)
    # A stroke costs two latents; a protect stroke its packed-bit rectangle.
    assert session.history_nbytes < 20 * 2 * 16 * 4 + 200


def test_clean_marker(session, tmp_path):
    assert not session.is_modified
    _paint_dark(session)
    assert session.is_modified
    session.export_png(tmp_path / "out.png")
    assert not session.is_modified
    session.undo()
    assert session.is_modified
    session.redo()
    assert not session.is_modified


def test_events_tell_the_view_what_changed(session):
    seen: list[str] = []
    session.events.connect(seen.append)
    only_history: list[str] = []
    session.events.connect(only_history.append, names=["history"])
    _paint_dark(session)
    assert {"latent", "image"} <= set(seen) and seen[-1] == "history"
    seen.clear()
    session.paint_protect([(100.0, 70.0)], radius=5)
    assert seen == ["protect", "image", "history"]
    seen.clear()
    session.undo()
    assert seen[-1] == "history" and "protect" in seen
    assert set(only_history) == {"history"}
    session.events.disconnect(seen.append)
    seen.clear()
    session.set_latent_value(0, 1.0)
    assert seen == []  # a bound method disconnects although each access makes a new object
    with pytest.raises(ValueError, match="unknown event"):
        session.events.connect(print, names=["bogus"])


# --- files -----------------------------------------------------------------------------------


def test_export_png_writes_the_result_with_metadata(session, tmp_path):
    _paint_dark(session)
    path = session.export_png(tmp_path / "edited.png")
    with Image.open(path) as image:
        assert np.array_equal(np.asarray(image), session.result())
        text = dict(image.text)
    assert text["Software"].startswith("npe ")
    assert text["Source"] == "test photo"
    assert text["npe-steps"] == "1" and kinds(text["npe-edits"].split("; ")) == ["Paint"]
    assert "change_norm" in text["npe-latent"]
    crop_path = session.export_png(tmp_path / "crop.png", crop_only=True)
    with Image.open(crop_path) as image:
        assert image.size == (32, 32)
        assert np.array_equal(np.asarray(image), session.result_crop())


def test_export_is_atomic(session, tmp_path, monkeypatch):
    from npe.data.image_io import ImageSaveError

    target = tmp_path / "edited.png"
    target.write_bytes(b"the old file")
    _paint_dark(session)

    def failing_save(self, stream, *args, **kwargs):
        stream.write(b"half a png")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", failing_save)
    with pytest.raises(ImageSaveError, match="disk is full"):
        session.export_png(target)
    assert target.read_bytes() == b"the old file"
    assert sorted(os.listdir(tmp_path)) == ["edited.png"]  # no temp files left behind
    assert session.is_modified


def test_session_file_round_trip_is_bit_identical(session, model, tmp_path):
    _paint_dark(session)
    session.paint_protect([(100.0, 60.0)], radius=6)
    session.set_latent_value(3, 1.5)
    session.commit()
    session.paint([(90.0, 80.0), (110.0, 80.0)], color="#ffffff", radius=10)
    session.undo()  # an undone step is saved too, and can be redone after loading
    path = session.save(tmp_path / "edit.npe")
    assert not session.is_modified

    loaded = EditSession.load(path, model)
    assert np.array_equal(loaded.result(), session.result())
    assert np.array_equal(loaded.photo, session.photo)
    assert np.array_equal(loaded.protect_mask, session.protect_mask)
    assert loaded.history_labels == session.history_labels and loaded.history_index == session.history_index
    assert loaded.box == session.box and loaded.name == session.name and not loaded.is_modified
    loaded.redo()
    session.redo()
    assert np.array_equal(loaded.result(), session.result())
    loaded.jump_to(0)
    session.jump_to(0)
    assert np.array_equal(loaded.result(), session.result())
    assert np.array_equal(loaded.photo, session.photo)


def test_sample_session_round_trip(model, tmp_path):
    session = EditSession.random(model, seed=2)
    session.paint([(5.0, 5.0), (20.0, 20.0)], color="black", radius=4)
    session.new_sample(seed=3)
    loaded = EditSession.load(session.save(tmp_path / "sample.npe"), model)
    assert np.array_equal(loaded.result(), session.result()) and loaded.is_sample
    loaded.undo()
    session.undo()
    assert np.array_equal(loaded.result(), session.result())


def test_corrupt_session_files_give_clear_errors(session, model, tmp_path):
    good = session.save(tmp_path / "good.npe")
    data = good.read_bytes()

    truncated = tmp_path / "truncated.npe"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(SessionError, match="truncated.npe"):
        EditSession.load(truncated, model)

    garbage = tmp_path / "garbage.npe"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(SessionError, match="not a zip"):
        EditSession.load(garbage, model)

    other_zip = tmp_path / "other.npe"
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(SessionError, match="missing"):
        EditSession.load(other_zip, model)

    with pytest.raises(SessionError, match="does not exist"):
        EditSession.load(tmp_path / "nope.npe", model)

    # A manifest that was tampered with: a history step whose latents have the wrong size.
    tampered = tmp_path / "tampered.npe"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(tampered, "w") as archive:
        for item in source.infolist():
            payload = source.read(item.filename)
            if item.filename == "session.json":
                payload = payload.replace(b'"latent0": "a', b'"latent0": "zz')
            archive.writestr(item, payload)
    with pytest.raises(SessionError, match="tampered.npe"):
        EditSession.load(tampered, model)


def test_session_for_another_model_is_refused(session, tmp_path):
    import torch

    from npe.config import ModelConfig
    from npe.model import IAN

    path = session.save(tmp_path / "edit.npe")
    torch.manual_seed(0)
    other = IAN(ModelConfig(resolution=32, latent_dim=8, width=4, generator_width=4, max_channels=16, encoder_hidden=16))
    with pytest.raises(SessionError, match="8 latents"):
        EditSession.load(path, other)


def test_session_save_failure_leaves_the_old_file(session, tmp_path, monkeypatch):
    target = tmp_path / "edit.npe"
    target.write_bytes(b"old session")

    def failing_replace(src, dst):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(SessionError, match="Could not save"):
        session.save(target)
    assert target.read_bytes() == b"old session"
    assert sorted(os.listdir(tmp_path)) == ["edit.npe"]


def test_brush_arguments_positional_or_settings(session):
    session.begin_stroke("#000", 12, 1.0)
    session.stroke_to(100, 70)
    session.end_stroke()
    session.begin_stroke(BrushSettings(color=(0, 0, 0), radius=12), steps=2, label="Dark")
    session.stroke_to(100, 75)
    session.end_stroke()
    assert kinds(session.history_labels) == ["Paint", "Dark"]
    with pytest.raises(TypeError, match="unknown brush setting"):
        session.begin_stroke("#000", 5, colour="red")


def test_open_group_across_calls(session):
    session.begin_group("Direction 1")
    session.set_latent_value(1, 1.0)
    with pytest.raises(RuntimeError):
        session.undo()
    session.set_latent_value(1, 2.0)
    session.end_group()
    assert kinds(session.history_labels) == ["Direction 1"]
    session.undo()
    assert np.array_equal(session.latent, session.latent0)
    with pytest.raises(RuntimeError):
        session.end_group()


def test_a_failing_listener_does_not_break_the_edit(session, caplog):
    def broken(name):
        raise RuntimeError("view bug")

    session.events.connect(broken)
    seen: list[str] = []
    session.events.connect(seen.append)
    session.set_latent_value(0, 1.0)
    assert kinds(session.history_labels) == ["Latent 0"] and "history" in seen
    assert "view bug" in caplog.text


def test_painting_works_inside_no_grad(session):
    import torch

    with torch.no_grad():
        _paint_dark(session)
        assert session.lighten(100, 70, 0.2, 12)
    assert kinds(session.history_labels) == ["Paint", "Lighten"]


def test_replace_source_keeps_the_old_document_undoable(session, model, photo):
    _paint_dark(session)
    edited = session.result().copy()
    other = EditSession.from_gallery(model, 5)
    session.replace_source(other, "Open sample 5")
    assert session.is_sample and np.array_equal(session.result(), other.result())
    assert kinds(session.history_labels) == ["Paint", "Open sample 5"]
    session.undo()
    assert np.array_equal(session.result(), edited) and np.array_equal(session.photo, photo)


def test_history_limit_forgets_the_clean_state(model, photo, box):
    from npe.editing.history import History

    session = EditSession(model, EditSession.from_photo(model, photo, box=box).snapshot(), history=History(limit=3))
    session.set_latent_value(0, 1.0)
    session.mark_clean()
    for value in (2.0, 3.0, 4.0):
        session.set_latent_value(0, value)
    assert len(session.history) == 3 and session.is_modified
    session.jump_to(0)  # the oldest reachable state is the saved one
    assert not session.is_modified and session.latent[0] == 1.0
    session.jump_to(3)
    session.set_latent_value(0, 5.0)
    session.jump_to(0)  # now the saved state fell off the stack: every reachable state is modified
    assert session.is_modified and session.latent[0] == 2.0


def test_the_last_strokes_alternatives_can_replace_it_as_one_undo_step(session, monkeypatch):
    """The session keeps what the stroke offered (Stroke.alternatives: the objective's own answers are
    pinned in test_semantic_brush.py) while that stroke is the last thing done."""
    from npe.editing.brush.stroke import Stroke

    other = (session.latent + 0.5).astype(np.float32)
    # As the stroke gives them: its own answer (the latent it ends on) first, then the others.
    monkeypatch.setattr(Stroke, "alternatives", lambda self, count=3: [("Eyeglasses +2 σ", self.document.latent.copy()), ("Smiling +1.5 σ", other)])
    _paint_dark(session)
    painted = session.latent
    assert [label for label, _ in session.stroke_alternatives] == ["Eyeglasses +2 σ", "Smiling +1.5 σ"]
    own, preview = session.alternative_previews()
    assert preview.shape == (session.resolution, session.resolution, 3)
    np.testing.assert_array_equal(own, session.result_crop())
    np.testing.assert_array_equal(session.latent, painted)  # previews leave the document alone
    assert session.current_alternative == 0
    assert not session.use_alternative(0)  # the one shown: no step
    assert session.use_alternative(1) and session.current_alternative == 1
    np.testing.assert_array_equal(session.latent, other)
    assert kinds(session.history_labels) == ["Paint", "Paint as Smiling +1.5 σ"]  # one step
    np.testing.assert_array_equal(session.result_crop(), preview)  # the preview was that result, reach kept
    assert len(session.stroke_alternatives) == 2  # all still on offer once one is chosen
    session.undo()
    np.testing.assert_array_equal(session.latent, painted)
    assert session.current_alternative == 0  # undone to the stroke's own: on offer again
    session.redo()
    assert session.current_alternative == 1
    session.set_latent_value(0, float(session.latent[0]) + 1.0)
    assert session.stroke_alternatives == []  # another edit since: they no longer belong to it
    with pytest.raises(SessionError, match="no alternative 0"):
        session.use_alternative(0)
    session.undo()
    session.undo()
    session.undo()
    assert session.stroke_alternatives == []  # before the stroke
    monkeypatch.setattr(Stroke, "alternatives", lambda self, count=3: [])
    _paint_dark(session)
    assert session.stroke_alternatives == [] and session.alternative_previews() == []


def test_a_stroke_that_never_touches_the_face_box_says_why_nothing_changed(session):
    start = session.latent
    assert not session.paint([(10.0, 130.0), (30.0, 135.0)], color=BLACK, radius=6)  # the box spans x 60-140, y 30-110
    np.testing.assert_array_equal(session.latent, start)
    assert session.stroke_hint is not None and "face box" in session.stroke_hint
    _paint_dark(session)
    assert session.stroke_hint is None
