"""udl.app.progress: a bar on a terminal, log lines elsewhere, nothing on the console when quiet."""

from __future__ import annotations

import logging

import pytest

from udl.app.progress import Progress, TqdmLogHandler, default_mode, describe_record
from udl.records import EpochRecord


def _record(
    epoch: int,
    train_loss: float,
    val_loss: float,
    seconds: float,
    improved: bool = False,
    fold: int | None = None,
) -> EpochRecord:
    return EpochRecord(
        epoch=epoch,
        fold=fold,
        train_loss=train_loss,
        val_loss=val_loss,
        seconds=seconds,
        improved=improved,
    )


def test_describe_record_lists_the_floating_point_figures() -> None:
    text = describe_record(_record(3, 0.123456, 0.5, 1.5, True))
    assert text == "train_loss 0.12346  val_loss 0.5"  # not epoch, seconds or improved


def test_a_bar_counts_epochs_with_their_figures(capsys: pytest.CaptureFixture[str]) -> None:
    with Progress(2, "cae", unit="epoch", mode="bar") as progress:
        progress.epoch(_record(1, 0.2, 0.3, 0.1))
        progress.epoch(_record(2, 0.1, 0.2, 0.1, fold=1))
    err = capsys.readouterr().err
    assert "cae: 100%" in err and "2/2" in err
    assert "fold 1 train_loss 0.1  val_loss 0.2" in err


def test_log_mode_logs_every_epoch(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="udl"):
        Progress(2, "vae", unit="epoch", mode="log").epoch(_record(1, 0.2, 0.3, 0.25))
    assert caplog.messages == ["vae epoch 1: train_loss 0.2  val_loss 0.3 (0.2 s)"]
    assert getattr(caplog.records[0], "progress", False)  # marked, for a bar's handler


def test_a_bar_handler_leaves_progress_records_to_the_bar(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logger = logging.getLogger("udl.test_progress")
    handler = TqdmLogHandler(bar=True)
    logger.addHandler(handler)
    try:
        logger.warning("shown")
        logger.warning("hidden", extra={"progress": True})
    finally:
        logger.removeHandler(handler)
    assert capsys.readouterr().err == "shown\n"


def test_default_mode_without_a_terminal() -> None:
    assert default_mode(quiet=True) == "quiet"
    assert default_mode() == "log"  # pytest captures stderr: no terminal
