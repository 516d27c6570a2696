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
    "REPORT000_BEST",
    "REPORT002_BEST",
    "REPORT003_BEST",
    "REPORT003_GRID",
    "SearchSpace",
    "TrialPlan",
    "report000_space",
    "report001_basic",
    "report001_best",
    "report001_space",
    "report002_cae",
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


def report002_cae(
    nf: int, latent_dim: int, input_shape: Sequence[int] = (1, 28, 28)
) -> AutoencoderSpec:
    """Report 002's CAE, with its exact shapes: convolutions of nf, 2nf, 4nf channels, kernel
    3, stride 2, paddings 2, 1, 0 (28 -> 15 -> 8 -> 3), a 64-wide hidden layer, the latent
    layer; the decoder mirrors it back to 28 x 28."""
    return AutoencoderSpec(
        conv_layers=((nf, 3, 2, 2), (2 * nf, 3, 2, 1), (4 * nf, 3, 2, 0)),
        hidden_widths=(64,),
        latent_dim=latent_dim,
        input_shape=tuple(input_shape),
    )


def report002_space(trial: optuna.Trial, input_shape: Sequence[int] = (1, 28, 28)) -> TrialPlan:
    """Report 002: its CAE (`report002_cae`) with nf in {4, 8, 16} and latent 2-16, Adam or
    SGD with momentum (0.5-0.99), learning rate log-uniform in [1e-4, 1e-1] and weight decay
    in [1e-6, 1e-2]. The report gives its best trial (latent 14, nf 8, Adam, 1e-3, weight
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
    return TrialPlan(report002_cae(nf, latent_dim, input_shape), training)


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


#: Report 000's best trial after its 100 (parameters of `report000_space`).
REPORT000_BEST: dict[str, Any] = {
    "nf": 16,
    "latent_dim": 10,
    "optimizer": "adam",
    "lr": 4e-3,
    "weight_decay": 1e-5,
}

#: Report 002's best trial of its random search (parameters of `report002_space`).
REPORT002_BEST: dict[str, Any] = {
    "nf": 8,
    "latent_dim": 14,
    "optimizer": "adam",
    "lr": 1e-3,
    "weight_decay": 1e-5,
}


def report001_best(input_shape: Sequence[int] = (1, 28, 28)) -> TrialPlan:
    """Report 001's best architecture after 60 trials: channels 6, 12, 17; kernels 2, 2, 3;
    strides 1, 1, 3; paddings 1, 0, 1; one hidden layer of 57 with dropout 0.1905 (encoder);
    latent 6; pruning every 5 epochs with amounts 0.398, 0.1, 0.214, 0.068 (encoder linear,
    encoder conv, decoder linear, decoder conv); BCE; Adam 2.89e-3, weight decay 6.51e-7;
    batch 383; patience 13."""
    spec = AutoencoderSpec(
        conv_layers=((6, 2, 1, 1), (12, 2, 1, 0), (17, 3, 3, 1)),
        hidden_widths=(57,),
        latent_dim=6,
        input_shape=tuple(input_shape),
        dropout=0.1905,
    )
    training = {
        "loss": "bce",
        "lr": 2.89e-3,
        "weight_decay": 6.51e-7,
        "batch_size": 383,
        "patience": 13,
        "prune_every": 5,
        "prune_amounts": (0.398, 0.1, 0.214, 0.068),
    }
    return TrialPlan(spec, training)


def report001_basic(input_shape: Sequence[int] = (1, 28, 28)) -> TrialPlan:
    """Report 001's basic CAE: convolutions of 8, 16, 32 channels (kernel 3, stride 2,
    paddings 1, 1, 0), hidden layers of 128 and 16, latent 4; MSE, Adam 1e-3, weight decay
    1e-5, batch 256."""
    spec = AutoencoderSpec(
        conv_layers=((8, 3, 2, 1), (16, 3, 2, 1), (32, 3, 2, 0)),
        hidden_widths=(128, 16),
        latent_dim=4,
        input_shape=tuple(input_shape),
    )
    return TrialPlan(spec, {"lr": 1e-3, "weight_decay": 1e-5, "batch_size": 256})


#: Report 003's grid: learning rate x latent dimension (15 cells).
REPORT003_GRID: dict[str, list[Any]] = {
    "lr": [1e-3, 1e-2, 1e-1],
    "latent_dim": [2, 4, 6, 8, 10],
}


#: Report 003's best cell of its grid, retrained under 6-fold CV for its published errors.
REPORT003_BEST: dict[str, Any] = {"lr": 1e-3, "latent_dim": 10}


def report003_space(trial: optuna.Trial, input_shape: Sequence[int] = (1, 28, 28)) -> TrialPlan:
    """Report 003: the lab's CAE (nf 8) over the grid REPORT003_GRID, with Adam."""
    lr = trial.suggest_categorical("lr", REPORT003_GRID["lr"])
    latent_dim = trial.suggest_categorical("latent_dim", REPORT003_GRID["latent_dim"])
    spec = AutoencoderSpec.conv_autoencoder(8, latent_dim, input_shape)
    return TrialPlan(spec, {"optimizer": "adam", "lr": lr})
