"""What moves the Fréchet distance of `udl.metrics`: real training images, unchanged and with
known distortions, each scored against the test images by the feature network the
reproduction uses (5 one-cycle epochs). It gives the distances of the GANs a scale: how far a
blur, a dimmer stroke or a missing half of one class moves them.

    UDL_DATA_DIR=../shared/data python benchmarks/fid_sensitivity.py mnist
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import udl

IMAGES = 10_000


def distortions(images: torch.Tensor, labels: np.ndarray) -> dict[str, torch.Tensor]:
    """Name -> distorted copy of `images` (N x 1 x H x W in [0, 1])."""
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).reshape(1, 1, 3, 3)
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    rarest = labels == 4
    halved = ~(rarest & (np.cumsum(rarest) % 2 == 0))  # every other image of class 4 dropped
    return {
        "unchanged": images,
        "shifted one pixel right": torch.roll(images, 1, dims=3),
        "class 4 at half its share": images[torch.from_numpy(halved)],
        "Gaussian noise, sigma 0.1": (images + 0.1 * noise).clamp(0, 1),
        "every pixel x 0.8": images * 0.8,
        "3x3 binomial blur": F.conv2d(images, kernel, padding=1),
        "the mean of two images": (images + images.roll(1, 0)) / 2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--cache", default="runs/gan-coverage", help="feature networks go here")
    args = parser.parse_args()
    data = udl.datasets.load(args.dataset)
    network = udl.metrics.FeatureNetwork.cached(
        data, Path(args.cache) / f"feature-network-{args.dataset}-onecycle-5.udl", epochs=5
    )
    images = torch.from_numpy(np.asarray(data.train.images[:IMAGES], np.float32))
    if data.train.images.dtype == np.uint8:
        images = images / 255
    for name, distorted in distortions(images, data.train.labels[:IMAGES]).items():
        distance = udl.metrics.frechet_distance(distorted.numpy(), data.test.images, network)
        print(f"{args.dataset}, {name}: Fréchet distance {distance:.1f}")


if __name__ == "__main__":
    main()
