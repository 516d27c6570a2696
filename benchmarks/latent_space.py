"""The latent-space figures of reports 000, 002 and 003 on real data.

Trains on Fashion-MNIST a CAE with a 10-d latent (keeping reconstructions of fixed test
images after epochs 1 and the last), projects the test codes with PCA and t-SNE, then a
CAE and report 000's VAE with 2-d latents and decodes a grid over each latent plane, side
by side. Writes PNGs to docs/figures/latent and prints PCA's explained variance.

    UDL_DATA_DIR=../shared/data python benchmarks/latent_space.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import udl
from udl import figures, latent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--tsne-points", type=int, default=3000)
    parser.add_argument("--out", default="docs/figures/latent")
    args = parser.parse_args()
    out = Path(args.out)
    data = udl.datasets.load(args.dataset)
    fixed = data.test.images[:10]

    cae = udl.train_cae(
        data,
        nf=16,
        latent_dim=10,
        epochs=args.epochs,
        snapshot_images=fixed,
        snapshot_epochs=[1, args.epochs],
    )
    print(f"CAE latent 10: test MSE {cae.test_mse:.5f}")
    figures.save_figure(
        figures.loss_curves(cae.history, title="CAE, latent 10"), out / "cae-loss.png"
    )
    rows = {f"epoch {epoch}": images for epoch, images in sorted(cae.snapshots.items())}
    figures.save_figure(figures.reconstruction_rows(fixed, rows), out / "cae-reconstructions.png")

    codes = latent.encode_dataset(cae.model, data.test)
    labels = data.test.labels
    pca = latent.project(codes, "pca")
    print(f"PCA of the 10-d codes: explained variance {pca.explained_variance_ratio}")
    tsne = latent.project(codes, "tsne", perplexity=30, seed=0, max_points=args.tsne_points)
    for projection in (pca, tsne):
        figure = figures.projection_scatter(projection, labels, data.class_names)
        figures.save_figure(figure, out / f"cae-{projection.method}.png")

    cae2 = udl.train_cae(data, nf=16, latent_dim=2, epochs=args.epochs)
    vae2 = udl.train_vae(data, epochs=args.epochs)
    print(f"CAE latent 2: test MSE {cae2.test_mse:.5f}; VAE latent 2: test MSE {vae2.test.mse:.5f}")
    grids = {
        "CAE": latent.decode_latent_grid(cae2.model, latent.encode_dataset(cae2.model, data.test)),
        "VAE": latent.decode_latent_grid(vae2.model, latent.encode_dataset(vae2.model, data.test)),
    }
    figures.save_figure(figures.latent_grids_side_by_side(grids, steps=15), out / "grids.png")
    for name, model in (("cae2", cae2.model), ("vae2", vae2.model)):
        projection = latent.project(latent.encode_dataset(model, data.test), "pca")
        figure = figures.projection_scatter(projection, labels, data.class_names)
        figures.save_figure(figure, out / f"{name}-latent-plane.png")
    ends = latent.interpolate(vae2.model, data.test.images[0], data.test.images[1], steps=10)
    figures.save_figure(figures.image_grid(ends, ncols=10), out / "vae-interpolation.png")
    print(f"figures in {out}")


if __name__ == "__main__":
    main()
