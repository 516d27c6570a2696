"""The hyperparameter search spaces of the reports, and the type of a user-defined one.

A search space is a function from an `optuna.Trial` to a `TrialPlan`: the architecture to
build and the training parameters (any keyword of `udl.train_autoencoder`) to train it with.
Building the spec checks its shapes, so an impossible architecture raises
`udl.InvalidArchitecture` inside the space function and the trial is pruned at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from udl.autoencoders import AutoencoderSpec, ConvLayer

if TYPE_CHECKING:  # a space only calls the trial it is given: Optuna is not imported here
    import optuna

__all__ = [
    "REPORT003_GRID",
    "SearchSpace",
    "TrialPlan",
    "report000_space",
    "report001_space",
    "report002_space",
    "report003_space",
]


@dataclass(frozen=True)
class TrialPlan:
    """What one trial trains: an architecture and its training parameters."""

    spec: AutoencoderSpec
    training: dict[str, Any] = field(default_factory=dict)


#: A user-defined search space: (trial, input shape) -> TrialPlan.
SearchSpace = Callable[["optuna.Trial", Sequence[int]], TrialPlan]


def report000_space(trial: optuna.Trial, input_shape: Sequence[int] = (1, 28, 28)) -> TrialPlan:
    """Report 000: the CAE with nf in {4, 8, 16}, latent 2-10, SGD or Adam, learning rate
    and weight decay log-uniform in [1e-5, 1e-1]."""
    nf = trial.suggest_categorical("nf", [4, 8, 16])
    latent_dim = trial.suggest_int("latent_dim", 2, 10)
    training = {
        "optimizer": trial.suggest_categorical("optimizer", ["sgd", "adam"]),
        "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-5, 1e-1, log=True),
    }
    return TrialPlan(AutoencoderSpec.conv_autoencoder(nf, latent_dim, input_shape), training)


def report002_space(trial: optuna.Trial, input_shape: Sequence[int] = (1, 28, 28)) -> TrialPlan:
    """Report 002: the CAE of report 000 with nf in {4, 8, 16} and latent 2-16, Adam or SGD
    with momentum (0.5-0.99), learning rate log-uniform in [1e-4, 1e-1] and weight decay in
    [1e-6, 1e-2]. The report gives its best trial (latent 14, nf 8, Adam, 1e-3, weight
    decay 1e-5, momentum 0.9), not its ranges: these are udl's, around it."""
    nf = trial.suggest_categorical("nf", [4, 8, 16])
    latent_dim = trial.suggest_int("latent_dim", 2, 16)
    optimizer = trial.suggest_categorical("optimizer", ["adam", "sgd"])
    training = {
        "optimizer": optimizer,
        "lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
    }
    if optimizer == "sgd":  # momentum means nothing to Adam: not a dimension of its trials
        training["momentum"] = trial.suggest_float("momentum", 0.5, 0.99)
    return TrialPlan(AutoencoderSpec.conv_autoencoder(nf, latent_dim, input_shape), training)


def report001_space(trial: optuna.Trial, input_shape: Sequence[int] = (1, 28, 28)) -> TrialPlan:
    """Report 001's 13 dimensions: 2-4 convolutions (channels 4 to 4·2^j for layer j, kernel
    2-6, stride 1-4, padding 0 to kernel/2), 1-3 hidden layers (layer j 8 to 512/2^j wide,
    log scale), dropout 0-0.7, latent 1-16, learning rate 1e-5 to 1e-1 and weight decay 1e-7
    to 1e-1 (log), batch 64-512, patience 4-16, pruning never or every 1-10 epochs with four
    amounts 0-0.5; BCE loss, as in the report."""
    conv_layers = []
    for j in range(trial.suggest_int("conv_layers", 2, 4)):
        kernel = trial.suggest_int(f"kernel_{j}", 2, 6)
        conv_layers.append(
            ConvLayer(
                channels=trial.suggest_int(f"channels_{j}", 4, 4 * 2**j),
                kernel=kernel,
                stride=trial.suggest_int(f"stride_{j}", 1, 4),
                padding=trial.suggest_int(f"padding_{j}", 0, kernel // 2),
            )
        )
    hidden_widths = [
        trial.suggest_int(f"width_{j}", 8, 512 // 2**j, log=True)
        for j in range(trial.suggest_int("hidden_layers", 1, 3))
    ]
    spec = AutoencoderSpec(
        conv_layers=tuple(conv_layers),
        hidden_widths=tuple(hidden_widths),
        latent_dim=trial.suggest_int("latent_dim", 1, 16),
        input_shape=tuple(input_shape),
        dropout=trial.suggest_float("dropout", 0.0, 0.7),
    )
    prune_every = trial.suggest_int("prune_every", 0, 10)  # 0: never
    training = {
        "loss": "bce",
        "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-7, 1e-1, log=True),
        "batch_size": trial.suggest_int("batch_size", 64, 512),
        "patience": trial.suggest_int("patience", 4, 16),
        "prune_every": prune_every,
        "prune_amounts": tuple(
            trial.suggest_float(f"prune_{group}", 0.0, 0.5)
            for group in ("encoder_linear", "encoder_conv", "decoder_linear", "decoder_conv")
        ),
    }
    return TrialPlan(spec, training)


#: Report 003's grid: learning rate x latent dimension (15 cells).
REPORT003_GRID: dict[str, list[Any]] = {
    "lr": [1e-3, 1e-2, 1e-1],
    "latent_dim": [2, 4, 6, 8, 10],
}


def report003_space(trial: optuna.Trial, input_shape: Sequence[int] = (1, 28, 28)) -> TrialPlan:
    """Report 003: the lab's CAE (nf 8) over the grid REPORT003_GRID, with Adam."""
    lr = trial.suggest_categorical("lr", REPORT003_GRID["lr"])
    latent_dim = trial.suggest_categorical("latent_dim", REPORT003_GRID["latent_dim"])
    spec = AutoencoderSpec.conv_autoencoder(8, latent_dim, input_shape)
    return TrialPlan(spec, {"optimizer": "adam", "lr": lr})
