"""Progress of epochs and trials: a tqdm bar on a terminal, one log line per step when the
output is a file or a pipe (and always in a run's log file), nothing on the console when
quiet. Fed by the per-epoch and per-trial callbacks,
so it never touches the training loop itself."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Literal

__all__ = ["Mode", "Progress", "TqdmLogHandler", "default_mode", "describe_record"]

log = logging.getLogger("udl")

Mode = Literal["bar", "log", "quiet"]

#: Marks the log records of progress: a terminal showing a bar drops them (see
#: `TqdmLogHandler`), a log file keeps them.
PROGRESS = {"progress": True}

# Fields of an epoch record that are not its figures of merit.
_NOT_FIGURES = {"epoch", "seconds", "improved", "fold", "sparsity"}


def default_mode(quiet: bool = False) -> Mode:
    """A bar for a person at a terminal, log lines for a file, a pipe, CI or a terminal that
    reports no width (a bar there would be drawn empty), nothing when quiet."""
    if quiet:
        return "quiet"
    try:
        width = os.get_terminal_size(sys.stderr.fileno()).columns if sys.stderr.isatty() else 0
    except (OSError, ValueError):  # no file descriptor (captured) or not a terminal
        width = 0
    return "bar" if width > 0 else "log"


def describe_record(record: Any) -> str:
    """The floating-point figures of an epoch record, e.g. 'train_loss 0.0213  val_loss ..'."""
    parts = []
    for name, value in record.items():
        if name not in _NOT_FIGURES and isinstance(value, float):
            parts.append(f"{name} {value:.5g}")
    return "  ".join(parts)


class Progress:
    """Counts epochs (`epoch`, an epoch callback) or trials (`trial`, an Optuna callback).

    Args:
        total: the expected count (a bar's length); early stopping may end sooner.
        description: what is counted, e.g. "cae" or "study report000".
        unit: "epoch" or "trial".
        mode: "bar", "log" or "quiet".
    """

    def __init__(self, total: int | None, description: str, *, unit: str, mode: Mode) -> None:
        self.description = description
        self.mode = mode
        self.bar: Any = None
        if mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=description, unit=unit, file=sys.stderr, leave=True)

    def epoch(self, record: Any) -> None:
        figures = describe_record(record)
        fold = getattr(record, "fold", None)
        where = f"fold {fold} " if fold is not None else ""
        if self.bar is not None:
            self.bar.set_postfix_str(f"{where}{figures}", refresh=False)
            self.bar.update(1)
        log.info(
            "%s %sepoch %d: %s (%.1f s)",
            self.description,
            where,
            record.epoch,
            figures,
            record.seconds,
            extra=PROGRESS,
        )

    def trial(self, study: Any, trial: Any) -> None:
        values = "-" if trial.values is None else ", ".join(f"{v:.5g}" for v in trial.values)
        if self.bar is not None:
            self.bar.set_postfix_str(f"#{trial.number} {trial.state.name} {values}", refresh=False)
            self.bar.update(1)
        log.info(
            "%s trial %d %s %s %s",
            self.description,
            trial.number,
            trial.state.name,
            values,
            trial.params,
            extra=PROGRESS,
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TqdmLogHandler(logging.Handler):
    """Writes log records through tqdm, so that they do not tear a progress bar apart; with
    `bar`, progress records are left to the bar."""

    def __init__(self, *, bar: bool = False) -> None:
        super().__init__()
        if bar:
            self.addFilter(lambda record: not getattr(record, "progress", False))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm.auto import tqdm

            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # a logging handler must not raise
            self.handleError(record)
