"""Distributed studies on PostgreSQL: `udl tune` workers sharing one study, and the trial of
a worker killed mid-trial failed by the heartbeat and retried by another worker.

Needs a server: `bash scripts/postgres-for-tests` starts one on loopback and prints the URL to
export as UDL_TEST_POSTGRES_URL. Without it these tests skip, except when CI=true: there they
fail, so that a CI run cannot pass without them."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.exceptions import ExperimentalWarning
from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

import udl
from udl.tuning import make_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)

URL_VARIABLE = "UDL_TEST_POSTGRES_URL"
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@pytest.fixture(scope="module")
def postgres_url() -> str:
    """The test server's URL; skips without one (fails instead when CI=true)."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        reason = (
            f"{URL_VARIABLE} is not set: run `bash scripts/postgres-for-tests` and export the "
            "URL it prints to test distributed studies on PostgreSQL"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: these tests must not be skipped)", pytrace=False)
        pytest.skip(reason)
    return url


@contextlib.contextmanager
def _storage(url: str, heartbeat: bool = False) -> Iterator[RDBStorage]:
    """An RDB storage whose connections are closed at the end (psycopg 3 warns about
    connections that are garbage-collected open, and the suite turns warnings to errors).
    With `heartbeat`: a 1 s heartbeat, 2 s grace period and up to 3 retries of stale trials."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)  # Optuna's heartbeats
        storage = RDBStorage(
            url,
            **(
                {
                    "heartbeat_interval": 1,
                    "grace_period": 2,
                    "heartbeat_stale_trial_callback": RetryHeartbeatStaleTrialCallback(3),
                }
                if heartbeat
                else {}
            ),
        )
    try:
        yield storage
    finally:
        storage.engine.dispose()


@pytest.fixture
def study_name(postgres_url: str) -> Iterator[str]:
    """A fresh study name on the server; the study is deleted afterwards."""
    name = f"udl-test-{uuid.uuid4()}"
    yield name
    with _storage(postgres_url) as storage:
        try:
            optuna.delete_study(study_name=name, storage=storage)
        except KeyError:
            pass  # never created


def _worker(url: str, name: str, out: Path, *args: str) -> subprocess.Popen[str]:
    """A `udl tune` worker process joining study `name` on `url`."""
    command = [
        sys.executable, "-m", "udl", "tune", "--storage", url, "--study-name", name,
        "--search", "report000", "--out", str(out), "--threads", "1", "--batch-size", "128",
        "--no-figures", *args,
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Kills the process if it still runs; returns its remaining output (closing its pipes)."""
    process.kill()
    return process.communicate(timeout=30)


_TRIAL_LINE = re.compile(r"^study \S+ trial (\d+) ")  # a worker's progress line (stderr)


def _trial_numbers(stderr: str) -> set[int]:
    return {int(m.group(1)) for m in map(_TRIAL_LINE.match, stderr.splitlines()) if m}


def test_make_storage_for_postgresql(postgres_url: str, tmp_path: Path) -> None:
    storage = make_storage(postgres_url, tmp_path)  # no warning (the suite turns them to errors)
    try:
        assert isinstance(storage, RDBStorage)
        assert storage.heartbeat_interval == 10
        assert storage.grace_period == 30
        callback = storage.heartbeat_stale_trial_callback
        assert isinstance(callback, RetryHeartbeatStaleTrialCallback)
        assert callback._max_retry == 3
        if importlib.util.find_spec("psycopg2") is not None:
            assert storage.url == postgres_url  # SQLAlchemy picks its default driver
        else:
            assert storage.url.startswith("postgresql+psycopg://")
        assert not list(tmp_path.iterdir())  # no journal file
    finally:
        storage.engine.dispose()


def test_make_storage_falls_back_to_psycopg3(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without psycopg2, a plain postgresql:// URL uses psycopg (3), which udl's
    `postgresql` extra installs."""
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "psycopg2" else find_spec(name, *a),
    )
    storage = make_storage(postgres_url, tmp_path)
    try:
        assert storage.url == postgres_url.replace("postgresql://", "postgresql+psycopg://", 1)
        assert storage.engine.dialect.driver == "psycopg"
        study = optuna.create_study(storage=storage, study_name=f"udl-test-{uuid.uuid4()}")
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
        assert study.trials[0].state == TrialState.COMPLETE
        optuna.delete_study(study_name=study.study_name, storage=storage)
    finally:
        storage.engine.dispose()  # psycopg 3 warns about connections left open


def test_two_workers_share_a_study(postgres_url: str, study_name: str, tmp_path: Path) -> None:
    common = ("--subset", "800", "--epochs", "1", "--trials", "8")
    workers = [
        _worker(postgres_url, study_name, tmp_path / f"w{i}", *common, "--seed", str(i))
        for i in range(2)
    ]
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=120))
    finally:
        for worker in workers:
            _stop(worker)
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err

    with _storage(postgres_url) as storage:
        trials = optuna.load_study(study_name=study_name, storage=storage).trials
    states = [t.state for t in trials]
    assert sum(s in FINISHED for s in states) >= 8
    assert TrialState.RUNNING not in states and TrialState.WAITING not in states
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    for trial in trials:
        if trial.state == TrialState.COMPLETE:
            assert trial.value == trial.user_attrs["val_loss"]
        elif trial.state == TrialState.PRUNED:
            assert trial.user_attrs["prune_reason"].startswith("pruned at epoch")
        else:
            assert trial.state == TrialState.FAIL
            assert trial.user_attrs["fail_reason"]
    # Both workers ran trials, each trial in exactly one of them.
    printed = [_trial_numbers(err) for _, err in outputs]
    assert all(printed), [err for _, err in outputs]
    assert not printed[0] & printed[1]
    assert printed[0] | printed[1] == {t.number for t in trials if t.state in FINISHED}
    for out, _ in outputs:
        assert f"study {study_name!r}: " in out
    # Each worker wrote its own trials table into its own run folder.
    assert (tmp_path / "w0" / "trials.csv").is_file() and (tmp_path / "w1" / "trials.csv").is_file()


def test_a_killed_workers_trial_is_retried(
    postgres_url: str, study_name: str, tmp_path: Path, fashion: udl.datasets.Dataset
) -> None:
    """SIGKILL leaves the running trial RUNNING; a worker whose storage checks heartbeats (1 s
    interval, 2 s grace) fails it once it is stale and its retry callback enqueues it again,
    to be run first. The killed worker is a real `udl tune` (10 s heartbeat): it records a
    heartbeat as its trial starts, and staleness is judged by the checking storage's grace
    period against the server's clock, so the test waits seconds, not make_storage's 30 s."""
    killed = _worker(
        postgres_url, study_name, tmp_path / "killed",
        # 20 epochs: each trial runs for seconds, so the kill lands inside one.
        "--subset", "1000", "--epochs", "20", "--pruner", "none", "--trials", "50",
    )  # fmt: skip
    with contextlib.ExitStack() as stack:
        watcher = stack.enter_context(_storage(postgres_url))
        stack.callback(_stop, killed)
        assert killed.stderr is not None
        first = killed.stderr.readline()
        while first and not _TRIAL_LINE.match(first):
            first = killed.stderr.readline()
        assert _TRIAL_LINE.match(first), killed.communicate(timeout=10)[1]
        study = optuna.load_study(study_name=study_name, storage=watcher)
        deadline = time.monotonic() + 10
        while not study.get_trials(states=(TrialState.RUNNING,)):
            assert time.monotonic() < deadline, "no trial started after the first one"
            time.sleep(0.05)
        time.sleep(0.5)  # well inside the next trial (seconds long), after its heartbeat
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
        assert killed.returncode == -signal.SIGKILL
        running = study.get_trials(states=(TrialState.RUNNING,))
        assert len(running) == 1  # the dead worker's trial, left behind
        dead = running[0]
        done = len(study.get_trials(states=FINISHED))
        assert done >= 1

    time.sleep(2.5)  # past the grace period of the second worker's storage
    images = fashion.train
    data = udl.datasets.from_numpy(images.images[:1000], images.labels[:1000])
    with _storage(postgres_url, heartbeat=True) as storage:
        result = udl.tune(
            data, "report000", storage=storage, study_name=study_name, n_trials=done + 2,
            run_dir=tmp_path / "second", pruner="none", epochs=3, threads=1, batch_size=128,
        )  # fmt: skip
        trials = result.study.trials
    by_number = {t.number: t for t in trials}
    states = [(t.number, t.state.name, t.system_attrs) for t in trials]
    assert all(t.state in (*FINISHED, TrialState.FAIL) for t in trials), states
    assert by_number[dead.number].state == TrialState.FAIL  # its reason: the retry below
    assert sum(t.state in FINISHED for t in trials) == done + 2
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retries) == 1
    retry = retries[0]
    assert retry.number > dead.number
    assert retry.state == TrialState.COMPLETE
    assert retry.params == dead.params  # the same parameters, run again
    assert retry.system_attrs["retry_history"] == [dead.number]
    assert retry.user_attrs["stop_reason"] == "completed"
    # The retry ran first in the second worker: it is the lowest of its trials' numbers.
    second = [t.number for t in trials if t.number > dead.number]
    assert retry.number == min(second)
    assert result.study.study_name == study_name


@pytest.mark.parametrize(("ci", "code", "outcome"), [("true", 1, "1 error"), ("", 0, "1 skipped")])
def test_without_a_server_ci_fails_and_others_skip(ci: str, code: int, outcome: str) -> None:
    env = {**os.environ, "CI": ci}
    env.pop(URL_VARIABLE, None)
    result = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
            f"{__file__}::test_make_storage_for_postgresql",
        ],
        capture_output=True, text=True, timeout=120, env=env, cwd=Path(__file__).parent.parent,
    )  # fmt: skip
    assert result.returncode == code, result.stdout
    assert outcome in result.stdout, result.stdout
    assert f"{URL_VARIABLE} is not set" in result.stdout
