"""Face crop datasets from folders and zips, their cache, the split and the torch Dataset (npe.data.datasets)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from npe.config import CropConfig
from npe.data import datasets
from npe.data.datasets import DatasetError, load_face_crops, split_train_val

COUNT = 12


def _photo(seed: int, width: int = 89, height: int = 109) -> np.ndarray:
    """A smooth random 'aligned photo' (CelebA half-scale size by default)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC))


@pytest.fixture
def collection(tmp_path: Path) -> dict[str, bytes]:
    """Relative name -> encoded file, including things that must be skipped or ignored."""
    files = {}
    for index in range(COUNT):
        buffer = Path(tmp_path / "encode.jpg")
        Image.fromarray(_photo(index)).save(buffer, quality=90)
        files[f"img_align_celeba/{index + 1:06d}.jpg"] = buffer.read_bytes()
    upper = tmp_path / "upper.png"
    Image.fromarray(_photo(99)).save(upper)
    files["img_align_celeba/extra/UPPER.PNG"] = upper.read_bytes()  # case-insensitive, recursive
    files["img_align_celeba/broken.jpg"] = b"not a jpeg at all"
    files["img_align_celeba/truncated.png"] = upper.read_bytes()[:200]
    files["img_align_celeba/notes.txt"] = b"ignored: not an image extension"
    files["img_align_celeba/.hidden.jpg"] = files["img_align_celeba/000001.jpg"]
    files["__MACOSX/img_align_celeba/._000001.jpg"] = b"resource fork"
    return files


def _write_folder(root: Path, files: dict[str, bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)
    return root


def _write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


EXPECTED_NAMES = sorted(
    [f"img_align_celeba/{i:06d}.jpg" for i in range(1, COUNT + 1)] + ["img_align_celeba/extra/UPPER.PNG"]
)


def test_zip_and_folder_give_identical_crops_and_tensors(tmp_path: Path, collection: dict[str, bytes]) -> None:
    folder = _write_folder(tmp_path / "faces", collection)
    archive = _write_zip(tmp_path / "faces.zip", collection)
    from_folder = load_face_crops([folder], 32, cache_dir=tmp_path / "cache")
    from_zip = load_face_crops([archive], 32, cache_dir=tmp_path / "cache")
    assert from_folder.names == from_zip.names == EXPECTED_NAMES
    assert from_folder.images.shape == (COUNT + 1, 32, 32, 3) and from_folder.images.dtype == np.uint8
    np.testing.assert_array_equal(from_folder.images, from_zip.images)


def test_unreadable_files_are_skipped_and_counted(tmp_path: Path, collection: dict[str, bytes]) -> None:
    crops = load_face_crops([_write_zip(tmp_path / "faces.zip", collection)], 16, cache_dir=tmp_path / "cache")
    assert crops.skipped == ["img_align_celeba/broken.jpg", "img_align_celeba/truncated.png"]
    assert len(crops.images) == len(crops.names) == COUNT + 1
    assert not any(".hidden" in n or "MACOSX" in n or n.endswith(".txt") for n in crops.names + crops.skipped)


def test_crop_follows_the_crop_config_at_any_scale(tmp_path: Path) -> None:
    # A full-size (178x218) aligned photo, white exactly inside CelebA's 108x108 square at (89, 121).
    photo = np.zeros((218, 178, 3), np.uint8)
    photo[67:175, 35:143] = 255
    folder = tmp_path / "aligned"
    folder.mkdir()
    Image.fromarray(photo).save(folder / "full.png")
    Image.fromarray(photo).resize((89, 109), Image.Resampling.BOX).save(folder / "half.png")
    crops = load_face_crops([folder], 27, cache_dir=tmp_path / "cache")
    full, half = crops.images[crops.names.index("full.png")], crops.images[crops.names.index("half.png")]
    # White everywhere; only the outermost pixels see a little black through the antialiasing filter.
    assert (full[2:-2, 2:-2] == 255).all() and full.min() > 180
    assert (half[2:-2, 2:-2] >= 250).all() and half.min() > 180
    wider = load_face_crops([folder], 27, CropConfig(size=0.9), cache_dir=tmp_path / "cache")
    assert (wider.images[wider.names.index("full.png")][:, 0] == 0).all()  # black outside the face square


def test_several_sources_are_combined_with_their_names(tmp_path: Path) -> None:
    first = tmp_path / "first"
    second = tmp_path / "second"
    for folder, seeds in ((first, (1, 2)), (second, (3,))):
        folder.mkdir()
        for seed in seeds:
            Image.fromarray(_photo(seed)).save(folder / f"{seed}.png")
    archive = _write_zip(tmp_path / "more.zip", {"sub/4.png": (first / "1.png").read_bytes()})
    crops = load_face_crops([second, archive, first], 16, cache_dir=tmp_path / "cache")
    assert crops.names == ["first/1.png", "first/2.png", "more.zip/sub/4.png", "second/3.png"]
    np.testing.assert_array_equal(crops.images[0], crops.images[2])  # the same file, from a folder and a zip


def test_cache_hit_returns_identical_arrays_without_decoding(
    tmp_path: Path, collection: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _write_zip(tmp_path / "faces.zip", collection)
    cache = tmp_path / "cache"
    reports: list[tuple[int, int]] = []
    first = load_face_crops([archive], 24, cache_dir=cache, progress=lambda done, total: reports.append((done, total)))
    assert reports[0] == (0, COUNT + 3) and reports[-1] == (COUNT + 3, COUNT + 3)
    assert [p.name for p in cache.iterdir()] == [p.name for p in cache.glob("crops-24px-*.npz")]  # no temp file left

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although the cache should have been used")

    monkeypatch.setattr(datasets, "_crop_one", no_decoding)
    second = load_face_crops([archive], 24, cache_dir=cache)
    np.testing.assert_array_equal(second.images, first.images)
    assert second.names == first.names and second.skipped == first.skipped
    # Another resolution or framing is another cache entry, so it decodes.
    with pytest.raises(AssertionError, match="decoded"):
        load_face_crops([archive], 24, CropConfig(size=0.7), cache_dir=cache)


def test_changed_source_invalidates_the_cache(tmp_path: Path, collection: dict[str, bytes]) -> None:
    folder = _write_folder(tmp_path / "faces", collection)
    cache = tmp_path / "cache"
    before = load_face_crops([folder], 16, cache_dir=cache)
    target = folder / "img_align_celeba" / "000003.jpg"
    Image.fromarray(_photo(1234)).save(target, format="JPEG")
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    after = load_face_crops([folder], 16, cache_dir=cache)
    index = after.names.index("img_align_celeba/000003.jpg")
    assert not np.array_equal(after.images[index], before.images[index])
    assert len(list(cache.glob("*.npz"))) == 2


def test_damaged_cache_is_rebuilt(tmp_path: Path, collection: dict[str, bytes]) -> None:
    archive = _write_zip(tmp_path / "faces.zip", collection)
    cache = tmp_path / "cache"
    first = load_face_crops([archive], 16, cache_dir=cache)
    (cache_file,) = cache.glob("*.npz")
    cache_file.write_bytes(b"garbage")
    again = load_face_crops([archive], 16, cache_dir=cache)
    np.testing.assert_array_equal(again.images, first.images)


def test_cache_location_follows_the_environment(
    tmp_path: Path, collection: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NPE_CACHE_DIR", str(tmp_path / "npe-cache"))
    assert datasets.default_cache_dir() == tmp_path / "npe-cache" / "crops"
    load_face_crops([_write_zip(tmp_path / "faces.zip", collection)], 16)
    assert len(list((tmp_path / "npe-cache" / "crops").glob("crops-16px-*.npz"))) == 1
    monkeypatch.delenv("NPE_CACHE_DIR")
    assert datasets.default_cache_dir() == Path.home() / ".cache" / "npe" / "crops"


def test_bad_sources_say_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_face_crops([tmp_path / "missing.zip"], 16, cache_dir=tmp_path)
    not_a_zip = tmp_path / "photo.zip"
    not_a_zip.write_bytes(b"PK but not really a zip")
    with pytest.raises(DatasetError, match="neither a folder nor a readable zip"):
        load_face_crops([not_a_zip], 16, cache_dir=tmp_path)
    with pytest.raises(DatasetError, match="No data sources"):
        load_face_crops([], 16, cache_dir=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    crops = load_face_crops([empty], 16, cache_dir=tmp_path / "cache")
    assert crops.images.shape == (0, 16, 16, 3) and crops.names == [] and crops.skipped == []


# --- split --------------------------------------------------------------------------------------


def test_split_puts_the_last_names_in_validation() -> None:
    names = [f"img_align_celeba/{i:06d}.jpg" for i in range(1, 9001)]
    shuffled = list(np.random.default_rng(0).permutation(names))
    train, validation = split_train_val(shuffled)
    assert len(validation) == 500 and len(train) == 8500
    assert shuffled[validation[0]] == "img_align_celeba/008501.jpg"
    assert shuffled[validation[-1]] == "img_align_celeba/009000.jpg"
    assert sorted(shuffled[i] for i in train) == names[:8500]
    again_train, again_validation = split_train_val(shuffled)
    np.testing.assert_array_equal(again_train, train)
    np.testing.assert_array_equal(again_validation, validation)
    assert train.dtype == validation.dtype == np.int64


@pytest.mark.parametrize(
    ("count", "val_size", "expected"),
    [(100, 500, 10), (5, 500, 1), (1, 500, 0), (0, 500, 0), (1000, 20, 20), (50, 0, 0)],
)
def test_split_sizes(count: int, val_size: int, expected: int) -> None:
    train, validation = split_train_val([f"{i:04d}" for i in range(count)], val_size)
    assert len(validation) == expected and len(train) == count - expected
    assert sorted(np.concatenate([train, validation]).tolist()) == list(range(count))
