"""Image datasets: MNIST and Fashion-MNIST from IDX files, and users' own arrays.

Images stay uint8 (or float32 in [0, 1]) in memory, shaped N x C x H x W; the native loop
converts each batch to float as it trains.
"""

from __future__ import annotations

import logging
import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from udl import _native

__all__ = ["DATASETS", "Dataset", "ImageSet", "from_numpy", "load", "search_paths"]

log = logging.getLogger(__name__)

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class _Source:
    mirrors: tuple[str, ...]
    md5: dict[str, str]  # published checksums of the official .gz archives
    class_names: tuple[str, ...]
    debian_dir: str | None = None


DATASETS: dict[str, _Source] = {
    "mnist": _Source(
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        md5={
            "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        class_names=tuple(str(d) for d in range(10)),
    ),
    "fashion-mnist": _Source(
        mirrors=("https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",),
        md5={
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        class_names=(
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot",
        ),
        debian_dir="/usr/share/datasets/fashion-mnist",
    ),
}


@dataclass(frozen=True, eq=False)
class ImageSet:
    """Images (N x C x H x W, uint8 or float32 in [0, 1]) with optional int64 labels."""

    images: np.ndarray
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        _, c, h, w = self.images.shape
        return (int(c), int(h), int(w))

    def subset(self, indices: Any) -> ImageSet:
        """The images (and labels) at `indices` (a slice, an index array or a boolean mask)."""
        if isinstance(indices, numbers.Integral) or (
            np.ndim(indices) == 0 and not isinstance(indices, slice)
        ):
            raise TypeError("subset takes a slice or an index array, not one index")
        labels = None if self.labels is None else self.labels[indices]
        return ImageSet(np.ascontiguousarray(self.images[indices]), labels)

    def __repr__(self) -> str:
        labelled = "labelled" if self.labels is not None else "unlabelled"
        return f"ImageSet({len(self)} x {self.image_shape}, {self.images.dtype}, {labelled})"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A named dataset with its training and test sets and class names."""

    name: str
    train: ImageSet
    test: ImageSet
    class_names: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, train={self.train!r}, test={self.test!r})"


def from_numpy(images: Any, labels: Any = None) -> ImageSet:
    """Wraps users' own images (and labels) as an ImageSet, validated.

    Args:
        images: uint8 values 0..255 or floats in [0, 1], shaped N x H x W (one channel) or
            N x C x H x W. A torch tensor is accepted too. Floats are kept as float32.
        labels: optional integer class labels, one per image, each >= 0.

    Returns:
        The ImageSet, sharing memory with `images` where it already has the right layout.

    Raises:
        TypeError: for a dtype that is neither uint8, float, nor (labels) integer.
        ValueError: for a wrong shape, an empty array, floats outside [0, 1] or not finite,
            or a label count that differs from the image count.
    """
    array = _to_numpy(images, "images")
    if array.ndim == 3:
        array = array[:, None, :, :]
    if array.ndim != 4:
        raise ValueError(f"images must be N x H x W or N x C x H x W, got shape {array.shape}")
    if array.dtype == np.uint8:
        pass
    elif np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32, copy=False)
    else:
        raise TypeError(f"images must be uint8 or floating point, got {array.dtype}")
    array = np.ascontiguousarray(array)
    label_array = None
    if labels is not None:
        label_array = _to_numpy(labels, "labels")
        if label_array.dtype == np.bool_ or not np.issubdtype(label_array.dtype, np.integer):
            raise TypeError(f"labels must be integers, got {label_array.dtype}")
        label_array = np.ascontiguousarray(label_array, dtype=np.int64)
    _native._C.validate_images(array, label_array)
    return ImageSet(array, label_array)


def _to_numpy(value: Any, what: str) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{what} must be a NumPy array or torch tensor, got {type(value).__name__}")
    return value


def search_paths(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for `name`'s files, in order.

    An explicit `data_dir` (the folder itself, or its `name` subfolder), `$UDL_DATA_DIR/name`,
    the user cache (`$XDG_CACHE_HOME/udl/name`, by default `~/.cache/udl/name`), and Debian's
    `/usr/share/datasets/fashion-mnist` for Fashion-MNIST.
    """
    source = _source(name)
    paths: list[Path] = []
    if data_dir is not None:
        paths += [Path(data_dir), Path(data_dir) / name]
    if os.environ.get("UDL_DATA_DIR"):
        paths.append(Path(os.environ["UDL_DATA_DIR"]) / name)
    paths.append(_cache_dir() / name)
    if source.debian_dir:
        paths.append(Path(source.debian_dir))
    return paths


def load(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> Dataset:
    """Loads MNIST or Fashion-MNIST.

    Looks in each of `search_paths(name, data_dir)` for the four IDX files (raw or `.gz`).
    If none holds them and `download` is true, downloads the official archives over HTTPS,
    verifies their published MD5 checksums, and moves them into the user cache atomically.

    Args:
        name: "mnist" or "fashion-mnist".
        data_dir: a folder to look in first.
        download: whether to fetch the files when no folder holds them.

    Returns:
        The Dataset: train (60,000) and test (10,000) images, uint8 N x 1 x 28 x 28, with
        int64 labels 0..9.

    Raises:
        ValueError: for an unknown name.
        FileNotFoundError: when no folder holds the files and they cannot be downloaded; the
            message lists the places searched and how to provide the files.
        udl.DataFormatError: for a file that is truncated or not valid IDX.
    """
    source = _source(name)
    places = search_paths(name, data_dir)
    folder = next((p for p in places if _find_files(p) is not None), None)
    download_error = None
    if folder is None and download:
        try:
            folder = _download(name, source)
        except OSError as error:
            download_error = error
    if folder is None:
        listed = "\n".join(f"  - {p}" for p in places)
        reason = f"\nDownloading failed: {download_error}" if download_error else ""
        raise FileNotFoundError(
            f"no {name} files found; searched:\n{listed}{reason}\n"
            f"Put the four IDX files ({', '.join(FILES.values())}, raw or .gz) in one of "
            f"these folders, pass data_dir=..., or set UDL_DATA_DIR to a folder holding "
            f"{name}/."
        )
    files = _find_files(folder)
    assert files is not None
    n_classes = len(source.class_names)
    train_images, train_labels = _native._C.read_idx_images_and_labels(
        str(files["train_images"]), str(files["train_labels"]), n_classes
    )
    test_images, test_labels = _native._C.read_idx_images_and_labels(
        str(files["test_images"]), str(files["test_labels"]), n_classes
    )
    log.info("loaded %s from %s", name, folder)
    return Dataset(
        name=name,
        train=ImageSet(train_images, train_labels),
        test=ImageSet(test_images, test_labels),
        class_names=source.class_names,
    )


def _source(name: str) -> _Source:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "udl"


def _find_files(folder: Path) -> dict[str, Path] | None:
    """The four files in `folder` (each raw or .gz), or None if any is missing."""
    found = {}
    for key, stem in FILES.items():
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def _download(name: str, source: _Source, timeout: float = 30.0) -> Path:
    """Fetches the four archives into the cache; each lands whole or not at all."""
    target = _cache_dir() / name
    target.mkdir(parents=True, exist_ok=True)
    for stem, md5 in source.md5.items():
        destination = target / f"{stem}.gz"
        if destination.is_file():
            continue
        _download_one(f"{stem}.gz", source.mirrors, md5, destination, timeout)
    return target


def _download_one(
    filename: str, mirrors: Sequence[str], md5: str, destination: Path, timeout: float
) -> None:
    import hashlib
    import tempfile
    import urllib.error
    import urllib.request  # with http.client and ssl: only when a download is needed

    errors = []
    for mirror in mirrors:
        url = mirror + filename
        try:
            log.info("downloading %s", url)
            with urllib.request.urlopen(url, timeout=timeout) as response:
                payload = response.read()
        except (urllib.error.URLError, OSError) as error:
            errors.append(f"{url}: {error}")
            continue
        digest = hashlib.md5(payload).hexdigest()
        if digest != md5:
            errors.append(f"{url}: checksum {digest} does not match the published {md5}")
            continue
        # Write beside the destination, flush to disk, then rename: never a half file.
        with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as tmp:
            tmp.write(payload)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, destination)
        return
    raise OSError(f"could not download {filename}: " + "; ".join(errors))
