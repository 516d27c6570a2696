"""Why udl's fully connected GANs train with the R1 gradient penalty: report 000's GAN on MNIST
collapses onto one image at its own setting, and only R1 of the usual remedies fixed it.

Each variant trains report 000's GAN (generator 100 -> 256 -> 512 -> 1024 -> 784, ReLU, tanh;
discriminator 784 -> 1024 -> 512 -> 256 -> 1, ReLU, dropout 0.3; BCE, Adam 1e-4, beta1 0.5,
batch 64) in plain PyTorch on the first 20,000 MNIST training images and prints how the
feature network of `udl.metrics` labels 5,000 samples: the smallest and the largest class
share (a collapsed generator leaves classes empty; udl's bar is 4% for each). Then udl's own
`train_gan` with `gradient_penalty=10` on the same images, for the same epochs.

    UDL_DATA_DIR=../shared/data python benchmarks/gan_collapse.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import udl

IMAGES = 20_000
SAMPLES = 5_000


class MinibatchStd(nn.Module):
    """Appends the batch's mean per-pixel standard deviation as one more input feature."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spread = x.std(0, unbiased=False).mean().expand(x.size(0), 1)
        return torch.cat([x, spread], 1)


def generator(activation: Callable[[], nn.Module]) -> nn.Sequential:
    widths = [100, 256, 512, 1024]
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers, nn.Linear(1024, 784), nn.Tanh())


def discriminator(activation: Callable[[], nn.Module], minibatch_std: bool) -> nn.Sequential:
    layers: list[nn.Module] = [MinibatchStd()] if minibatch_std else []
    widths = [785 if minibatch_std else 784, 1024, 512, 256]
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), activation(), nn.Dropout(0.3)]
    return nn.Sequential(*layers, nn.Linear(256, 1))


def train_torch(
    images: torch.Tensor,
    epochs: int,
    *,
    generator_lr: float = 1e-4,
    generator_steps: int = 1,
    leaky_discriminator: bool = False,
    minibatch_std: bool = False,
    label_smoothing: float = 0.0,
    r1: float = 0.0,
) -> nn.Module:
    torch.manual_seed(0)
    g = generator(nn.ReLU)
    d = discriminator(nn.LeakyReLU if leaky_discriminator else nn.ReLU, minibatch_std)
    g_opt = torch.optim.Adam(g.parameters(), generator_lr, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(d.parameters(), 1e-4, betas=(0.5, 0.999))
    bce = nn.BCEWithLogitsLoss()
    for _ in range(epochs):
        order = torch.randperm(len(images))
        for start in range(0, len(images), 64):
            real = images[order[start : start + 64]].requires_grad_(r1 > 0)
            n = len(real)
            fake = g(torch.randn(n, 100))
            d_opt.zero_grad()
            real_logits = d(real)
            loss = bce(real_logits, torch.full((n, 1), 1 - label_smoothing))
            loss = loss + bce(d(fake.detach()), torch.zeros(n, 1))
            if r1 > 0:
                (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
                loss = loss + r1 / 2 * gradient.pow(2).sum(1).mean()
            loss.backward()
            d_opt.step()
            for _ in range(generator_steps):
                g_opt.zero_grad()
                bce(d(g(torch.randn(n, 100))), torch.ones(n, 1)).backward()
                g_opt.step()
    return g.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    data = udl.datasets.load("mnist")
    network = udl.metrics.FeatureNetwork.train(data, epochs=3)
    images = torch.tensor(data.train.images[:IMAGES], dtype=torch.float32).view(-1, 784)
    images = images / 127.5 - 1
    variants: dict[str, dict[str, Any]] = {
        "report 000's setting": {},
        "generator lr 2e-4": {"generator_lr": 2e-4},
        "two generator steps": {"generator_steps": 2},
        "LeakyReLU discriminator": {"leaky_discriminator": True},
        "minibatch-std feature": {"minibatch_std": True},
        "label smoothing 0.1": {"label_smoothing": 0.1},
        "R1 gamma 10": {"r1": 10.0},
    }
    print(f"feature network test accuracy {network.test_accuracy:.4f}")
    print("| variant (plain PyTorch) | smallest class share | largest | seconds |")
    print("|---|---|---|---|")
    for name, setting in variants.items():
        start = time.perf_counter()
        g = train_torch(images, args.epochs, **setting)
        with torch.no_grad():
            samples = (g(torch.randn(SAMPLES, 100)).view(-1, 1, 28, 28) + 1) / 2
        s = udl.metrics.class_shares(samples.numpy(), network)
        print(f"| {name} | {s.min():.1%} | {s.max():.1%} | {time.perf_counter() - start:.0f} |")
    start = time.perf_counter()
    result = udl.train_gan(
        data.train.subset(np.arange(IMAGES)),
        architecture="fc",
        epochs=args.epochs,
        gradient_penalty=10.0,
    )
    s = udl.metrics.class_shares(result.model.generate(SAMPLES), network)
    print(
        f"| udl, gradient_penalty=10 | {s.min():.1%} | {s.max():.1%} | "
        f"{time.perf_counter() - start:.0f} |"
    )


if __name__ == "__main__":
    main()
