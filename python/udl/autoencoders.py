"""Trained models as Python objects: encode, decode, reconstruct, save and load.

Each method takes NumPy arrays or torch tensors and answers in the same kind.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from udl import _native
from udl._arrays import ArrayLike, codes_for, existing_file, images_for, like
from udl._checks import integer, number
from udl._held_model import HeldModel

__all__ = ["Autoencoder", "AutoencoderSpec", "ConvLayer"]


@dataclass(frozen=True)
class ConvLayer:
    """One convolution of the encoder (mirrored by a transposed convolution in the decoder)."""

    channels: int
    kernel: int = 3
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True)
class AutoencoderSpec:
    """An autoencoder architecture: convolutions, hidden linear widths, latent dimension.

    The encoder runs the convolutions (ReLU after each), flattens, runs the hidden linear
    layers (ReLU after each, dropout before each) and a linear layer to the latent code. The
    decoder mirrors it with transposed convolutions whose output padding returns exactly
    `input_shape`, and ends in a sigmoid.

    Construction checks every shape in microseconds and raises `udl.InvalidArchitecture`
    (naming the layer and sizes) when a spatial size would reach zero, or ValueError for a
    non-positive size or a dropout outside [0, 1).

    Attributes:
        conv_layers: the encoder's convolutions (ConvLayer or (channels, kernel, stride,
            padding) tuples), possibly none.
        hidden_widths: widths of the hidden linear layers.
        latent_dim: size of the code.
        input_shape: (channels, height, width) of the images.
        dropout: probability of the dropout before every hidden linear layer of the encoder.
        decoder_dropout: also drop out after every hidden linear layer of the decoder.
    """

    conv_layers: tuple[ConvLayer, ...]
    hidden_widths: tuple[int, ...]
    latent_dim: int
    input_shape: tuple[int, int, int] = (1, 28, 28)
    dropout: float = 0.0
    decoder_dropout: bool = False

    def __post_init__(self) -> None:
        layers = []
        for i, c in enumerate(self.conv_layers):
            c = c if isinstance(c, ConvLayer) else ConvLayer(*c)
            fields = (integer(getattr(c, f), f"conv layer {i} {f}") for f in _CONV_FIELDS)
            layers.append(ConvLayer(*fields))
        object.__setattr__(self, "conv_layers", tuple(layers))
        widths = tuple(
            integer(w, f"hidden layer {i} width") for i, w in enumerate(self.hidden_widths)
        )
        object.__setattr__(self, "hidden_widths", widths)
        shape = tuple(integer(s, "input_shape entry") for s in self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        object.__setattr__(self, "latent_dim", integer(self.latent_dim, "latent_dim"))
        object.__setattr__(self, "dropout", number(self.dropout, "dropout"))
        object.__setattr__(self, "decoder_dropout", bool(self.decoder_dropout))
        self._native()  # validates

    @classmethod
    def conv_autoencoder(
        cls, nf: int, latent_dim: int, input_shape: Sequence[int] = (1, 28, 28)
    ) -> AutoencoderSpec:
        """The CAE of reports 000 and 002: three stride-2 convolutions (nf, 2nf, 4nf channels,
        kernel 3, paddings 1, 1, 0), a 64-wide hidden layer, then the latent layer."""
        native = _native._C.AutoencoderSpec.conv_autoencoder(nf, latent_dim, list(input_shape))
        return cls._from_native(native)

    def _native(self) -> Any:
        return _native._C.AutoencoderSpec(
            list(self.input_shape),
            [
                _native._C.ConvLayerSpec(c.channels, c.kernel, c.stride, c.padding)
                for c in self.conv_layers
            ],
            list(self.hidden_widths),
            self.latent_dim,
            float(self.dropout),
            bool(self.decoder_dropout),
        )

    @classmethod
    def _from_native(cls, native: Any) -> AutoencoderSpec:
        return cls(
            conv_layers=tuple(
                ConvLayer(c.channels, c.kernel, c.stride, c.padding) for c in native.conv_layers
            ),
            hidden_widths=tuple(native.hidden_widths),
            latent_dim=native.latent_dim,
            input_shape=tuple(native.input_shape),
            dropout=native.dropout,
            decoder_dropout=native.decoder_dropout,
        )

    def describe(self) -> str:
        """The layer sizes, e.g. '1x28x28 -conv k3s2p1-> 16x14x14 ... -> latent 10'."""
        return repr(self._native())


class Autoencoder(HeldModel):
    """A trained (or freshly initialised) autoencoder held by the native core."""

    _native_class = "Autoencoder"
    spec: AutoencoderSpec

    @property
    def latent_dim(self) -> int:
        return self.spec.latent_dim

    def encode(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """Latent codes (N x latent_dim, float32) of images (uint8 0..255 or float in [0, 1],
        N x C x H x W, or N x H x W for one channel). `device`: move the model there first
        (else it runs where it is, `self.device`)."""
        native = self._on(device)
        return like(native.encode(images_for(images, self.spec.input_shape)), images)

    def decode(self, codes: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """Images (N x C x H x W, float32 in [0, 1]) decoded from latent codes."""
        return like(self._on(device).decode(codes_for(codes, self.latent_dim)), codes)

    def reconstruct(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """Reconstructions (float32 in [0, 1]) of images, shaped like the model's input."""
        native = self._on(device)
        return like(native.reconstruct(images_for(images, self.spec.input_shape)), images)

    def _assemble(self, modules: dict[str, Any]) -> Any:
        from udl.portable import PortableAutoencoder

        return PortableAutoencoder(modules["encoder"], modules["decoder"])

    def _export_parts(self) -> dict[str, tuple[str, Any]]:
        from udl.export import autoencoder_parts

        return autoencoder_parts(self.spec.input_shape, self.latent_dim)

    def _check_images(self, images: ArrayLike) -> None:
        """Raises as `encode` would for images this model cannot take."""
        images_for(images, self.spec.input_shape)

    def sparsity(self) -> dict[str, float]:
        """Fraction of pruned weights in each layer group: encoder_linear, encoder_conv,
        decoder_linear, decoder_conv."""
        return dict(self._model.sparsity())

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Autoencoder:
        """Reads a model written by `save`.

        Raises:
            FileNotFoundError: if `path` does not exist.
            udl.DataFormatError: if it is not a udl model, is truncated, or has another format.
        """
        native = _native._C.Autoencoder.load(existing_file(path))
        return cls(AutoencoderSpec._from_native(native.spec), _held=native)

    def __repr__(self) -> str:
        return f"Autoencoder({self.spec.describe()}, {self.parameter_count} parameters)"


_CONV_FIELDS = ("channels", "kernel", "stride", "padding")
