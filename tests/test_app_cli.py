"""udl.app.cli: flags made from the library's signatures, --config files, run folders, exit codes
and messages, progress output, interrupts."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest

import udl
from udl.app import cli, commands
from udl.tuning import make_storage

pytestmark = pytest.mark.usefixtures("one_thread_per_module")

FAST = ["--epochs", "1", "--threads", "1", "--batch-size", "128"]


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "udl", *args], capture_output=True, text=True, timeout=timeout
    )


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


# --- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["train", "cae"], ["train", "dae"], ["train", "vae"], ["train", "gan"],
        ["train", "classifier"], ["finetune"], ["cv"], ["tune"], ["reproduce"], ["report"],
    ],
)  # fmt: skip
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: udl {' '.join(command)}")


def test_help_shows_every_training_parameter_with_the_library_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["train", "cae", "--help"]) == 0
    help_of = " ".join(capsys.readouterr().out.split())
    parameters = {*udl.settings.LOOP_SETTINGS, "loss", "prune_every", "passes", "nf"}
    for parameter in parameters - {"checkpoint"}:  # a run folder always checkpoints
        assert f"--{parameter.replace('_', '-')}" in help_of
    assert "--resume RUN_DIR continue an interrupted run" in help_of
    # The help text and defaults are the library's own docstring and signature.
    assert "--latent-dim LATENT_DIM size of the code. (default: 10)" in help_of
    assert "--lr LR learning rate, > 0 (default: 0.001)" in help_of
    assert "--early-stopping, --no-early-stopping stop after `patience` epochs" in help_of
    assert "--config FILE TOML file of settings" in help_of


def test_gan_and_vae_flags_carry_their_own_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "vae", "--help"]) == 0
    vae_help = " ".join(capsys.readouterr().out.split())
    assert "--beta BETA" in vae_help and "(default: 0.8)" in vae_help
    assert cli.main(["train", "gan", "--help"]) == 0
    gan_help = " ".join(capsys.readouterr().out.split())
    assert "--architecture {fc,fc_leaky,dcgan}" in gan_help
    assert "--noise-dim NOISE_DIM" in gan_help
    assert "--gradient-penalty GRADIENT_PENALTY" in gan_help
    assert "--discriminator-lr DISCRIMINATOR_LR" in gan_help
    assert "--generator-average GENERATOR_AVERAGE" in gan_help
    assert "--dcgan-width DCGAN_WIDTH" in gan_help
    assert "--gradient-penalty-interval GRADIENT_PENALTY_INTERVAL" in gan_help
    assert "--discriminator-batch-norm, --no-discriminator-batch-norm" in gan_help


@pytest.mark.parametrize("command", [["train", "classifier"], ["finetune"]])
def test_classifier_commands_offer_batch_norm_and_augmentation(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--batch-norm, --no-batch-norm" in text
    assert "--max-shift MAX_SHIFT augmentation: every training image moves" in text
    assert "--horizontal-flip, --no-horizontal-flip augmentation" in text


# --- usage errors: exit code 2 with the message --------------------------------------------------


def test_no_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "usage: udl" in capsys.readouterr().err


def test_unknown_dataset_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "cae", "--dataset", "cifar10"]) == 2
    assert "invalid choice: 'cifar10'" in capsys.readouterr().err


def test_zero_epochs_exits_2_from_a_real_process(data_dir: Path, tmp_path: Path) -> None:
    result = _run("train", "cae", "--epochs", "0", "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "udl: error: epochs must be > 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_exits_2(
    tmp_path: Path,
    isolated_cache: Path,
    unreachable_sources: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = cli.main(["train", "cae", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert "udl: error: no fashion-mnist files found" in err
    assert str(tmp_path) in err


def test_bad_value_exits_2_and_names_it(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["train", "cae", "--lr", "-1", "--out", str(tmp_path / "r")]) == 2
    assert "udl: error: lr (learning rate) must be > 0" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # the folder it had made held nothing else: gone


@pytest.mark.parametrize(
    ("model", "flags", "message"),
    [
        ("gan", ["--generator-average", "1.5"], "generator_average must be in [0, 1)"),
        ("gan", ["--discriminator-lr", "0"], "discriminator_lr must be > 0"),
        (
            "gan",
            ["--dcgan-width", "32"],
            "dcgan_width and discriminator_batch_norm apply to the DCGAN only",
        ),
        ("gan", ["--architecture", "dcgan", "--dcgan-width", "0"], "dcgan_width must be > 0"),
        (
            "classifier",
            ["--max-shift", "28"],
            "max_shift 28 would move whole images out of their 28x28 frame",
        ),
        ("classifier", ["--max-shift", "-1"], "max_shift must be >= 0"),
    ],
)
def test_a_bad_model_setting_exits_2_and_names_it(
    model: str,
    flags: list[str],
    message: str,
    small_fashion: list,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["train", model, *flags, "--out", str(tmp_path / "r")]) == 2
    assert f"udl: error: {message}" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_a_usage_error_keeps_an_existing_folder(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    assert cli.main(["train", "cae", *FAST, "--out", str(run)]) == 0
    settings = (run / "config.toml").read_text()
    assert cli.main(["train", "cae", "--resume", str(run), "--lr", "-1"]) == 2
    assert "udl: error: lr (learning rate) must be > 0" in capsys.readouterr().err
    assert (run / "model.udl").is_file() and (run / "history.csv").is_file()
    assert (run / "config.toml").read_text() == settings  # the rejected lr never landed


def test_an_earlier_run_folder_is_never_overwritten(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "precious.txt").write_text("keep me")
    assert cli.main(["train", "cae", *FAST, "--out", str(run)]) == 2
    assert "already holds files; choose another --out" in capsys.readouterr().err
    assert [p.name for p in run.iterdir()] == ["precious.txt"]
    assert small_fashion == []  # refused before loading anything


def test_finetune_of_a_file_that_is_no_model_exits_2(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_model = tmp_path / "notes.udl"
    not_a_model.write_text("hello")
    code = cli.main(["finetune", "--autoencoder", str(not_a_model), "--out", str(tmp_path / "r")])
    assert code == 2
    assert "udl: error: --autoencoder:" in capsys.readouterr().err


def test_corrupt_data_file_exits_1(
    tmp_path: Path, make_dataset, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_dataset(tmp_path / "data" / "fashion-mnist", gz=False)
    images = data.path("train_images")
    images.write_bytes(images.read_bytes()[:-5])  # truncated
    code = cli.main(
        ["train", "cae", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "r")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "udl: failed:" in err and "train-images-idx3-ubyte" in err


def test_divergence_exits_1_and_keeps_the_run(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code = cli.main(
        ["train", "cae", "--optimizer", "sgd", "--lr", "1e12", "--epochs", "3", "--out", str(run)]
    )
    assert code == 1
    assert "udl: failed: training diverged at epoch" in capsys.readouterr().err
    metrics = _metrics(run)
    assert metrics["status"] == "diverged" and metrics["stop_reason"] == "diverged at epoch 1"
    assert (run / "history.csv").is_file()
    assert not (run / "model.udl").exists()  # no epoch was good: no model of NaNs


# --- --config ------------------------------------------------------------------------------------


def test_config_file_sets_flags_and_the_command_line_wins(
    small_fashion: list, tmp_path: Path
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('nf = 4\nlatent-dim = 3\nepochs = 2\nloss = "bce"\nearly_stopping = false\n')
    run = tmp_path / "run"
    assert (
        cli.main(["train", "cae", "--config", str(config), "--epochs", "1", "--out", str(run)]) == 0
    )
    model = udl.load_model(run / "model.udl")
    assert model.spec == udl.AutoencoderSpec.conv_autoencoder(4, 3)
    assert len(pd.read_csv(run / "history.csv")) == 1  # --epochs 1 beat the file's 2
    resolved = (run / "config.toml").read_text()
    assert 'loss = "bce"' in resolved and "early_stopping = false" in resolved
    assert "epochs = 1" in resolved


def test_the_resolved_config_reruns_the_same_run(small_fashion: list, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    assert cli.main(["train", "cae", *FAST, "--nf", "4", "--seed", "3", "--out", str(first)]) == 0
    assert (
        cli.main(["train", "cae", "--config", str(first / "config.toml"), "--out", str(second)])
        == 0
    )
    assert (first / "config.toml").read_text() == (second / "config.toml").read_text()
    columns = ["epoch", "train_loss", "val_loss"]
    a = pd.read_csv(first / "history.csv")[columns]
    b = pd.read_csv(second / "history.csv")[columns]
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("lrr = 0.1\n", "unknown setting 'lrr'"),
        ('epochs = "many"\n', "argument --epochs: invalid int value: 'many'"),
        ("early_stopping = 1\n", "setting 'early_stopping' cannot be 1"),
        ("lr = [0.1, 'x']\n", "setting 'lr' cannot be"),
        ("epochs = \n", "is not valid TOML"),
    ],
)
def test_bad_config_files_exit_2_naming_the_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    assert cli.main(["train", "cae", "--config", str(config)]) == 2
    assert message in capsys.readouterr().err


def test_missing_config_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train", "cae", "--config", str(tmp_path / "none.toml")]) == 2
    assert "--config: no file" in capsys.readouterr().err


# --- what each command writes --------------------------------------------------------------------


def test_train_cae_writes_its_run_folder(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    code = cli.main(["train", "cae", *FAST, "--nf", "8", "--latent-dim", "4", "--out", str(run)])
    assert code == 0
    out = capsys.readouterr().out
    assert small_fashion == [("fashion-mnist", None)]
    files = {str(p.relative_to(run)) for p in run.rglob("*") if p.is_file()}
    assert files == {
        "config.toml", "history.csv", "metrics.json", "model.udl", "checkpoint.udl",
        "run.log", "figures/loss.png", "figures/reconstructions.png",
    }  # fmt: skip
    metrics = _metrics(run)
    assert metrics["status"] == "completed" and metrics["best_epoch"] == 1
    assert 0 < metrics["test_mse"] < 0.25
    assert f"test_mse: {metrics['test_mse']:.6g}" in out
    assert list(pd.read_csv(run / "history.csv")["epoch"]) == [1]
    model = udl.load_model(run / "model.udl")
    assert model.encode(np.zeros((2, 1, 28, 28), np.uint8)).shape == (2, 4)


def test_train_dae_reports_the_psnr_gain(small_fashion: list, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "dae", *FAST, "--preset", "report004", "--gaussian-sigma", "0.1"]
    assert cli.main([*args, "--out", str(run)]) == 0
    metrics = _metrics(run)
    assert metrics["test_denoised_psnr"] > 0 and "test_psnr_gain" in metrics
    settings = (run / "config.toml").read_text()
    assert 'preset = "report004"' in settings and "gaussian_sigma = 0.1" in settings


def test_train_dae_masks_as_dropout_does(small_fashion: list, tmp_path: Path) -> None:
    # Its inputs leave [0, 1]: the figure of denoised images must still be drawn.
    run = tmp_path / "run"
    args = ["train", "dae", *FAST, "--preset", "report004", "--mask-rescale"]
    assert cli.main([*args, "--out", str(run)]) == 0
    assert "mask_rescale = true" in (run / "config.toml").read_text()
    assert (run / "figures" / "reconstructions.png").is_file()


def test_train_dae_without_any_corruption_exits_2(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["train", "dae", "--preset", "none", "--out", str(tmp_path / "r")]) == 2
    assert "udl: error:" in capsys.readouterr().err


def test_train_vae_gan_and_classifier(
    small_fashion: list, fashion: udl.datasets.Dataset, tmp_path: Path
) -> None:
    assert cli.main(["train", "vae", *FAST, "--out", str(tmp_path / "vae")]) == 0
    assert (tmp_path / "vae" / "figures" / "latent-grid.png").is_file()
    assert _metrics(tmp_path / "vae")["test_kl"] >= 0
    gan = ["train", "gan", *FAST, "--sample-epochs", "1", "--out", str(tmp_path / "gan")]
    assert cli.main(gan) == 0
    assert (tmp_path / "gan" / "figures" / "samples-1.png").is_file()
    assert (tmp_path / "gan" / "figures" / "loss.png").is_file()  # generator and discriminator
    assert isinstance(udl.load_model(tmp_path / "gan" / "model.udl"), udl.Gan)
    classifier = ["train", "classifier", *FAST, "--head", "two_layer"]
    assert cli.main([*classifier, "--out", str(tmp_path / "clf")]) == 0
    metrics = _metrics(tmp_path / "clf")
    assert 0 <= metrics["test_accuracy"] <= 1
    assert list(metrics["per_class_accuracy"]) == list(fashion.class_names)
    assert (tmp_path / "clf" / "figures" / "confusion.png").is_file()


def test_finetune_freezes_the_encoder_it_loads(small_fashion: list, tmp_path: Path) -> None:
    assert cli.main(["train", "cae", *FAST, "--out", str(tmp_path / "cae")]) == 0
    code = cli.main(
        [
            "finetune", "--autoencoder", str(tmp_path / "cae" / "model.udl"), *FAST,
            "--freeze-linear", "--out", str(tmp_path / "ft"),
        ]
    )  # fmt: skip
    assert code == 0
    metrics = _metrics(tmp_path / "ft")
    assert metrics["trainable_parameters"] < metrics["parameters"]


def test_cv_writes_one_row_per_fold(small_fashion: list, tmp_path: Path) -> None:
    run = tmp_path / "cv"
    assert cli.main(["cv", *FAST, "--k", "3", "--nf", "4", "--out", str(run)]) == 0
    folds = pd.read_csv(run / "folds.csv")
    assert list(folds["fold"]) == [0, 1, 2]
    history = pd.read_csv(run / "history.csv")
    assert sorted(history["fold"]) == [0, 1, 2]
    metrics = _metrics(run)
    assert metrics["mean_val_loss"] == pytest.approx(folds["best_val_loss"].mean())


# --- progress and logging ------------------------------------------------------------------------


def test_log_lines_when_not_a_terminal_and_silence_when_quiet(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["train", "cae", *FAST, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "cae epoch 1: train_loss" in err and "udl train cae: run folder" in err
    assert cli.main(["train", "cae", *FAST, "--quiet", "--out", str(tmp_path / "b")]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "test_mse:" in captured.out  # results still reach stdout
    assert "cae epoch 1" in (tmp_path / "b" / "run.log").read_text()  # and the log file


# --- interrupts ----------------------------------------------------------------------------------


def test_ctrl_c_keeps_the_finished_epochs_and_says_how_to_go_on(
    small_fashion: list,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupted_at: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(commands.udl, "train_cae", interrupted_at(2, udl.train_cae))
    run = tmp_path / "run"
    code = cli.main(["train", "cae", "--epochs", "5", "--threads", "1", "--out", str(run)])
    assert code == 130
    err = capsys.readouterr().err
    assert "interrupted after 2 finished epochs" in err
    assert f"Resume with: udl train cae --resume {run}" in err
    assert list(pd.read_csv(run / "history.csv")["epoch"]) == [1, 2]
    assert _metrics(run) == {"status": "interrupted", "epochs_finished": 2}
    assert not list(run.rglob(".*tmp*"))  # no half-written file


def test_sigint_stops_a_real_run_within_seconds(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    command = [
        sys.executable, "-m", "udl", "train", "cae", "--subset", "3000", "--epochs", "200",
        "--threads", "1", "--no-early-stopping", "--out", str(run),
    ]  # fmt: skip
    with subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    ) as process:
        try:
            for line in process.stderr:
                if "cae epoch 1:" in line:
                    break
            process.send_signal(signal.SIGINT)
            start = time.monotonic()
            code = process.wait(timeout=30)
            stopped_after = time.monotonic() - start
        finally:
            process.kill()
    assert code == 130
    assert stopped_after < 5
    assert _metrics(run)["status"] == "interrupted"
    assert len(pd.read_csv(run / "history.csv")) >= 1


# --- udl tune ------------------------------------------------------------------------------------


def test_tune_writes_trials_and_resumes(small_fashion: list, tmp_path: Path) -> None:
    run = tmp_path / "study"
    args = ["tune", "--trials", "2", "--epochs", "1", "--threads", "1", "--out", str(run)]
    assert cli.main(args) == 0
    assert list(pd.read_csv(run / "trials.csv")["number"]) == [0, 1]
    assert (run / "figures" / "optimization_history.png").is_file()
    assert _metrics(run)["trials"] == 2
    # Rerunning the same command resumes the study: more trials join the same journal.
    assert cli.main([*args[:2], "3", *args[3:], "--no-figures"]) == 0
    study = optuna.load_study(study_name="report000", storage=make_storage(None, run))
    assert [t.number for t in study.trials] == [0, 1, 2]


def test_tune_shared_storage_and_two_objectives(small_fashion: list, tmp_path: Path) -> None:
    journal = tmp_path / "shared.journal"
    args = [
        "tune", "--trials", "2", "--epochs", "1", "--threads", "1", "--pruner", "none",
        "--storage", str(journal), "--study-name", "mine", "--no-figures",
        "--objectives", "val_loss,latent_dim", "--out", str(tmp_path / "run"),
    ]  # fmt: skip
    assert cli.main(args) == 0
    study = optuna.load_study(study_name="mine", storage=make_storage(str(journal), tmp_path))
    assert len(study.directions) == 2 and len(study.trials) == 2
    assert not (tmp_path / "run" / "study.journal").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "udl: error: n_trials must be >= 1, got 0"),
        (["--folds", "1"], "udl: error: folds must be >= 2, got 1"),
        (["--objectives", "latent_dim"], "udl: error: objectives must start with 'val_loss'"),
        (["--threads", "0"], "udl: error: threads must be >= 1, got 0"),
        (["--subset", "1"], "udl: error: --subset must be >= 2, got 1"),
    ],
)
def test_tune_bad_values_exit_2(
    small_fashion: list,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    assert cli.main(["tune", "--out", str(tmp_path), "--epochs", "1", *args]) == 2
    assert message in capsys.readouterr().err
