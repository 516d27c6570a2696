"""A run folder: where one command's resolved settings, history, metrics, models and figures
land. Every file is written whole or not at all (temporary file, then rename), so a run
stopped at any moment leaves only complete files behind."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from udl._arrays import save_atomically

__all__ = ["RunFolder", "history_frame", "toml_text"]

CONFIG_FILE = "config.toml"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
FIGURES_FOLDER = "figures"


class RunFolder:
    """One run's folder. `create` makes a new one (an existing, non-empty folder is refused
    unless `resume`, so nothing written before is overwritten by accident)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._deferred_config: tuple[Mapping[str, Any], str] | None = None

    @classmethod
    def create(
        cls, out: str | os.PathLike[str] | None, name: str, *, resume: bool = False
    ) -> RunFolder:
        """Makes `out`, or `runs/<name>-<timestamp>` when `out` is None.

        Raises:
            FileExistsError: if `out` exists, holds files and `resume` is false.
        """
        if out is None:
            stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
            out = Path("runs") / f"{name}-{stamp}"
        path = Path(out)
        if path.exists() and not path.is_dir():
            raise FileExistsError(f"--out {path} is a file, not a folder")
        if not resume and path.is_dir() and any(path.iterdir()):
            raise FileExistsError(
                f"the run folder {path} already holds files; choose another --out "
                "(udl never overwrites an earlier run)"
            )
        path.mkdir(parents=True, exist_ok=True)
        return cls(path)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_text(self, name: str, text: str) -> Path:
        path = self.file(name)
        path.parent.mkdir(parents=True, exist_ok=True)

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())

        save_atomically(write, path)
        return path

    def write_json(self, name: str, value: Any) -> Path:
        return self.write_text(name, json.dumps(_plain(value), indent=2, allow_nan=True) + "\n")

    def read_json(self, name: str) -> Any:
        return json.loads(self.file(name).read_text(encoding="utf-8"))

    def write_config(self, settings: Mapping[str, Any], command: str) -> Path:
        """The resolved settings as TOML that `--config` reads back."""
        header = f"# udl {command}: the resolved settings of this run (udl --config reads it)"
        return self.write_text(CONFIG_FILE, toml_text(settings, header=header))

    def defer_config(self, settings: Mapping[str, Any], command: str) -> None:
        """Keeps the settings of a command run on an existing folder until it succeeds
        (`write_deferred_config`), so that a rejected setting never replaces the folder's
        own config.toml."""
        self._deferred_config = (settings, command)

    def write_deferred_config(self) -> None:
        if self._deferred_config is not None:
            self.write_config(*self._deferred_config)
            self._deferred_config = None

    def write_metrics(self, metrics: Mapping[str, Any]) -> Path:
        return self.write_json(METRICS_FILE, metrics)

    def write_history(self, records: Iterable[Any], name: str = HISTORY_FILE) -> Path:
        return self.write_text(name, history_frame(records).to_csv(index=False))

    def save_figure(self, figure: Any, name: str) -> Path:
        from udl.figures import save_figure

        (self.path / FIGURES_FOLDER).mkdir(exist_ok=True)
        return save_figure(figure, self.path / FIGURES_FOLDER / f"{name}.png")


def history_frame(records: Iterable[Any]) -> Any:
    """Epoch records (`udl.records.Record`, whose figures the C++ core declares) or other
    results (dataclasses) as a pandas DataFrame, one row each; a dict field (a pruned
    fraction per layer group) becomes one column per key, a list field none."""
    import pandas as pd

    rows = []
    for record in records:
        fields = record if isinstance(record, Mapping) else dataclasses.asdict(record)
        row: dict[str, Any] = {}
        for key, value in fields.items():
            if isinstance(value, list):
                continue
            elif isinstance(value, dict):
                row.update({f"{key}_{k}": v for k, v in value.items()})
            elif value is not None:
                row[key] = value
        rows.append(row)
    return pd.DataFrame(rows)


def toml_text(settings: Mapping[str, Any], *, header: str = "") -> str:
    """Flat settings (numbers, strings, booleans, lists of those) as TOML; a None setting
    becomes a comment, as TOML has no null."""
    lines = [header] if header else []
    for key, value in settings.items():
        if value is None:
            lines.append(f"# {key}: not set (the default)")
        else:
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if math.isnan(value) else "inf")
    if isinstance(value, (str, os.PathLike)):
        return json.dumps(os.fspath(value))  # a JSON string is a valid TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a TOML setting")


def _plain(value: Any) -> Any:
    """Dataclasses, NumPy values and paths as JSON-ready Python values."""
    import numpy as np

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value
