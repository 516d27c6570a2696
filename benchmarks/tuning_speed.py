"""Wall time of one report-000 study with and without pruning, and with 1 and 2 jobs.

The same study (TPE seeded, the same trials on the same Fashion-MNIST subset) runs four
times in fresh run folders: no pruning / median pruning, each with n_jobs 1 and 2 (each job
gets its share of the cores). Prints wall time, trial states and the best value of each.

    UDL_DATA_DIR=../shared/data python benchmarks/tuning_speed.py [--trials 20] [--subset 12000]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time

import optuna

import udl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--subset", type=int, default=12000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING)

    data = udl.datasets.load("fashion-mnist").train
    subset = udl.datasets.from_numpy(data.images[: args.subset], data.labels[: args.subset])
    print(f"report-000 study: {args.trials} trials, {args.subset} images, {args.epochs} epochs")
    print("pruner   jobs  seconds complete pruned     best")
    rows = {}
    for pruner in ("none", "median"):
        for n_jobs in (1, 2):
            with tempfile.TemporaryDirectory() as run_dir:
                start = time.perf_counter()
                result = udl.tune(
                    subset,
                    "report000",
                    n_trials=args.trials,
                    run_dir=run_dir,
                    pruner=pruner,
                    n_jobs=n_jobs,
                    epochs=args.epochs,
                )
                seconds = time.perf_counter() - start
                # Read the journal before its folder goes.
                states = [t.state for t in result.study.trials]
                best = result.best_value
            complete = states.count(optuna.trial.TrialState.COMPLETE)
            pruned = states.count(optuna.trial.TrialState.PRUNED)
            rows[pruner, n_jobs] = seconds
            print(f"{pruner:8s} {n_jobs:4d} {seconds:8.1f} {complete:8d} {pruned:6d} {best:8.5f}")
    print(f"pruning saves {1 - rows['median', 1] / rows['none', 1]:.0%} of the time (1 job)")
    print(f"2 jobs: {rows['none', 1] / rows['none', 2]:.2f}x faster without pruning")


if __name__ == "__main__":
    main()
