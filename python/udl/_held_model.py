"""What every model held by the native core has, whatever its kind."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from udl import _native
from udl._arrays import save_atomically
from udl._native_config import device_name

if TYPE_CHECKING:
    from torch import nn


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
        replaced whole or not at all. It loads on any device, whichever device wrote it.
        """
        save_atomically(self._model.save, path)

    @property
    def device(self) -> str:
        """Where the weights are: "cpu" or "cuda:N" (training moves them to its device)."""
        return str(self._model.device)

    def to(self, device: str) -> Any:
        """Moves the weights to `device` ("cpu", "cuda", "cuda:N", "auto"; see
        `udl.settings.LoopOptions`) and returns the model. Raises udl.InvalidArgument for a
        device torch cannot use."""
        self._model.move_to(device_name(device))
        return self

    def _on(self, device: str | None) -> Any:
        """The native model, moved to `device` first unless it is None."""
        if device is not None:
            self.to(device)
        return self._model

    def to_torch(self) -> nn.Module:
        """The model as a plain torch.nn.Module (classes of `udl.portable`, made of torch.nn
        layers only) in evaluation mode on the model's device: same weights, same outputs
        within float rounding. See `udl.export`."""
        from udl import export

        return export.to_torch(self)

    def export(
        self, path: str | os.PathLike[str], format: str = "torchscript", *, part: str | None = None
    ) -> Path:
        """Writes the model as a file that runs without udl: "torchscript" (every method),
        "pt2" (a torch.export program of one `part`) or "onnx" (one `part`; needs
        `pip install udl[onnx]`). See `udl.export.export`."""
        from udl import export

        return export.export(self, path, format, part=part)

    def _assemble(self, modules: dict[str, nn.Module]) -> nn.Module:
        """The portable module made of the top-level modules `udl.portable.build_layers`
        rebuilt."""
        raise NotImplementedError

    def _export_parts(self) -> dict[str, tuple[str, Any]]:
        """The ONNX entry points: part name -> (method of the portable module, example
        input), the default first."""
        raise NotImplementedError
