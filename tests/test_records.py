"""Per-epoch records come from the C++ figure tables: every declared figure reaches the
record, the history table, history.csv's columns and the checkpoint, for every model."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

import udl
from udl import _native
from udl.app.runs import history_frame
from udl.records import EpochRecord, Record, history_table

pytestmark = pytest.mark.usefixtures("one_thread_per_module")

TINY = {"epochs": 2, "threads": 1, "batch_size": 64}


def _trained(kind: str, data: udl.datasets.Dataset, checkpoint: Path, resume: bool = False):
    images = udl.datasets.from_numpy(data.train.images[:256], data.train.labels[:256])
    loop = {"checkpoint": checkpoint, "resume": resume, **TINY}
    if kind == "autoencoder":
        return udl.train_cae(images, nf=4, latent_dim=3, **loop)
    if kind == "vae":
        return udl.train_vae(images, **loop)
    if kind == "classifier":
        return udl.train_classifier(images, nf=4, **loop)
    return udl.train_gan(images, noise_dim=8, **loop)


NATIVE = {
    "autoencoder": "EpochRecord",
    "vae": "VaeEpochRecord",
    "classifier": "ClassifierEpochRecord",
    "gan": "GanEpochRecord",
}


@pytest.mark.parametrize("kind", sorted(NATIVE))
def test_every_declared_figure_reaches_history_table_csv_and_checkpoint(
    kind: str, mnist: udl.datasets.Dataset, tmp_path: Path
) -> None:
    figures = getattr(_native._C, NATIVE[kind]).figures
    assert figures[0] == "epoch" and figures[-2:] == ("seconds", "improved")
    checkpoint = tmp_path / "run.ckpt"
    result = _trained(kind, mnist, checkpoint)
    assert all(tuple(record) == figures for record in result.history)
    columns = set(history_frame(result.history).columns)
    for name in figures:
        value = result.history[0][name]
        if isinstance(value, dict):  # a figure per layer group: one column each
            assert {f"{name}_{group}" for group in value} <= columns
        elif value is not None:
            assert name in columns
    table = result.history_table()
    numeric = [n for n in figures if isinstance(result.history[0][n], float)]
    assert all(name in table.splitlines()[0] for name in numeric)
    # Resuming the finished run reads its whole history back from the checkpoint.
    read_back = _trained(kind, mnist, checkpoint, resume=True)
    assert [dict(r) for r in read_back.history] == [dict(r) for r in result.history]


def test_records_are_read_only_mappings_and_compare_by_value() -> None:
    record = EpochRecord({"epoch": 1, "train_loss": 0.5, "seconds": 1.0, "improved": True})
    assert record.train_loss == record["train_loss"] == 0.5
    assert dict(record) == {"epoch": 1, "train_loss": 0.5, "seconds": 1.0, "improved": True}
    assert record == EpochRecord(dict(record)) and record != Record(dict(record))
    with pytest.raises(AttributeError, match="read-only"):
        record.train_loss = 1.0  # type: ignore[misc]
    with pytest.raises(AttributeError, match="no figure 'val_mse'"):
        _ = record.val_mse
    assert "train_loss" in history_table([record], best_epoch=1)
    assert np.isclose(eval(repr(record), {"EpochRecord": EpochRecord}).train_loss, 0.5)


def test_records_read_like_the_dataclasses_they_replace() -> None:
    record = EpochRecord(epoch=2, train_loss=0.25, sparsity={"encoder_conv": 0.5})
    assert vars(record) == record.__dict__ == dict(record)
    assert pickle.loads(pickle.dumps(record)) == record
