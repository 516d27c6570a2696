"""udl.cli: the `udl train cae` and `udl tune` commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

import udl
from udl import cli
from udl.tuning import make_storage


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "udl", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_options() -> None:
    result = _run("train", "cae", "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--latent-dim", "--nf", "--epochs", "--data-dir", "--save", "--loss"):
        assert option in result.stdout
    # Every option shows its default.
    help_of = " ".join(result.stdout.split())
    assert "--latent-dim LATENT_DIM size of the latent code (default: 10)" in help_of
    assert "--epochs EPOCHS maximum number of epochs (default: 10)" in help_of
    assert "--batch-size BATCH_SIZE images per step (default: 256)" in help_of


def test_zero_epochs_exits_2_with_an_error(data_dir: Path) -> None:
    result = _run("train", "cae", "--epochs", "0", "--data-dir", str(data_dir))
    assert result.returncode == 2
    assert "udl: error: epochs must be > 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    assert "usage: udl" in capsys.readouterr().err


def test_unknown_dataset_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["train", "cae", "--dataset", "cifar10"])
    assert info.value.code == 2
    assert "invalid choice: 'cifar10'" in capsys.readouterr().err


def test_missing_data_exits_2(
    tmp_path: Path,
    isolated_cache: Path,
    unreachable_sources: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["train", "cae", "--data-dir", str(tmp_path), "--epochs", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("udl: error: no fashion-mnist files found")
    assert str(tmp_path) in err


@pytest.fixture
def small_fashion(
    fashion: udl.datasets.Dataset, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, object]]:
    """udl.datasets.load answers with 600 training and 200 test images of the real data."""
    calls: list[tuple[str, object]] = []
    small = udl.datasets.Dataset(
        name="fashion-mnist",
        train=udl.datasets.from_numpy(fashion.train.images[:600], fashion.train.labels[:600]),
        test=udl.datasets.from_numpy(fashion.test.images[:200], fashion.test.labels[:200]),
        class_names=fashion.class_names,
    )

    def fake_load(name: str, data_dir: object = None, **_: object) -> udl.datasets.Dataset:
        calls.append((name, data_dir))
        return small

    monkeypatch.setattr(udl.datasets, "load", fake_load)
    return calls


def test_train_cae_one_epoch(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_path = tmp_path / "cae.udl"
    code = cli.main(
        [
            "train", "cae", "--epochs", "1", "--threads", "2", "--batch-size", "128",
            "--nf", "8", "--latent-dim", "4", "--data-dir", str(tmp_path),
            "--save", str(model_path),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert small_fashion == [("fashion-mnist", str(tmp_path))]
    assert "fashion-mnist: 600 training, 200 test images" in out
    assert "epoch   1  train " in out
    assert "stopped: completed; best epoch 1" in out
    assert "test mse" in out
    mse = float(out.split("test mse:")[1].split()[0])
    assert 0 < mse < 0.25
    assert f"model saved to {model_path}" in out
    model = udl.load_model(model_path)
    assert model.spec == udl.AutoencoderSpec.conv_autoencoder(8, 4)
    assert model.encode(np.zeros((2, 1, 28, 28), np.uint8)).shape == (2, 4)


def test_train_cae_bce_prints_both_losses(
    small_fashion: list, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        ["train", "cae", "--epochs", "1", "--threads", "2", "--loss", "bce", "--nf", "4"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert small_fashion == [("fashion-mnist", None)]
    assert "test bce:" in out and "test mse:" in out


def test_bad_value_after_loading_exits_2(
    small_fashion: list, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["train", "cae", "--lr", "-1", "--threads", "2"])
    assert code == 2
    assert "udl: error: lr (learning rate) must be > 0" in capsys.readouterr().err


def test_save_into_a_missing_folder_fails_before_training(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-folder" / "cae.udl"
    code = cli.main(["train", "cae", "--epochs", "1", "--threads", "2", "--save", str(target)])
    assert code == 2
    assert f"udl: error: --save: no folder {target.parent}" in capsys.readouterr().err
    assert small_fashion == []  # nothing was loaded, nothing trained


# --- udl tune -----------------------------------------------------------------------------


def test_tune_help_lists_the_options() -> None:
    result = _run("tune", "--help")
    assert result.returncode == 0, result.stderr
    for option in (
        "--storage", "--study-name", "--search", "--trials", "--subset", "--folds", "--out",
        "--pruner", "--objectives", "--n-jobs", "--threads", "--no-figures",
    ):  # fmt: skip
        assert option in result.stdout
    help_of = " ".join(result.stdout.split())
    assert "{report000,report001,report003}" in help_of
    assert "{median,hyperband,none}" in help_of
    assert "(default: RUN_DIR/study.journal)" in help_of


def test_tune_subset_below_two_exits_2() -> None:
    result = _run("tune", "--subset", "1")
    assert result.returncode == 2
    assert result.stderr.strip() == "udl: error: --subset must be >= 2, got 1"


def test_tune_unknown_search_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["tune", "--search", "report999"])
    assert info.value.code == 2
    assert "invalid choice: 'report999'" in capsys.readouterr().err


def test_tune_quick_run(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    result = _run(
        "tune", "--subset", "600", "--epochs", "1", "--trials", "3", "--out", str(out),
        "--no-figures", "--threads", "1", "--batch-size", "128",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line[:10] for line in lines[:3]] == ["trial    0", "trial    1", "trial    2"]
    assert "study 'report000': 3 trials" in result.stdout
    assert "best value " in result.stdout and "best parameters: {'nf': " in result.stdout
    assert f"trials table: {out / 'trials.csv'}" in result.stdout
    assert "figure:" not in result.stdout
    assert (out / "study.journal").is_file()
    table = pd.read_csv(out / "trials.csv")
    assert list(table["number"]) == [0, 1, 2]
    assert set(table["state"]) <= {"COMPLETE", "PRUNED"}
    assert "params_latent_dim" in table.columns
    assert list(out.glob("*.png")) == []
    study = optuna.load_study(study_name="report000", storage=make_storage(None, out))
    assert len(study.trials) == 3


def test_tune_writes_figures_and_joins_a_named_study(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "shared.journal"
    args = [
        "tune", "--trials", "4", "--epochs", "1", "--threads", "1", "--pruner", "none",
        "--out", str(tmp_path / "run"), "--storage", str(journal), "--study-name", "mine",
    ]  # fmt: skip
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert small_fashion == [("fashion-mnist", None)]
    assert "study 'mine': 4 trials {'COMPLETE': 4}" in out
    for name in (
        "optimization_history", "param_importances", "parallel_coordinate",
        "intermediate_values",
    ):  # fmt: skip
        path = tmp_path / "run" / f"{name}.png"
        assert f"figure: {path}" in out
        assert path.read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "run" / "study.journal").exists()
    # A second worker with more trials joins the same study.
    assert cli.main([*args[:2], "5", *args[3:], "--no-figures"]) == 0
    assert "study 'mine': 5 trials" in capsys.readouterr().out
    study = optuna.load_study(study_name="mine", storage=make_storage(str(journal), tmp_path))
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]


def test_tune_two_objectives(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(
        [
            "tune", "--trials", "3", "--epochs", "1", "--threads", "1", "--no-figures",
            "--objectives", "val_loss,latent_dim", "--out", str(tmp_path),
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    trial_lines = [line for line in out.splitlines() if line.startswith("trial ")]
    assert len(trial_lines) == 3
    # Both objectives are printed: the loss and the latent size.
    assert all(", " in line.split("{")[0] for line in trial_lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "udl: error: n_trials must be >= 1, got 0"),
        (["--epochs", "0"], "udl: error: epochs must be > 0"),
        (["--folds", "1"], "udl: error: folds must be >= 2, got 1"),
        (["--objectives", "latent_dim"], "udl: error: objectives must start with 'val_loss'"),
        (["--threads", "0"], "udl: error: threads must be >= 1, got 0"),
    ],
)
def test_tune_bad_values_exit_2(
    small_fashion: list,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert cli.main(["tune", "--out", str(tmp_path), *args]) == 2
    assert capsys.readouterr().err.startswith(message)
