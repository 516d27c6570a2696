"""Array and file plumbing shared by the model wrappers: NumPy or torch in, the same kind
out; image and code checks that name the problem; atomic model files."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ArrayLike = Any  # np.ndarray | torch.Tensor


def is_tensor(value: Any) -> bool:
    """Whether `value` is a torch tensor, without importing torch: if torch was never
    imported, nothing can be a tensor."""
    tensor = getattr(sys.modules.get("torch"), "Tensor", None)
    return tensor is not None and isinstance(value, tensor)


def as_numpy(value: ArrayLike, what: str) -> np.ndarray:
    """A NumPy view of an array or a (CPU copy of a) tensor; TypeError for anything else."""
    if is_tensor(value):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise TypeError(f"{what} must be a NumPy array or torch tensor, got {type(value).__name__}")


def like(result: np.ndarray, original: ArrayLike) -> ArrayLike:
    """`result` as a tensor on the original's device if the input was a tensor."""
    if is_tensor(original):
        import torch

        return torch.from_numpy(result).to(original.device)
    return result


def images_for(images: ArrayLike, input_shape: Sequence[int]) -> np.ndarray:
    """Images checked against a model's C x H x W input, C-contiguous uint8 or float32.

    N x H x W is accepted for one channel. Raises ValueError (shape, range) or TypeError
    (dtype) naming the problem."""
    array = as_numpy(images, "images")
    channels, height, width = input_shape
    if array.ndim == 3 and channels == 1:
        array = array[:, None, :, :]
    if array.ndim != 4 or array.shape[1:] != (channels, height, width) or len(array) == 0:
        raise ValueError(
            f"the model takes N x {channels} x {height} x {width} images (N > 0), "
            f"got shape {array.shape}"
        )
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"images must be uint8 or floating point, got {array.dtype}")
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise ValueError("float images must be finite and lie in [0, 1]")
    return np.ascontiguousarray(array, dtype=np.float32)


def codes_for(codes: ArrayLike, latent_dim: int) -> np.ndarray:
    """Latent codes checked as N x latent_dim finite floats, as C-contiguous float32."""
    array = as_numpy(codes, "codes")
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"codes must be floating point, got {array.dtype}")
    if array.ndim != 2 or array.shape[1] != latent_dim or array.shape[0] == 0:
        raise ValueError(f"codes must be N x {latent_dim} with N > 0, got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("codes contain NaN or infinite values")
    return np.ascontiguousarray(array, dtype=np.float32)


def save_atomically(write: Callable[[str], None], path: str | os.PathLike[str]) -> None:
    """Calls `write` on a temporary file beside `path`, then renames it over `path`, so an
    existing file is replaced whole or not at all.

    Raises:
        FileNotFoundError: if the folder of `path` does not exist.
        IsADirectoryError: if `path` is a folder.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save the model to {path}: no folder {path.parent}")
    if path.is_dir():
        raise IsADirectoryError(f"cannot save the model to {path}: it is a folder; name a file")
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def existing_file(path: str | os.PathLike[str]) -> str:
    """`path` as a string; FileNotFoundError if no file is there."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no model file at {path}")
    return str(path)
