"""Report 001 (MNIST): the basic CAE with reconstructions at three epochs; an ablation table
(MSE or BCE, dropout in the encoder or both halves, L1 pruning, iterative passes), each on
the test set over several seeds; the 13-dimension search under 5-fold cross-validation with
the report's penalties; the report's best architecture under 5-fold cross-validation."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

import numpy as np

from udl import figures
from udl.app.progress import Progress
from udl.app.stages.context import SHOWN_IMAGES, Context, fold_table, study_outcome
from udl.cross_validation import cross_validate
from udl.search_spaces import report001_basic, report001_best
from udl.training import train_autoencoder

FOLDS = 5
#: Report 001's best pruning schedule, used by the pruning ablation.
PRUNE_AMOUNTS = report001_best().training["prune_amounts"]


def _basic(c: Context) -> dict[str, Any]:
    plan = report001_basic(c.data.train.image_shape)
    epochs = c.budget.cae_epochs
    test = c.test_images()
    # The report shows epochs 20, 51 and 98 of 100: early, halfway, last.
    snapshot_epochs = sorted({max(1, epochs // 5), max(1, epochs // 2), epochs})
    with c.epochs("basic cae", epochs) as bar:
        result = train_autoencoder(
            plan.spec,
            c.data,
            snapshot_images=test[:SHOWN_IMAGES],
            snapshot_epochs=snapshot_epochs,
            callback=bar.epoch,
            **c.loop(**plan.training, epochs=epochs, early_stopping=False),
        )
    result.model.save(c.model_path("basic"))
    rows = {f"epoch {e}": result.snapshots[e] for e in sorted(result.snapshots)}
    return {
        "metrics": {"test_mse": result.test_mse, "best_val_mse": result.best_val_mse},
        "params": {"architecture": plan.spec.describe(), **plan.training, "epochs": epochs},
        "figures": [
            c.figure(
                figures.loss_curves(result.history), "basic-loss", "Basic CAE: loss per epoch"
            ),
            c.figure(
                figures.reconstruction_rows(test[:SHOWN_IMAGES], rows),
                "basic-reconstructions",
                "Basic CAE: test images and their reconstructions after the epochs named",
            ),
        ],
    }


def _ablation_variants(c: Context) -> dict[str, tuple[Any, dict[str, Any]]]:
    """name -> (architecture, training settings): the basic CAE changed one way at a time."""
    plan = report001_basic(c.data.train.image_shape)
    spec, base = plan.spec, dict(plan.training)
    every = max(1, c.budget.ablation_epochs // 4)
    return {
        "MSE (the basic CAE)": (spec, base),
        "BCE": (spec, {**base, "loss": "bce"}),
        "dropout 0.2, encoder only": (dataclasses.replace(spec, dropout=0.2), base),
        "dropout 0.2, both halves": (
            dataclasses.replace(spec, dropout=0.2, decoder_dropout=True),
            base,
        ),
        f"L1 pruning every {every} epochs": (
            spec,
            {**base, "prune_every": every, "prune_amounts": PRUNE_AMOUNTS},
        ),
        "iterative, 2 passes": (spec, {**base, "passes": 2}),
        "iterative, 3 passes": (spec, {**base, "passes": 3}),
    }


def _ablations(c: Context) -> dict[str, Any]:
    data = c.subset(c.budget.report001_images)
    epochs = c.budget.ablation_epochs
    seeds = [c.seed + i for i in range(c.budget.ablation_seeds)]
    variants = _ablation_variants(c)
    rows = []
    runs = len(variants) * len(seeds)
    with Progress(runs * epochs, "001 ablations", unit="epoch", mode=c.mode) as bar:
        for name, (spec, training) in variants.items():
            scores, seconds = [], []
            for seed in seeds:
                result = train_autoencoder(
                    spec,
                    data,
                    test=c.data.test,
                    callback=bar.epoch,
                    **{**c.loop(**training, epochs=epochs), "seed": seed},
                )
                scores.append(result.test_mse)
                seconds.append(result.seconds)
            rows.append(
                {
                    "variant": name,
                    "test_mse_mean": statistics.fmean(scores),
                    "test_mse_std": float(np.std(scores)),
                    "seeds": len(seeds),
                    "seconds_per_run": statistics.fmean(seconds),
                }
            )
    baseline = rows[0]["test_mse_mean"]
    return {
        "metrics": {f"{row['variant']} test_mse": row["test_mse_mean"] for row in rows}
        | {"baseline_test_mse": baseline, "images": len(data), "epochs": epochs},
        "tables": [
            {
                "caption": f"Test MSE (first reconstruction) as mean ± standard deviation over "
                f"{len(seeds)} seeds; {len(data)} training images, {epochs} epochs each",
                "rows": rows,
            }
        ],
        "figures": [],
    }


def _search(c: Context) -> dict[str, Any]:
    outcome, table = study_outcome(
        c,
        "report001",
        c.subset(c.budget.report001_images),
        c.budget.report001_trials,
        "Report 001's study",
    )
    column = "user_attrs_invalid_architecture"
    invalid = int(table[column].notna().sum()) if column in table else 0
    outcome["metrics"]["invalid_architectures_pruned"] = invalid
    return outcome


def _best(c: Context) -> dict[str, Any]:
    plan = report001_best(c.data.train.image_shape)
    data = c.subset(c.budget.report001_images)
    epochs = c.budget.short_epochs
    with c.epochs("best architecture", FOLDS * epochs) as bar:
        result = cross_validate(
            plan.spec,
            data,
            k=FOLDS,
            test=c.data.test,
            callback=bar.epoch,
            **c.loop(**plan.training, epochs=epochs),
        )
    result.model.save(c.model_path("best"))
    test = c.test_images()[:SHOWN_IMAGES]
    return {
        "metrics": {
            "mean_val_mse": result.mean_val_mse,
            "std_val_mse": result.std_val_mse,
            "best_fold_test_mse": result.folds[result.best_fold].test_mse,
            "images": len(data),
            "epochs_per_fold": epochs,
        },
        "params": {"architecture": plan.spec.describe(), **plan.training},
        "tables": [
            fold_table(result, f"{FOLDS}-fold cross-validation of report 001's best architecture")
        ],
        "figures": [
            c.figure(
                figures.reconstruction_rows(test, {"best fold": result.model.reconstruct(test)}),
                "best-reconstructions",
                "Report 001's best architecture, best fold: test images and reconstructions",
            )
        ],
    }


STAGES = {
    "basic": _basic,
    "ablations": _ablations,
    "search": _search,
    "best": _best,
}
