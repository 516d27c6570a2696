"""The `udl` command. For now: `udl train cae`, which trains the convolutional autoencoder
and prints its history and test loss."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

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
    cae.add_argument("--threads", type=int, default=None, help="default: all cores")
    cae.add_argument("--save", type=Path, help="write the trained model to this file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    import udl  # after parsing, so that --help answers without loading torch

    if args.save is not None and not args.save.parent.is_dir():
        # Checked before training, so that a typo does not cost a whole run.
        print(f"udl: error: --save: no folder {args.save.parent}", file=sys.stderr)
        return 2
    try:
        data = udl.datasets.load(args.dataset, args.data_dir)
        print(f"{args.dataset}: {len(data.train)} training, {len(data.test)} test images")

        def report(record: udl.EpochRecord) -> None:
            print(
                f"epoch {record.epoch:3d}  train {record.train_loss:.5f}  "
                f"val {record.val_loss:.5f}  ({record.seconds:.1f}s)",
                flush=True,
            )

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
            threads=args.threads,
            callback=report,
        )
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"udl: error: {error}", file=sys.stderr)
        return 2
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


if __name__ == "__main__":
    sys.exit(main())
