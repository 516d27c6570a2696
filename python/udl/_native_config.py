"""The loop settings of `udl.settings`, checked and copied into a native config, and the
signature every `udl.train_*` function shows for them."""

from __future__ import annotations

import inspect
import os
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from udl._checks import choice_name, integer, number
from udl._checks import seed as check_seed
from udl.settings import LOOP_SETTINGS, loop_defaults

F = TypeVar("F", bound=Callable[..., Any])


def fill_loop_config(
    config: Any,
    options: Mapping[str, Any],
    function: str,
    overrides: Mapping[str, Any] | None = None,
    unused: tuple[str, ...] = (),
) -> Any:
    """Copies the loop settings `options` (the rest from their defaults, with `overrides`)
    into a native config derived from _C.LoopConfig, with TypeError/ValueError naming a bad
    one; an unknown name, or one of the settings `function` does not take (`unused`), is a
    TypeError as Python raises it for `function`."""
    for name in options:
        if name not in LOOP_SETTINGS or name in unused:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")
    p = loop_defaults(dict(overrides or {})) | dict(options)
    for name, (kind, _) in LOOP_SETTINGS.items():  # the string settings of a fixed set
        if typing.get_origin(kind) is typing.Literal:
            choice_name(p[name], name, typing.get_args(kind))
    config.optimizer = p["optimizer"]
    config.learning_rate = number(p["lr"], "lr")
    config.momentum = number(p["momentum"], "momentum")
    config.beta1 = number(p["beta1"], "beta1")
    config.beta2 = number(p["beta2"], "beta2")
    config.weight_decay = number(p["weight_decay"], "weight_decay")
    config.batch_size = integer(p["batch_size"], "batch_size")
    config.epochs = integer(p["epochs"], "epochs")
    config.seed = check_seed(p["seed"])
    config.val_fraction = number(p["val_fraction"], "val_fraction")
    config.early_stopping = bool(p["early_stopping"])
    config.patience = integer(p["patience"], "patience")
    config.min_delta = number(p["min_delta"], "min_delta")
    config.restore_best = bool(p["restore_best"])
    config.lr_decay = number(p["lr_decay"], "lr_decay")
    config.lr_patience = integer(p["lr_patience"], "lr_patience")
    config.lr_schedule = p["lr_schedule"]
    config.threads = 0 if p["threads"] is None else integer(p["threads"], "threads", minimum=1)
    config.checkpoint_path = "" if p["checkpoint"] is None else _checkpoint_path(p["checkpoint"])
    config.resume = bool(p["resume"])
    config.device = device_name(p["device"])
    config.precision = p["precision"]
    if config.resume and p["checkpoint"] is None:
        raise ValueError("resume needs checkpoint: the file to resume from")
    return config


def device_name(device: Any) -> str:
    """`device` as a name the core reads ("cpu", "cuda", "cuda:1", "auto"; a torch.device
    too); the core checks that it exists."""
    if type(device).__name__ == "device" and type(device).__module__ == "torch":
        return str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda', got {device!r}")
    return device


def loop_setting(options: Mapping[str, Any], name: str) -> Any:
    """The setting `name` of `options`, or its default."""
    return options.get(name, LOOP_SETTINGS[name][1].default)


def _checkpoint_path(path: Any) -> str:
    """`path` as a string, its folder checked before any training."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a path, got {type(path).__name__}")
    folder = Path(path).parent
    if not folder.is_dir():
        raise FileNotFoundError(f"checkpoint {path}: no folder {folder}")
    return os.fspath(path)


def annotation_text(kind: Any) -> str:
    """A setting's type as source text ("float", "int | None"), as annotations read under
    `from __future__ import annotations`."""
    if isinstance(kind, type):
        return kind.__name__
    if typing.get_origin(kind) is typing.Literal:
        return "str"
    args = typing.get_args(kind)
    names = [a.__name__ if isinstance(a, type) else str(a) for a in args]
    return " | ".join("None" if n == "NoneType" else n for n in names)


def shows_loop_settings(
    overrides: Mapping[str, Any] | None = None, *, skip: tuple[str, ...] = ()
) -> Callable[[F], F]:
    """Makes `help()` and `inspect.signature` of a `**options: Unpack[LoopOptions]` function
    show every loop setting as a keyword with its default (with `overrides`), and lists
    their help under "Loop settings" in its docstring. `skip`: settings it does not take."""

    def decorate(function: F) -> F:
        signature = inspect.signature(function)
        parameters = [
            p for p in signature.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        defaults = loop_defaults(dict(overrides or {}))
        taken = {p.name for p in parameters}
        lines = []
        for name, (kind, setting) in LOOP_SETTINGS.items():
            if name in skip or name in taken:
                continue
            parameters.append(
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=defaults[name],
                    annotation=annotation_text(kind),
                )
            )
            lines.append(f"    {name}: {setting.help}")
        function.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        doc = inspect.cleandoc(function.__doc__ or "")
        function.__doc__ = (
            doc + "\n\nLoop settings (`udl.settings.LoopOptions`):\n" + "\n".join(lines)
        )
        return function

    return decorate
