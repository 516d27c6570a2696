"""k-fold cross-validation of an autoencoder architecture, trained fold by fold natively."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from udl import _native
from udl._checks import integer
from udl._checks import seed as check_seed
from udl.autoencoders import Autoencoder, AutoencoderSpec
from udl.records import TrainingRun
from udl.training import (
    DataLike,
    EpochRecord,
    _native_callback,
    _resolve_data,
    _result_fields,
    _train_config,
)

__all__ = ["CrossValidationResult", "FoldResult", "cross_validate", "make_folds"]


@dataclass(kw_only=True)
class FoldResult(TrainingRun):
    """One fold's run: trained on the other folds, validated on this one."""

    fold: int
    history: list[EpochRecord] = field(default_factory=list)
    best_val_mse: float = math.nan
    test_loss: float | None = None
    test_mse: float | None = None


@dataclass(frozen=True)
class CrossValidationResult:
    """Every fold's figures, their summary over the folds' best epochs, and the best model."""

    folds: list[FoldResult]
    mean_val_loss: float
    std_val_loss: float  # population standard deviation over the folds
    mean_val_mse: float
    std_val_mse: float
    seconds: float  # wall time of all folds
    best_fold: int
    model: Autoencoder  # the best fold's, at its best epoch

    def summary(self) -> str:
        """One line per fold and the mean ± standard deviation."""
        rows = ["fold  best_epoch  val_loss   val_mse   seconds"]
        for f in self.folds:
            mark = " *" if f.fold == self.best_fold else ""
            rows.append(
                f"{f.fold:4d}  {f.best_epoch:10d}  {f.best_val_loss:8.5f}  {f.best_val_mse:8.5f}"
                f"  {f.seconds:8.1f}{mark}"
            )
        rows.append(
            f"mean val_loss {self.mean_val_loss:.5f} ± {self.std_val_loss:.5f}, "
            f"val_mse {self.mean_val_mse:.5f} ± {self.std_val_mse:.5f}, {self.seconds:.1f} s"
        )
        return "\n".join(rows)


def cross_validate(
    spec: AutoencoderSpec,
    data: DataLike,
    *,
    k: int = 5,
    stratified: bool = True,
    test: DataLike | None = None,
    callback: Callable[[EpochRecord], None] | None = None,
    **training: Any,
) -> CrossValidationResult:
    """Trains one model of `spec` per fold of the training images (report 001's framework).

    The folds are shuffled by `seed`, disjoint and together the whole training set; with
    `stratified` and labelled data every class is spread evenly over them. Fold i's model
    trains on the other folds, validates on fold i (early stopping and restore-best apply
    per fold) and is seeded with `seed + i`.

    Args:
        spec: the architecture.
        data: as for `udl.train_autoencoder`; its training images are folded.
        k: number of folds, 2 <= k <= number of images.
        stratified: balance classes across folds when labels exist.
        test: images every fold's model is tested on (defaults to a Dataset's test set).
        callback: called after every epoch of every fold with its EpochRecord (whose `fold`
            is set); an exception it raises stops the whole run and reaches the caller.
        **training: any training parameter of `udl.train_autoencoder` (lr, epochs, loss,
            pruning, passes, ...); `val_fraction` is not used.

    Returns:
        A CrossValidationResult.

    Raises:
        ValueError: for a k out of range or any invalid training parameter.
    """
    train_set, test_set = _resolve_data(data, test)
    if tuple(train_set.image_shape) != tuple(spec.input_shape):
        raise ValueError(
            f"the architecture takes {spec.input_shape} images, the data has "
            f"{train_set.image_shape}"
        )
    k = integer(k, "k")
    config = _train_config(training)
    native = _native._C.cross_validate(
        spec._native(),
        train_set.images,
        train_set.labels,
        None if test_set is None else test_set.images,
        config,
        k,
        bool(stratified),
        _native_callback(callback),
    )
    best = native.best_model
    return CrossValidationResult(
        folds=[FoldResult(fold=i, **_result_fields(f)) for i, f in enumerate(native.folds)],
        mean_val_loss=native.mean_val_loss,
        std_val_loss=native.std_val_loss,
        mean_val_mse=native.mean_val_mse,
        std_val_mse=native.std_val_mse,
        seconds=native.seconds,
        best_fold=native.best_fold,
        model=Autoencoder(AutoencoderSpec._from_native(best.spec), _held=best),
    )


def make_folds(
    labels_or_count: np.ndarray | int, k: int = 5, seed: int = 0, stratified: bool = True
) -> list[np.ndarray]:
    """The validation indices of each fold, exactly as `cross_validate` draws them.

    Args:
        labels_or_count: the labels (stratified folds) or the number of images.
        k: number of folds.
        seed: the shuffling seed.
        stratified: balance the classes of `labels` across folds.
    """
    if isinstance(labels_or_count, bool | int | np.integer):
        n, labels = integer(labels_or_count, "labels_or_count", minimum=1), None
    else:
        labels = np.asarray(labels_or_count)
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"labels must be integers, got {labels.dtype}")
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        n = len(labels)
        if n == 0:
            raise ValueError("labels_or_count: no labels given")
    k = integer(k, "k")
    seed = check_seed(seed)
    placeholder = np.zeros((n, 1, 1, 1), dtype=np.uint8)  # folds depend on count and labels
    return list(_native._C.make_folds(placeholder, labels, k, seed, bool(stratified)))
