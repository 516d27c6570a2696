"""Per-epoch records and what every training result shares.

A record's figures are declared once, in the C++ record's figure table; the bindings carry
their names (`_C.VaeEpochRecord.figures`), and a record here holds exactly those: no field
is written out again in Python. Records read like frozen dataclasses (`record.val_loss`)
and like mappings (`record["val_loss"]`, `dict(record)`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ClassifierEpochRecord",
    "EpochRecord",
    "GanEpochRecord",
    "Record",
    "TrainingRun",
    "VaeEpochRecord",
    "history_table",
]


class Record(Mapping[str, Any]):
    """One epoch's figures: `epoch`, the model's own figures, `seconds` and `improved` (a new
    best validation loss). Its figures are its attributes (`vars(record)` lists them, as for
    a dataclass) and its items."""

    def __init__(self, figures: Mapping[str, Any] | None = None, /, **named: Any) -> None:
        self.__dict__.update({**(figures or {}), **named})

    @classmethod
    def _from_native(cls, native: Any) -> Record:
        return cls({name: getattr(native, name) for name in type(native).figures})

    def __getattr__(self, name: str) -> Any:  # only for names that are not figures
        raise AttributeError(f"{type(self).__name__} has no figure {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __len__(self) -> int:
        return len(self.__dict__)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({inner})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (dict(self.__dict__),))


class EpochRecord(Record):
    """An autoencoder's epoch: train_loss; val_loss (in the training loss, summed over the
    passes); val_mse (of the first pass, whatever the training loss); sparsity (the pruned
    fraction per layer group); fold (the 0-based fold under cross-validation, else None)."""

    @classmethod
    def _from_native(cls, native: Any) -> Record:
        record = super()._from_native(native)
        record.__dict__["fold"] = None if native.fold < 0 else native.fold
        return record


class VaeEpochRecord(Record):
    """A VAE's epoch: the loss and its terms per image (reconstruction, KL) on the training
    and validation sets, and val_mse (per pixel, through the means: comparable with a
    CAE's)."""


class ClassifierEpochRecord(Record):
    """A classifier's epoch: negative log-likelihood and accuracy on the training and
    validation sets."""


class GanEpochRecord(Record):
    """A GAN's epoch: generator_loss, discriminator_loss (BCE on the real batch + BCE on the
    generated batch), real_score (mean D(x)) and fake_score (mean D(G(z)) before the
    generator's step)."""


def history_table(history: Sequence[Record], best_epoch: int = 0) -> str:
    """The history as an aligned text table, one row per epoch, one column per number (the
    best epoch marked *)."""
    if not history:
        return "(no epochs)"
    columns = [
        name
        for name, value in history[0].items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name != "epoch"
    ]
    widths = [max(10, len(name)) for name in columns]
    rows = ["epoch  " + "  ".join(n.rjust(w) for n, w in zip(columns, widths, strict=True))]
    for record in history:
        cells = "  ".join(
            f"{record[n]:{w}.6f}" if isinstance(record[n], float) else f"{record[n]:{w}d}"
            for n, w in zip(columns, widths, strict=True)
        )
        mark = " *" if record.epoch == best_epoch else ""
        rows.append(f"{record.epoch:5d}  {cells}{mark}")
    return "\n".join(rows)


@dataclass(kw_only=True)
class TrainingRun:
    """What every training result holds: the history, the best epoch (whose weights the model
    holds when restore_best is on; 0 when nothing improved or nothing is monitored), why it
    stopped ("completed", "early stopping", "diverged at epoch E") and its wall time."""

    history: list[Any] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("nan")
    stop_reason: str = "completed"
    seconds: float = 0.0

    def history_table(self) -> str:
        """The history as an aligned text table, one row per epoch."""
        return history_table(self.history, self.best_epoch)

    @staticmethod
    def _run_fields(native: Any, record: type[Record]) -> dict[str, Any]:
        """The shared fields of a native result, its history as `record`s."""
        return {
            "history": [record._from_native(s) for s in native.history],
            "best_epoch": native.best_epoch,
            "best_val_loss": native.best_val_loss,
            "stop_reason": native.stop_reason,
            "seconds": native.seconds,
        }
