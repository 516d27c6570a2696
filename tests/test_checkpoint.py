"""Checkpoints: an interrupted run resumed from its checkpoint has the history and weights of
an uninterrupted one, in the library and through `udl train --resume`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import udl
from udl.app import cli, commands

pytestmark = pytest.mark.usefixtures("one_thread_per_module")

# Dropout, corruption, pruning and the plateau schedule: every state a checkpoint must hold.
DEMANDING = {
    "nf": 4,
    "latent_dim": 3,
    "epochs": 4,
    "threads": 1,
    "batch_size": 64,
    "prune_every": 1,
    "prune_amounts": 0.1,
    "lr_decay": 0.5,
    "lr_patience": 1,
    "seed": 3,
}


class _Stop(Exception):
    pass


def _stop_at(epoch: int):
    def callback(record) -> None:
        if record.epoch == epoch:
            raise _Stop

    return callback


def _losses(history) -> list[tuple[float, float]]:
    return [(r.train_loss, r.val_loss) for r in history]


def test_resumed_dae_matches_the_uninterrupted_run(small_train, tmp_path: Path) -> None:
    corruption = udl.Corruption(gaussian_sigma=0.2, rotation_degrees=10)
    whole = udl.train_dae(small_train, corruption, **DEMANDING)
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(_Stop):
        udl.train_dae(
            small_train, corruption, checkpoint=checkpoint, callback=_stop_at(2), **DEMANDING
        )
    resumed = udl.train_dae(
        small_train, corruption, checkpoint=checkpoint, resume=True, **DEMANDING
    )
    assert _losses(resumed.history) == _losses(whole.history)
    assert [r.sparsity for r in resumed.history] == [r.sparsity for r in whole.history]
    assert resumed.best_epoch == whole.best_epoch
    for name, weights in whole.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], weights, err_msg=name)


def test_resumed_gan_has_the_weights_and_samples_of_the_uninterrupted_run(
    small_train, tmp_path: Path
) -> None:
    settings = {"architecture": "fc_leaky", "noise_dim": 8, "epochs": 3, "threads": 1}
    settings |= {"sample_epochs": [1, 3], "sample_count": 4, "seed": 2}
    data = small_train[:256]
    whole = udl.train_gan(data, **settings)
    checkpoint = tmp_path / "gan.ckpt"
    with pytest.raises(_Stop):
        udl.train_gan(data, checkpoint=checkpoint, callback=_stop_at(2), **settings)
    resumed = udl.train_gan(data, checkpoint=checkpoint, resume=True, **settings)
    assert [dict(r, seconds=0) for r in resumed.history] == [
        dict(r, seconds=0) for r in whole.history
    ]
    assert resumed.samples.keys() == whole.samples.keys() == {1, 3}
    for epoch, images in whole.samples.items():
        np.testing.assert_array_equal(resumed.samples[epoch], images)
    np.testing.assert_array_equal(
        resumed.model.generate(8, seed=1), whole.model.generate(8, seed=1)
    )


def test_resumed_cross_validation_skips_finished_folds(mnist, tmp_path: Path) -> None:
    data = udl.datasets.from_numpy(mnist.train.images[:300], mnist.train.labels[:300])
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 3)
    settings = {"k": 3, "epochs": 2, "threads": 1, "batch_size": 64, "seed": 1}
    whole = udl.cross_validate(spec, data, **settings)
    checkpoint = tmp_path / "cv.ckpt"

    def stop_in_fold_one(record) -> None:
        if record.fold == 1 and record.epoch == 1:
            raise _Stop

    with pytest.raises(_Stop):
        udl.cross_validate(spec, data, checkpoint=checkpoint, callback=stop_in_fold_one, **settings)
    trained: list[tuple[int, int]] = []
    resumed = udl.cross_validate(
        spec,
        data,
        checkpoint=checkpoint,
        resume=True,
        callback=lambda r: trained.append((r.fold, r.epoch)),
        **settings,
    )
    assert trained == [(1, 2), (2, 1), (2, 2)]  # fold 0 done, fold 1 from its checkpoint
    assert [f.best_val_loss for f in resumed.folds] == [f.best_val_loss for f in whole.folds]
    assert resumed.best_fold == whole.best_fold
    for name, weights in whole.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], weights, err_msg=name)


def test_a_damaged_or_foreign_cross_validation_checkpoint_is_refused(mnist, tmp_path: Path) -> None:
    data = udl.datasets.from_numpy(mnist.train.images[:120], mnist.train.labels[:120])
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 3)
    settings = {"k": 2, "epochs": 1, "threads": 1, "batch_size": 64}
    checkpoint = tmp_path / "cv.ckpt"
    udl.cross_validate(spec, data, checkpoint=checkpoint, **settings)
    with pytest.raises(udl.InvalidArgument, match="written with seed 0, this run has 1"):
        udl.cross_validate(spec, data, checkpoint=checkpoint, resume=True, seed=1, **settings)
    checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    with pytest.raises(udl.DataFormatError, match="not a udl cross-validation checkpoint"):
        udl.cross_validate(spec, data, checkpoint=checkpoint, resume=True, **settings)


def test_resume_without_a_file_starts_afresh(small_train, tmp_path: Path) -> None:
    fresh = udl.train_cae(small_train, checkpoint=tmp_path / "new.ckpt", resume=True, **DEMANDING)
    assert len(fresh.history) == DEMANDING["epochs"]
    assert (tmp_path / "new.ckpt").is_file()


def test_resume_needs_a_checkpoint(small_train) -> None:
    with pytest.raises(ValueError, match="resume needs checkpoint"):
        udl.train_cae(small_train, resume=True, epochs=1)


def test_a_checkpoint_in_a_missing_folder_fails_before_training(
    small_train, tmp_path: Path
) -> None:
    calls = []
    with pytest.raises(FileNotFoundError, match="no folder"):
        udl.train_cae(
            small_train, checkpoint=tmp_path / "no" / "x.ckpt", epochs=1, callback=calls.append
        )
    assert calls == []


def test_a_damaged_checkpoint_is_a_data_format_error(small_train, tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.ckpt"
    udl.train_cae(small_train, checkpoint=checkpoint, **{**DEMANDING, "epochs": 1})
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])
    with pytest.raises(udl.DataFormatError, match="not a udl checkpoint or is damaged"):
        udl.train_cae(small_train, checkpoint=checkpoint, resume=True, **DEMANDING)


def test_a_checkpoint_of_another_seed_is_refused(small_train, tmp_path: Path) -> None:
    checkpoint = tmp_path / "run.ckpt"
    udl.train_cae(small_train, checkpoint=checkpoint, **{**DEMANDING, "epochs": 1})
    with pytest.raises(udl.InvalidArgument, match="seed 3, this run has 4"):
        udl.train_cae(small_train, checkpoint=checkpoint, resume=True, **{**DEMANDING, "seed": 4})


def test_udl_train_resume_continues_an_interrupted_run(
    small_fashion: list,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    interrupted_at: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["train", "cae", "--epochs", "4", "--threads", "1", "--nf", "4", "--seed", "2"]
    assert cli.main([*args, "--out", str(tmp_path / "whole")]) == 0
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(commands.udl, "train_cae", interrupted_at(2, udl.train_cae))
        assert cli.main([*args, "--out", str(run)]) == 130
    assert f"Resume with: udl train cae --resume {run}" in capsys.readouterr().err
    assert cli.main(["train", "cae", "--resume", str(run)]) == 0
    columns = ["epoch", "train_loss", "val_loss"]
    resumed = pd.read_csv(run / "history.csv")[columns]
    whole = pd.read_csv(tmp_path / "whole" / "history.csv")[columns]
    pd.testing.assert_frame_equal(resumed, whole)
    assert (run / "config.toml").read_text() == (tmp_path / "whole" / "config.toml").read_text()


def test_resume_with_another_out_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["train", "cae", "--resume", str(tmp_path), "--out", str(tmp_path / "x")])
    assert code == 2
    assert "--resume RUN_DIR takes the run's own config.toml and folder" in capsys.readouterr().err


def test_resume_of_a_folder_without_a_run_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["train", "vae", "--resume", str(tmp_path)]) == 2
    assert f"--resume {tmp_path}: --config: no file" in capsys.readouterr().err


def test_udl_finetune_resumes_with_its_autoencoder_from_the_config(
    small_fashion: list, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(["train", "cae", "--epochs", "1", "--nf", "4", "--out", str(tmp_path / "a")]) == 0
    )
    assert cli.main(["finetune", "--out", str(tmp_path / "x")]) == 2
    assert "--autoencoder FILE is required" in capsys.readouterr().err
    run = tmp_path / "ft"
    autoencoder = str(tmp_path / "a" / "model.udl")
    args = ["finetune", "--autoencoder", autoencoder, "--epochs", "2", "--out", str(run)]
    assert cli.main(args) == 0
    assert cli.main(["finetune", "--resume", str(run), "--epochs", "3"]) == 0
    assert list(pd.read_csv(run / "history.csv")["epoch"]) == [1, 2, 3]


@pytest.mark.parametrize("schedule", ["cosine", "onecycle"])
def test_a_resumed_run_continues_its_learning_rate_schedule(
    small_train, tmp_path: Path, schedule: str
) -> None:
    settings = {**DEMANDING, "lr_decay": 1.0, "lr_schedule": schedule, "early_stopping": False}
    uninterrupted = udl.train_cae(small_train, **settings)
    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(_Stop):
        udl.train_cae(small_train, checkpoint=checkpoint, callback=_stop_at(2), **settings)
    resumed = udl.train_cae(small_train, checkpoint=checkpoint, resume=True, **settings)
    assert _losses(resumed.history) == _losses(uninterrupted.history)
    constant = udl.train_cae(small_train, **{**settings, "lr_schedule": "constant"})
    assert _losses(constant.history) != _losses(uninterrupted.history)  # it was applied
