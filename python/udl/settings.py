"""The settings of udl's training loop, declared once.

Every `udl.train_*` function and `udl.finetune_classifier` takes these as keyword
arguments (`**options: Unpack[LoopOptions]`); the C++ core takes its defaults from them (the
build runs this file with `--cpp-header` to write `udl/loop_defaults.h`), and the `udl`
command makes a flag with this help text of each. The GAN starts from other defaults
(`GAN_DEFAULTS`).

This module imports nothing but the standard library: the build runs it as a script and
`udl --help` reads it without loading torch.
"""

from __future__ import annotations

import os
import sys
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypedDict

__all__ = ["GAN_DEFAULTS", "GAN_UNUSED", "LOOP_SETTINGS", "LoopOptions", "Setting", "loop_defaults"]


@dataclass(frozen=True)
class Setting:
    """One loop setting: its default and its help text (the name and type are the
    LoopOptions key and its annotation)."""

    default: Any
    help: str


class LoopOptions(TypedDict, total=False):
    """The training loop's settings, each with its default and help in its annotation."""

    optimizer: Annotated[Literal["adam", "sgd"], Setting("adam", "adam, or sgd with momentum")]
    lr: Annotated[float, Setting(1e-3, "learning rate, > 0")]
    momentum: Annotated[float, Setting(0.9, "SGD momentum in [0, 1)")]
    beta1: Annotated[float, Setting(0.9, "Adam's first beta in [0, 1)")]
    beta2: Annotated[float, Setting(0.999, "Adam's second beta in [0, 1)")]
    weight_decay: Annotated[float, Setting(0.0, "L2 penalty, >= 0")]
    batch_size: Annotated[int, Setting(256, "images per step, > 0")]
    epochs: Annotated[int, Setting(10, "maximum number of epochs, > 0")]
    seed: Annotated[
        int,
        Setting(
            0,
            "seeds the weights, the validation split, the shuffling and every random draw; "
            "on CPU the same seed gives the same history",
        ),
    ]
    val_fraction: Annotated[
        float, Setting(0.2, "share of the training images held out for validation, in (0, 1)")
    ]
    early_stopping: Annotated[
        bool,
        Setting(
            True,
            "stop after `patience` epochs without a validation improvement larger than `min_delta`",
        ),
    ]
    patience: Annotated[int, Setting(5, "epochs without improvement tolerated, >= 1")]
    min_delta: Annotated[
        float, Setting(0.0, "smallest decrease that counts as an improvement, >= 0")
    ]
    restore_best: Annotated[bool, Setting(True, "end with the weights of the best epoch")]
    lr_decay: Annotated[
        float,
        Setting(
            1.0,
            "reduce on plateau: after `lr_patience` epochs without a new best validation "
            "loss the learning rate is multiplied by this, in (0, 1] (1: never)",
        ),
    ]
    lr_patience: Annotated[int, Setting(3, "epochs on a plateau before each reduction, >= 1")]
    lr_schedule: Annotated[
        Literal["constant", "cosine", "onecycle"],
        Setting(
            "constant",
            "learning rate over the run's batches: constant (lr_decay may lower it on "
            "plateaus); cosine: from lr down to 0 by the last batch of `epochs`; onecycle: "
            "from lr/25 up to lr over the first 30% of the batches, then down to lr/25e4 "
            "(cosine both ways, as torch's OneCycleLR)",
        ),
    ]
    checkpoint: Annotated[
        str | os.PathLike[str] | None,
        Setting(
            None,
            "a file the loop's whole state is written to after every epoch (atomically): "
            "model, optimizers, random-number generators, early-stopping and plateau state, "
            "the best epoch's weights and the history",
        ),
    ]
    resume: Annotated[
        bool,
        Setting(
            False,
            "start from `checkpoint` if it exists; the run then continues exactly as the one "
            "that wrote it would have (same history on CPU with the same seed)",
        ),
    ]
    threads: Annotated[
        int | None, Setting(None, "LibTorch threads for this run (default: the machine's cores)")
    ]
    device: Annotated[
        str,
        Setting(
            "cpu",
            'where to train: "cpu", "cuda" (the first GPU), "cuda:N", or "auto" (the first '
            "GPU when torch sees one, else the CPU)",
        ),
    ]
    precision: Annotated[
        Literal["fp32", "bf16"],
        Setting("fp32", "fp32, or bf16: bfloat16 autocast of the training step (CUDA only)"),
    ]


def _settings() -> dict[str, tuple[Any, Setting]]:
    hints = typing.get_type_hints(LoopOptions, include_extras=True)
    return {name: (hint.__origin__, hint.__metadata__[0]) for name, hint in hints.items()}


#: name -> (type, Setting), in declaration order.
LOOP_SETTINGS: dict[str, tuple[Any, Setting]] = _settings()

#: Where the GAN's defaults differ: DCGAN's Adam (`udl.train_gan` takes report 000's 1e-4
#: for the fully connected GANs), smaller batches, and no validation set, so neither early
#: stopping nor a plateau (its losses do not measure quality).
GAN_DEFAULTS: dict[str, Any] = {
    "lr": 2e-4,
    "beta1": 0.5,
    "batch_size": 64,
    "early_stopping": False,
}


#: The settings the GAN does not take: it has no validation set, so nothing to hold out,
#: monitor, stop early on or decay on a plateau.
GAN_UNUSED = (
    "val_fraction",
    "early_stopping",
    "patience",
    "min_delta",
    "restore_best",
    "lr_decay",
    "lr_patience",
)


def loop_defaults(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every setting's default, with `overrides` applied."""
    return {name: s.default for name, (_, s) in LOOP_SETTINGS.items()} | (overrides or {})


def _cpp_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "0"  # threads: LibTorch's default; checkpoint: none
    return repr(value)


def _cpp_header() -> str:
    """The defaults as C++ constants, for the core's LoopConfig."""
    lines = [
        "// Generated from python/udl/settings.py by the build: edit that file, not this one.",
        "#pragma once",
        "",
        "namespace udl::loop_defaults {",
    ]
    for prefix, values in (("", loop_defaults()), ("gan_", GAN_DEFAULTS)):
        for name, value in values.items():
            if name in ("checkpoint", "threads"):
                continue
            kind = {bool: "bool", int: "long long", float: "double", str: "const char*"}
            lines.append(
                f"inline constexpr {kind[type(value)]} {prefix}{name} = {_cpp_value(value)};"
            )
    lines += ["}  // namespace udl::loop_defaults", ""]
    return "\n".join(lines)


if __name__ == "__main__" and sys.argv[1:2] == ["--cpp-header"]:
    sys.stdout.write(_cpp_header())
