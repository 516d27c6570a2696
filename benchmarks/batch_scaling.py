"""How much training k models as one batched computation could save on this machine.

Training the k folds of a cross-validation together, as one computation over k batches at
once (grouped convolutions, batched matrix products), does the same arithmetic as training
them one after another; what it can save is the fixed cost of each operation and the threads'
idle time on small operations. Both shrink the same way when one model trains on a k times
larger batch. So the per-image speed of the report-000 CAE at batch k x 256 against batch 256
bounds what batching k folds can gain: the batched run takes at least
(rate at 256) / (rate at k x 256) of the time of k sequential ones.

    UDL_DATA_DIR=../shared/data python benchmarks/batch_scaling.py [--folds 5] [--images 25600]
"""

from __future__ import annotations

import argparse

import torch

import udl


def images_per_second(images: udl.datasets.ImageSet, batch: int, threads: int) -> float:
    """Training images per second over the best of 3 epochs (validation pass included)."""
    result = udl.train_cae(
        images,
        nf=16,
        latent_dim=10,
        batch_size=batch,
        epochs=3,
        threads=threads,
        early_stopping=False,
    )
    train_images = len(images) - round(0.2 * len(images))
    return train_images / min(r.seconds for r in result.history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--images", type=int, default=25600)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    images = udl.datasets.load("fashion-mnist").train.subset(slice(0, args.images))
    single = images_per_second(images, 256, args.threads)
    batched = images_per_second(images, args.folds * 256, args.threads)
    print(f"report-000 CAE, {args.threads} threads, {args.images} images")
    print(f"batch {256:5d}: {single:8.0f} images/s")
    print(f"batch {args.folds * 256:5d}: {batched:8.0f} images/s")
    print(
        f"{args.folds} folds batched together take at least {100 * single / batched:.0f}% "
        f"of the time of {args.folds} sequential trainings"
    )


if __name__ == "__main__":
    main()
