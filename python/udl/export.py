"""Models that leave udl: a trained model as a plain `torch.nn.Module` (`to_torch`), or a
file that runs without udl (`export`): TorchScript (`torch.jit.load`, and LibTorch's
`torch::jit::load`), a torch.export program (`torch.export.load`; TorchScript's successor,
which torch 2.9+ recommends), or ONNX (onnxruntime; `pip install udl[onnx]`).

The module is rebuilt from the native model's own description of its layers and loaded with
its weights (pruned weights are zeros already, so the pruning masks are not needed); its
classes are in `udl.portable`, which imports nothing but torch.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from udl._arrays import save_atomically

if TYPE_CHECKING:
    from torch import nn

    from udl._held_model import HeldModel

__all__ = ["FORMATS", "export", "to_torch"]

#: The file formats `export` writes.
FORMATS = ("torchscript", "pt2", "onnx")


def to_torch(model: HeldModel) -> nn.Module:
    """`model` as a plain torch.nn.Module in evaluation mode, on the model's device, with
    the same weights and (within float rounding) the same outputs."""
    import torch

    from udl import portable

    module = model._assemble(portable.build_layers(model._model.layers()))
    wanted = module.state_dict()
    state = {k: torch.from_numpy(v) for k, v in model.state_dict().items() if k in wanted}
    module.load_state_dict(state, strict=True)  # every layer's weights, or an error
    return module.to(model.device).eval()


def export(
    model: HeldModel,
    path: str | os.PathLike[str],
    format: str = "torchscript",
    *,
    part: str | None = None,
) -> Path:
    """Writes `model` (on the CPU) to `path` as `format` and returns the path.

    TorchScript keeps every method (`encode`, `decode` too). A torch.export program ("pt2")
    and an ONNX graph have one entry point, `part` (default the model's first:
    "reconstruct" for the autoencoders, then "encode" or "decode"; "classify"; "generate");
    the ONNX graph's input is "input" and its output "output". In both the first dimension
    is the batch, of any size. The file is written beside `path` and renamed over it.

    Raises:
        ValueError: for an unknown format or part.
        ModuleNotFoundError: for ONNX without onnx and onnxscript (`pip install udl[onnx]`).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    parts = model._export_parts()
    chosen = next(iter(parts)) if part is None else part
    if chosen not in parts:
        raise ValueError(f"part must be one of {', '.join(parts)} for this model, got {part!r}")
    if format == "onnx":
        for package in ("onnx", "onnxscript"):
            try:
                __import__(package)
            except ModuleNotFoundError as error:
                raise ModuleNotFoundError(
                    f"ONNX export needs {package}: pip install 'udl[onnx]'"
                ) from error
    module = to_torch(model).cpu()
    path = Path(path)
    method, example = parts[chosen]
    if format == "torchscript":
        save_atomically(lambda target: _torchscript(module).save(target), path)
    elif format == "pt2":
        save_atomically(lambda target: _exported_program(module, method, example, target), path)
    else:
        save_atomically(lambda target: _onnx(module, method, example, target), path)
    return path


def autoencoder_parts(input_shape: Any, latent_dim: int) -> dict[str, tuple[str, Any]]:
    """The ONNX parts of an autoencoder or VAE, with example inputs (a batch of two: one
    would fix the batch size in the graph)."""
    import torch

    images = torch.rand(2, *input_shape)
    codes = torch.randn(2, latent_dim)
    return {
        "reconstruct": ("forward", images),
        "encode": ("encode", images),
        "decode": ("decode", codes),
    }


def _torchscript(module: nn.Module) -> Any:
    import torch

    with warnings.catch_warnings():
        # torch 2.9+ calls TorchScript deprecated; its files are still what torch.jit.load and
        # LibTorch read.
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.script(module)


def _entry(module: nn.Module, method: str) -> nn.Module:
    """A module whose forward is `module`'s `method`: the one entry point of a graph."""
    import torch

    class Entry(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return getattr(self.model, method)(x)

    return Entry().eval()


def _batch_dimension() -> Any:
    import torch

    return ({0: torch.export.Dim("batch")},)


def _exported_program(module: nn.Module, method: str, example: Any, target: str) -> None:
    import torch

    program = torch.export.export(
        _entry(module, method), (example,), dynamic_shapes=_batch_dimension()
    )
    torch.export.save(program, target)


def _onnx(module: nn.Module, method: str, example: Any, target: str) -> None:
    import torch

    with warnings.catch_warnings():
        # The exporter's own FutureWarnings and progress lines are about torch internals.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _entry(module, method),
            (example,),
            target,
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=_batch_dimension(),
            dynamo=True,  # the default from torch 2.9 on; dynamic_shapes needs it before
            external_data=False,
            verbose=False,
        )
