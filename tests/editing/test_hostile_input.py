"""Hostile or careless input through `npe edit` and the session API: exports that would
destroy the original or lie about their format, edits that do nothing, session files that still
parse but would load wrong."""

from __future__ import annotations

import json
import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from tests.editing.conftest import run_edit as _run
from npe.editing.errors import SessionError


# --- 1. the export: never over the original, always the format the name says ----------------------


def test_edit_refuses_to_overwrite_its_input_unless_told(weights, photo_path, tmp_path, capsys):
    original = photo_path.read_bytes()
    link = tmp_path / "link.png"
    link.symlink_to(photo_path)
    for output in (photo_path, link, tmp_path / "." / "photo.png"):
        code, _, stderr = _run(capsys, photo_path, "-o", output, "--weights", weights, "--whole-image", "--stroke", "100,75,110,80")
        assert code == 2
        assert "--overwrite" in stderr and len(stderr.strip().splitlines()) == 1
        assert photo_path.read_bytes() == original
    code, _, stderr = _run(capsys, photo_path, "-o", photo_path, "--weights", weights, "--whole-image", "--overwrite")
    assert code == 0, stderr
    assert photo_path.read_bytes() != original  # written anew (with npe's metadata) when asked


@pytest.mark.parametrize(
    "name, expected",
    [("out.jpg", "JPEG"), ("out.JPEG", "JPEG"), ("out.png", "PNG"), ("out.webp", "WEBP"), ("out.tif", "TIFF"), ("out.tiff", "TIFF")],
)
def test_edit_writes_the_format_the_extension_names(weights, photo, photo_path, tmp_path, capsys, name, expected):
    out = tmp_path / name
    code, _, stderr = _run(capsys, photo_path, "-o", out, "--weights", weights, "--whole-image")
    assert code == 0, stderr
    with Image.open(out) as image:
        assert image.format == expected
        assert image.size == (photo.shape[1], photo.shape[0])
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_edit_refuses_an_unknown_extension(weights, photo_path, tmp_path, capsys):
    for name in ("out.bmp", "out"):
        code, _, stderr = _run(capsys, photo_path, "-o", tmp_path / name, "--weights", weights, "--whole-image")
        assert code == 2
        assert ".png" in stderr and ".jpg" in stderr and ".webp" in stderr and ".tif" in stderr
        assert not (tmp_path / name).exists()


# --- 5. a stroke outside the face box --------------------------------------------------------------


def test_a_stroke_outside_the_face_box_is_an_error(weights, photo_path, tmp_path, capsys):
    # --whole-image on the 200 x 150 photo: the box is the centred 150 px square, x from 25 to 175.
    out = tmp_path / "out.png"
    code, stdout, stderr = _run(capsys, photo_path, "-o", out, "--weights", weights, "--whole-image", "--stroke", "2,10,4,140", "--radius", 3)
    assert code == 2
    assert "outside the face box" in stderr and "stroke 1" in stderr
    assert not out.exists()
    # The same stroke inside the box is fine.
    code, stdout, stderr = _run(capsys, photo_path, "-o", out, "--weights", weights, "--whole-image", "--stroke", "60,40,80,60", "--radius", 3)
    assert code == 0, stderr


# --- 4. session files that parse but would load wrong ---------------------------------------------


@pytest.fixture
def saved(session, tmp_path):
    session.paint([(95.0, 65.0), (105.0, 72.0)], "#ffffff", radius=6)
    return session.save(tmp_path / "s.npe")


def _rewrite(path, out, change_manifest=None, change_arrays=None):
    from npe.editing.sessionzip import read_session, write_session

    manifest, arrays = read_session(path)
    manifest = json.loads(json.dumps(manifest))
    arrays = {key: np.array(value) for key, value in arrays.items()}
    if change_manifest:
        change_manifest(manifest)
    if change_arrays:
        change_arrays(manifest, arrays)
    return write_session(out, manifest, arrays)


def test_a_session_made_with_another_model_of_the_same_size_is_refused_unless_accepted(saved, tiny_config):
    import torch

    from npe.editing import EditSession
    from npe.model import IAN

    torch.manual_seed(123)
    other = IAN(tiny_config).eval()
    with pytest.raises(SessionError, match="another model|different weights"):
        EditSession.load(saved, other)
    reopened = EditSession.load(saved, other, allow_other_model=True)
    assert reopened.load_warnings and "weights" in reopened.load_warnings[0]


def test_the_same_model_opens_its_session_without_warnings(saved, model):
    from npe.editing import EditSession

    assert EditSession.load(saved, model).load_warnings == ()


def test_an_old_session_without_a_weights_hash_opens_with_a_warning(saved, model, tmp_path):
    from npe.editing import EditSession

    old = _rewrite(saved, tmp_path / "old.npe", lambda m: m["model"].pop("weights_id"))
    reopened = EditSession.load(old, model)
    assert len(reopened.load_warnings) == 1 and "cannot check" in reopened.load_warnings[0]


def test_nan_or_inf_latents_are_refused(saved, model, tmp_path):
    from npe.editing import EditSession

    for bad in (np.nan, np.inf):
        def poison(manifest, arrays, bad=bad):
            key = manifest["source"]["latent"]
            arrays[key] = np.full_like(arrays[key], bad)

        with pytest.raises(SessionError, match="finite"):
            EditSession.load(_rewrite(saved, tmp_path / "nan.npe", change_arrays=poison), model)

    def poison_history(manifest, arrays):
        key = manifest["history"]["records"][0]["after"]
        arrays[key] = arrays[key].copy()
        arrays[key][3] = np.nan

    with pytest.raises(SessionError, match="finite"):
        EditSession.load(_rewrite(saved, tmp_path / "nan2.npe", change_arrays=poison_history), model)


@pytest.mark.parametrize("change", [{"size": 1e12}, {"center_x": 1e9}, {"center_y": -5000.0}, {"size": 0.01}])
def test_an_absurd_face_box_is_refused(saved, model, tmp_path, change):
    from npe.editing import EditSession

    bad = _rewrite(saved, tmp_path / "box.npe", lambda m: m["source"]["box"].update(change))
    with pytest.raises(SessionError, match="face box"):
        EditSession.load(bad, model)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` RGB pixels but carries one tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def test_a_session_cannot_carry_a_photo_past_the_pixel_limit(saved, model, tmp_path):
    from npe.data.image_io import DEFAULT_MAX_PIXELS
    from npe.editing import EditSession

    side = int(DEFAULT_MAX_PIXELS**0.5) + 10  # just past the limit that opening a photo enforces
    out = tmp_path / "big.npe"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(out, "w") as target:
        manifest = json.loads(source.read("session.json"))
        photo_key = manifest["source"]["photo"]
        for info in source.infolist():
            data = _png_header_only(side, side) if info.filename == f"images/{photo_key}.png" else source.read(info)
            target.writestr(info.filename, data)
    with pytest.raises(SessionError, match="pixels"):
        EditSession.load(out, model)


def _session_with(saved, out, name: str, data: bytes, *, declare: int | None = None) -> None:
    """``saved`` with member ``name`` replaced by ``data`` (deflated); ``declare``: the uncompressed
    size its headers claim instead of the true one."""
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, data if info.filename == name else source.read(info))
    if declare is None:
        return
    raw = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as archive:
        info = archive.getinfo(name)
    struct.pack_into("<I", raw, info.header_offset + 22, declare)  # the local header's size
    offset = 0
    while True:  # every central directory entry: patch the one for ``name``
        offset = raw.find(b"PK\x01\x02", offset)
        if offset < 0:
            break
        name_length = struct.unpack_from("<H", raw, offset + 28)[0]
        if raw[offset + 46 : offset + 46 + name_length] == name.encode():
            struct.pack_into("<I", raw, offset + 24, declare)
        offset += 46
    out.write_bytes(bytes(raw))


@pytest.mark.parametrize("declare", [None, 4096], ids=["declared-huge", "declared-small"])
def test_a_lying_zip_entry_is_refused_before_memory_grows(saved, model, tmp_path, declare):
    from npe.editing import EditSession

    bomb = b"\0" * (200 << 20)  # 200 MB of zeros deflate to about 200 kB
    out = tmp_path / "bomb.npe"
    _session_with(saved, out, "arrays.safetensors", bomb, declare=declare)
    del bomb
    assert out.stat().st_size < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(SessionError):
            EditSession.load(out, model)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 << 20, f"peak {peak / 2**20:.0f} MB while refusing a 2 MB file"


# --- 3. damaged companion files beside the weights ---------------------------------------------------


def test_damaged_directions_and_gallery_files_are_named_in_a_warning(weights, photo_path, tmp_path, capsys):
    from npe.editing.workspace import Workspace

    directions = tmp_path / "tiny.directions.safetensors"
    gallery = tmp_path / "tiny.gallery.safetensors"
    directions.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00not json")
    gallery.write_bytes(b"garbage")
    workspace = Workspace()
    summary = workspace.load_model(str(weights), "cpu")
    assert workspace.directions is None and workspace.gallery.generated is False
    assert len(workspace.warnings) == 2 and summary.warnings == tuple(workspace.warnings)
    assert str(directions) in workspace.warnings[0] and str(gallery) in workspace.warnings[1]

    code, _, stderr = _run(capsys, photo_path, "-o", tmp_path / "out.png", "--weights", weights, "--whole-image")
    assert code == 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("npe: warning: ") for line in lines)
    assert str(directions) in lines[0] and str(gallery) in lines[1]


def test_no_warning_without_companion_files(weights):
    from npe.editing.workspace import Workspace

    workspace = Workspace()
    workspace.load_model(str(weights), "cpu")
    assert workspace.warnings == []


def test_a_session_from_older_npe_warns_through_the_workspace(saved, model, tmp_path):
    from npe.editing.errors import OtherModelError
    from npe.editing.workspace import Workspace

    old = _rewrite(saved, tmp_path / "old.npe", lambda m: m["model"].pop("weights_id"))
    workspace = Workspace()
    workspace.use_model(model, None, None)
    heard = []
    workspace.on_warning(heard.append)
    workspace.open_session_file(old)
    assert len(heard) == 1 and "cannot check" in heard[0] and workspace.warnings == heard
    assert issubclass(OtherModelError, SessionError)


# --- 2. transparency ---------------------------------------------------------------------------------


@pytest.fixture
def alpha(photo):
    yy, xx = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    return ((xx * 3 + yy * 5) % 256).astype(np.uint8)  # every level, in no pattern an edit could make


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
@pytest.mark.parametrize("suffix", [".png", ".webp", ".tif"])
def test_a_transparent_photo_exports_with_its_alpha_unchanged(weights, photo, alpha, tmp_path, capsys, mode, suffix):
    rgba = np.concatenate([photo, alpha[:, :, None]], axis=2)
    source = Image.fromarray(rgba, mode="RGBA").convert(mode)
    path = tmp_path / f"cutout-{mode}.png"
    source.save(path)
    out = tmp_path / f"out{suffix}"
    code, _, stderr = _run(capsys, path, "-o", out, "--weights", weights, "--whole-image", "--stroke", "90,60,110,80", "--radius", 8)
    assert code == 0, stderr
    with Image.open(out) as image:
        assert image.mode == ("LA" if mode == "LA" and suffix != ".webp" else "RGBA")  # WebP has no grey
        np.testing.assert_array_equal(np.asarray(image.getchannel("A")), alpha)


def test_a_transparent_photo_is_not_flattened_into_a_jpeg_silently(weights, photo, alpha, tmp_path, capsys):
    path = tmp_path / "cutout.png"
    Image.fromarray(np.concatenate([photo, alpha[:, :, None]], axis=2), mode="RGBA").save(path)
    code, _, stderr = _run(capsys, path, "-o", tmp_path / "out.jpg", "--weights", weights, "--whole-image")
    assert code == 2 and "transparen" in stderr and ".png" in stderr
    assert not (tmp_path / "out.jpg").exists()


def test_an_opaque_photo_exports_without_alpha(weights, photo_path, tmp_path, capsys):
    code, _, stderr = _run(capsys, photo_path, "-o", tmp_path / "out.png", "--weights", weights, "--whole-image")
    assert code == 0, stderr
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "RGB"


def test_the_alpha_survives_a_session_file(model, photo, alpha, tmp_path):
    from npe.editing import EditSession

    path = tmp_path / "cutout.png"
    Image.fromarray(np.concatenate([photo, alpha[:, :, None]], axis=2), mode="RGBA").save(path)
    session = EditSession.from_photo(model, path, whole_image_if_no_face=True)
    reopened = EditSession.load(session.save(tmp_path / "s.npe"), model)
    reopened.export_png(tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as image:
        np.testing.assert_array_equal(np.asarray(image)[:, :, 3], alpha)
