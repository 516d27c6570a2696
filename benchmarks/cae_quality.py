"""Quality of the report-000 CAE on Fashion-MNIST against the PCA floor.

Trains udl.train_cae (nf=16, latent 10, Adam 1e-3, batch 256, 10 epochs) and fits PCA with
10 components (scikit-learn) on the same training images; prints both test MSEs.

    UDL_DATA_DIR=../shared/data python benchmarks/cae_quality.py [--epochs N] [--dataset NAME]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.decomposition import PCA

import udl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--latent-dim", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = udl.datasets.load(args.dataset)
    start = time.perf_counter()
    result = udl.train_cae(
        data,
        nf=16,
        latent_dim=args.latent_dim,
        lr=1e-3,
        batch_size=256,
        epochs=args.epochs,
        seed=args.seed,
    )
    cae_seconds = time.perf_counter() - start
    print(result.history_table())

    train = data.train.images.reshape(len(data.train), -1).astype(np.float32) / 255
    test = data.test.images.reshape(len(data.test), -1).astype(np.float32) / 255
    start = time.perf_counter()
    pca = PCA(n_components=args.latent_dim, random_state=args.seed).fit(train)
    reconstruction = pca.inverse_transform(pca.transform(test))
    pca_mse = float(np.mean((reconstruction - test) ** 2))
    pca_seconds = time.perf_counter() - start

    print(f"\n{args.dataset}, latent dimension {args.latent_dim}: test MSE")
    print(f"  udl CAE ({len(result.history)} epochs, {cae_seconds:.0f} s): {result.test_mse:.5f}")
    print(f"  PCA ({pca_seconds:.0f} s):{'':17s}{pca_mse:.5f}")
    print(f"  CAE / PCA: {result.test_mse / pca_mse:.3f}")


if __name__ == "__main__":
    main()
