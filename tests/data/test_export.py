"""Exports that keep what the photo's file had: untouched pixels bit for bit (soft alpha,
grey, 16 bits), the colour profile and EXIF; a full disk at any stage of the write leaves the old
file as it was. The PNG oracles here are written by hand, not by the code under test."""

from __future__ import annotations

import errno
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from npe.data.export import encode_png16, save_image
from npe.data.image_io import ImageSaveError, load_image
from npe.data.original import StoredPhoto, editor_view, merged_samples, read_stored
from tests.full_disk import STAGES, FullDisk

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _chunk(name: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + name + data + struct.pack(">I", zlib.crc32(name + data))


def hand_png16(pixels: np.ndarray) -> bytes:
    """A 16-bit PNG written the plainest way (filter 0 on every row): an oracle for the reader."""
    height, width, channels = pixels.shape
    rows = pixels.astype(">u2").reshape(height, -1)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 16, {1: 0, 2: 4, 3: 2, 4: 6}[channels], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")


def hand_read_png16(data: bytes) -> tuple[np.ndarray, dict[bytes, bytes]]:
    """Decode a 16-bit PNG whose rows use filters None or Sub (what npe writes): an oracle for the writer."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, idat, at = {}, b"", 8
    while at < len(data):
        (length,), name = struct.unpack(">I", data[at : at + 4]), data[at + 4 : at + 8]
        body = data[at + 8 : at + 8 + length]
        assert struct.unpack(">I", data[at + 8 + length : at + 12 + length])[0] == zlib.crc32(name + body)
        idat += body if name == b"IDAT" else b""
        chunks.setdefault(name, body)
        at += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 16
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[colour_type]
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, 1 + width * channels * 2)
    out = rows[:, 1:].copy()
    for y in range(height):
        assert rows[y, 0] in (0, 1)
        if rows[y, 0] == 1:  # Sub: add the byte one pixel to the left, running along the row
            step = channels * 2
            line = out[y].astype(np.int64).reshape(width, step)
            out[y] = (np.cumsum(line, axis=0) % 256).astype(np.uint8).reshape(-1)
    return out.view(">u2").reshape(height, width, channels).astype(np.uint16), chunks


@pytest.fixture
def noise16():
    return np.random.default_rng(1).integers(0, 65536, (9, 11, 3)).astype(np.uint16)


# --- 16 bits ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_the_16_bit_png_writer_round_trips_every_layout(channels):
    pixels = np.random.default_rng(channels).integers(0, 65536, (7, 13, channels)).astype(np.uint16)
    decoded, chunks = hand_read_png16(encode_png16(pixels, icc=SRGB, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x00", text={"Source": "café"}))
    np.testing.assert_array_equal(decoded, pixels)
    assert zlib.decompress(chunks[b"iCCP"].split(b"\x00\x00", 1)[1]) == SRGB
    assert chunks[b"eXIf"].startswith(b"MM")
    with Image.open(io.BytesIO(encode_png16(pixels, text={"Source": "café"}))) as image:  # and Pillow reads it
        image.load()
        assert image.text["Source"] == "café"


@pytest.mark.parametrize("channels", [3, 4])
def test_a_16_bit_colour_png_is_read_with_all_its_bits(tmp_path, channels):
    pixels = np.random.default_rng(7).integers(0, 65536, (6, 10, channels)).astype(np.uint16)
    path = tmp_path / "deep.png"
    path.write_bytes(hand_png16(pixels))
    photo = load_image(path)
    stored = read_stored(path, photo, max_pixels=10**6)
    np.testing.assert_array_equal(stored.samples, pixels)
    np.testing.assert_array_equal(editor_view(stored.samples), photo)


def test_a_16_bit_png_exports_at_16_bits_with_untouched_pixels_bit_exact(tmp_path, noise16):
    path = tmp_path / "deep.png"
    path.write_bytes(hand_png16(noise16))
    photo = load_image(path)
    stored = read_stored(path, photo, max_pixels=10**6)
    result = photo.copy()
    result[2:4, 3:6] = np.clip(result[2:4, 3:6].astype(int) + 40, 0, 255)  # an edit, as the editor shows it
    notes = save_image(tmp_path / "out.png", result, photo=photo, stored=stored)
    written, _ = hand_read_png16((tmp_path / "out.png").read_bytes())
    changed = np.any(result != photo, axis=2)
    np.testing.assert_array_equal(written[~changed], noise16[~changed])
    expected = np.clip(noise16[changed].astype(np.int64) + (result[changed].astype(np.int64) - photo[changed]) * 257, 0, 65535)
    np.testing.assert_array_equal(written[changed], expected)
    assert notes == []


def test_a_16_bit_photo_in_a_jpeg_is_said_to_be_8_bits(tmp_path, noise16):
    path = tmp_path / "deep.png"
    path.write_bytes(hand_png16(noise16))
    photo = load_image(path)
    notes = save_image(tmp_path / "out.jpg", photo, photo=photo, stored=read_stored(path, photo, max_pixels=10**6))
    assert notes and "8 bits" in notes[0] and ".png" in notes[0]


def test_16_bit_grey_keeps_its_bits_in_png_and_tiff(tmp_path):
    grey = np.random.default_rng(2).integers(0, 65536, (8, 12)).astype(np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(grey).save(path)  # Pillow writes (and reads) single-channel 16-bit itself
    photo = load_image(path)
    stored = read_stored(path, photo, max_pixels=10**6)
    for suffix in (".png", ".tif"):
        save_image(tmp_path / f"out{suffix}", photo, photo=photo, stored=stored)
        with Image.open(tmp_path / f"out{suffix}") as image:
            np.testing.assert_array_equal(np.asarray(image).astype(np.uint16), grey)


# --- soft alpha, grey, palette --------------------------------------------------------------------


def test_merging_an_edit_by_hand_computed_cases():
    samples = np.array([[[100, 50, 200, 255], [100, 50, 200, 128], [100, 50, 200, 0], [10, 20, 30, 77]]], dtype=np.uint8)
    photo = editor_view(samples)
    result = photo.copy()
    result[0, :3] = photo[0, :3].astype(int) + [10, -5, 0]
    merged = merged_samples(samples, photo, result)
    np.testing.assert_array_equal(merged[0, 0], [110, 45, 200, 255])  # opaque: the change itself
    np.testing.assert_array_equal(merged[0, 1], [100 + round(10 * 255 / 128), 50 - round(5 * 255 / 128), 200, 128])  # seen over white as shown
    np.testing.assert_array_equal(merged[0, 2], [100, 50, 200, 0])  # invisible: its colour stays
    np.testing.assert_array_equal(merged[0, 3], samples[0, 3])  # untouched: bit for bit


def test_a_soft_edged_cutout_keeps_the_colour_of_its_semi_transparent_pixels(tmp_path):
    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, (20, 30, 4)).astype(np.uint8)
    rgba[:, :10, 3] = np.linspace(1, 254, 10).astype(np.uint8)  # a feathered edge
    path = tmp_path / "cutout.png"
    Image.fromarray(rgba).save(path)
    photo = load_image(path)
    result = photo.copy()
    result[5:10, 15:25] = 0  # the edit, far from the edge
    save_image(tmp_path / "out.png", result, alpha=rgba[:, :, 3], photo=photo, stored=read_stored(path, photo, max_pixels=10**6))
    written = np.asarray(Image.open(tmp_path / "out.png"))
    untouched = np.all(result == photo, axis=2)
    np.testing.assert_array_equal(written[untouched], rgba[untouched])
    np.testing.assert_array_equal(written[:, :, 3], rgba[:, :, 3])


def test_a_palette_image_with_transparency_exports_as_rgba_and_says_so(tmp_path):
    palette_image = Image.fromarray(np.random.default_rng(5).integers(0, 255, (10, 10, 3)).astype(np.uint8)).quantize(16)
    palette_image.info["transparency"] = 3
    path = tmp_path / "icon.png"
    palette_image.save(path, transparency=3)
    photo = load_image(path)
    notes = save_image(tmp_path / "out.png", photo, photo=photo, stored=read_stored(path, photo, max_pixels=10**6))
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(image), np.asarray(Image.open(path).convert("RGBA")))
    assert notes == ["a palette image with transparency: exported as RGBA"]


# --- metadata -------------------------------------------------------------------------------------


def _phone_jpeg(path: Path, icc: bytes | None = SRGB) -> np.ndarray:
    """A 'phone' JPEG stored sideways (Orientation 6) with camera, date and GPS in its EXIF."""
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "PhoneMaker", "Phone 1", 6
    exif.get_ifd(0x8769)[0x9003] = "2024:05:01 10:00:00"
    exif.get_ifd(0x8825)[1] = "N"
    pixels = np.random.default_rng(6).integers(0, 255, (12, 20, 3)).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=95, exif=exif.tobytes(), **({"icc_profile": icc} if icc else {}))
    return pixels


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_the_colour_profile_and_exif_are_written_back_with_orientation_1(tmp_path, suffix):
    path = tmp_path / "phone.jpg"
    _phone_jpeg(path)
    photo = load_image(path)
    assert photo.shape[:2] == (20, 12)  # upright
    out = tmp_path / f"out{suffix}"
    save_image(out, photo, photo=photo, stored=read_stored(path, photo, max_pixels=10**6))
    with Image.open(out) as image:
        assert image.info.get("icc_profile") == SRGB
        exif = image.getexif()
        assert exif.get(0x010F) == "PhoneMaker" and exif.get(0x0112) == 1
        assert exif.get_ifd(0x8769).get(0x9003) == "2024:05:01 10:00:00" and exif.get_ifd(0x8825).get(1) == "N"
        assert image.size == (12, 20)


def test_strip_metadata_leaves_out_exif_and_text_but_keeps_the_profile(tmp_path):
    path = tmp_path / "phone.jpg"
    _phone_jpeg(path)
    photo = load_image(path)
    stored = read_stored(path, photo, max_pixels=10**6)
    save_image(tmp_path / "out.png", photo, {"Source": "phone.jpg"}, photo=photo, stored=stored, strip_metadata=True)
    with Image.open(tmp_path / "out.png") as image:
        assert len(image.getexif()) == 0 and not image.text
        assert image.info.get("icc_profile") == SRGB


def test_a_cmyk_profile_is_not_put_on_rgb_pixels(tmp_path):
    cmyk_profile = bytearray(SRGB)
    cmyk_profile[16:20] = b"CMYK"
    stored = StoredPhoto(None, bytes(cmyk_profile))
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    notes = save_image(tmp_path / "out.jpg", image, photo=image, stored=stored)
    with Image.open(tmp_path / "out.jpg") as written:
        assert "icc_profile" not in written.info
    assert notes == ["its CMYK colour profile cannot describe the RGB pixels written: exported without it"]


# --- a full disk ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp", ".tif"])
def test_a_full_disk_never_replaces_the_old_file(tmp_path, monkeypatch, stage, suffix):
    target = tmp_path / f"old{suffix}"
    target.write_bytes(b"the only copy of the photo")
    FullDisk(monkeypatch, stage, free=300)
    image = np.random.default_rng(8).integers(0, 255, (64, 64, 3)).astype(np.uint8)
    with pytest.raises(ImageSaveError) as caught:
        save_image(target, image)
    assert str(caught.value) == f"The disk is full: nothing was saved, '{target}' is unchanged. Free some space or choose another drive."
    assert caught.value.errno == errno.ENOSPC
    assert target.read_bytes() == b"the only copy of the photo"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
