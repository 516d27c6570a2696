"""Generation quality of udl's denoiser, VAE and GANs on Fashion-MNIST and MNIST.

For each dataset: the feature network of `udl.metrics` is trained (or loaded from the
cache folder); real test vs real train images give the floor; then
- the denoiser under report 003's corruption (Gaussian noise + rotation): PSNR gain;
- report 000's VAE (nf 8, latent 2, beta 0.8): Fréchet distance and Inception Score of
  its samples, and its 2-D latent grid as a PNG;
- report 000's fully connected GAN and the DCGAN: Fréchet distances and Inception Scores
  of their samples, and sample mosaics. The DCGAN must beat the FC GAN.

    UDL_DATA_DIR=../shared/data python benchmarks/generative_quality.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import udl
from udl import figures, latent, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["fashion-mnist", "mnist"])
    parser.add_argument("--dae-epochs", type=int, default=10)
    parser.add_argument("--vae-epochs", type=int, default=10)
    parser.add_argument("--gan-epochs", type=int, default=10)
    parser.add_argument("--dcgan-epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "udl" / "feature-networks"))
    parser.add_argument("--figures", default="docs/figures/generative")
    parser.add_argument("--json", help="write the figures of merit to this file")
    args = parser.parse_args()
    out = Path(args.figures)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, object]] = {}

    for name in args.datasets:
        data = udl.datasets.load(name)
        network = metrics.FeatureNetwork.cached(data, Path(args.cache) / f"{name}.udl")
        test_accuracy = network.classifier.evaluate(data).accuracy
        floor = metrics.real_data_floor(data, network, count=args.samples)
        print(f"\n== {name}: feature network test accuracy {test_accuracy:.2%}")
        row: dict[str, object] = {"feature_network_accuracy": test_accuracy}
        row["real_floor"] = floor.__dict__
        print(_line("real test vs real train", floor))

        dae = udl.train_dae(data, udl.Corruption.report003(), epochs=args.dae_epochs)
        scores = dae.test_denoising
        print(
            f"denoiser (noise 0.3 + rotation 15): PSNR {scores.corrupted_psnr:.2f} -> "
            f"{scores.denoised_psnr:.2f} dB (+{scores.psnr_gain:.2f}), MSE "
            f"{scores.corrupted_mse:.4f} -> {scores.denoised_mse:.4f}"
        )
        row["denoiser"] = scores.__dict__

        vae = udl.train_vae(data, epochs=args.vae_epochs)
        vae_quality = metrics.evaluate_generation(
            vae.model.sample(args.samples, seed=1), data.test.images, network
        )
        print(_line(f"VAE (latent 2, {len(vae.history)} epochs)", vae_quality))
        row["vae"] = vae_quality.__dict__
        codes = latent.encode_dataset(vae.model, data.test)
        grid = latent.decode_latent_grid(vae.model, codes, steps=15)
        figures.save_figure(figures.image_grid(grid, ncols=15), out / f"{name}-vae-grid.png")

        for architecture, epochs in (("fc", args.gan_epochs), ("dcgan", args.dcgan_epochs)):
            gan = udl.train_gan(data, architecture=architecture, epochs=epochs)
            quality = metrics.evaluate_generation(
                gan.model.generate(args.samples, seed=1), data.test.images, network
            )
            print(_line(f"GAN {architecture} ({epochs} epochs, {gan.seconds:.0f} s)", quality))
            row[f"gan_{architecture}"] = {**quality.__dict__, "seconds": gan.seconds}
            mosaic = figures.image_grid(gan.model.generate(64, seed=2), ncols=8)
            figures.save_figure(mosaic, out / f"{name}-gan-{architecture}.png")
        better = row["gan_dcgan"]["frechet_distance"] < row["gan_fc"]["frechet_distance"]
        print(f"DCGAN beats the FC GAN on the Fréchet distance: {better}")
        results[name] = row

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def _line(label: str, quality: metrics.GenerationQuality) -> str:
    return (
        f"{label:>36}: Fréchet distance {quality.frechet_distance:9.3f}, Inception Score "
        f"{quality.inception_score:.2f} ± {quality.inception_score_std:.2f}"
    )


if __name__ == "__main__":
    main()
