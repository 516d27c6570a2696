"""Shared fixtures: the real datasets (loaded once), synthetic IDX files, an isolated cache."""

from __future__ import annotations

import gzip
import os
import socket
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

# The real datasets live in the workspace's shared folder, beside the repository. A run
# without UDL_DATA_DIR uses that default; a missing folder fails the tests that need it.
os.environ.setdefault(
    "UDL_DATA_DIR", str(Path(__file__).resolve().parent / ".." / ".." / "shared" / "data")
)
DATA_DIR = Path(os.environ["UDL_DATA_DIR"])

import udl  # noqa: E402  (after UDL_DATA_DIR is set, so subprocesses inherit it)

IDX_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _real_dataset(name: str) -> udl.datasets.Dataset:
    folder = DATA_DIR / name
    if not all(
        (folder / stem).is_file() or (folder / f"{stem}.gz").is_file()
        for stem in IDX_STEMS.values()
    ):
        pytest.fail(
            f"the real {name} files are missing from {folder}; set UDL_DATA_DIR to the folder "
            f"holding {name}/ (the tests need the real data and do not skip without it)"
        )
    return udl.datasets.load(name, DATA_DIR, download=False)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The folder holding mnist/ and fashion-mnist/ (UDL_DATA_DIR)."""
    if not DATA_DIR.is_dir():
        pytest.fail(f"UDL_DATA_DIR={DATA_DIR} is not a folder; point it at the real datasets")
    return DATA_DIR


@pytest.fixture(scope="session")
def fashion() -> udl.datasets.Dataset:
    """Real Fashion-MNIST, loaded once per session."""
    return _real_dataset("fashion-mnist")


@pytest.fixture(scope="session")
def mnist() -> udl.datasets.Dataset:
    """Real MNIST, loaded once per session."""
    return _real_dataset("mnist")


@pytest.fixture(scope="session")
def small_train(fashion: udl.datasets.Dataset) -> np.ndarray:
    """2048 real Fashion-MNIST training images (uint8, N x 1 x 28 x 28)."""
    return fashion.train.images[:2048]


@pytest.fixture(scope="session")
def small_test(fashion: udl.datasets.Dataset) -> np.ndarray:
    """512 real Fashion-MNIST test images."""
    return fashion.test.images[:512]


def idx_bytes(
    array: np.ndarray, *, type_code: int = 0x08, dims: tuple[int, ...] | None = None
) -> bytes:
    """An IDX file's bytes: magic (0, 0, type, ndims), big-endian dims, then the data."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    dims = data.shape if dims is None else dims
    header = bytes([0, 0, type_code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return header + data.tobytes()


@pytest.fixture
def make_idx() -> Callable[..., bytes]:
    """Builds IDX bytes from an array (see idx_bytes)."""
    return idx_bytes


@pytest.fixture
def write_idx() -> Callable[..., Path]:
    """Writes an array (or ready bytes) as an IDX file, gzip-compressed if gz=True."""

    def write(path: Path, content: np.ndarray | bytes, *, gz: bool = False) -> Path:
        payload = content if isinstance(content, bytes) else idx_bytes(content)
        if gz:
            payload = gzip.compress(payload, mtime=0)
            if path.suffix != ".gz":
                path = path.with_name(path.name + ".gz")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        return path

    return write


@dataclass
class Synthetic:
    """A small dataset written as the four IDX files of an MNIST-style folder."""

    folder: Path
    train_images: np.ndarray  # N x H x W uint8, as stored
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def path(self, key: str) -> Path:
        """The file written for `key` ("train_images", ...), raw or .gz."""
        stem = IDX_STEMS[key]
        raw = self.folder / stem
        return raw if raw.is_file() else self.folder / f"{stem}.gz"


@pytest.fixture
def make_dataset(write_idx: Callable[..., Path]) -> Callable[..., Synthetic]:
    """Writes a synthetic dataset (random images, labels 0..9 cycling) into a folder."""

    def make(
        folder: Path,
        n_train: int = 6,
        n_test: int = 4,
        *,
        gz: bool = True,
        size: int = 4,
        seed: int = 0,
    ) -> Synthetic:
        rng = np.random.default_rng(seed)
        data = Synthetic(
            folder=folder,
            train_images=rng.integers(0, 256, (n_train, size, size), dtype=np.uint8),
            train_labels=(np.arange(n_train) % 10).astype(np.uint8),
            test_images=rng.integers(0, 256, (n_test, size, size), dtype=np.uint8),
            test_labels=(np.arange(n_test) % 10).astype(np.uint8),
        )
        for key, stem in IDX_STEMS.items():
            write_idx(folder / stem, getattr(data, key), gz=gz)
        return data

    return make


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Points XDG_CACHE_HOME into tmp_path and clears UDL_DATA_DIR; returns udl's cache."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("UDL_DATA_DIR", raising=False)
    # Loopback downloads must not go through a proxy the environment may name.
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    return tmp_path / "xdg-cache" / "udl"


@pytest.fixture
def closed_port_url() -> str:
    """An http:// URL on 127.0.0.1 at a port nothing listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture
def unreachable_sources(monkeypatch: pytest.MonkeyPatch, closed_port_url: str) -> Iterator[None]:
    """Every dataset's mirrors point at a closed local port: downloads fail at once."""
    for name, source in list(udl.datasets.DATASETS.items()):
        monkeypatch.setitem(
            udl.datasets.DATASETS,
            name,
            udl.datasets._Source(
                mirrors=(closed_port_url,),
                md5=source.md5,
                class_names=source.class_names,
                debian_dir=None,
            ),
        )
    yield


@pytest.fixture(scope="module")
def one_thread_per_module() -> Iterator[None]:
    """One LibTorch thread for a whole test module: its many tiny forward passes outside the
    training loop slow down badly when two OpenMP threads share two busy cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def small_fashion(
    fashion: udl.datasets.Dataset, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, object]]:
    """udl.datasets.load answers with 600 training and 200 test images of the real data."""
    calls: list[tuple[str, object]] = []
    small = udl.datasets.Dataset(
        name="fashion-mnist",
        train=udl.datasets.from_numpy(fashion.train.images[:600], fashion.train.labels[:600]),
        test=udl.datasets.from_numpy(fashion.test.images[:200], fashion.test.labels[:200]),
        class_names=fashion.class_names,
    )

    def fake_load(name: str, data_dir: object = None, **_: object) -> udl.datasets.Dataset:
        calls.append((name, data_dir))
        return small

    monkeypatch.setattr(udl.datasets, "load", fake_load)
    return calls


def _interrupted_at(epoch: int, train: Callable[..., object]) -> Callable[..., object]:

    def interrupted(data: object, callback: Callable[[object], None], **training: object):
        def on_epoch(record: object) -> None:
            callback(record)
            if record.epoch == epoch:  # type: ignore[attr-defined]
                raise KeyboardInterrupt

        return train(data, callback=on_epoch, **training)

    return interrupted


@pytest.fixture
def interrupted_at() -> Callable[[int, Callable[..., object]], Callable[..., object]]:
    """`interrupted_at(epoch, train)`: `train` (a udl.train_* function) raising
    KeyboardInterrupt right after epoch `epoch`'s callback, as Ctrl-C then would."""
    return _interrupted_at


SMOKE_REPRODUCTION = ["reproduce", "--budget", "smoke", "--threads", "1"]


@pytest.fixture
def real_datasets(
    fashion: udl.datasets.Dataset, mnist: udl.datasets.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    """udl.datasets.load answers with the session's loaded datasets (no reading from disk)."""
    loaded = {"fashion-mnist": fashion, "mnist": mnist}
    monkeypatch.setattr(udl.datasets, "load", lambda name, data_dir=None, **_: loaded[name])


@pytest.fixture(scope="session")
def smoke_reproduction(
    fashion: udl.datasets.Dataset,
    mnist: udl.datasets.Dataset,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """One smoke reproduction of the five reports (600 training images each), made once for
    the session; copy it before changing it."""
    from udl.app import cli

    run = tmp_path_factory.mktemp("smoke") / "reproduction"
    loaded = {"fashion-mnist": fashion, "mnist": mnist}
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(udl.datasets, "load", lambda name, data_dir=None, **_: loaded[name])
            assert cli.main([*SMOKE_REPRODUCTION, "--out", str(run)]) == 0
    finally:
        torch.set_num_threads(previous)
    return run
