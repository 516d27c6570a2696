"""How a GAN's training settings move its mode coverage: trains one udl GAN per seed on all
of a dataset's training images and prints how the feature network of `udl.metrics` labels
10,000 samples (each class's share; `udl reproduce` asks at least 4% of every class), with the
Fréchet distance and the seconds. It starts from the settings `udl reproduce` gives the
architecture (`udl.app.stages.context.GAN_TRAINING`, which were chosen with it:
docs/benchmarks.md lists the runs); the flags override them. `--csv` appends one row per seed.

    UDL_DATA_DIR=../shared/data python benchmarks/gan_coverage.py fc mnist
    UDL_DATA_DIR=../shared/data python benchmarks/gan_coverage.py dcgan mnist --epochs 6
    UDL_DATA_DIR=../shared/data python benchmarks/gan_coverage.py dcgan mnist --epochs 2 \\
        --dcgan-width 64 --discriminator-batch-norm --gradient-penalty 0 --lr 2e-4 \\
        --generator-average 0
    UDL_DATA_DIR=../shared/data python benchmarks/gan_coverage.py fc_leaky fashion-mnist \\
        --lr 1e-4 --generator-average 0.999 --seeds 0,1,2 --device cuda
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import udl
from udl.app.stages.context import GAN_TRAINING

SAMPLES = 10_000
CSV_COLUMNS = (
    "architecture",
    "dataset",
    "epochs",
    "training",
    "seed",
    "device",
    "seconds",
    "smallest_share",
    "smallest_class",
    "frechet_distance",
)


def seed_list(text: str) -> list[int]:
    """ "0,1,2" -> [0, 1, 2]; argparse reports a ValueError as a usage error."""
    return [int(seed) for seed in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("architecture", choices=sorted(GAN_TRAINING))
    parser.add_argument("dataset", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, help="default: the reproduction's")
    parser.add_argument("--lr", type=float, help="default: the reproduction's, else train_gan's")
    parser.add_argument("--gradient-penalty", type=float, help="default: the reproduction's")
    parser.add_argument(
        "--lr-schedule",
        choices=["constant", "cosine", "onecycle"],
        help="default: the reproduction's",
    )
    parser.add_argument("--discriminator-lr", type=float, help="default: the reproduction's")
    parser.add_argument("--generator-average", type=float, help="default: the reproduction's")
    parser.add_argument("--gradient-penalty-interval", type=int, help="default: the reproduction's")
    parser.add_argument("--dcgan-width", type=int, help="default: the reproduction's")
    parser.add_argument(
        "--discriminator-batch-norm",
        action=argparse.BooleanOptionalAction,
        help="default: the reproduction's",
    )
    parser.add_argument(
        "--seeds", type=seed_list, default=[0], help="comma-separated; one GAN per seed"
    )
    parser.add_argument(
        "--minibatch-stddev",
        action=argparse.BooleanOptionalAction,
        help="default: the reproduction's",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="default: torch's")
    parser.add_argument("--feature-epochs", type=int, default=5)
    parser.add_argument("--cache", default="runs/gan-coverage", help="feature networks go here")
    parser.add_argument("--csv", type=Path, help="append one row per seed to this file")
    args = parser.parse_args()

    training = dict(GAN_TRAINING[args.architecture])
    overridable = (
        "batch_size",
        "lr",
        "lr_schedule",
        "gradient_penalty",
        "gradient_penalty_interval",
        "discriminator_lr",
        "generator_average",
        "dcgan_width",
        "discriminator_batch_norm",
        "minibatch_stddev",
    )
    for name in overridable:
        if getattr(args, name) is not None:
            training[name] = getattr(args, name)
    data = udl.datasets.load(args.dataset)
    # The file name carries the recipe: a network cached by another recipe is not reused.
    network = udl.metrics.FeatureNetwork.cached(
        data,
        Path(args.cache) / f"feature-network-{args.dataset}-onecycle-{args.feature_epochs}.udl",
        epochs=args.feature_epochs,
        device=args.device,
        threads=args.threads,
    )
    print(f"{args.architecture} on {args.dataset}, {args.epochs} epochs, {training}")
    for seed in args.seeds:
        result = udl.train_gan(
            data,
            architecture=args.architecture,
            epochs=args.epochs,
            seed=seed,
            device=args.device,
            threads=args.threads,
            **training,
        )
        samples = result.model.generate(SAMPLES, seed=seed)
        shares = udl.metrics.class_shares(samples, network, device=args.device)
        quality = udl.metrics.evaluate_generation(
            samples, data.test.images, network, device=args.device
        )
        print(
            f"seed {seed}, {result.seconds:.0f} s of training: smallest {shares.min():.2%} "
            f"(class {shares.argmin()}), largest {shares.max():.2%}, "
            f"Fréchet distance {quality.frechet_distance:.4g}"
        )
        print("  class shares:", " ".join(f"{share:.1%}" for share in shares))
        if args.csv is not None:
            new = not args.csv.exists()
            with args.csv.open("a", newline="") as file:
                writer = csv.writer(file)
                if new:
                    writer.writerow(CSV_COLUMNS)
                row = (args.architecture, args.dataset, args.epochs, training, seed, args.device)
                writer.writerow(
                    (
                        *row,
                        f"{result.seconds:.1f}",
                        f"{shares.min():.4f}",
                        int(shares.argmin()),
                        f"{quality.frechet_distance:.4g}",
                    )
                )


if __name__ == "__main__":
    main()
