"""udl.tune and udl.tuning: Optuna studies whose trials train natively — trial counts,
journal storage and resuming (also after Ctrl-C), pruning, cross-validated trials, the
report-003 grid, penalties, several objectives, divergence and failing search spaces, parallel
jobs, the results (tables, figures, best model) and bad arguments. Small real subsets of
Fashion-MNIST, one thread per trial."""

from __future__ import annotations

import itertools
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage, RDBStorage
from optuna.trial import FixedTrial, TrialState

import udl
from udl.search_spaces import REPORT003_GRID, TrialPlan, report000_space
from udl.tuning import make_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)

#: One thread and small batches: quick on a machine whose two cores may be shared.
LIGHT: dict[str, Any] = {"threads": 1, "batch_size": 128}
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture(scope="module")
def images600(fashion: udl.datasets.Dataset) -> udl.datasets.ImageSet:
    """The first 600 real Fashion-MNIST training images, with their labels."""
    return udl.datasets.from_numpy(fashion.train.images[:600], fashion.train.labels[:600])


@pytest.fixture(scope="module")
def images800(fashion: udl.datasets.Dataset) -> udl.datasets.ImageSet:
    """The first 800 real Fashion-MNIST training images, with their labels."""
    return udl.datasets.from_numpy(fashion.train.images[:800], fashion.train.labels[:800])


def _load(run_dir: Path, name: str) -> optuna.Study:
    """The study `name` of the journal in `run_dir`, as another process would load it."""
    return optuna.load_study(study_name=name, storage=make_storage(None, run_dir))


def _states(study: optuna.Study) -> list[TrialState]:
    return [t.state for t in study.trials]


def _cae_space(optimizer: str = "adam", lr: float = 1e-3) -> udl.SearchSpace:
    """A user-defined search space: an nf-4 CAE whose latent size (2 to 6) is searched."""

    def space(trial: optuna.Trial, input_shape: Any) -> TrialPlan:
        latent = trial.suggest_int("latent_dim", 2, 6)
        spec = udl.AutoencoderSpec.conv_autoencoder(4, latent, input_shape)
        return TrialPlan(spec, {"optimizer": optimizer, "lr": lr})

    return space


# --- trial counts, storage, resuming --------------------------------------------------------


def test_n_trials_and_the_default_journal(images600, tmp_path: Path) -> None:
    seen: list[int] = []
    result = udl.tune(
        images600,
        "report000",
        n_trials=3,
        run_dir=tmp_path,
        epochs=1,
        callback=lambda study, trial: seen.append(trial.number),
        **LIGHT,
    )
    assert isinstance(result, udl.TuneResult)
    assert result.run_dir == tmp_path
    assert result.study.study_name == "report000"  # named after the search
    assert [t.number for t in result.study.trials] == [0, 1, 2]
    assert seen == [0, 1, 2]
    assert all(state in FINISHED for state in _states(result.study))
    journal = tmp_path / "study.journal"
    assert journal.is_file() and journal.stat().st_size > 0
    assert isinstance(result.study._storage, JournalStorage)
    # Another process sees the same trials in the journal.
    again = _load(tmp_path, "report000")
    assert [t.params for t in again.trials] == [t.params for t in result.study.trials]
    for trial in result.study.trials:
        if trial.state == TrialState.COMPLETE:
            attrs = trial.user_attrs
            assert set(attrs) >= {"val_loss", "val_mse", "minutes", "latent_dim", "stop_reason"}
            assert attrs["latent_dim"] == trial.params["latent_dim"]
            assert attrs["stop_reason"] == "completed"
            assert trial.value == attrs["val_loss"]  # no penalties for report 000
            assert attrs["val_mse"] == attrs["val_loss"]  # an MSE loss
            assert 0 < attrs["minutes"] < 1


def test_the_default_run_dir_is_runs_slash_study_name(
    images600, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = udl.tune(
        images600, _cae_space(), study_name="mine", n_trials=1, pruner="none", epochs=1, **LIGHT
    )
    assert result.run_dir == Path("runs") / "mine"
    assert (tmp_path / "runs" / "mine" / "study.journal").is_file()


def test_a_user_space_study_is_named_udl(images600, tmp_path: Path) -> None:
    result = udl.tune(images600, _cae_space(), n_trials=1, run_dir=tmp_path, epochs=1, **LIGHT)
    assert result.study.study_name == "udl"


def test_a_second_call_resumes_the_study(images600, tmp_path: Path) -> None:
    first = udl.tune(images600, "report000", n_trials=2, run_dir=tmp_path, epochs=1, **LIGHT)
    before = [(t.number, t.params, t.values) for t in first.study.trials]
    second = udl.tune(images600, "report000", n_trials=4, run_dir=tmp_path, epochs=1, **LIGHT)
    trials = second.study.trials
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert [(t.number, t.params, t.values) for t in trials[:2]] == before
    assert all(t.state in FINISHED for t in trials)
    # The resumed sampler draws new parameters, not those of trials 0 and 1 again.
    assert trials[2].params not in [t.params for t in trials[:2]]
    assert trials[3].params not in [t.params for t in trials[:2]]


def test_enqueued_parameters_run_first_and_only_in_a_new_study(images600, tmp_path: Path) -> None:
    known = {"nf": 4, "latent_dim": 3, "optimizer": "adam", "lr": 2e-3, "weight_decay": 1e-5}
    first = udl.tune(
        images600, "report000", n_trials=2, run_dir=tmp_path, epochs=1, enqueue=[known], **LIGHT
    )
    assert first.study.trials[0].params == known
    assert first.study.trials[1].params != known
    resumed = udl.tune(
        images600, "report000", n_trials=3, run_dir=tmp_path, epochs=1, enqueue=[known], **LIGHT
    )
    assert [t.params == known for t in resumed.study.trials] == [True, False, False]


def test_a_complete_study_runs_no_more_trials(images600, tmp_path: Path) -> None:
    udl.tune(images600, "report000", n_trials=2, run_dir=tmp_path, epochs=1, **LIGHT)
    for n_trials in (2, 1):
        result = udl.tune(
            images600, "report000", n_trials=n_trials, run_dir=tmp_path, epochs=1, **LIGHT
        )
        assert len(result.study.trials) == 2


def test_a_file_path_as_storage_makes_a_journal_there(images600, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere" / "my.journal"
    run_dir = tmp_path / "run"
    udl.tune(
        images600, "report000", n_trials=1, storage=str(path), run_dir=run_dir, epochs=1, **LIGHT
    )
    assert path.is_file()
    assert not (run_dir / "study.journal").exists()
    assert run_dir.is_dir()
    study = optuna.load_study(study_name="report000", storage=make_storage(str(path), "unused"))
    assert [t.number for t in study.trials] == [0]
    # A path object works as well, and joins the same study.
    again = udl.tune(images600, "report000", n_trials=2, storage=path, run_dir=run_dir, **LIGHT)
    assert len(again.study.trials) == 2


def test_make_storage_kinds(tmp_path: Path) -> None:
    journal = make_storage(None, tmp_path / "run")
    assert isinstance(journal, JournalStorage)
    assert (tmp_path / "run").is_dir()
    assert isinstance(make_storage(str(tmp_path / "a" / "b.journal"), tmp_path), JournalStorage)
    assert (tmp_path / "a").is_dir()
    url = f"sqlite:///{tmp_path / 'study.db'}"
    sqlite = make_storage(url, tmp_path)
    assert isinstance(sqlite, RDBStorage)
    assert sqlite.heartbeat_interval is None  # heartbeats for server databases only
    assert make_storage(sqlite, tmp_path) is sqlite  # a storage passes through
    study = optuna.create_study(storage=sqlite, study_name="s")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    assert len(optuna.load_study(study_name="s", storage=url).trials) == 2


def test_a_sqlite_storage_url_holds_a_tuning_study(images600, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'study.db'}"
    udl.tune(images600, "report000", n_trials=2, storage=url, run_dir=tmp_path, epochs=1, **LIGHT)
    study = optuna.load_study(study_name="report000", storage=url)
    assert len(study.trials) == 2 and all(s in FINISHED for s in _states(study))
    assert not (tmp_path / "study.journal").exists()


# --- Ctrl-C --------------------------------------------------------------------------------


def test_ctrl_c_inside_a_trial_fails_it_and_stops(images600, tmp_path: Path) -> None:
    def space(trial: optuna.Trial, input_shape: Any) -> TrialPlan:
        plan = _cae_space()(trial, input_shape)
        if trial.number == 1:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler raises at once
        return plan

    with pytest.raises(KeyboardInterrupt):
        udl.tune(images600, space, n_trials=4, run_dir=tmp_path, epochs=1, **LIGHT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    study = _load(tmp_path, "udl")
    assert _states(study) == [TrialState.COMPLETE, TrialState.FAIL]
    assert study.trials[1].user_attrs["fail_reason"] == "KeyboardInterrupt"


def test_ctrl_c_between_trials_waits_for_the_next_trial(images600, tmp_path: Path) -> None:
    """Ctrl-C in a callback (between trials) does not leave a RUNNING trial behind: the next
    trial starts, fails at once and the interrupt goes on."""
    numbers: list[int] = []

    def callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        numbers.append(trial.number)
        if trial.number == 0:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)

    with pytest.raises(KeyboardInterrupt):
        udl.tune(
            images600,
            "report000",
            n_trials=4,
            run_dir=tmp_path,
            epochs=1,
            callback=callback,
            **LIGHT,
        )
    study = _load(tmp_path, "report000")
    assert _states(study) == [TrialState.COMPLETE, TrialState.FAIL]
    assert study.trials[1].user_attrs == {"fail_reason": "KeyboardInterrupt"}  # never trained
    assert numbers == [0]  # Optuna calls no callback after a trial that raised
    # Resuming completes the study; the failed trial stays as it is.
    result = udl.tune(images600, "report000", n_trials=3, run_dir=tmp_path, epochs=1, **LIGHT)
    assert _states(result.study)[:2] == [TrialState.COMPLETE, TrialState.FAIL]
    assert sum(s in FINISHED for s in _states(result.study)) == 3


def _tune_command(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "udl", "tune", "--out", str(out), "--subset", "1000",
        "--epochs", "2", "--batch-size", "128", "--threads", "1", "--no-figures", *extra,
    ]  # fmt: skip


def test_an_interrupted_cli_study_resumes(tmp_path: Path, data_dir: Path) -> None:
    command = _tune_command(tmp_path, "--trials", "3")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        for line in process.stderr:  # the progress log lines
            if line.startswith("study report000 trial"):
                process.send_signal(signal.SIGINT)
                break
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert (
        f"udl: interrupted; the finished trials are stored in {tmp_path / 'study.journal'}. "
        "Resume with the same command." in err
    )
    # Optuna logs the failed trial; udl's message comes last (no uncaught exception).
    assert err.rstrip().splitlines()[-1].startswith("udl: interrupted")
    interrupted = _load(tmp_path, "report000")
    states = _states(interrupted)
    assert TrialState.RUNNING not in states
    assert TrialState.FAIL in states  # the trial that was running
    assert states[0] == TrialState.COMPLETE
    first = interrupted.trials[0]

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    study = _load(tmp_path, "report000")
    states = _states(study)
    assert sum(s in FINISHED for s in states) == 3
    assert TrialState.RUNNING not in states
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed and all(t.user_attrs["fail_reason"] == "KeyboardInterrupt" for t in failed)
    assert study.trials[0].values == first.values and study.trials[0].params == first.params
    assert "study 'report000': " in rerun.stdout
    assert (tmp_path / "trials.csv").is_file()


# --- pruning ------------------------------------------------------------------------------


def test_the_median_pruner_prunes_by_epoch(images800, tmp_path: Path) -> None:
    result = udl.tune(images800, "report000", n_trials=12, run_dir=tmp_path, epochs=3, **LIGHT)
    trials = result.study.trials
    assert len(trials) == 12
    assert isinstance(result.study.pruner, optuna.pruners.MedianPruner)
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    assert pruned
    assert all(t.state == TrialState.COMPLETE for t in trials[:5])  # five startup trials
    for trial in trials:
        steps = sorted(trial.intermediate_values)
        assert steps == list(range(1, len(steps) + 1))  # step = 1-based epoch
        if trial.state == TrialState.COMPLETE:
            assert steps == [1, 2, 3]
            assert trial.value == min(trial.intermediate_values.values())  # the best epoch
    for trial in pruned:
        epoch = len(trial.intermediate_values)
        assert trial.user_attrs["prune_reason"] == f"pruned at epoch {epoch}"
        assert "val_loss" not in trial.user_attrs  # stopped inside training


def test_no_pruner_prunes_nothing(images600, tmp_path: Path) -> None:
    result = udl.tune(
        images600, "report000", n_trials=8, run_dir=tmp_path, pruner="none", epochs=2, **LIGHT
    )
    assert _states(result.study) == [TrialState.COMPLETE] * 8
    assert isinstance(result.study.pruner, optuna.pruners.NopPruner)
    assert all(sorted(t.intermediate_values) == [1, 2] for t in result.study.trials)


@pytest.mark.parametrize("pruner", [None, optuna.pruners.NopPruner()])
def test_none_or_a_pruner_object(images600, tmp_path: Path, pruner: Any) -> None:
    result = udl.tune(
        images600, "report000", n_trials=1, run_dir=tmp_path, pruner=pruner, epochs=1, **LIGHT
    )
    assert isinstance(result.study.pruner, optuna.pruners.NopPruner)


def test_the_hyperband_pruner(images800, tmp_path: Path) -> None:
    result = udl.tune(
        images800, "report000", n_trials=10, run_dir=tmp_path, pruner="hyperband", epochs=3,
        **LIGHT,
    )  # fmt: skip
    assert isinstance(result.study.pruner, optuna.pruners.HyperbandPruner)
    states = _states(result.study)
    assert len(states) == 10 and all(s in FINISHED for s in states)
    assert TrialState.COMPLETE in states
    assert math.isfinite(result.best_value)


def test_an_unknown_pruner_raises(images600, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown pruner 'asha' \(expected 'median', "):
        udl.tune(images600, "report000", n_trials=1, run_dir=tmp_path, pruner="asha", **LIGHT)
    assert not (tmp_path / "study.journal").exists()  # raised before the storage was made


# --- cross-validation per trial -------------------------------------------------------------


def test_cross_validated_trials(images600, tmp_path: Path) -> None:
    result = udl.tune(
        images600, "report000", n_trials=2, folds=3, run_dir=tmp_path, pruner="none",
        epochs=2, **LIGHT,
    )  # fmt: skip
    for trial in result.study.trials:
        assert trial.state == TrialState.COMPLETE
        # After folds 0 and 1 (not after the last): the running mean of the folds' best losses.
        assert sorted(trial.intermediate_values) == [0, 1]
        assert trial.value == trial.user_attrs["val_loss"]
        # The same cross-validation run by hand gives the same figures (CPU is deterministic).
        plan = report000_space(FixedTrial(trial.params), images600.image_shape)
        cv = udl.cross_validate(
            plan.spec, images600, k=3, epochs=2, seed=0, **LIGHT, **plan.training
        )
        best = [f.best_val_loss for f in cv.folds]
        assert trial.value == pytest.approx(cv.mean_val_loss, rel=1e-12)
        assert trial.value == pytest.approx(np.mean(best), rel=1e-6)
        assert trial.intermediate_values[0] == pytest.approx(best[0], rel=1e-12)
        assert trial.intermediate_values[1] == pytest.approx((best[0] + best[1]) / 2, rel=1e-12)
        assert trial.user_attrs["val_mse"] == pytest.approx(cv.mean_val_mse, rel=1e-12)
        assert trial.user_attrs["stop_reason"] == "completed; completed; completed"


def test_folds_below_two_raise(images600, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="folds must be >= 2, got 1"):
        udl.tune(images600, "report000", n_trials=1, folds=1, run_dir=tmp_path, **LIGHT)


def test_the_report002_preset_is_a_random_search_of_20_trials(images600, tmp_path: Path) -> None:
    preset = udl.tuning.SEARCHES["report002"]
    assert preset.n_trials == 20 and preset.folds is None
    result = udl.tune(images600, "report002", n_trials=3, run_dir=tmp_path, epochs=1, **LIGHT)
    assert isinstance(result.study.sampler, optuna.samplers.RandomSampler)
    assert len(result.study.trials) == 3


def test_the_report003_grid_with_six_folds(images600, tmp_path: Path) -> None:
    result = udl.tune(images600, "report003", run_dir=tmp_path, epochs=1, **LIGHT)
    trials = result.study.trials
    assert len(trials) == 15  # the search's own count: the grid
    assert isinstance(result.study.sampler, optuna.samplers.GridSampler)
    cells = [(t.params["lr"], t.params["latent_dim"]) for t in trials]
    assert sorted(cells) == sorted(
        itertools.product(REPORT003_GRID["lr"], REPORT003_GRID["latent_dim"])
    )
    for trial in trials:
        assert trial.state in FINISHED
        steps = sorted(trial.intermediate_values)
        assert steps == list(range(len(steps)))  # fold steps, at most 0..4
        assert len(steps) <= 5
        if trial.state == TrialState.COMPLETE:
            assert steps == [0, 1, 2, 3, 4]
            assert trial.user_attrs["stop_reason"].count("completed") == 6


# --- penalties and several objectives -------------------------------------------------------


def test_penalties_add_to_the_loss(images600, tmp_path: Path) -> None:
    result = udl.tune(
        images600, "report000", n_trials=3, run_dir=tmp_path, pruner="none", epochs=1,
        time_penalty=0.5, latent_penalty=0.01, **LIGHT,
    )  # fmt: skip
    for trial in result.study.trials:
        attrs = trial.user_attrs
        expected = attrs["val_loss"] + 0.5 * attrs["minutes"] + 0.01 * attrs["latent_dim"]
        assert trial.value == pytest.approx(expected, rel=1e-12)
        assert trial.value > attrs["val_loss"] + 0.01 * attrs["latent_dim"]
        assert attrs["latent_dim"] == trial.params["latent_dim"]


def test_the_time_penalty_of_a_cross_validated_trial_is_per_average_fold(
    images600, tmp_path: Path
) -> None:
    # Report 001: "a penalty of 10^-5 times the average training time in minutes".
    result = udl.tune(
        images600, "report000", n_trials=2, folds=3, run_dir=tmp_path, pruner="none",
        epochs=1, time_penalty=0.5, **LIGHT,
    )  # fmt: skip
    for trial in result.study.trials:
        attrs = trial.user_attrs
        assert attrs["minutes"] == pytest.approx(attrs["total_minutes"] / 3, rel=0.2)
        assert trial.value == pytest.approx(attrs["val_loss"] + 0.5 * attrs["minutes"], rel=1e-12)


def test_bad_penalties_raise(images600, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="time_penalty must be a number, got 'a lot'"):
        udl.tune(images600, n_trials=1, run_dir=tmp_path, time_penalty="a lot", **LIGHT)


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(
        x < y for x, y in zip(a, b, strict=True)
    )


def test_two_objectives_give_a_pareto_front(images600, tmp_path: Path) -> None:
    result = udl.tune(
        images600, "report000", n_trials=6, run_dir=tmp_path, epochs=1,
        objectives=("val_loss", "latent_dim"), **LIGHT,
    )  # fmt: skip
    study = result.study
    assert isinstance(study.sampler, optuna.samplers.NSGAIISampler)
    assert isinstance(study.pruner, optuna.pruners.NopPruner)  # cannot prune
    assert len(study.directions) == 2
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 6
    for trial in complete:
        assert trial.values[0] == trial.user_attrs["val_loss"]
        assert trial.values[1] == trial.user_attrs["latent_dim"] == trial.params["latent_dim"]
        assert trial.intermediate_values == {}  # no reports without a pruner
    front = result.pareto_front
    assert front
    for trial in front:
        assert not any(_dominates(other.values, trial.values) for other in complete)
    # Every trial off the front is dominated by one on it.
    numbers = {t.number for t in front}
    for trial in complete:
        if trial.number not in numbers:
            assert any(_dominates(t.values, trial.values) for t in front)
    assert result.best_trial.number in numbers
    assert result.best_value == min(t.values[0] for t in front)
    assert len(result.trials_table()) == 6


@pytest.mark.parametrize(
    "objectives", [(), ("latent_dim",), ("val_loss", "accuracy"), ("latent_dim", "val_loss")]
)
def test_bad_objectives_raise(images600, tmp_path: Path, objectives: tuple) -> None:
    with pytest.raises(ValueError, match="objectives must start with 'val_loss' and use only"):
        udl.tune(images600, n_trials=1, run_dir=tmp_path, objectives=objectives, **LIGHT)


# --- divergence and failing search spaces --------------------------------------------------


def test_diverged_trials_are_pruned_and_the_study_goes_on(images600, tmp_path: Path) -> None:
    def space(trial: optuna.Trial, input_shape: Any) -> TrialPlan:
        latent = trial.suggest_int("latent_dim", 2, 6)
        lr = 1e30 if trial.number in DIVERGING else 1e-3  # SGD at lr 1e30 blows up
        spec = udl.AutoencoderSpec.conv_autoencoder(4, latent, input_shape)
        return TrialPlan(spec, {"optimizer": "sgd", "lr": lr})

    # Trial 6 follows five complete trials: the median pruner is past its startup trials,
    # and a diverged trial must still be pruned for its divergence, not by the pruner on a
    # NaN (which would leave no stop reason).
    DIVERGING = (0, 6)
    result = udl.tune(images600, space, n_trials=8, run_dir=tmp_path, epochs=2, **LIGHT)
    trials = result.study.trials
    assert len(trials) == 8
    for trial in trials:
        if trial.number in DIVERGING:
            assert trial.state == TrialState.PRUNED
            assert trial.user_attrs["stop_reason"].startswith("diverged")
            assert trial.user_attrs["prune_reason"].startswith("diverged")
            assert trial.intermediate_values == {}  # no NaN reported
            assert trial.values is None
        else:  # trained: complete, or pruned by the median pruner on a finite loss
            assert trial.intermediate_values
            assert all(math.isfinite(v) for v in trial.intermediate_values.values())
            if trial.state == TrialState.PRUNED:
                assert trial.user_attrs["prune_reason"].startswith("pruned at epoch")
            else:
                assert trial.state == TrialState.COMPLETE
                assert trial.user_attrs["stop_reason"] == "completed"
    assert _states(result.study)[1:6] == [TrialState.COMPLETE] * 5  # the pruner's startup
    assert result.best_trial.number not in DIVERGING


def test_a_cross_validated_diverged_trial_is_pruned(images600, tmp_path: Path) -> None:
    result = udl.tune(
        images600, _cae_space("sgd", 1e30), n_trials=1, folds=2, run_dir=tmp_path, epochs=1,
        **LIGHT,
    )  # fmt: skip
    trial = result.study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert trial.user_attrs["stop_reason"].startswith("diverged")
    assert trial.intermediate_values == {}


def test_a_space_raising_value_error_fails_its_trials_only(images600, tmp_path: Path) -> None:
    def space(trial: optuna.Trial, input_shape: Any) -> TrialPlan:
        plan = _cae_space()(trial, input_shape)
        if trial.number == 0:
            raise ValueError("no such layer")
        lr = 0.0 if trial.number == 1 else 1e-3  # rejected by training
        return TrialPlan(plan.spec, {"lr": lr})

    result = udl.tune(images600, space, n_trials=4, run_dir=tmp_path, epochs=1, **LIGHT)
    trials = result.study.trials
    assert _states(result.study) == [TrialState.FAIL, TrialState.FAIL] + [TrialState.COMPLETE] * 2
    assert trials[0].user_attrs["fail_reason"] == "ValueError: no such layer"
    assert "lr (learning rate) must be > 0" in trials[1].user_attrs["fail_reason"]
    assert trials[1].params.keys() == {"latent_dim"}
    # Failed trials do not count: a second call runs two more finished ones.
    again = udl.tune(images600, space, n_trials=4, run_dir=tmp_path, epochs=1, **LIGHT)
    assert sum(s in FINISHED for s in _states(again.study)) == 4


def test_a_space_returning_no_trial_plan_stops_the_study(images600, tmp_path: Path) -> None:
    def space(trial: optuna.Trial, input_shape: Any) -> dict:
        return {"spec": udl.AutoencoderSpec.conv_autoencoder(4, 2, input_shape)}

    with pytest.raises(TypeError, match="a search space must return a TrialPlan, got dict"):
        udl.tune(images600, space, n_trials=3, run_dir=tmp_path, epochs=1, **LIGHT)
    study = _load(tmp_path, "udl")
    assert _states(study) == [TrialState.FAIL]  # a programming error: no second trial
    assert "TrialPlan" in study.trials[0].user_attrs["fail_reason"]


def test_a_space_with_a_wrong_training_keyword_stops_the_study(images600, tmp_path) -> None:
    def space(trial: optuna.Trial, input_shape: Any) -> TrialPlan:
        plan = _cae_space()(trial, input_shape)
        return TrialPlan(plan.spec, {"learning_rate": 1e-3})

    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        udl.tune(images600, space, n_trials=3, run_dir=tmp_path, epochs=1, **LIGHT)
    assert _states(_load(tmp_path, "udl")) == [TrialState.FAIL]


# --- parallel jobs --------------------------------------------------------------------------


def test_two_jobs_run_the_requested_trials(images600, tmp_path: Path) -> None:
    result = udl.tune(
        images600, "report000", n_trials=4, n_jobs=2, run_dir=tmp_path, pruner="none",
        epochs=1, **LIGHT,
    )  # fmt: skip
    numbers = [t.number for t in result.study.trials]
    assert sorted(numbers) == [0, 1, 2, 3]
    assert _states(result.study) == [TrialState.COMPLETE] * 4
    assert len(_load(tmp_path, "report000").trials) == 4


def test_bad_n_jobs_raises(images600, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_jobs must be >= 1, got 0"):
        udl.tune(images600, n_trials=1, n_jobs=0, run_dir=tmp_path, **LIGHT)


# --- results --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(images600, tmp_path_factory: pytest.TempPathFactory) -> udl.TuneResult:
    """Six unpruned report-000 trials of two epochs."""
    return udl.tune(
        images600, "report000", n_trials=6, pruner="none", epochs=2,
        run_dir=tmp_path_factory.mktemp("finished"), **LIGHT,
    )  # fmt: skip


def test_best_params_and_value(finished: udl.TuneResult) -> None:
    study = finished.study
    assert finished.best_trial.number == study.best_trial.number
    assert finished.best_params == study.best_trial.params == study.best_params
    assert finished.best_value == study.best_value
    assert finished.best_value == min(t.value for t in study.trials)
    assert set(finished.best_params) == {"nf", "latent_dim", "optimizer", "lr", "weight_decay"}


def test_the_trials_table(finished: udl.TuneResult) -> None:
    table = finished.trials_table()
    assert isinstance(table, pd.DataFrame)
    assert len(table) == 6
    assert list(table["number"]) == list(range(6))
    assert set(table["state"]) == {"COMPLETE"}
    for column in ("value", "params_nf", "params_lr", "user_attrs_val_mse", "duration"):
        assert column in table.columns
    assert table["value"].min() == finished.best_value


def test_save_figures_writes_four_pngs(finished: udl.TuneResult, tmp_path: Path) -> None:
    paths = finished.save_figures(tmp_path / "figures")
    names = [
        "optimization_history", "param_importances", "parallel_coordinate",
        "intermediate_values",
    ]  # fmt: skip
    assert paths == [tmp_path / "figures" / f"{name}.png" for name in names]
    for path in paths:
        content = path.read_bytes()
        assert content.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(content) > 5000


def test_save_figures_defaults_to_the_run_dir(finished: udl.TuneResult) -> None:
    paths = finished.save_figures()
    assert {p.parent for p in paths} == {finished.run_dir}
    assert len(paths) == 4


def test_save_figures_skips_what_one_trial_cannot_show(images600, tmp_path: Path) -> None:
    result = udl.tune(images600, "report000", n_trials=1, run_dir=tmp_path, epochs=1, **LIGHT)
    paths = udl.tuning.save_figures(result.study, tmp_path / "figures")
    assert tmp_path / "figures" / "optimization_history.png" in paths
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)


def test_the_best_model(finished: udl.TuneResult, images600) -> None:
    model = finished.best_model()
    params = finished.best_params
    assert isinstance(model, udl.Autoencoder)
    assert model.latent_dim == params["latent_dim"]
    assert model.spec == udl.AutoencoderSpec.conv_autoencoder(params["nf"], params["latent_dim"])
    images = images600.images[:4]
    reconstruction = model.reconstruct(images)
    assert reconstruction.shape == (4, 1, 28, 28)
    assert reconstruction.dtype == np.float32
    assert np.isfinite(reconstruction).all()
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1
    # Retraining is deterministic: it gives the trial's own model.
    again = finished.best_model()
    assert np.array_equal(again.reconstruct(images), reconstruction)
    # Overrides win over the trial's parameters.
    reseeded = finished.best_model(seed=1)
    assert not np.array_equal(reseeded.reconstruct(images), reconstruction)


# --- bad arguments --------------------------------------------------------------------------


def test_an_unknown_search_raises(images600, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown search 'report999'; known: report000, "):
        udl.tune(images600, "report999", run_dir=tmp_path, **LIGHT)


def test_a_search_of_the_wrong_type_raises(images600, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="search must be a name, a Search or a function, got int"):
        udl.tune(images600, 42, run_dir=tmp_path, **LIGHT)


def test_zero_trials_raises(images600, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_trials must be >= 1, got 0"):
        udl.tune(images600, "report000", n_trials=0, run_dir=tmp_path, **LIGHT)


def _trials_in(run_dir: Path) -> list:
    """The trials of every study in the run folder's journal (none if there is no journal)."""
    if not (run_dir / "study.journal").exists():
        return []
    storage = make_storage(None, run_dir)
    return [
        t
        for summary in optuna.get_all_study_summaries(storage)
        for t in optuna.load_study(study_name=summary.study_name, storage=storage).trials
    ]


def test_zero_epochs_raise_before_any_trial(images600, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="epochs must be > 0"):
        udl.tune(images600, "report000", n_trials=2, run_dir=tmp_path, epochs=0, **LIGHT)
    assert _trials_in(tmp_path) == []


def test_an_unknown_training_keyword_raises_before_any_trial(images600, tmp_path) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        udl.tune(images600, n_trials=2, run_dir=tmp_path, learning_rate=1e-3, **LIGHT)
    assert _trials_in(tmp_path) == []


def test_a_bad_val_fraction_raises_before_any_trial(images600, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        udl.tune(images600, n_trials=2, run_dir=tmp_path, val_fraction=1.5, **LIGHT)
    assert _trials_in(tmp_path) == []


def test_bad_fixed_parameters_leave_an_existing_study_untouched(images600, tmp_path) -> None:
    udl.tune(images600, "report000", n_trials=1, run_dir=tmp_path, epochs=1, **LIGHT)
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        udl.tune(images600, n_trials=3, run_dir=tmp_path, epochs=1, threads=1, batch_size=0)
    assert len(_trials_in(tmp_path)) == 1
