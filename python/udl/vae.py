"""The convolutional variational autoencoder (reports 000, 002), trained natively."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from udl import latent
from udl._arrays import ArrayLike, codes_for, existing_file, images_for, like, save_atomically
from udl._checks import integer, number
from udl._checks import seed as check_seed
from udl._loop import LOOP_PARAMETERS, fill_loop_config
from udl._native import _C
from udl.models import AutoencoderSpec
from udl.training import DataLike, _resolve_data

__all__ = ["Vae", "VaeEpochRecord", "VaeLoss", "VaeResult", "train_vae"]


class Vae:
    """A variational autoencoder held by the native core.

    The encoder ends in two linear heads, the mean and the log-variance of q(z|x); the
    decoder mirrors the encoder as in the CAE. `encode` returns the means, so the latent
    tools of `udl.latent` treat a VAE like a CAE.
    """

    def __init__(
        self,
        spec: AutoencoderSpec,
        *,
        batch_norm: bool = False,
        seed: int = 0,
        _native: Any = None,
    ) -> None:
        self.spec = spec
        self.batch_norm = bool(batch_norm)
        self._model = (
            _native
            if _native is not None
            else _C.Vae(_C.VaeSpec(spec._native(), self.batch_norm), check_seed(seed))
        )

    @property
    def latent_dim(self) -> int:
        return self.spec.latent_dim

    @property
    def parameter_count(self) -> int:
        return int(self._model.parameter_count)

    def encode(self, images: ArrayLike) -> ArrayLike:
        """The means of q(z|x) (N x latent_dim float32) of images (uint8 or float in [0, 1])."""
        mean, _ = self._model.encode(images_for(images, self.spec.input_shape))
        return like(mean, images)

    def encode_distribution(self, images: ArrayLike) -> tuple[ArrayLike, ArrayLike]:
        """(mean, log-variance) of q(z|x), each N x latent_dim."""
        mean, log_variance = self._model.encode(images_for(images, self.spec.input_shape))
        return like(mean, images), like(log_variance, images)

    def decode(self, codes: ArrayLike) -> ArrayLike:
        """Images (N x C x H x W, float32 in [0, 1]) decoded from latent codes."""
        return like(self._model.decode(codes_for(codes, self.latent_dim)), codes)

    def reconstruct(self, images: ArrayLike) -> ArrayLike:
        """Reconstructions through the means (no sampling)."""
        mean, _ = self._model.encode(images_for(images, self.spec.input_shape))
        return like(self._model.decode(mean), images)

    def sample(self, count: int, *, seed: int = 0) -> Any:
        """`count` new images decoded from z ~ N(0, I), as a NumPy array."""
        return self._model.sample(integer(count, "count"), check_seed(seed))

    def latent_grid(self, steps: int = 15, *, extent: float = 2.5) -> np.ndarray:
        """Decodes a steps x steps grid over [-extent, extent]^2 of a 2-D latent plane (the
        bulk of the prior), rows of the mosaic top to bottom as z1 decreases; see
        `udl.latent.decode_latent_grid` for a grid over the region the data occupies.

        Raises:
            udl.InvalidArgument: if the latent is not 2-D or steps < 2.
        """
        extent = number(extent, "extent")
        if not extent > 0:
            raise ValueError(f"extent must be > 0, got {extent}")
        corners = np.array([[-extent, -extent], [extent, extent]], dtype=np.float32)
        codes = np.zeros((2, self.latent_dim), dtype=np.float32)
        codes[:, : min(2, self.latent_dim)] = corners[:, : min(2, self.latent_dim)]
        return latent.decode_latent_grid(self, codes, steps, quantiles=(0.0, 1.0))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the VAE to `path` atomically (see `Autoencoder.save`)."""
        save_atomically(self._model.save, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vae:
        """Reads a VAE written by `save`; DataFormatError if the file holds something else."""
        native = _C.Vae.load(existing_file(path))
        spec = AutoencoderSpec._from_native(native.spec.architecture)
        return cls(spec, batch_norm=native.spec.batch_norm, _native=native)

    def __repr__(self) -> str:
        norm = ", batch norm" if self.batch_norm else ""
        return f"Vae({self.spec.describe()}{norm}, {self.parameter_count} parameters)"


@dataclass(frozen=True)
class VaeEpochRecord:
    """One epoch: the loss and its terms per image, on the training and validation sets."""

    epoch: int
    train_loss: float
    train_reconstruction: float
    train_kl: float
    val_loss: float
    val_reconstruction: float
    val_kl: float
    val_mse: float  # per pixel, through the means: comparable with a CAE's
    seconds: float
    improved: bool


@dataclass(frozen=True)
class VaeLoss:
    """The loss terms per image on a set (z = mean)."""

    total: float
    reconstruction: float
    kl: float
    mse: float


@dataclass
class VaeResult:
    """What VAE training returns: the model (at its best epoch) and its figures."""

    model: Vae
    history: list[VaeEpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = float("nan")
    stop_reason: str = "completed"
    seconds: float = 0.0
    test: VaeLoss | None = None


def train_vae(
    data: DataLike,
    *,
    spec: AutoencoderSpec | None = None,
    nf: int = 8,
    latent_dim: int = 2,
    batch_norm: bool = False,
    beta: float = 0.8,
    reconstruction: str = "mse",
    test: DataLike | None = None,
    optimizer: str = "adam",
    lr: float = 1e-3,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    batch_size: int = 256,
    epochs: int = 10,
    seed: int = 0,
    val_fraction: float = 0.2,
    early_stopping: bool = True,
    patience: int = 5,
    min_delta: float = 0.0,
    restore_best: bool = True,
    lr_decay: float = 1.0,
    lr_patience: int = 3,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    threads: int | None = None,
    callback: Callable[[VaeEpochRecord], None] | None = None,
) -> VaeResult:
    """Trains a convolutional VAE; the defaults are report 000's (nf 8, latent 2, Adam 1e-3,
    no weight decay, MSE, beta 0.8).

    The loss per image is reconstruction + beta * KL(q(z|x) || N(0, I)), the reconstruction
    summed over pixels (squared error, or binary cross-entropy with reconstruction="bce")
    and the KL over latent dimensions; training samples z with the reparameterisation
    trick, validation and test use z = mean.

    Args:
        data: images (labels unused): a Dataset, an ImageSet, a name or an array.
        spec: the architecture (default: the CAE of `nf`, `latent_dim`).
        nf: channels of the CAE's first convolution, unless `spec` is given.
        latent_dim: latent width, unless `spec` is given.
        batch_norm: batch normalisation after every convolution (report 002).
        beta: weight of the KL term, >= 0.
        reconstruction: "mse" or "bce".
        test: images to score (default: the Dataset's test set).
        optimizer, lr, momentum, weight_decay, batch_size, epochs, seed, val_fraction,
        early_stopping, patience, min_delta, restore_best, lr_decay, lr_patience, checkpoint,
        resume,
        threads: as in
            `udl.train_autoencoder`.
        callback: called after every epoch with its VaeEpochRecord.

    Returns:
        A VaeResult.

    Raises:
        ValueError: for beta < 0 or any other parameter out of range.
    """
    arguments = locals()
    train_set, test_set = _resolve_data(data, test)
    if spec is None:
        spec = AutoencoderSpec.conv_autoencoder(nf, latent_dim, train_set.image_shape)
    config = fill_loop_config(_C.VaeConfig(), **{name: arguments[name] for name in LOOP_PARAMETERS})
    config.beta = number(beta, "beta")
    config.reconstruction = reconstruction
    config.validate()
    model = Vae(spec, batch_norm=batch_norm, seed=check_seed(seed))
    on_epoch = None if callback is None else (lambda stats: callback(_record(stats)))
    native = _C.train_vae(
        model._model,
        train_set.images,
        None if test_set is None else test_set.images,
        config,
        on_epoch,
    )
    test_loss = native.test
    return VaeResult(
        model=model,
        history=[_record(s) for s in native.history],
        best_epoch=native.best_epoch,
        best_val_loss=native.best_val_loss,
        stop_reason=native.stop_reason,
        seconds=native.seconds,
        test=None
        if test_loss is None
        else VaeLoss(test_loss.total, test_loss.reconstruction, test_loss.kl, test_loss.mse),
    )


def _record(stats: Any) -> VaeEpochRecord:
    return VaeEpochRecord(
        epoch=stats.epoch,
        train_loss=stats.train_loss,
        train_reconstruction=stats.train_reconstruction,
        train_kl=stats.train_kl,
        val_loss=stats.val_loss,
        val_reconstruction=stats.val_reconstruction,
        val_kl=stats.val_kl,
        val_mse=stats.val_mse,
        seconds=stats.seconds,
        improved=stats.improved,
    )
