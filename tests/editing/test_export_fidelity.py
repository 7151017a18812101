"""Faithful exports through the editor and `npe edit`: a full disk never destroys the photo it was told to
replace; a feathered cut-out and a 16-bit PNG keep every untouched pixel bit for bit; an ICC-tagged
JPEG and a phone JPEG keep their profile and EXIF (or lose the EXIF on --strip-metadata); Update
Original and a session file keep all of that."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from npe.editing import EditSession
from tests.data.test_export import SRGB, _phone_jpeg, hand_png16, hand_read_png16
from tests.editing.conftest import run_edit
from tests.full_disk import STAGES, FullDisk

STROKE = [(90.0, 60.0), (110.0, 80.0)]


def _edited(model, path):
    session = EditSession.from_photo(model, path, whole_image_if_no_face=True)
    assert session.paint(STROKE, "#000000", radius=10, steps=2)
    untouched = np.all(session.result() == session.document.photo, axis=2)
    assert untouched.any() and not untouched.all()
    return session, untouched


@pytest.fixture
def feathered(photo):
    """The photo as a cut-out with a soft edge: alpha falls from 255 to 1 over the left 120 columns."""
    alpha = np.full(photo.shape[:2], 255, dtype=np.uint8)
    alpha[:, :120] = np.linspace(1, 255, 120).astype(np.uint8)
    return np.concatenate([photo, alpha[:, :, None]], axis=2)


def test_a_feathered_rgba_edit_keeps_untouched_pixels_bit_identical(model, feathered, tmp_path):
    path = tmp_path / "cutout.png"
    Image.fromarray(feathered).save(path)
    session, untouched = _edited(model, path)
    session.export_png(tmp_path / "out.png")
    written = np.asarray(Image.open(tmp_path / "out.png"))
    np.testing.assert_array_equal(written[untouched], feathered[untouched])  # no white halo
    np.testing.assert_array_equal(written[:, :, 3], feathered[:, :, 3])
    # the edited pixels, shown over white, look as the editor showed them where a colour can
    # (a half-transparent pixel over white cannot be darker than half grey)
    alpha = written[:, :, 3:].astype(np.int64)
    shown = (written[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
    change = session.result().astype(np.int64) - session.document.photo
    ideal = feathered[:, :, :3] + change * 255 / np.maximum(alpha, 1)
    reachable = ~untouched & (alpha[:, :, 0] >= 64) & np.all((ideal >= 0) & (ideal <= 255), axis=2)
    assert reachable.sum() > 0.5 * (~untouched).sum()
    assert np.abs(shown[reachable] - session.result()[reachable]).max() <= 1


def test_a_16_bit_png_edit_keeps_16_bits_and_untouched_pixels_bit_identical(model, photo, tmp_path):
    rng = np.random.default_rng(9)
    deep = photo.astype(np.uint16) * 257 + rng.integers(0, 257, photo.shape).astype(np.uint16)  # real low bytes
    path = tmp_path / "deep.png"
    path.write_bytes(hand_png16(deep))
    session, untouched = _edited(model, path)
    session.export_png(tmp_path / "out.png")
    written, _ = hand_read_png16((tmp_path / "out.png").read_bytes())
    np.testing.assert_array_equal(written[untouched], deep[untouched])
    assert not np.array_equal(written[~untouched], deep[~untouched])


def test_update_original_and_a_session_file_keep_the_stored_pixels(model, feathered, tmp_path):
    path = tmp_path / "cutout.png"
    Image.fromarray(feathered).save(path)
    session, untouched = _edited(model, path)
    assert session.commit()
    reopened = EditSession.load(session.save(tmp_path / "s.npe"), model)
    reopened.export_png(tmp_path / "out.png")
    written = np.asarray(Image.open(tmp_path / "out.png"))
    assert written.shape[2] == 4
    np.testing.assert_array_equal(written[untouched], feathered[untouched])
    reopened.undo()  # back before the commit: the original's samples again
    reopened.export_png(tmp_path / "undone.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "undone.png"))[untouched], feathered[untouched])


# --- through `npe edit` -------------------------------------------------------------------------------


def _edit(capsys, source, out, weights, *extra, stroke="100,75,104,75"):
    return run_edit(capsys, source, "-o", out, "--weights", weights, "--whole-image", "--stroke", stroke, "--radius", 4, *extra)


def test_an_icc_tagged_phone_jpeg_keeps_its_profile_and_exif(weights, tmp_path, capsys):
    path = tmp_path / "phone.jpg"
    _phone_jpeg(path)
    for suffix in (".jpg", ".png"):
        out = tmp_path / f"out{suffix}"
        code, _, stderr = _edit(capsys, path, out, weights, stroke="6,10,7,10")
        assert code == 0, stderr
        with Image.open(out) as image:
            exif = image.getexif()
            assert image.info.get("icc_profile") == SRGB
            assert exif.get(0x010F) == "PhoneMaker" and exif.get(0x0112) == 1 and exif.get_ifd(0x8825).get(1) == "N"


def test_strip_metadata_drops_exif_and_keeps_the_profile(weights, tmp_path, capsys):
    path = tmp_path / "phone.jpg"
    _phone_jpeg(path)
    out = tmp_path / "out.png"
    code, _, stderr = _edit(capsys, path, out, weights, "--strip-metadata", stroke="6,10,7,10")
    assert code == 0, stderr
    with Image.open(out) as image:
        assert len(image.getexif()) == 0 and not image.text and image.info.get("icc_profile") == SRGB


@pytest.mark.parametrize("stage", STAGES)
def test_a_full_disk_keeps_the_jpeg_it_was_told_to_replace(weights, photo_path, tmp_path, capsys, monkeypatch, stage):
    """A full disk while replacing a JPEG: the old JPEG is bit-identical, no temp file, exit 2 with one line."""
    target = tmp_path / "old.jpg"
    Image.open(photo_path).save(target, quality=90)
    before = target.read_bytes()
    FullDisk(monkeypatch, stage, free=len(before) // 2)
    code, stdout, stderr = _edit(capsys, photo_path, target, weights)
    assert code == 2 and "wrote" not in stdout
    assert stderr == f"npe: The disk is full: nothing was saved, '{target}' is unchanged. Free some space or choose another drive.\n"
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_overwriting_the_only_copy_on_a_full_disk_keeps_it(weights, photo, tmp_path, capsys, monkeypatch, suffix):
    target = tmp_path / f"myphoto{suffix}"
    Image.fromarray(photo).save(target)
    before = target.read_bytes()
    FullDisk(monkeypatch, "write", free=len(before) // 2)  # the new file does not fit
    code, _, stderr = _edit(capsys, target, target, weights, "--overwrite")
    assert code == 2 and "The disk is full: nothing was saved" in stderr and stderr.count("\n") == 1
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".npe-")] == []
