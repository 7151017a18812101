"""Training data: face crops from folders or zip archives of aligned photos, cached and split (the training loop serves them to torch)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import zipfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from npe.errors import UserError
from npe.config import CropConfig
from npe.data.faces import aligned_crop_box, crop_face
from npe.data.image_io import ImageLoadError, load_image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# Bump when the crop pipeline changes what it produces, so old caches are not reused.
CACHE_VERSION = 1
_WORKERS = 2  # decoding threads: Pillow releases the GIL while decoding and resampling
_BATCH = 256  # images per unit of work (and per progress report)

_log = logging.getLogger(__name__)


class DatasetError(UserError, ValueError):
    """A data source that cannot be used; the message says what was wrong and what to do."""


@dataclass
class FaceCrops:
    """Face crops of a photo collection: ``images[i]`` comes from ``names[i]``; names are sorted."""

    images: np.ndarray  # (N, R, R, 3) uint8
    names: list[str]  # member paths relative to their source ('source name/...' with several sources)
    skipped: list[str] = field(default_factory=list)  # unreadable files: counted, not fatal


def default_cache_dir() -> Path:
    """$NPE_CACHE_DIR/crops if that is set, else ~/.cache/npe/crops."""
    root = os.environ.get("NPE_CACHE_DIR")
    return Path(root).expanduser() / "crops" if root else Path.home() / ".cache" / "npe" / "crops"


def load_face_crops(
    sources: Sequence[str | os.PathLike],
    resolution: int,
    crop: CropConfig = CropConfig(),
    *,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FaceCrops:
    """Every image in ``sources`` (folders, searched recursively, or zip archives), cropped and resized.

    Each photo is taken to be CelebA-aligned: the ``crop`` square (fractions of that photo's own
    width and height, so any scale of the aligned photos works) is resampled with antialiasing to
    ``resolution`` x ``resolution``. Files that cannot be read are listed in ``skipped``.

    The result is cached as one uncompressed .npz in ``cache_dir`` (default: ``default_cache_dir()``),
    keyed by the sources (paths, sizes, modification times), resolution and crop, so the next call
    for the same data loads in well under a second. ``progress(done, total)`` is called as
    images are decoded. Raises DatasetError (or FileNotFoundError) for a source that is not there,
    not a folder or zip, or a damaged zip.
    """
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]  # a lone path is an easy mistake; it means one source
    if resolution < 1:
        raise ValueError(f"resolution must be positive, got {resolution}")
    if not sources:
        raise DatasetError("No data sources given. Pass at least one folder or .zip archive of face photos.")
    listed = [_list_source(Path(os.fspath(source))) for source in sources]
    labels = _labels([source.path for source in listed])
    key = _cache_key(listed, resolution, crop)
    cache_file = (cache_dir if cache_dir is not None else default_cache_dir()) / f"crops-{resolution}px-{key}.npz"
    cached = _read_cache(cache_file, resolution)
    if cached is not None:
        if progress is not None:
            progress(len(cached.names), len(cached.names))
        return cached

    # Globally sorted names; each image keeps its source and member for decoding.
    entries = sorted(
        (name if len(listed) == 1 else f"{label}/{name}", index, name)
        for index, (source, label) in enumerate(zip(listed, labels))
        for name in source.members
    )
    crops = _decode_all(listed, entries, resolution, crop, progress)
    _write_cache(cache_file, crops)
    return crops


# --- sources ------------------------------------------------------------------------------------


@dataclass
class _Source:
    path: Path  # absolute
    is_zip: bool
    fingerprint: tuple  # what the cache key needs to notice any change
    _members: tuple[str, ...] | None = None

    @property
    def members(self) -> tuple[str, ...]:
        """Image paths relative to the source, POSIX style, sorted (a zip is only opened when needed)."""
        if self._members is None:
            self._members = _zip_members(self.path)
        return self._members


def _is_image_member(relative: str) -> bool:
    parts = PurePosixPath(relative).parts
    # macOS resource forks and hidden files (.DS_Store, ._photo.jpg) are never photos.
    if not parts or "__MACOSX" in parts or any(part.startswith(".") for part in parts):
        return False
    return PurePosixPath(relative).suffix.lower() in IMAGE_EXTENSIONS


def _list_source(path: Path) -> _Source:
    path = path.expanduser().resolve()
    if not path.exists():
        raise FileNotFoundError(f"Data source '{path}' does not exist. Pass a folder or a .zip archive of face photos.")
    if path.is_dir():
        # A folder's own timestamp misses edits deeper down: every image's size and time count.
        members, stats = [], []
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith(".") and d != "__MACOSX")
            for file_name in files:
                full = Path(folder) / file_name
                relative = full.relative_to(path).as_posix()
                if _is_image_member(relative):
                    info = full.stat()
                    members.append(relative)
                    stats.append((relative, info.st_size, info.st_mtime_ns))
        return _Source(path, False, ("folder", str(path), tuple(sorted(stats))), tuple(sorted(members)))
    if not zipfile.is_zipfile(path):
        raise DatasetError(
            f"'{path}' is neither a folder nor a readable zip archive. Pass a folder of face photos or a .zip of "
            "them (re-download the archive if it is damaged)."
        )
    info = path.stat()
    return _Source(path, True, ("zip", str(path), info.st_size, info.st_mtime_ns))


def _zip_members(path: Path) -> tuple[str, ...]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"Could not read the zip archive '{path}' ({exc}). Re-download or re-create it.") from exc
    return tuple(sorted(name for name in names if _is_image_member(name)))


def _labels(paths: list[Path]) -> list[str]:
    """A short, unique name per source, used as the first part of image names when there are several."""
    labels: list[str] = []
    for path in paths:
        label = path.name or str(path)
        while label in labels:
            label = f"{label}~{len(labels)}"
        labels.append(label)
    return labels


# --- decoding -----------------------------------------------------------------------------------


def _members(listed: list[_Source], entries: list[tuple[str, int, str]]) -> Iterator[tuple[str, str | bytes]]:
    """(name, path or bytes) of each entry in order; zip members are read here, in one thread."""
    archives: dict[int, zipfile.ZipFile] = {}
    try:
        for name, index, member in entries:
            source = listed[index]
            if source.is_zip:
                if index not in archives:
                    archives[index] = zipfile.ZipFile(source.path)
                try:
                    data = archives[index].read(member)
                except Exception:  # noqa: BLE001 - bad CRC, broken deflate, encryption: an unreadable file
                    data = b""  # load_image reports it as empty: skipped and counted like any bad file
                yield name, data
            else:
                yield name, str(source.path / member)
    finally:
        for archive in archives.values():
            archive.close()


def _crop_one(item: tuple[str, str | bytes], resolution: int, crop: CropConfig) -> np.ndarray | None:
    name, data = item
    try:
        photo = load_image(data, name=name)
    except ImageLoadError:
        return None
    height, width = photo.shape[:2]
    return crop_face(photo, aligned_crop_box(width, height, crop), resolution)


def _decode_all(
    listed: list[_Source],
    entries: list[tuple[str, int, str]],
    resolution: int,
    crop: CropConfig,
    progress: Callable[[int, int], None] | None,
) -> FaceCrops:
    total = len(entries)
    images = np.empty((total, resolution, resolution, 3), dtype=np.uint8)
    kept = np.zeros(total, dtype=bool)
    if progress is not None:
        progress(0, total)
    members = _members(listed, entries)

    def batches() -> Iterator[list[tuple[str, str | bytes]]]:
        while batch := [item for _, item in zip(range(_BATCH), members)]:
            yield batch

    def work(batch: list[tuple[str, str | bytes]]) -> list[np.ndarray | None]:
        return [_crop_one(item, resolution, crop) for item in batch]

    done = 0

    def collect(results: list[np.ndarray | None]) -> None:
        nonlocal done
        for offset, result in enumerate(results):
            if result is not None:
                images[done + offset] = result
                kept[done + offset] = True
        done += len(results)
        if progress is not None:
            progress(done, total)

    # A short queue of batches in flight keeps both cores busy without reading a whole archive ahead.
    pending: deque[Future[list[np.ndarray | None]]] = deque()
    with ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="npe-crops") as pool:
        for batch in batches():
            pending.append(pool.submit(work, batch))
            if len(pending) > 2 * _WORKERS:
                collect(pending.popleft().result())
        while pending:
            collect(pending.popleft().result())
    names = [entry[0] for entry in entries]
    return FaceCrops(
        images=images[kept] if not kept.all() else images,
        names=[name for name, ok in zip(names, kept) if ok],
        skipped=[name for name, ok in zip(names, kept) if not ok],
    )


# --- cache --------------------------------------------------------------------------------------


def _cache_key(listed: list[_Source], resolution: int, crop: CropConfig) -> str:
    description = json.dumps(
        {
            "version": CACHE_VERSION,
            "sources": [source.fingerprint for source in listed],
            "resolution": resolution,
            "crop": asdict(crop),
        },
        sort_keys=True,
    )
    return hashlib.sha256(description.encode()).hexdigest()[:24]


def _read_cache(path: Path, resolution: int) -> FaceCrops | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            images, names, skipped = stored["images"], stored["names"], stored["skipped"]
        if images.dtype != np.uint8 or images.shape[1:] != (resolution, resolution, 3) or len(images) != len(names):
            raise ValueError(f"unexpected contents {images.dtype} {images.shape}")
        return FaceCrops(images=images, names=[str(n) for n in names], skipped=[str(n) for n in skipped])
    except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never fatal
        _log.warning("ignoring the unreadable crop cache %s (%s); rebuilding it", path, exc)
        return None


def _write_cache(path: Path, crops: FaceCrops) -> None:
    """Write atomically (temp file + rename); a cache that cannot be written only costs time later."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(temp, "wb") as stream:
            np.savez(
                stream,
                images=crops.images,
                names=np.array(crops.names, dtype=np.str_),
                skipped=np.array(crops.skipped, dtype=np.str_),
            )
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except OSError as exc:
        _log.warning("could not write the crop cache %s (%s); the next run decodes again", path, exc)
        try:
            temp.unlink()
        except OSError:
            pass


# --- splitting and serving ----------------------------------------------------------------------


def split_train_val(names: Sequence[str], val_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (train, validation) index arrays into ``names``.

    Names are sorted; the last ``min(val_size, max(1, n // 10))`` of them are validation, the rest
    training (each array in sorted-name order). For celeba-9k (000001.jpg ... 009000.jpg) with
    the default this is exactly 008501-009000. ``val_size=0`` gives no validation set; a single
    image always goes to training. No shuffling: the split does not depend on seeds or on which
    files happened to be unreadable elsewhere in the collection.
    """
    order = np.argsort(np.asarray(names, dtype=np.str_), kind="stable").astype(np.int64)
    count = len(order)
    validation = min(max(0, val_size), max(1, count // 10), max(0, count - 1))
    return order[: count - validation], order[count - validation :]
