"""udl.app.runs: run folders that never overwrite an earlier run, settings as TOML that reads
back, histories as tables."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomllib

from udl.app.runs import RunFolder, history_frame, toml_text


def test_toml_text_reads_back_as_the_same_settings() -> None:
    settings = {
        "dataset": 'fashion "mnist"\\n',
        "lr": 1e-3,
        "epochs": 10,
        "early_stopping": False,
        "prune_amounts": [0.1, 0.2, 0.1, 0.2],
        "sample_epochs": [],
        "out": Path("runs/x"),
        "threads": None,
    }
    text = toml_text(settings, header="# a header")
    assert text.startswith("# a header\n")
    assert "# threads: not set (the default)" in text
    expected = {k: (str(v) if isinstance(v, Path) else v) for k, v in settings.items()}
    del expected["threads"]
    assert tomllib.loads(text) == expected


def test_toml_text_keeps_non_finite_numbers_and_refuses_other_types() -> None:
    loaded = tomllib.loads(toml_text({"a": math.inf, "b": math.nan}))
    assert loaded["a"] == math.inf and math.isnan(loaded["b"])
    with pytest.raises(TypeError, match="cannot write dict"):
        toml_text({"nested": {"a": 1}})


def test_a_folder_with_files_is_refused_unless_resumed(tmp_path: Path) -> None:
    (tmp_path / "old.txt").write_text("old")
    with pytest.raises(FileExistsError, match="already holds files"):
        RunFolder.create(tmp_path, "x")
    assert RunFolder.create(tmp_path, "x", resume=True).path == tmp_path
    assert (tmp_path / "old.txt").read_text() == "old"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert RunFolder.create(empty, "x").path == empty


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "run").write_text("")
    with pytest.raises(FileExistsError, match="is a file"):
        RunFolder.create(tmp_path / "run", "x", resume=True)


def test_default_folder_is_named_and_stamped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = RunFolder.create(None, "cae")
    assert run.path.parent == Path("runs") and run.path.name.startswith("cae-")
    assert run.path.is_dir()


def test_files_are_replaced_whole(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.write_json("metrics.json", {"a": 1})
    run.write_json("metrics.json", {"a": 2, "nested": {"b": [1, 2]}})
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"a": 2, "nested": {"b": [1, 2]}}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]  # no temporary left


@dataclass(frozen=True)
class _Record:
    epoch: int
    train_loss: float
    sparsity: dict[str, float] = field(default_factory=dict)
    fold: int | None = None


def test_history_frame_spreads_dicts_into_columns() -> None:
    frame = history_frame([_Record(1, 0.5, {"encoder_conv": 0.1}), _Record(2, 0.4, {}, 3)])
    assert list(frame.columns) == ["epoch", "train_loss", "sparsity_encoder_conv", "fold"]
    assert frame["sparsity_encoder_conv"].iloc[0] == 0.1
    assert math.isnan(frame["sparsity_encoder_conv"].iloc[1])
    assert frame["fold"].iloc[1] == 3
