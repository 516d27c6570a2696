"""The settings every native training loop shares, checked and copied into a native config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from udl._checks import integer, number
from udl._checks import seed as check_seed

#: The parameters every `udl.train_*` function takes for its loop (each function's
#: signature holds its defaults).
LOOP_PARAMETERS = (
    "optimizer",
    "lr",
    "momentum",
    "weight_decay",
    "batch_size",
    "epochs",
    "seed",
    "val_fraction",
    "early_stopping",
    "patience",
    "min_delta",
    "restore_best",
    "lr_decay",
    "lr_patience",
    "checkpoint",
    "resume",
    "threads",
)


def fill_loop_config(config: Any, **p: Any) -> Any:
    """Copies the loop parameters `p` (all of LOOP_PARAMETERS) into a native config
    derived from _C.LoopConfig, with TypeError/ValueError naming a bad one."""
    config.optimizer = p["optimizer"]
    config.learning_rate = number(p["lr"], "lr")
    config.momentum = number(p["momentum"], "momentum")
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
    config.threads = 0 if p["threads"] is None else integer(p["threads"], "threads", minimum=1)
    config.checkpoint_path = "" if p["checkpoint"] is None else _checkpoint_path(p["checkpoint"])
    config.resume = bool(p["resume"])
    if config.resume and p["checkpoint"] is None:
        raise ValueError("resume needs checkpoint: the file to resume from")
    return config


def _checkpoint_path(path: Any) -> str:
    """`path` as a string, its folder checked before any training."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a path, got {type(path).__name__}")
    folder = Path(path).parent
    if not folder.is_dir():
        raise FileNotFoundError(f"checkpoint {path}: no folder {folder}")
    return os.fspath(path)
