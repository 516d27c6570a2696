"""udl's models as plain PyTorch modules: what `model.to_torch()` returns and what
`model.export()` writes. This module needs nothing but torch, and the modules it defines
hold only torch.nn layers, so a TorchScript file made from one runs where udl is not
installed.

Inputs are float32 images in [0, 1] (N x C x H x W) and float32 codes or noise; outputs
are as udl's own methods return them: reconstructions and generated images in [0, 1],
log-probabilities for a classifier.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "PortableAutoencoder",
    "PortableClassifier",
    "PortableGenerator",
    "PortableVae",
    "build_layers",
]


class PortableAutoencoder(nn.Module):
    """A convolutional autoencoder: `forward` reconstructs, `encode` and `decode` (exported
    to TorchScript too) give the latent codes and the images decoded from codes."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))

    @torch.jit.export
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.encoder(images)

    @torch.jit.export
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(codes))


class PortableVae(nn.Module):
    """A VAE in evaluation mode: `forward` reconstructs through the means, `encode` gives
    the means, `encode_distribution` (mean, log-variance), `decode` images from codes."""

    def __init__(
        self, encoder: nn.Module, mean: nn.Module, log_variance: nn.Module, decoder: nn.Module
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.mean = mean
        self.log_variance = log_variance
        self.decoder = decoder

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(images))

    @torch.jit.export
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.mean(self.encoder(images))

    @torch.jit.export
    def encode_distribution(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encoder(images)
        return self.mean(hidden), self.log_variance(hidden)

    @torch.jit.export
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(codes))


class PortableClassifier(nn.Module):
    """An image classifier: `forward` gives N x classes log-probabilities."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head  # empty when the encoder's latent layer is the output

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.head(self.encoder(images)), dim=1)


class PortableGenerator(nn.Module):
    """A GAN's generator: N x noise_dim standard normal noise to images in [0, 1]. udl's
    `Gan.generate(count, seed=s)` draws its noise as
    `torch.empty(count, noise_dim).normal_(generator=torch.Generator().manual_seed(s))`."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return (self.generator(noise) + 1.0) / 2.0


def _layer(kind: str, arguments: Sequence[float]) -> nn.Module:
    """One torch.nn layer from udl's description of it (udl._C model.layers())."""
    a = [int(x) for x in arguments] if kind not in ("leaky_relu", "dropout") else []
    if kind == "conv2d":
        return nn.Conv2d(a[0], a[1], a[2], stride=a[3], padding=a[4])
    if kind == "conv_transpose2d":
        return nn.ConvTranspose2d(
            a[0], a[1], a[2], stride=a[3], padding=a[4], output_padding=(a[5], a[6])
        )
    if kind == "linear":
        return nn.Linear(a[0], a[1])
    if kind in ("batch_norm1d", "batch_norm2d"):
        norm = nn.BatchNorm1d if kind == "batch_norm1d" else nn.BatchNorm2d
        return norm(int(arguments[0]), eps=float(arguments[1]), momentum=float(arguments[2]))
    if kind == "relu":
        return nn.ReLU()
    if kind == "leaky_relu":
        return nn.LeakyReLU(float(arguments[0]))
    if kind == "tanh":
        return nn.Tanh()
    if kind == "flatten":
        return nn.Flatten(a[0], a[1])
    if kind == "unflatten":
        return nn.Unflatten(a[0], tuple(a[1:]))
    if kind == "dropout":
        return nn.Dropout(float(arguments[0]))
    raise ValueError(f"no torch.nn layer for udl's {kind!r}")


def build_layers(layers: Sequence[tuple[str, str, Sequence[float]]]) -> dict[str, nn.Module]:
    """The model's top-level modules by name, from (dotted path, kind, arguments) in order:
    a top-level layer as itself, the layers under a name as an nn.Sequential of them, so
    that parameter names match udl's ("encoder.0.weight")."""
    tree: OrderedDict[str, object] = OrderedDict()
    for path, kind, arguments in layers:
        *parents, name = path.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, OrderedDict())  # type: ignore[assignment]
        node[name] = _layer(kind, arguments)  # type: ignore[index]

    def module(node: object) -> nn.Module:
        if isinstance(node, nn.Module):
            return node
        assert isinstance(node, OrderedDict)
        return nn.Sequential(OrderedDict((k, module(v)) for k, v in node.items()))

    return {name: module(node) for name, node in tree.items()}
