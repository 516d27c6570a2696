"""Report 001's best architecture under 5-fold cross-validation on MNIST, beside PCA.

Channels 6, 12, 17; kernels 2, 2, 3; strides 1, 1, 3; paddings 1, 0, 1; one hidden layer of
57 with dropout 0.1905 (encoder); latent 6; pruning every 5 epochs with amounts 0.398, 0.1,
0.214, 0.068 (encoder linear, encoder conv, decoder linear, decoder conv); BCE; Adam 2.89e-3,
weight decay 6.51e-7; batch 383; patience 13. Prints every fold, the mean validation MSE,
the best fold's test MSE, and PCA with 6 components (scikit-learn) on the same data.

    UDL_DATA_DIR=../shared/data python benchmarks/report001_cv.py [--epochs 30] [--folds 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.decomposition import PCA

import udl

BEST = udl.search_spaces.report001_best()
BEST_ARCHITECTURE, BEST_TRAINING = BEST.spec, BEST.training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30, help="per fold (early stopping aside)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = udl.datasets.load("mnist")
    print(BEST_ARCHITECTURE.describe())

    def progress(record: udl.EpochRecord) -> None:
        print(
            f"  fold {record.fold} epoch {record.epoch:3d}: val bce {record.val_loss:.4f}, "
            f"val mse {record.val_mse:.5f} ({record.seconds:.1f} s)",
            flush=True,
        )

    result = udl.cross_validate(
        BEST_ARCHITECTURE,
        data,
        k=args.folds,
        epochs=args.epochs,
        seed=args.seed,
        callback=progress,
        **BEST_TRAINING,
    )
    print(result.summary())

    train = data.train.images.reshape(len(data.train), -1).astype(np.float32) / 255
    test = data.test.images.reshape(len(data.test), -1).astype(np.float32) / 255
    start = time.perf_counter()
    pca = PCA(n_components=BEST_ARCHITECTURE.latent_dim, random_state=args.seed).fit(train)
    pca_mse = float(np.mean((pca.inverse_transform(pca.transform(test)) - test) ** 2))
    pca_seconds = time.perf_counter() - start

    best = result.folds[result.best_fold]
    print(f"\nMNIST, latent dimension 6, {args.folds}-fold CV, up to {args.epochs} epochs per fold")
    print(f"  udl mean validation MSE: {result.mean_val_mse:.5f} ± {result.std_val_mse:.5f}")
    print(f"  udl best fold ({result.best_fold}) test MSE: {best.test_mse:.5f}")
    print(f"  PCA, 6 components, test MSE ({pca_seconds:.0f} s): {pca_mse:.5f}")
    print(f"  training time: {result.seconds / 60:.1f} min for {args.folds} folds")


if __name__ == "__main__":
    main()
