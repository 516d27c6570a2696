"""udl.search_spaces: the search spaces of reports 000, 001 and 003 — their parameter names,
ranges and the plans they build — checked with FixedTrial and with seeded random studies (no
training here, except where a study prunes invalid architectures)."""

from __future__ import annotations

import itertools
import math
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import FixedTrial, TrialState

import udl
from udl.search_spaces import (
    REPORT003_GRID,
    TrialPlan,
    report000_space,
    report001_space,
    report002_space,
    report003_space,
)

optuna.logging.set_verbosity(optuna.logging.WARNING)

REPORT000 = {"nf": 8, "latent_dim": 4, "optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-4}

#: A valid report-001 architecture: 28 -> 14 -> 7 -> 4 with kernels 3, strides 2.
REPORT001 = {
    "conv_layers": 3,
    **{f"kernel_{j}": 3 for j in range(3)},
    "channels_0": 4,
    "channels_1": 8,
    "channels_2": 16,
    **{f"stride_{j}": 2 for j in range(3)},
    **{f"padding_{j}": 1 for j in range(3)},
    "hidden_layers": 2,
    "width_0": 128,
    "width_1": 32,
    "latent_dim": 5,
    "dropout": 0.25,
    "prune_every": 3,
    "lr": 2e-3,
    "weight_decay": 1e-6,
    "batch_size": 200,
    "patience": 7,
    "prune_encoder_linear": 0.1,
    "prune_encoder_conv": 0.2,
    "prune_decoder_linear": 0.3,
    "prune_decoder_conv": 0.4,
}

#: Four convolutions of stride 4 without padding shrink 28 x 28 to nothing: always invalid.
INVALID_REPORT001 = {
    "conv_layers": 4,
    **{f"stride_{j}": 4 for j in range(4)},
    **{f"padding_{j}": 0 for j in range(4)},
}


def _sampled(
    space: udl.SearchSpace, n_trials: int, seed: int = 0
) -> tuple[list[tuple[optuna.trial.FrozenTrial, TrialPlan]], list[str]]:
    """Runs `space` in a RandomSampler study without training: returns the valid trials with
    their plans, and the messages of the invalid ones (those trials are told PRUNED)."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    plans: list[tuple[optuna.trial.FrozenTrial, TrialPlan]] = []
    invalid: list[str] = []
    for _ in range(n_trials):
        trial = study.ask()
        try:
            plan = space(trial)
        except udl.InvalidArchitecture as error:
            invalid.append(str(error))
            study.tell(trial, state=TrialState.PRUNED)
            continue
        frozen = study.tell(trial, 0.0)
        plans.append((frozen, plan))
    return plans, invalid


# --- report 000 ---------------------------------------------------------------------------


def test_report000_builds_the_lab_cae_with_the_sampled_training() -> None:
    plan = report000_space(FixedTrial(REPORT000))
    assert isinstance(plan, TrialPlan)
    assert plan.spec == udl.AutoencoderSpec.conv_autoencoder(8, 4)
    assert plan.training == {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-4}


def test_report000_follows_the_input_shape() -> None:
    plan = report000_space(FixedTrial(REPORT000), (1, 32, 32))
    assert plan.spec == udl.AutoencoderSpec.conv_autoencoder(8, 4, (1, 32, 32))
    assert plan.spec.input_shape == (1, 32, 32)


def test_report000_distributions() -> None:
    plans, invalid = _sampled(report000_space, 40)
    assert invalid == []
    expected = {
        "nf": CategoricalDistribution([4, 8, 16]),
        "latent_dim": IntDistribution(2, 10),
        "optimizer": CategoricalDistribution(["sgd", "adam"]),
        "lr": FloatDistribution(1e-5, 1e-1, log=True),
        "weight_decay": FloatDistribution(1e-5, 1e-1, log=True),
    }
    for trial, plan in plans:
        assert trial.distributions == expected
        assert plan.spec == udl.AutoencoderSpec.conv_autoencoder(
            trial.params["nf"], trial.params["latent_dim"]
        )
        assert plan.training == {k: trial.params[k] for k in ("optimizer", "lr", "weight_decay")}
    # 40 random draws reach every category and spread over the log ranges.
    assert {t.params["nf"] for t, _ in plans} == {4, 8, 16}
    assert {t.params["optimizer"] for t, _ in plans} == {"sgd", "adam"}
    lrs = [t.params["lr"] for t, _ in plans]
    assert min(lrs) < 1e-4 and max(lrs) > 1e-2


@pytest.mark.parametrize(
    ("name", "value"), [("latent_dim", 2), ("latent_dim", 10), ("lr", 1e-5), ("lr", 1e-1)]
)
def test_report000_range_ends_are_inside(name: str, value: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plan = report000_space(FixedTrial({**REPORT000, name: value}))
    assert plan.spec.latent_dim == (value if name == "latent_dim" else 4)


@pytest.mark.parametrize(
    ("name", "value"),
    [("latent_dim", 1), ("latent_dim", 11), ("lr", 0.2), ("weight_decay", 1e-6)],
)
def test_report000_values_out_of_range_are_flagged(name: str, value: float) -> None:
    with pytest.warns(UserWarning, match=f"value {value} of the parameter '{name}' is out of"):
        report000_space(FixedTrial({**REPORT000, name: value}))


def test_report000_rejects_an_unknown_nf() -> None:
    with pytest.raises(ValueError, match=r"'32' not in \(4, 8, 16\)"):
        report000_space(FixedTrial({**REPORT000, "nf": 32}))


def test_report000_rejects_an_unknown_optimizer() -> None:
    with pytest.raises(ValueError, match=r"'rmsprop' not in \('sgd', 'adam'\)"):
        report000_space(FixedTrial({**REPORT000, "optimizer": "rmsprop"}))


def test_report000_needs_every_parameter() -> None:
    params = {k: v for k, v in REPORT000.items() if k != "weight_decay"}
    with pytest.raises(ValueError, match="parameter 'weight_decay' is not found"):
        report000_space(FixedTrial(params))


# --- report 001 ---------------------------------------------------------------------------


# --- report 002 ---------------------------------------------------------------------------

REPORT002_BEST = udl.search_spaces.REPORT002_BEST


def test_report002_holds_the_reports_best_trial() -> None:
    plan = report002_space(FixedTrial(REPORT002_BEST))
    assert plan.spec == udl.search_spaces.report002_cae(8, 14)
    assert [c.padding for c in plan.spec.conv_layers] == [2, 1, 0]  # 28 -> 15 -> 8 -> 3
    assert "15x15" in plan.spec.describe() and "8x8" in plan.spec.describe()
    assert plan.training == {"optimizer": "adam", "lr": 1e-3, "weight_decay": 1e-5}


def test_report002_samples_momentum_for_sgd_only() -> None:
    sgd = {**REPORT002_BEST, "optimizer": "sgd", "momentum": 0.9}
    assert report002_space(FixedTrial(sgd)).training["momentum"] == 0.9
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(40):
        trial = study.ask()
        plan = report002_space(trial)
        assert ("momentum" in trial.params) == (plan.training["optimizer"] == "sgd")
        assert 2 <= plan.spec.latent_dim <= 16 and 1e-4 <= plan.training["lr"] <= 1e-1
        study.tell(trial, 0.0)


def test_report001_builds_the_fixed_architecture() -> None:
    plan = report001_space(FixedTrial(REPORT001))
    spec = plan.spec
    assert spec.conv_layers == (
        udl.ConvLayer(channels=4, kernel=3, stride=2, padding=1),
        udl.ConvLayer(channels=8, kernel=3, stride=2, padding=1),
        udl.ConvLayer(channels=16, kernel=3, stride=2, padding=1),
    )
    assert spec.hidden_widths == (128, 32)
    assert spec.latent_dim == 5
    assert spec.dropout == 0.25
    assert spec.input_shape == (1, 28, 28)
    assert plan.training == {
        "loss": "bce",
        "lr": 2e-3,
        "weight_decay": 1e-6,
        "batch_size": 200,
        "patience": 7,
        "prune_every": 3,
        "prune_amounts": (0.1, 0.2, 0.3, 0.4),
    }
    # The plan is a valid architecture: the native core builds it.
    model = udl.Autoencoder(spec)
    assert model.encode(np.zeros((2, 1, 28, 28), np.uint8)).shape == (2, 5)


def test_report001_distributions_over_random_trials() -> None:
    plans, invalid = _sampled(report001_space, 200)
    assert len(plans) + len(invalid) == 200
    seen_layers = set()
    for trial, plan in plans:
        p, d = trial.params, trial.distributions
        n_conv = p["conv_layers"]
        seen_layers.add(n_conv)
        assert d["conv_layers"] == IntDistribution(2, 4)
        assert len(plan.spec.conv_layers) == n_conv
        for j, layer in enumerate(plan.spec.conv_layers):
            assert d[f"kernel_{j}"] == IntDistribution(2, 6)
            assert d[f"channels_{j}"] == IntDistribution(4, 4 * 2**j)
            assert d[f"stride_{j}"] == IntDistribution(1, 4)
            assert d[f"padding_{j}"] == IntDistribution(0, p[f"kernel_{j}"] // 2)
            assert layer == udl.ConvLayer(
                channels=p[f"channels_{j}"],
                kernel=p[f"kernel_{j}"],
                stride=p[f"stride_{j}"],
                padding=p[f"padding_{j}"],
            )
            assert layer.padding <= layer.kernel // 2
            assert 4 <= layer.channels <= 4 * 2**j
        assert f"kernel_{n_conv}" not in p  # no parameters of absent layers
        assert d["hidden_layers"] == IntDistribution(1, 3)
        assert len(plan.spec.hidden_widths) == p["hidden_layers"]
        for j, width in enumerate(plan.spec.hidden_widths):
            assert d[f"width_{j}"] == IntDistribution(8, 512 // 2**j, log=True)
            assert width == p[f"width_{j}"]
        assert d["latent_dim"] == IntDistribution(1, 16)
        assert plan.spec.latent_dim == p["latent_dim"]
        assert d["dropout"] == FloatDistribution(0.0, 0.7)
        assert d["lr"] == FloatDistribution(1e-5, 1e-1, log=True)
        assert d["weight_decay"] == FloatDistribution(1e-7, 1e-1, log=True)
        assert d["batch_size"] == IntDistribution(64, 512)
        assert d["patience"] == IntDistribution(4, 16)
        assert d["prune_every"] == IntDistribution(0, 10)
        groups = ("encoder_linear", "encoder_conv", "decoder_linear", "decoder_conv")
        for group in groups:
            assert d[f"prune_{group}"] == FloatDistribution(0.0, 0.5)
        assert plan.training["loss"] == "bce"
        assert plan.training["prune_amounts"] == tuple(p[f"prune_{g}"] for g in groups)
        assert all(0.0 <= a <= 0.5 for a in plan.training["prune_amounts"])
        assert plan.training["batch_size"] == p["batch_size"]
    assert seen_layers == {2, 3, 4}


def test_report001_samples_some_invalid_architectures() -> None:
    plans, invalid = _sampled(report001_space, 200)
    # Neither none nor most: strides of 4 without padding empty the image now and then.
    assert 0 < len(invalid) < 100
    assert all("output size would reach 0" in message for message in invalid)
    assert len(plans) > 100


def test_report001_invalid_architecture_raises() -> None:
    params = {**REPORT001, **INVALID_REPORT001}
    params |= {"kernel_3": 3, "channels_3": 32}
    with pytest.raises(udl.InvalidArchitecture, match=r"conv layer 2 .* gets input 2x2"):
        report001_space(FixedTrial(params))


def test_report001_padding_above_half_the_kernel_is_out_of_range() -> None:
    with pytest.warns(UserWarning, match="value 2 of the parameter 'padding_0' is out of"):
        report001_space(FixedTrial({**REPORT001, "padding_0": 2}))


def test_report001_channels_above_their_cap_are_out_of_range() -> None:
    with pytest.warns(UserWarning, match="value 9 of the parameter 'channels_1' is out of"):
        report001_space(FixedTrial({**REPORT001, "channels_1": 9}))


def test_invalid_architectures_are_pruned_at_once(
    fashion: udl.datasets.Dataset, tmp_path: Path
) -> None:
    """In a tuning study, a report-001 trial whose architecture cannot be built is PRUNED
    before any training, with the reason in its user attributes."""
    storage = udl.tuning.make_storage(None, tmp_path)
    study = optuna.create_study(storage=storage, study_name="report001")
    for seed in range(3):
        study.enqueue_trial(INVALID_REPORT001, user_attrs={"enqueued": seed})
    data = udl.datasets.from_numpy(fashion.train.images[:600], fashion.train.labels[:600])
    start = time.perf_counter()
    result = udl.tune(data, "report001", n_trials=3, run_dir=tmp_path, epochs=1, threads=1)
    seconds = time.perf_counter() - start
    trials = result.study.trials
    assert [t.state for t in trials] == [TrialState.PRUNED] * 3
    for trial in trials:
        assert "output size would reach 0" in trial.user_attrs["invalid_architecture"]
        assert trial.user_attrs["prune_reason"].startswith("invalid architecture: conv layer")
        assert "val_loss" not in trial.user_attrs  # nothing trained
        assert trial.intermediate_values == {}
        assert trial.params["conv_layers"] == 4
    assert seconds < 5  # five-fold training of three models would take far longer


# --- report 003 ---------------------------------------------------------------------------


def test_report003_grid_has_15_cells() -> None:
    assert REPORT003_GRID == {"lr": [1e-3, 1e-2, 1e-1], "latent_dim": [2, 4, 6, 8, 10]}
    assert math.prod(len(v) for v in REPORT003_GRID.values()) == 15


@pytest.mark.parametrize(
    ("lr", "latent_dim"), list(itertools.product(REPORT003_GRID["lr"], [2, 10]))
)
def test_report003_builds_the_nf8_cae_with_adam(lr: float, latent_dim: int) -> None:
    plan = report003_space(FixedTrial({"lr": lr, "latent_dim": latent_dim}))
    assert plan.spec == udl.AutoencoderSpec.conv_autoencoder(8, latent_dim)
    assert plan.training == {"optimizer": "adam", "lr": lr}


def test_report003_rejects_a_value_off_the_grid() -> None:
    with pytest.raises(ValueError, match=r"'3' not in \(2, 4, 6, 8, 10\)"):
        report003_space(FixedTrial({"lr": 1e-3, "latent_dim": 3}))


def test_report003_grid_sampler_visits_every_cell_once() -> None:
    study = optuna.create_study(sampler=optuna.samplers.GridSampler(REPORT003_GRID, seed=0))
    plans = []

    def objective(trial: optuna.Trial) -> float:
        plans.append(report003_space(trial))
        return 0.0

    study.optimize(objective, n_trials=30)  # the grid sampler stops the study when done
    cells = [(t.params["lr"], t.params["latent_dim"]) for t in study.trials]
    assert len(cells) == 15
    assert set(cells) == set(itertools.product(REPORT003_GRID["lr"], REPORT003_GRID["latent_dim"]))
    assert [p.spec.latent_dim for p in plans] == [c[1] for c in cells]


def test_a_user_space_is_any_function_returning_a_trial_plan() -> None:
    def space(trial: optuna.Trial, input_shape) -> TrialPlan:
        latent = trial.suggest_int("latent_dim", 2, 3)
        return TrialPlan(udl.AutoencoderSpec.conv_autoencoder(4, latent, input_shape))

    plan = space(FixedTrial({"latent_dim": 3}), (1, 28, 28))
    assert plan.training == {}  # training parameters default to none
    assert udl.SearchSpace is udl.search_spaces.SearchSpace
