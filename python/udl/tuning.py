"""Optuna hyperparameter search against the native objective.

Every trial trains in the C++ core (with the GIL released, so `n_jobs > 1` runs trials truly
in parallel); Optuna samples, prunes and stores. Studies live in a journal file in the run's
folder by default (no server, resumable, shareable by processes on one machine), or in any
Optuna storage URL: `postgresql://...` gives an RDB storage with heartbeats, so that the
trial of a worker that died is retried, and several `udl tune` workers anywhere can work on
one study by name.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import os
import signal
import statistics
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from udl import errors
from udl._arrays import save_atomically
from udl._checks import integer, number
from udl._checks import seed as check_seed
from udl.autoencoders import Autoencoder
from udl.cross_validation import cross_validate
from udl.search_spaces import (
    REPORT003_GRID,
    SearchSpace,
    TrialPlan,
    report000_space,
    report001_space,
    report002_space,
    report003_space,
)
from udl.training import DataLike, EpochRecord, _resolve_data, _train_config, train_autoencoder

if TYPE_CHECKING:  # Optuna itself is imported where a function needs it, not with udl
    import optuna

__all__ = ["SEARCHES", "Search", "TuneResult", "make_storage", "save_figures", "tune"]

log = logging.getLogger(__name__)

#: Secondary objectives of a multi-objective study, each minimised with the loss.
OBJECTIVES = ("val_loss", "latent_dim", "minutes")


@dataclass(frozen=True)
class Search:
    """A ready-made search: its space, cross-validation folds, sampler and objective."""

    space: SearchSpace
    folds: int | None = None
    n_trials: int = 100
    grid: dict[str, list[Any]] | None = None  # GridSampler's grid, if a grid search
    random: bool = False  # a random search (RandomSampler) rather than TPE
    time_penalty: float = 0.0  # per minute of training, added to the objective
    latent_penalty: float = 0.0  # per latent dimension
    description: str = ""


SEARCHES: dict[str, Search] = {
    "report000": Search(
        report000_space,
        n_trials=100,
        description="CAE nf/latent/optimizer/lr/weight decay, TPE (report 000)",
    ),
    "report001": Search(
        report001_space,
        folds=5,
        n_trials=60,
        time_penalty=1e-5,
        latent_penalty=1e-2,
        description="13-dimension architecture search, 5-fold CV, time and latent penalties "
        "(report 001)",
    ),
    "report002": Search(
        report002_space,
        n_trials=20,
        random=True,
        description="random search of 20 trials: CAE nf/latent, Adam or SGD with momentum, "
        "lr/weight decay (report 002)",
    ),
    "report003": Search(
        report003_space,
        folds=6,
        n_trials=15,
        grid=REPORT003_GRID,
        description="grid of learning rate x latent dimension, 6-fold CV (report 003)",
    ),
}


@dataclass
class TuneResult:
    """A finished (or stopped) study and what it found."""

    study: optuna.Study
    run_dir: Path
    data: Any = field(repr=False)
    space: SearchSpace = field(repr=False)
    fixed: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial:
        """The best trial (for a multi-objective study, the Pareto trial of least loss)."""
        if len(self.study.directions) == 1:
            return self.study.best_trial
        return min(self.study.best_trials, key=lambda t: t.values[0])

    @property
    def best_params(self) -> dict[str, Any]:
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        return float(self.best_trial.values[0])

    @property
    def pareto_front(self) -> list[optuna.trial.FrozenTrial]:
        """The Pareto-optimal trials of a multi-objective study."""
        return list(self.study.best_trials)

    def trials_table(self) -> Any:
        """Every trial as a pandas DataFrame (values, parameters, states, user attributes)."""
        return self.study.trials_dataframe()

    def best_plan(self) -> TrialPlan:
        """The best trial's architecture and training parameters (the study's fixed ones
        included), to train it again with `udl.train_autoencoder(plan.spec, data,
        **plan.training)` and get its history too."""
        import optuna

        trial = optuna.trial.FixedTrial(self.best_params, self.best_trial.number)
        train_set, _ = _resolve_data(self.data, None)
        plan = self.space(trial, train_set.image_shape)
        return TrialPlan(plan.spec, {**self.fixed, **plan.training})

    def best_model(self, **overrides: Any) -> Autoencoder:
        """Retrains the best trial's architecture and parameters on the whole training set
        (with the validation split of `train_autoencoder`) and returns the model. Training
        is deterministic on CPU, so this reproduces the trial's own run when it did not use
        cross-validation."""
        plan = self.best_plan()
        train_set, _ = _resolve_data(self.data, None)
        return train_autoencoder(plan.spec, train_set, **{**plan.training, **overrides}).model

    def save_figures(self, folder: str | os.PathLike[str] | None = None) -> list[Path]:
        """Writes Optuna's matplotlib figures as PNG (see `save_figures`)."""
        return save_figures(self.study, folder or self.run_dir)


def tune(
    data: DataLike,
    search: str | Search | SearchSpace = "report000",
    *,
    n_trials: int | None = None,
    folds: int | None = None,
    storage: str | optuna.storages.BaseStorage | None = None,
    study_name: str | None = None,
    run_dir: str | os.PathLike[str] | None = None,
    pruner: str | optuna.pruners.BasePruner | None = "median",
    sampler: optuna.samplers.BaseSampler | None = None,
    objectives: Sequence[str] = ("val_loss",),
    time_penalty: float | None = None,
    latent_penalty: float | None = None,
    n_jobs: int = 1,
    timeout: float | None = None,
    seed: int = 0,
    callback: Callable[[optuna.Study, optuna.trial.FrozenTrial], None] | None = None,
    enqueue: Sequence[Mapping[str, Any]] = (),
    **training: Any,
) -> TuneResult:
    """Runs (or resumes) an Optuna study whose trials train in the native core.

    Args:
        data: the data to tune on (as for `udl.train_autoencoder`); only its training set is
            used: a validation split per trial, or k folds.
        search: "report000", "report001", "report002", "report003" (see SEARCHES), a
            Search, or a search space function (trial, input_shape) -> TrialPlan.
        n_trials: finished (complete or pruned) trials the study should hold; a resumed
            study runs only the rest. Default: the search's own count.
        folds: k >= 2 for k-fold cross-validation per trial (default: the search's own;
            report000 and a search space function use one validation split).
        storage: None for a journal file `study.journal` in `run_dir`; a file path for a
            journal there; or an Optuna storage URL (`postgresql://...` gets heartbeats and
            retries of trials whose worker died; psycopg 3 serves it when psycopg2 is missing).
        study_name: the study to create or join (default: the search's name, or "udl").
        run_dir: the run's folder (default `runs/<study_name>`).
        pruner: "median" (default), "hyperband", "none", or an Optuna pruner. Single split:
            the validation loss of every epoch is reported at step = epoch. With k folds:
            after each fold i but the last, the mean of the best validation losses of folds
            0..i is reported at step i (steps 0..k-2). A non-finite loss is not reported (a
            diverged trial is pruned with its stop reason). Multi-objective studies cannot
            prune.
        sampler: an Optuna sampler (default: TPE; RandomSampler for a random search such
            as report002; GridSampler for a grid search; NSGA-II for several objectives),
            seeded by `seed`.
        objectives: ("val_loss",), or with "latent_dim" and/or "minutes" for a
            multi-objective study (all minimised); `result.pareto_front` holds the front.
        time_penalty: added to the loss per minute of training; with k folds, per minute of
            the average fold's training, as report 001 (1e-5) has it.
        latent_penalty: added to the loss per latent dimension (report 001: 1e-2).
        n_jobs: trials run at once in this process, each with its share of the cores.
        timeout: stop starting trials after this many seconds.
        seed: seeds the sampler and every trial's training. A study that already holds
            trials (resumed, or joined by another worker) seeds the sampler with `seed` and
            its number of trials, so that it does not draw the first trials' parameters
            again; workers that start a shared study at the same time need their own seeds.
        callback: called by Optuna after each trial with (study, frozen_trial).
        enqueue: parameters of trials a new study runs first, e.g. a published best
            configuration that the search should then try to beat (ignored on resume).
        **training: fixed training parameters for every trial (epochs, batch_size, ...);
            a parameter the search space sets wins over them.

    Every trial records the user attributes val_loss, val_mse, minutes (of one training: the
    average fold's with k folds), total_minutes, latent_dim and stop_reason; a failed trial
    records fail_reason, a pruned one prune_reason. Ctrl-C (with n_jobs=1 in the main
    thread) stops the running trial, which is stored as FAIL, and raises KeyboardInterrupt;
    between trials it waits for the storage to be written.

    Returns:
        A TuneResult.

    Raises:
        ValueError: for an unknown search, pruner or objective, or bad fixed parameters.
        TypeError: for a fixed parameter `udl.train_autoencoder` does not take, or when a
            search space returns something other than a TrialPlan (that trial is FAIL).
    """
    import optuna

    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    preset = _search(search)
    name = study_name or (search if isinstance(search, str) else "udl")
    run_dir = Path(run_dir) if run_dir is not None else Path("runs") / name
    run_dir.mkdir(parents=True, exist_ok=True)
    objectives = tuple(objectives)
    if not objectives or objectives[0] != "val_loss" or not set(objectives) <= set(OBJECTIVES):
        raise ValueError(
            f"objectives must start with 'val_loss' and use only {', '.join(OBJECTIVES)}; "
            f"got {objectives}"
        )
    folds = preset.folds if folds is None else integer(folds, "folds", minimum=2)
    target = integer(preset.n_trials if n_trials is None else n_trials, "n_trials", minimum=1)
    n_jobs = integer(n_jobs, "n_jobs", minimum=1)
    study_pruner = _pruner(pruner) if len(objectives) == 1 else optuna.pruners.NopPruner()
    if time_penalty is None:
        time_penalty = preset.time_penalty
    if latent_penalty is None:
        latent_penalty = preset.latent_penalty
    penalties = (number(time_penalty, "time_penalty"), number(latent_penalty, "latent_penalty"))
    train_set, _ = _resolve_data(data, None)
    training.setdefault("threads", max(1, (os.cpu_count() or 1) // n_jobs))
    training["seed"] = check_seed(seed)
    _train_config({k: v for k, v in training.items() if k != "val_fraction" or folds is None})

    study = optuna.create_study(
        storage=make_storage(storage, run_dir),
        study_name=name,
        load_if_exists=True,
        directions=["minimize"] * len(objectives),
        sampler=sampler or _default_sampler(preset, len(objectives), seed),
        pruner=study_pruner,
    )
    existing = len(study.get_trials(deepcopy=False))
    if not existing:
        for params in enqueue:
            study.enqueue_trial(dict(params), skip_if_exists=True)
    if sampler is None and existing:
        # Seeded as for a new study, the sampler would draw the first trials' parameters again.
        mixed = int(np.random.SeedSequence([seed, existing]).generate_state(1)[0])
        study.sampler = _default_sampler(preset, len(objectives), mixed)
    finished = len(study.get_trials(deepcopy=False, states=finished_states))
    remaining = target - finished
    if finished:
        log.info("study %r holds %d finished trials; running %d more", name, finished, remaining)
    objective = _Objective(train_set, preset.space, folds, objectives, penalties, training)
    if remaining > 0:
        with _interrupts_inside_trials(objective, n_jobs):
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=timeout,
                n_jobs=n_jobs,
                catch=(ValueError, RuntimeError),
                callbacks=[
                    optuna.study.MaxTrialsCallback(target, states=finished_states),
                    *([callback] if callback else []),
                ],
            )
    return TuneResult(study, run_dir, train_set, preset.space, objective.fixed)


def make_storage(
    storage: str | optuna.storages.BaseStorage | None, run_dir: str | os.PathLike[str]
) -> optuna.storages.BaseStorage:
    """The storage `tune` uses for `storage` (see its Args)."""
    import optuna
    from optuna.storages import JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
    from optuna.storages.journal import JournalFileBackend

    if isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if storage is not None:
        storage = os.fspath(storage)
    if storage is None or "://" not in storage:
        path = Path(run_dir) / "study.journal" if storage is None else Path(storage)
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path)))
    if (
        storage.startswith("postgresql://")
        and importlib.util.find_spec("psycopg2") is None
        and importlib.util.find_spec("psycopg") is not None
    ):
        # SQLAlchemy's default PostgreSQL driver is psycopg2; the `postgresql` extra installs
        # psycopg (3).
        storage = "postgresql+psycopg://" + storage.removeprefix("postgresql://")
    if storage.startswith(("postgresql", "mysql")):
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", optuna.exceptions.ExperimentalWarning
            )  # heartbeats are "experimental"
            return RDBStorage(
                storage,
                heartbeat_interval=10,
                grace_period=30,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=3),
            )
    return RDBStorage(storage)


def save_figures(study: optuna.Study, folder: str | os.PathLike[str]) -> list[Path]:
    """Writes optimisation history, parameter importances, parallel coordinates and
    intermediate values (Optuna's matplotlib figures) as PNG files into `folder`; a figure
    the study cannot support yet (too few trials, several objectives) is skipped and logged.

    Returns:
        The files written.
    """
    import matplotlib
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as figures

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    plots: dict[str, Callable[..., Any]] = {
        "optimization_history": figures.plot_optimization_history,
        "param_importances": figures.plot_param_importances,
        "parallel_coordinate": figures.plot_parallel_coordinate,
        "intermediate_values": figures.plot_intermediate_values,
    }
    target = {} if len(study.directions) == 1 else {"target": lambda t: t.values[0]}
    written = []
    for name, plot in plots.items():
        # Optuna switches matplotlib's style to ggplot; the context keeps that to its figures.
        with warnings.catch_warnings(), matplotlib.rc_context():
            warnings.simplefilter("ignore")  # Optuna marks its matplotlib figures experimental
            try:
                kwargs = target if name != "intermediate_values" else {}
                axes = plot(study, **kwargs)
            except (ValueError, RuntimeError, ZeroDivisionError) as error:
                log.warning("figure %s skipped: %s", name, error)
                continue
            figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            path = folder / f"{name}.png"
            save_atomically(
                lambda tmp, figure=figure: figure.savefig(
                    tmp, format="png", dpi=100, bbox_inches="tight"
                ),
                path,
            )
            plt.close(figure)
        written.append(path)
    return written


class _Objective:
    """One trial: plan, train natively (reporting to the pruner), score."""

    def __init__(
        self,
        train_set: Any,
        space: SearchSpace,
        folds: int | None,
        objectives: tuple[str, ...],
        penalties: tuple[float, float],
        fixed: dict[str, Any],
    ) -> None:
        self.train_set = train_set
        self.space = space
        self.folds = folds
        self.objectives = objectives
        self.time_penalty, self.latent_penalty = penalties
        self.fixed = fixed
        self.inside = False  # a trial is running (see _interrupts_inside_trials)
        self.interrupted = False  # Ctrl-C came between trials

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        import optuna

        self.inside = True
        try:
            if self.interrupted:
                raise KeyboardInterrupt
            return self._evaluate(trial)
        except optuna.TrialPruned as pruned:
            trial.set_user_attr("prune_reason", str(pruned))
            raise
        except BaseException as error:  # KeyboardInterrupt too: Optuna stores the trial FAIL
            reason = type(error).__name__ + (f": {error}" if str(error) else "")
            trial.set_user_attr("fail_reason", reason)
            raise
        finally:
            self.inside = False

    def _evaluate(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        import optuna

        try:
            plan = self.space(trial, self.train_set.image_shape)
        except errors.InvalidArchitecture as error:
            trial.set_user_attr("invalid_architecture", str(error))
            raise optuna.TrialPruned(f"invalid architecture: {error}") from None
        if not isinstance(plan, TrialPlan):
            raise TypeError(f"a search space must return a TrialPlan, got {type(plan).__name__}")
        training = {**self.fixed, **plan.training}
        report = self._reporter(trial) if len(self.objectives) == 1 else None
        if self.folds is None:
            result = train_autoencoder(plan.spec, self.train_set, callback=report, **training)
            val_loss, val_mse, seconds = result.best_val_loss, result.best_val_mse, result.seconds
            total_seconds = seconds
            stop_reasons = [result.stop_reason]
        else:
            training.pop("val_fraction", None)
            result = cross_validate(
                plan.spec, self.train_set, k=self.folds, callback=report, **training
            )
            # Report 001 penalises the average training time of a fold, not their total.
            seconds = statistics.fmean(f.seconds for f in result.folds)
            val_loss, val_mse, total_seconds = (
                result.mean_val_loss,
                result.mean_val_mse,
                result.seconds,
            )
            stop_reasons = [f.stop_reason for f in result.folds]
        minutes = seconds / 60
        trial.set_user_attr("val_loss", val_loss)
        trial.set_user_attr("val_mse", val_mse)
        trial.set_user_attr("minutes", minutes)
        trial.set_user_attr("total_minutes", total_seconds / 60)
        trial.set_user_attr("latent_dim", plan.spec.latent_dim)
        trial.set_user_attr("stop_reason", "; ".join(stop_reasons))
        diverged = [r for r in stop_reasons if r.startswith("diverged")]
        if diverged or not math.isfinite(val_loss):
            raise optuna.TrialPruned(diverged[0] if diverged else "no finite validation loss")
        value = val_loss + self.time_penalty * minutes + self.latent_penalty * plan.spec.latent_dim
        extra = {"latent_dim": float(plan.spec.latent_dim), "minutes": minutes}
        if len(self.objectives) == 1:
            return value
        return (value, *(extra[name] for name in self.objectives[1:]))

    def _reporter(self, trial: optuna.Trial) -> Callable[[EpochRecord], None]:
        """The per-epoch callback that feeds the pruner (see `tune`'s pruner argument)."""
        import optuna

        fold_best: dict[int, float] = {}

        def report(record: EpochRecord) -> None:
            # A NaN would make the pruner prune a diverged trial before its stop reason is
            # recorded; training stops by itself when the loss diverges.
            if record.fold is None:
                if math.isfinite(record.val_loss):
                    trial.report(record.val_loss, record.epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned at epoch {record.epoch}")
                return
            if record.fold not in fold_best and record.fold > 0:
                mean = sum(fold_best[f] for f in range(record.fold)) / record.fold
                if math.isfinite(mean):
                    trial.report(mean, record.fold - 1)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned after fold {record.fold - 1}")
            if math.isfinite(record.val_loss):
                fold_best[record.fold] = min(fold_best.get(record.fold, math.inf), record.val_loss)
            else:
                fold_best.setdefault(record.fold, math.inf)

        return report


@contextlib.contextmanager
def _interrupts_inside_trials(objective: _Objective, n_jobs: int) -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt inside a trial's objective only, where Optuna stores
    the trial as FAIL. Between trials (asking, telling, storage writes, callbacks) it is held
    until the next trial starts or the study ends: raised there, it would leave the trial
    just created RUNNING for ever in a journal storage. Only with one job, in the main
    thread, and while Python's own SIGINT handler is installed."""
    if (
        n_jobs != 1
        or threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if objective.inside:
            raise KeyboardInterrupt
        objective.interrupted = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if objective.interrupted:
        raise KeyboardInterrupt


def _search(search: str | Search | SearchSpace) -> Search:
    if isinstance(search, Search):
        return search
    if isinstance(search, str):
        if search not in SEARCHES:
            raise ValueError(f"unknown search {search!r}; known: {', '.join(SEARCHES)}")
        return SEARCHES[search]
    if callable(search):
        return Search(search, n_trials=100)
    raise TypeError(f"search must be a name, a Search or a function, got {type(search).__name__}")


def _default_sampler(preset: Search, n_objectives: int, seed: int) -> optuna.samplers.BaseSampler:
    import optuna

    if preset.grid is not None:
        return optuna.samplers.GridSampler(preset.grid, seed=seed)
    if preset.random:
        return optuna.samplers.RandomSampler(seed=seed)
    if n_objectives > 1:
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(pruner: str | optuna.pruners.BasePruner | None) -> optuna.pruners.BasePruner:
    import optuna

    if isinstance(pruner, optuna.pruners.BasePruner):
        return pruner
    if pruner in (None, "none"):
        return optuna.pruners.NopPruner()
    if pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    if pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    raise ValueError(f"unknown pruner {pruner!r} (expected 'median', 'hyperband' or 'none')")
