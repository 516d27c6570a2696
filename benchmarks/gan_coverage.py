"""How a GAN's training settings move its mode coverage: trains one udl GAN on all of a
dataset's training images and prints how the feature network of `udl.metrics` labels 10,000
samples (each class's share; `udl reproduce` asks at least 4% of every class), with the
Fréchet distance and the seconds. It starts from the settings `udl reproduce` gives the
architecture (`udl.app.stages.context.GAN_TRAINING`, which were chosen with it:
docs/benchmarks.md lists the runs); the flags override them.

    UDL_DATA_DIR=../shared/data python benchmarks/gan_coverage.py fc mnist
    UDL_DATA_DIR=../shared/data python benchmarks/gan_coverage.py dcgan mnist --batch-size 64
    UDL_DATA_DIR=../shared/data python benchmarks/gan_coverage.py fc_leaky fashion-mnist \\
        --lr 1e-4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import udl
from udl.app.stages.context import GAN_TRAINING

SAMPLES = 10_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("architecture", choices=sorted(GAN_TRAINING))
    parser.add_argument("dataset", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, help="default: the reproduction's")
    parser.add_argument("--lr", type=float, help="default: the reproduction's, else train_gan's")
    parser.add_argument("--gradient-penalty", type=float, help="default: the reproduction's")
    parser.add_argument("--feature-epochs", type=int, default=5)
    parser.add_argument("--cache", default="runs/gan-coverage", help="feature networks go here")
    args = parser.parse_args()

    training = dict(GAN_TRAINING[args.architecture])
    for name in ("batch_size", "lr", "gradient_penalty"):
        if getattr(args, name) is not None:
            training[name] = getattr(args, name)
    data = udl.datasets.load(args.dataset)
    # The file name carries the recipe: a network cached by another recipe is not reused.
    network = udl.metrics.FeatureNetwork.cached(
        data,
        Path(args.cache) / f"feature-network-{args.dataset}-onecycle-{args.feature_epochs}.udl",
        epochs=args.feature_epochs,
    )
    result = udl.train_gan(
        data, architecture=args.architecture, epochs=args.epochs, seed=0, **training
    )
    samples = result.model.generate(SAMPLES, seed=0)
    shares = udl.metrics.class_shares(samples, network)
    quality = udl.metrics.evaluate_generation(samples, data.test.images, network)
    print(
        f"{args.architecture} on {args.dataset}, {args.epochs} epochs, {training}: "
        f"{result.seconds:.0f} s of training"
    )
    print("class shares:", " ".join(f"{share:.1%}" for share in shares))
    print(f"smallest {shares.min():.2%} (class {shares.argmin()}), largest {shares.max():.2%}")
    print(f"Fréchet distance {quality.frechet_distance:.4g}")


if __name__ == "__main__":
    main()
