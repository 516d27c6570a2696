"""What every model held by the native core has, whatever its kind."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np

from udl import _native
from udl._arrays import save_atomically


class HeldModel:
    """A model whose weights live in the native core (`_model`, of the class of `udl._C`
    named `_native_class`, built from `spec` and a seed): parameter counts, a state dict of
    copies, and saving to a udl model file."""

    _native_class: ClassVar[str]
    _model: Any

    def __init__(self, spec: Any, seed: int = 0, *, _held: Any = None) -> None:
        self.spec = spec
        if _held is None:
            _held = getattr(_native._C, self._native_class)(spec._native(), seed)
        self._model = _held

    @property
    def parameter_count(self) -> int:
        return int(self._model.parameter_count)

    @property
    def trainable_parameter_count(self) -> int:
        """Parameters that training updates (not frozen)."""
        return int(self._model.trainable_parameter_count)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the parameters and buffers (pruning masks, batch-norm statistics) by
        name (e.g. "encoder.0.weight"), as NumPy arrays."""
        return dict(self._model.state_dict())

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the model (format version, architecture, weights) to `path`.

        The file is written beside `path` and renamed over it, so an existing file is
        replaced whole or not at all.
        """
        save_atomically(self._model.save, path)
