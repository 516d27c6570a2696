"""The `udl` command: `udl train cae` trains the convolutional autoencoder and prints its
history and test loss; `udl tune` runs or joins an Optuna study whose trials train natively."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="udl", description="Unsupervised deep learning, compiled (LibTorch core)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a model")
    models = train.add_subparsers(dest="model", required=True)
    cae = models.add_parser(
        "cae",
        help="the convolutional autoencoder of reports 000/002",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    cae.add_argument(
        "--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist"], help="dataset"
    )
    cae.add_argument("--data-dir", help="folder holding the IDX files (else UDL_DATA_DIR, cache)")
    cae.add_argument("--nf", type=int, default=16, help="channels of the first convolution")
    cae.add_argument("--latent-dim", type=int, default=10, help="size of the latent code")
    cae.add_argument("--loss", default="mse", choices=["mse", "bce"], help="training loss")
    cae.add_argument("--optimizer", default="adam", choices=["adam", "sgd"], help="optimizer")
    cae.add_argument("--lr", type=float, default=1e-3, help="learning rate")
    cae.add_argument("--weight-decay", type=float, default=0.0, help="L2 penalty")
    cae.add_argument("--batch-size", type=int, default=256, help="images per step")
    cae.add_argument("--epochs", type=int, default=10, help="maximum number of epochs")
    cae.add_argument("--seed", type=int, default=0, help="seeds weights, split and shuffling")
    cae.add_argument("--patience", type=int, default=5, help="early-stopping patience")
    cae.add_argument(
        "--threads",
        type=int,
        default=argparse.SUPPRESS,  # None would print "(default: None)"
        help="LibTorch threads (default: all cores)",
    )
    cae.add_argument("--save", type=Path, help="write the trained model to this file")

    tune = commands.add_parser(
        "tune",
        help="run or join an Optuna study (several workers may share one storage)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    tune.add_argument(
        "--search", default="report000", choices=["report000", "report001", "report003"]
    )
    tune.add_argument(
        "--dataset", default="fashion-mnist", choices=["fashion-mnist", "mnist"], help="dataset"
    )
    tune.add_argument("--data-dir", help="folder holding the IDX files (else UDL_DATA_DIR, cache)")
    tune.add_argument("--subset", type=int, help="tune on the first N training images only")
    tune.add_argument("--trials", type=int, help="finished trials the study should hold")
    tune.add_argument("--epochs", type=int, default=5, help="maximum epochs per trial")
    tune.add_argument("--batch-size", type=int, help="fixed batch size (default: the search's)")
    tune.add_argument("--folds", type=int, help="k-fold CV per trial (default: the search's)")
    tune.add_argument(
        "--storage",
        help="journal file or storage URL, e.g. postgresql://user@host/db "
        "(default: RUN_DIR/study.journal)",
    )
    tune.add_argument("--study-name", help="study to create or join (default: the search's)")
    tune.add_argument("--out", type=Path, help="run folder (default: runs/STUDY_NAME)")
    tune.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"])
    tune.add_argument(
        "--objectives",
        default="val_loss",
        help="comma-separated: val_loss, then latent_dim and/or minutes for a Pareto front",
    )
    tune.add_argument("--n-jobs", type=int, default=1, help="trials at once in this process")
    tune.add_argument(
        "--threads",
        type=int,
        default=argparse.SUPPRESS,
        help="LibTorch threads per trial (default: cores / n-jobs)",
    )
    tune.add_argument("--timeout", type=float, help="stop starting trials after SECONDS")
    tune.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds sampler and training; give workers that start a shared study together "
        "their own seeds",
    )
    tune.add_argument("--no-figures", action="store_true", help="do not write the PNG figures")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run = _train_cae if args.command == "train" else _tune
    try:
        return run(args)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"udl: error: {error}", file=sys.stderr)
        return 2


def _train_cae(args: argparse.Namespace) -> int:
    import udl  # after parsing, so that --help answers without loading torch

    if args.save is not None and not args.save.parent.is_dir():
        # Checked before training, so that a typo does not cost a whole run.
        print(f"udl: error: --save: no folder {args.save.parent}", file=sys.stderr)
        return 2
    data = udl.datasets.load(args.dataset, args.data_dir)
    print(f"{args.dataset}: {len(data.train)} training, {len(data.test)} test images")

    def report(record: udl.EpochRecord) -> None:
        print(
            f"epoch {record.epoch:3d}  train {record.train_loss:.5f}  "
            f"val {record.val_loss:.5f}  ({record.seconds:.1f}s)",
            flush=True,
        )

    try:
        result = udl.train_cae(
            data,
            nf=args.nf,
            latent_dim=args.latent_dim,
            loss=args.loss,
            optimizer=args.optimizer,
            lr=args.lr,
            weight_decay=args.weight_decay,
            batch_size=args.batch_size,
            epochs=args.epochs,
            seed=args.seed,
            patience=args.patience,
            threads=getattr(args, "threads", None),
            callback=report,
        )
    except KeyboardInterrupt:
        print("udl: interrupted", file=sys.stderr)
        return 130
    print(result.history_table())
    print(f"stopped: {result.stop_reason}; best epoch {result.best_epoch}")
    if args.loss != "mse":
        print(f"test {args.loss}: {result.test_loss:.5f}")
    print(f"test mse: {result.test_mse:.5f}")
    if args.save:
        result.model.save(args.save)
        print(f"model saved to {args.save}")
    return 0


def _tune(args: argparse.Namespace) -> int:
    import udl

    if args.subset is not None and args.subset < 2:
        raise ValueError(f"--subset must be >= 2, got {args.subset}")  # before loading
    data = udl.datasets.load(args.dataset, args.data_dir)
    train = data.train
    if args.subset is not None:
        train = udl.datasets.from_numpy(train.images[: args.subset], train.labels[: args.subset])
    name = args.study_name or args.search
    run_dir = args.out or Path("runs") / name
    fixed = {"epochs": args.epochs}
    if args.batch_size is not None:
        fixed["batch_size"] = args.batch_size
    if hasattr(args, "threads"):
        fixed["threads"] = args.threads

    def report(study: object, trial: Any) -> None:
        value = "-" if trial.values is None else ", ".join(f"{v:.5f}" for v in trial.values)
        print(f"trial {trial.number:4d} {trial.state.name:8s} {value}  {trial.params}", flush=True)

    try:
        result = udl.tune(
            train,
            args.search,
            n_trials=args.trials,
            folds=args.folds,
            storage=args.storage,
            study_name=name,
            run_dir=run_dir,
            pruner=args.pruner,
            objectives=tuple(args.objectives.split(",")),
            n_jobs=args.n_jobs,
            timeout=args.timeout,
            seed=args.seed,
            callback=report,
            **fixed,
        )
    except KeyboardInterrupt:
        print(
            f"udl: interrupted; finished trials are stored. Resume with the same command "
            f"(study {name!r} in {args.storage or run_dir / 'study.journal'}).",
            file=sys.stderr,
        )
        return 130
    table = result.trials_table()
    table.to_csv(run_dir / "trials.csv", index=False)
    counts = table["state"].value_counts().to_dict()
    print(f"study {name!r}: {len(table)} trials {counts}")
    print(f"best value {result.best_value:.5f} (trial {result.best_trial.number})")
    print(f"best parameters: {result.best_params}")
    if not args.no_figures:
        for path in result.save_figures(run_dir):
            print(f"figure: {path}")
    print(f"trials table: {run_dir / 'trials.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
