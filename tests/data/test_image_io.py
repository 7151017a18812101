"""Loading any photo safely and writing PNGs atomically (npe.data.image_io)."""

from __future__ import annotations

import errno
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from npe.data import image_io
from npe.data.image_io import ImageLoadError, ImageSaveError, load_image, save_png


def _encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _noise(height: int = 60, width: int = 80) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares a huge size: decoding it would need gigabytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + _png_chunk(b"IEND", b"")
    )


def _tiff_rgb16(pixels: np.ndarray) -> bytes:
    """A minimal uncompressed 16-bit RGB TIFF (Pillow cannot write one)."""
    height, width, _ = pixels.shape
    data = pixels.astype("<u2").tobytes()
    entries = [  # tag, type (3 SHORT, 4 LONG), count, value or offset
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 3, None),  # BitsPerSample -> offset to three SHORTs
        (259, 3, 1, 1),
        (262, 3, 1, 2),
        (273, 4, 1, None),  # StripOffsets -> the pixel data
        (277, 3, 1, 3),
        (278, 4, 1, height),
        (279, 4, 1, len(data)),
        (284, 3, 1, 1),
    ]
    ifd_offset = 8
    ifd_size = 2 + 12 * len(entries) + 4
    bits_offset = ifd_offset + ifd_size
    data_offset = bits_offset + 6
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 258:
            value = bits_offset
        elif tag == 273:
            value = data_offset
        if kind == 3 and count == 1:
            ifd += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            ifd += struct.pack("<HHII", tag, kind, count, value)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", ifd_offset) + ifd + struct.pack("<HHH", 16, 16, 16) + data


# --- sources that are not a readable image -------------------------------------------------------


def test_random_bytes_are_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "holiday.jpg"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(ImageLoadError, match="not an image") as caught:
        load_image(path)
    assert "holiday.jpg" in str(caught.value)
    assert "Choose another file" in str(caught.value)


def test_text_file_is_not_an_image() -> None:
    with pytest.raises(ImageLoadError, match="not an image"):
        load_image(b"just some notes, not a photo\n")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_damaged(tmp_path: Path, fmt: str) -> None:
    encoded = _encoded(Image.fromarray(_noise(200, 300)), fmt)
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(encoded[: len(encoded) // 2])
    with pytest.raises(ImageLoadError, match="truncated or damaged") as caught:
        load_image(path)
    assert "cut." in str(caught.value)


def test_corrupt_png_checksum_is_damaged() -> None:
    encoded = bytearray(_encoded(Image.fromarray(_noise()), "PNG"))
    idat = encoded.index(b"IDAT")
    encoded[idat + 20] ^= 0xFF  # inside the compressed data: the chunk CRC no longer matches
    with pytest.raises(ImageLoadError, match="truncated or damaged"):
        load_image(bytes(encoded))


def test_empty_file_and_empty_bytes(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(path)
    with pytest.raises(ImageLoadError, match="empty"):
        load_image(b"")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="does not exist") as caught:
        load_image(tmp_path / "nowhere.jpg")
    assert "nowhere.jpg" in str(caught.value)


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="is a folder"):
        load_image(tmp_path)


def test_pixel_limit_is_checked_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.fromarray(_noise(100, 100)).save(path)
    with pytest.raises(ImageLoadError, match="megapixels") as caught:
        load_image(path, max_pixels=5_000)
    assert "100 x 100" in str(caught.value)
    assert load_image(path, max_pixels=10_000).shape == (100, 100, 3)


def test_default_limit_refuses_a_declared_huge_image() -> None:
    # 10000 x 10000 = 100 MP > 80 MP; the file holds almost no pixel data, so reaching a size message
    # (not 'truncated') proves the header was checked before any decoding or allocation.
    with pytest.raises(ImageLoadError, match="megapixels") as caught:
        load_image(_png_claiming(10_000, 10_000))
    assert "10000 x 10000" in str(caught.value)
    # Beyond Pillow's own bomb limit: still our error type and a readable message.
    with pytest.raises(ImageLoadError, match="far too large"):
        load_image(_png_claiming(100_000, 100_000))


def test_load_truncated_images_flag_stays_off() -> None:
    from PIL import ImageFile

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


# --- colour modes -------------------------------------------------------------------------------


def test_rgb_round_trips_exactly_from_path_bytes_and_stream(tmp_path: Path) -> None:
    pixels = _noise()
    path = tmp_path / "photo.png"
    Image.fromarray(pixels).save(path)
    for source in (path, str(path), path.read_bytes(), io.BytesIO(path.read_bytes())):
        loaded = load_image(source)
        assert loaded.dtype == np.uint8 and loaded.shape == (60, 80, 3)
        np.testing.assert_array_equal(loaded, pixels)
    assert load_image(path).flags.writeable


def test_grayscale_and_bilevel() -> None:
    gray = np.array([[0, 100, 255]], dtype=np.uint8)
    loaded = load_image(_encoded(Image.fromarray(gray, mode="L"), "PNG"))
    np.testing.assert_array_equal(loaded, np.repeat(gray[:, :, None], 3, axis=2))
    bilevel = Image.fromarray(np.array([[0, 255]], dtype=np.uint8)).convert("1")
    np.testing.assert_array_equal(load_image(_encoded(bilevel, "PNG"))[0], [[0, 0, 0], [255, 255, 255]])


def test_sixteen_bit_grayscale_png_is_scaled_not_clipped() -> None:
    values = np.array([[0, 257, 32896, 65535, 1000]], dtype=np.uint16)
    encoded = _encoded(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(encoded)).mode.startswith("I")
    loaded = load_image(encoded)
    np.testing.assert_array_equal(loaded[0, :, 0], [0, 1, 128, 255, 4])  # 1000 / 257 = 3.9
    assert (loaded[..., 0] == loaded[..., 2]).all()


def test_sixteen_bit_rgb_tiff_is_scaled_not_clipped() -> None:
    pixels = np.array([[[65535, 0, 25700], [257, 65535, 32896]]], dtype=np.uint16)
    loaded = load_image(_tiff_rgb16(pixels))
    np.testing.assert_array_equal(loaded, [[[255, 0, 100], [1, 255, 128]]])


def test_32_bit_integer_and_float_images() -> None:
    ints = Image.fromarray(np.array([[0, 65535]], dtype=np.int32), mode="I")
    np.testing.assert_array_equal(load_image(_encoded(ints, "TIFF"))[0, :, 1], [0, 255])
    floats = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), mode="F")
    np.testing.assert_array_equal(load_image(_encoded(floats, "TIFF"))[0, :, 0], [0, 128, 255])


def test_palette_with_transparency_becomes_white() -> None:
    palette_image = Image.new("P", (2, 1))
    palette_image.putpalette([0, 0, 0, 200, 30, 40] + [0] * 762)
    palette_image.putdata([0, 1])
    encoded = _encoded(palette_image, "PNG", transparency=0)
    np.testing.assert_array_equal(load_image(encoded)[0], [[255, 255, 255], [200, 30, 40]])
    opaque = _encoded(palette_image, "PNG")
    np.testing.assert_array_equal(load_image(opaque)[0], [[0, 0, 0], [200, 30, 40]])


def test_rgba_is_composited_onto_white() -> None:
    rgba = np.array([[[10, 20, 30, 0], [10, 20, 30, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    loaded = load_image(_encoded(Image.fromarray(rgba, mode="RGBA"), "PNG"))
    np.testing.assert_array_equal(loaded[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(loaded[0, 1], [10, 20, 30])
    np.testing.assert_array_equal(loaded[0, 2], [127, 127, 127])  # half-transparent black on white


def test_gray_with_alpha_is_composited_onto_white() -> None:
    la = Image.fromarray(np.array([[[0, 0], [50, 255]]], dtype=np.uint8), mode="LA")
    np.testing.assert_array_equal(load_image(_encoded(la, "PNG"))[0], [[255, 255, 255], [50, 50, 50]])


def test_cmyk_jpeg_becomes_rgb() -> None:
    cmyk = np.zeros((16, 32, 4), dtype=np.uint8)
    cmyk[:, 16:, 3] = 255  # right half: full black ink; left half: no ink (white paper)
    loaded = load_image(_encoded(Image.fromarray(cmyk, mode="CMYK"), "JPEG", quality=95))
    assert loaded.shape == (16, 32, 3)
    assert loaded[:, :12].min() >= 245
    assert loaded[:, 20:].max() <= 10


def test_first_frame_of_an_animated_gif() -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    loaded = load_image(buffer.getvalue())
    assert loaded.shape == (8, 8, 3)
    np.testing.assert_array_equal(loaded[4, 4], [255, 0, 0])


def test_exif_orientation_turns_a_jpeg_upright() -> None:
    stored = np.zeros((20, 40, 3), dtype=np.uint8)
    stored[:10, :10] = (255, 0, 0)  # red block in the stored top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    encoded = _encoded(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95)
    loaded = load_image(encoded)
    assert loaded.shape == (40, 20, 3)  # displayed upright: portrait
    assert loaded[5, 15, 0] > 200 and loaded[5, 15, 2] < 60  # stored top-left is now top-right
    assert loaded[5, 5].max() < 60


# --- saving -------------------------------------------------------------------------------------


def test_save_png_round_trips_pixels_and_metadata(tmp_path: Path) -> None:
    pixels = _noise()
    path = tmp_path / "edited.png"
    metadata = {"npe:model": "npe-celeba64", "npe:note": "Zoë's edit ✓"}
    save_png(path, pixels, metadata)
    np.testing.assert_array_equal(load_image(path), pixels)
    with Image.open(path) as saved:
        assert saved.text == metadata
    assert [p.name for p in tmp_path.iterdir()] == ["edited.png"]


def test_save_png_accepts_views_and_refuses_wrong_arrays(tmp_path: Path) -> None:
    pixels = _noise()
    save_png(tmp_path / "view.png", pixels[:, ::-1])  # a non-contiguous view
    np.testing.assert_array_equal(load_image(tmp_path / "view.png"), pixels[:, ::-1])
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        save_png(tmp_path / "x.png", pixels.astype(np.float32))
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        save_png(tmp_path / "x.png", pixels[:, :, 0])


def _old_file(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "result.png"
    save_png(path, np.zeros((8, 8, 3), dtype=np.uint8))
    return path, path.read_bytes()


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = _old_file(tmp_path)
    original_save = Image.Image.save

    def save_half_then_fail(self, fp, *args, **kwargs):  # the disk fills up mid-write
        buffer = io.BytesIO()
        original_save(self, buffer, *args, **kwargs)
        fp.write(buffer.getvalue()[:100])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save_half_then_fail)
    with pytest.raises(ImageSaveError, match="disk is full") as caught:
        save_png(path, _noise())
    assert isinstance(caught.value, OSError) and caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]


def test_failed_fsync_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = _old_file(tmp_path)

    def failing_fsync(handle: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(image_io.os, "fsync", failing_fsync)
    with pytest.raises(ImageSaveError, match="Input/output error"):
        save_png(path, _noise())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]


def test_interrupted_write_removes_temp_and_propagates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, before = _old_file(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_png(path, _noise())
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.png"]


def test_read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path, before = _old_file(folder)
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        folder.chmod(0o500)
    else:  # root ignores permissions: simulate what the OS would say
        real_open = os.open

        def refusing_open(file, flags, *args, **kwargs):
            if Path(file).parent == folder and flags & os.O_CREAT:
                raise PermissionError(errno.EACCES, "Permission denied", str(file))
            return real_open(file, flags, *args, **kwargs)

        monkeypatch.setattr(image_io.os, "open", refusing_open)
    try:
        with pytest.raises(ImageSaveError, match="read-only or you lack permission"):
            save_png(path, _noise())
    finally:
        folder.chmod(0o700)
    assert path.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["result.png"]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageSaveError, match="does not exist"):
        save_png(tmp_path / "no" / "such" / "folder.png", _noise())


def test_metadata_keys_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="1 to 79"):
        save_png(tmp_path / "x.png", _noise(), {"": "empty key"})
    assert not list(tmp_path.iterdir())


def test_exif_orientation_is_applied(tmp_path):
    from skimage import data as skdata

    upright = skdata.astronaut()
    stored = np.ascontiguousarray(np.rot90(upright))  # turned 90 degrees counter-clockwise on disk
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: rotate 90 degrees clockwise to display
    path = tmp_path / "turned.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif)
    loaded = load_image(path)
    assert loaded.shape == upright.shape
    assert np.abs(loaded.astype(int) - upright).mean() < 4  # JPEG noise only; wrong turns differ by ~60


def test_named_pipe_is_refused_without_hanging(tmp_path):
    import signal

    from npe.errors import UserError

    pipe = tmp_path / "photo.jpg"
    os.mkfifo(pipe)
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("load_image blocked on a named pipe"))
    signal.alarm(10)
    try:
        with pytest.raises(ImageLoadError, match="named pipe") as caught:
            load_image(pipe)
    finally:
        signal.alarm(0)
    assert isinstance(caught.value, UserError)
