"""udl.datasets: loading MNIST-style IDX folders (search order, download), IDX strictness,
and users' own arrays through from_numpy."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import re
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

import udl
from udl.datasets import DATASETS, _Source, from_numpy, load, search_paths

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
TEN_CLASSES = tuple(str(d) for d in range(10))


# --- the real datasets ------------------------------------------------------------------


def _check_real_shapes(data: udl.datasets.Dataset) -> None:
    assert data.train.images.shape == (60000, 1, 28, 28)
    assert data.test.images.shape == (10000, 1, 28, 28)
    assert data.train.images.dtype == np.uint8
    assert data.test.images.dtype == np.uint8
    assert data.train.labels.shape == (60000,)
    assert data.test.labels.shape == (10000,)
    assert data.train.labels.dtype == np.int64
    assert data.test.labels.dtype == np.int64
    assert data.train.image_shape == (1, 28, 28)
    assert len(data.train) == 60000
    assert len(data.test) == 10000
    assert len(data.class_names) == 10
    # Real pixels: the full 0..255 range is used, the images are not blank.
    assert data.train.images.min() == 0
    assert data.train.images.max() == 255


def test_fashion_mnist_shapes_and_dtypes(fashion: udl.datasets.Dataset) -> None:
    _check_real_shapes(fashion)
    assert fashion.name == "fashion-mnist"
    assert fashion.class_names[0] == "T-shirt/top"
    assert fashion.class_names[9] == "Ankle boot"


def test_fashion_mnist_class_counts(fashion: udl.datasets.Dataset) -> None:
    assert np.bincount(fashion.train.labels).tolist() == [6000] * 10
    assert np.bincount(fashion.test.labels).tolist() == [1000] * 10


def test_mnist_shapes_and_class_counts(mnist: udl.datasets.Dataset) -> None:
    _check_real_shapes(mnist)
    assert mnist.name == "mnist"
    assert mnist.class_names == TEN_CLASSES
    assert np.bincount(mnist.train.labels).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(mnist.test.labels).tolist() == MNIST_TEST_COUNTS


def test_mnist_and_fashion_mnist_differ(
    mnist: udl.datasets.Dataset, fashion: udl.datasets.Dataset
) -> None:
    # Each name loads its own folder, not the other's.
    assert not np.array_equal(mnist.test.images[:10], fashion.test.images[:10])


def test_dataset_repr_names_sizes(fashion: udl.datasets.Dataset) -> None:
    text = repr(fashion)
    assert "fashion-mnist" in text
    assert "60000" in text and "10000" in text


# --- search order -----------------------------------------------------------------------


def _assert_loaded(data: udl.datasets.Dataset, written) -> None:
    assert np.array_equal(data.train.images[:, 0], written.train_images)
    assert np.array_equal(data.train.labels, written.train_labels.astype(np.int64))
    assert np.array_equal(data.test.images[:, 0], written.test_images)
    assert np.array_equal(data.test.labels, written.test_labels.astype(np.int64))


@pytest.fixture
def three_places(
    tmp_path: Path, isolated_cache: Path, make_dataset: Callable, monkeypatch: pytest.MonkeyPatch
):
    """Distinct mnist datasets in an explicit folder (3 images), UDL_DATA_DIR (5), cache (7)."""
    explicit = make_dataset(tmp_path / "explicit", n_train=3, seed=1)
    env = make_dataset(tmp_path / "env" / "mnist", n_train=5, seed=2)
    cache = make_dataset(isolated_cache / "mnist", n_train=7, seed=3)
    monkeypatch.setenv("UDL_DATA_DIR", str(tmp_path / "env"))
    return explicit, env, cache


def test_explicit_data_dir_beats_udl_data_dir(three_places) -> None:
    explicit, _, _ = three_places
    data = load("mnist", explicit.folder, download=False)
    assert len(data.train) == 3
    _assert_loaded(data, explicit)


def test_udl_data_dir_beats_cache(three_places) -> None:
    _, env, _ = three_places
    data = load("mnist", download=False)
    assert len(data.train) == 5
    _assert_loaded(data, env)


def test_cache_used_without_data_dir_or_env(three_places, monkeypatch: pytest.MonkeyPatch) -> None:
    _, _, cache = three_places
    monkeypatch.delenv("UDL_DATA_DIR")
    data = load("mnist", download=False)
    assert len(data.train) == 7
    _assert_loaded(data, cache)


def test_incomplete_explicit_folder_is_passed_over(three_places) -> None:
    explicit, env, _ = three_places
    explicit.path("test_labels").unlink()
    data = load("mnist", explicit.folder, download=False)
    _assert_loaded(data, env)


def test_data_dir_may_hold_a_subfolder_named_after_the_dataset(
    tmp_path: Path, isolated_cache: Path, make_dataset: Callable
) -> None:
    written = make_dataset(tmp_path / "root" / "mnist")
    _assert_loaded(load("mnist", tmp_path / "root", download=False), written)
    _assert_loaded(load("mnist", str(tmp_path / "root"), download=False), written)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_raw_and_gzip_files_both_load(
    tmp_path: Path, isolated_cache: Path, make_dataset: Callable, gz: bool
) -> None:
    written = make_dataset(tmp_path / "data", gz=gz)
    suffix = ".gz" if gz else ""
    assert (tmp_path / "data" / f"train-images-idx3-ubyte{suffix}").is_file()
    data = load("mnist", tmp_path / "data", download=False)
    _assert_loaded(data, written)
    assert data.train.images.shape == (6, 1, 4, 4)


def test_raw_and_gzip_files_mixed_in_one_folder(
    tmp_path: Path, isolated_cache: Path, make_dataset: Callable, write_idx: Callable
) -> None:
    written = make_dataset(tmp_path / "data", gz=True)
    # Replace one archive by its raw file.
    written.path("train_labels").unlink()
    write_idx(tmp_path / "data" / "train-labels-idx1-ubyte", written.train_labels)
    _assert_loaded(load("mnist", tmp_path / "data", download=False), written)


def test_search_paths_order(tmp_path: Path, isolated_cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("UDL_DATA_DIR", str(tmp_path / "env"))
    assert search_paths("mnist", tmp_path / "mine") == [
        tmp_path / "mine",
        tmp_path / "mine" / "mnist",
        tmp_path / "env" / "mnist",
        isolated_cache / "mnist",
    ]
    # Fashion-MNIST also looks where Debian's dataset-fashion-mnist package installs it.
    assert search_paths("fashion-mnist")[-1] == Path("/usr/share/datasets/fashion-mnist")


def test_unknown_dataset_name() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset 'cifar10'.*fashion-mnist.*mnist"):
        load("cifar10", download=False)


def test_no_files_without_download_lists_searched_places(
    tmp_path: Path, isolated_cache: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="no mnist files found") as info:
        load("mnist", empty, download=False)
    message = str(info.value)
    assert str(empty) in message
    assert str(empty / "mnist") in message
    assert str(isolated_cache / "mnist") in message
    assert "UDL_DATA_DIR" in message
    assert "Downloading failed" not in message
    assert not (isolated_cache / "mnist").exists()  # download=False touches nothing


# --- download ---------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path, make_dataset: Callable):
    """A folder of four small gzip IDX files, and what they hold."""
    return make_dataset(tmp_path / "served", n_train=8, n_test=3, gz=True)


@pytest.fixture
def http_url(http_root) -> Iterator[str]:
    """A loopback HTTP server (ephemeral port, own thread) serving http_root's folder."""
    handler = partial(_QuietHandler, directory=str(http_root.folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _md5s(folder: Path) -> dict[str, str]:
    return {
        stem: hashlib.md5((folder / f"{stem}.gz").read_bytes()).hexdigest()
        for stem in udl.datasets.FILES.values()
    }


def _serve_as_mnist(monkeypatch, mirrors: tuple[str, ...], md5: dict[str, str]) -> None:
    monkeypatch.setitem(
        DATASETS, "mnist", _Source(mirrors=mirrors, md5=md5, class_names=TEN_CLASSES)
    )


def test_download_lands_in_cache(
    monkeypatch: pytest.MonkeyPatch, isolated_cache: Path, http_root, http_url: str
) -> None:
    _serve_as_mnist(monkeypatch, (http_url,), _md5s(http_root.folder))
    data = load("mnist")
    _assert_loaded(data, http_root)
    cached = sorted(p.name for p in (isolated_cache / "mnist").iterdir())
    assert cached == sorted(f"{stem}.gz" for stem in udl.datasets.FILES.values())
    for name in cached:
        assert (isolated_cache / "mnist" / name).read_bytes() == (
            http_root.folder / name
        ).read_bytes()
    # The cache now answers without downloading.
    _assert_loaded(load("mnist", download=False), http_root)


def test_download_falls_back_to_the_next_mirror(
    monkeypatch: pytest.MonkeyPatch,
    isolated_cache: Path,
    http_root,
    http_url: str,
    closed_port_url: str,
) -> None:
    _serve_as_mnist(monkeypatch, (closed_port_url, http_url), _md5s(http_root.folder))
    _assert_loaded(load("mnist"), http_root)


def test_download_with_wrong_checksum_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, isolated_cache: Path, http_root, http_url: str
) -> None:
    wrong = {stem: "0" * 32 for stem in udl.datasets.FILES.values()}
    _serve_as_mnist(monkeypatch, (http_url,), wrong)
    with pytest.raises(FileNotFoundError, match=r"(?s)Downloading failed.*checksum"):
        load("mnist")
    folder = isolated_cache / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_download_from_unreachable_mirror(
    monkeypatch: pytest.MonkeyPatch, isolated_cache: Path, closed_port_url: str, http_root
) -> None:
    _serve_as_mnist(monkeypatch, (closed_port_url,), _md5s(http_root.folder))
    with pytest.raises(FileNotFoundError, match=r"(?s)no mnist files found.*Downloading failed"):
        load("mnist")
    folder = isolated_cache / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []


# --- IDX strictness ---------------------------------------------------------------------


@pytest.fixture
def idx_folder(tmp_path: Path, isolated_cache: Path, make_dataset: Callable):
    """A valid raw synthetic dataset whose files the tests then spoil one at a time."""
    return make_dataset(tmp_path / "idx", n_train=6, n_test=4, gz=False)


def _load_spoiled(written, key: str, payload: bytes) -> udl.datasets.Dataset:
    written.path(key).write_bytes(payload)
    return load("mnist", written.folder, download=False)


def test_data_format_error_is_a_value_error() -> None:
    assert issubclass(udl.DataFormatError, ValueError)
    assert udl.DataFormatError is udl.errors.DataFormatError


def test_bad_magic(idx_folder, make_idx) -> None:
    payload = b"\x01" + make_idx(idx_folder.train_images)[1:]
    with pytest.raises(udl.DataFormatError, match="bad magic number"):
        _load_spoiled(idx_folder, "train_images", payload)


def test_unsupported_type_code(idx_folder, make_idx) -> None:
    payload = make_idx(idx_folder.train_images, type_code=0x0D)  # 0x0D: float32 in IDX
    with pytest.raises(udl.DataFormatError, match=r"type code 13 is not supported"):
        _load_spoiled(idx_folder, "train_images", payload)


def test_zero_dimensions(idx_folder) -> None:
    with pytest.raises(udl.DataFormatError, match="zero dimensions"):
        _load_spoiled(idx_folder, "train_labels", b"\x00\x00\x08\x00")


def test_truncated_header(idx_folder, make_idx) -> None:
    payload = make_idx(idx_folder.train_images)[:10]  # 3 dims need 16 header bytes
    with pytest.raises(udl.DataFormatError, match="truncated header"):
        _load_spoiled(idx_folder, "train_images", payload)


def test_truncated_data(idx_folder, make_idx) -> None:
    payload = make_idx(idx_folder.train_images)[:-1]
    with pytest.raises(udl.DataFormatError, match=r"truncated: the header declares 96 bytes"):
        _load_spoiled(idx_folder, "train_images", payload)


def test_trailing_bytes(idx_folder, make_idx) -> None:
    payload = make_idx(idx_folder.test_labels) + b"\x00\x00"
    with pytest.raises(udl.DataFormatError, match="2 unexpected bytes after"):
        _load_spoiled(idx_folder, "test_labels", payload)


def test_truncated_gzip(idx_folder, make_idx) -> None:
    compressed = gzip.compress(make_idx(idx_folder.train_images), mtime=0)
    with pytest.raises(udl.DataFormatError, match="truncated gzip stream"):
        _load_spoiled(idx_folder, "train_images", compressed[: len(compressed) // 2])


def test_corrupt_gzip_checksum(idx_folder, make_idx) -> None:
    compressed = bytearray(gzip.compress(make_idx(idx_folder.train_images), mtime=0))
    compressed[-8] ^= 0xFF  # the CRC-32 of the gzip trailer
    with pytest.raises(udl.DataFormatError, match="corrupt gzip data"):
        _load_spoiled(idx_folder, "train_images", bytes(compressed))


def test_corrupt_gzip_garbage(idx_folder) -> None:
    payload = b"\x1f\x8b" + b"\xff" * 64  # gzip magic, then nothing valid
    with pytest.raises(udl.DataFormatError, match="corrupt gzip data"):
        _load_spoiled(idx_folder, "train_images", payload)


def test_concatenated_gzip_members_are_one_file(idx_folder, make_idx) -> None:
    raw = make_idx(idx_folder.train_images)
    payload = gzip.compress(raw[:20], mtime=0) + gzip.compress(raw[20:], mtime=0)
    _assert_loaded(_load_spoiled(idx_folder, "train_images", payload), idx_folder)


def test_images_with_wrong_dimension_count(idx_folder, make_idx) -> None:
    payload = make_idx(idx_folder.train_images.reshape(6, 16))
    with pytest.raises(udl.DataFormatError, match=r"image file needs 3 dimensions.*has 2"):
        _load_spoiled(idx_folder, "train_images", payload)


def test_images_with_a_zero_dimension(idx_folder, make_idx) -> None:
    payload = make_idx(np.zeros((6, 0, 4), np.uint8))
    with pytest.raises(udl.DataFormatError, match=r"every dimension > 0"):
        _load_spoiled(idx_folder, "train_images", payload)


def test_labels_with_wrong_dimension_count(idx_folder, make_idx) -> None:
    payload = make_idx(idx_folder.train_labels.reshape(6, 1))
    with pytest.raises(udl.DataFormatError, match=r"label file needs 1 dimension.*has 2"):
        _load_spoiled(idx_folder, "train_labels", payload)


def test_label_outside_classes(idx_folder, make_idx) -> None:
    labels = idx_folder.test_labels.copy()
    labels[2] = 10
    with pytest.raises(udl.DataFormatError, match=r"label 10 at index 2 is outside 0\.\.9"):
        _load_spoiled(idx_folder, "test_labels", make_idx(labels))


def test_unequal_image_and_label_counts(idx_folder, make_idx) -> None:
    payload = make_idx(idx_folder.train_labels[:5])
    with pytest.raises(udl.DataFormatError, match=r"holds 6 images but .* holds 5 labels"):
        _load_spoiled(idx_folder, "train_labels", payload)


def test_empty_file(idx_folder) -> None:
    with pytest.raises(udl.DataFormatError, match="only 0 bytes"):
        _load_spoiled(idx_folder, "test_images", b"")


def test_error_names_the_file(idx_folder) -> None:
    with pytest.raises(udl.DataFormatError, match="t10k-images-idx3-ubyte"):
        _load_spoiled(idx_folder, "test_images", b"")


def test_missing_file_makes_the_folder_incomplete(idx_folder) -> None:
    # load() only reads folders holding all four files: one missing is "not found".
    idx_folder.path("train_images").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(idx_folder.folder))):
        load("mnist", idx_folder.folder, download=False)


def test_missing_file_in_the_core_reader(tmp_path: Path) -> None:
    # The core's own reader reports an unopenable path as InvalidArgument (a ValueError).
    with pytest.raises(udl.InvalidArgument, match=r"cannot open IDX file .*missing"):
        udl._native._C.read_idx(str(tmp_path / "missing"))
    assert issubclass(udl.InvalidArgument, ValueError)


def test_core_reader_reads_raw_and_gzip(tmp_path: Path, write_idx) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = write_idx(tmp_path / "a", array)
    compressed = write_idx(tmp_path / "b", array, gz=True)
    assert compressed.name == "b.gz"
    for path in (raw, compressed):
        read = udl._native._C.read_idx(str(path))
        assert read.dtype == np.uint8
        assert np.array_equal(read, array)


# --- from_numpy -------------------------------------------------------------------------


def test_from_numpy_adds_channel_axis() -> None:
    images = np.zeros((5, 28, 28), np.uint8)
    images[1, 2, 3] = 255
    image_set = from_numpy(images)
    assert image_set.images.shape == (5, 1, 28, 28)
    assert image_set.images.dtype == np.uint8
    assert image_set.images[1, 0, 2, 3] == 255
    assert image_set.labels is None
    assert image_set.image_shape == (1, 28, 28)
    assert len(image_set) == 5


def test_from_numpy_keeps_nchw() -> None:
    images = np.full((4, 3, 8, 6), 7, np.uint8)
    image_set = from_numpy(images, np.array([0, 1, 2, 3]))
    assert image_set.images.shape == (4, 3, 8, 6)
    assert image_set.image_shape == (3, 8, 6)
    assert image_set.labels.dtype == np.int64
    assert image_set.labels.tolist() == [0, 1, 2, 3]


def test_from_numpy_float64_becomes_float32() -> None:
    images = np.linspace(0, 1, 2 * 5 * 5).reshape(2, 5, 5)
    image_set = from_numpy(images)
    assert image_set.images.dtype == np.float32
    assert image_set.images.shape == (2, 1, 5, 5)
    np.testing.assert_allclose(image_set.images[:, 0], images, rtol=1e-6)


def test_from_numpy_accepts_torch_tensors() -> None:
    images = torch.rand(3, 1, 6, 6, dtype=torch.float64)
    labels = torch.tensor([2, 0, 1])
    image_set = from_numpy(images, labels)
    assert isinstance(image_set.images, np.ndarray)
    assert image_set.images.dtype == np.float32
    assert image_set.images.shape == (3, 1, 6, 6)
    assert image_set.labels.tolist() == [2, 0, 1]
    np.testing.assert_allclose(image_set.images, images.numpy(), rtol=1e-6)


def test_from_numpy_makes_strided_input_contiguous() -> None:
    images = np.arange(4 * 6 * 6, dtype=np.uint8).reshape(4, 6, 6)[:, ::2, ::2]
    image_set = from_numpy(images)
    assert image_set.images.flags["C_CONTIGUOUS"]
    assert np.array_equal(image_set.images[:, 0], images)


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.int64], ids=["int32", "bool", "int64"])
def test_from_numpy_rejects_non_image_dtypes(dtype) -> None:
    with pytest.raises(TypeError, match="images must be uint8 or floating point"):
        from_numpy(np.zeros((2, 4, 4), dtype))


def test_from_numpy_rejects_lists() -> None:
    with pytest.raises(TypeError, match="images must be a NumPy array or torch tensor"):
        from_numpy([[[0, 1], [1, 0]]])


@pytest.mark.parametrize("shape", [(28, 28), (2, 1, 1, 28, 28), (5,)])
def test_from_numpy_rejects_wrong_ndim(shape) -> None:
    with pytest.raises(ValueError, match="images must be N x H x W or N x C x H x W"):
        from_numpy(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("bad", [1.5, -0.1], ids=["above-one", "negative"])
def test_from_numpy_rejects_floats_outside_unit_range(bad: float) -> None:
    images = np.full((2, 4, 4), 0.5, np.float32)
    images[1, 1, 1] = bad
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\]"):
        from_numpy(images)


@pytest.mark.parametrize("bad", [np.nan, np.inf], ids=["nan", "inf"])
def test_from_numpy_rejects_non_finite_floats(bad: float) -> None:
    images = np.full((2, 4, 4), 0.5)
    images[0, 0, 0] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        from_numpy(images)


def test_from_numpy_rejects_label_count_mismatch() -> None:
    with pytest.raises(ValueError, match="got 3 images but 2 labels"):
        from_numpy(np.zeros((3, 4, 4), np.uint8), np.array([0, 1]))


def test_from_numpy_rejects_negative_labels() -> None:
    with pytest.raises(ValueError, match="labels must be >= 0"):
        from_numpy(np.zeros((3, 4, 4), np.uint8), np.array([0, -1, 2]))


@pytest.mark.parametrize(
    "labels",
    [np.array([0.0, 1.0, 2.0]), np.array([True, False, True])],
    ids=["float", "bool"],
)
def test_from_numpy_rejects_non_integer_labels(labels: np.ndarray) -> None:
    with pytest.raises(TypeError, match="labels must be integers"):
        from_numpy(np.zeros((3, 4, 4), np.uint8), labels)


def test_from_numpy_rejects_two_dimensional_labels() -> None:
    with pytest.raises(ValueError, match="labels must be a 1-D"):
        from_numpy(np.zeros((3, 4, 4), np.uint8), np.zeros((3, 1), np.int64))


@pytest.mark.parametrize("shape", [(0, 28, 28), (0, 1, 28, 28), (2, 0, 4, 4)])
def test_from_numpy_rejects_empty(shape) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        from_numpy(np.zeros(shape, np.uint8))
