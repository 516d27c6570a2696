"""The convolutional variational autoencoder (reports 000, 002), trained natively."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from udl import _native, latent
from udl._arrays import ArrayLike, codes_for, existing_file, images_for, like
from udl._checks import flag, integer, number
from udl._checks import seed as check_seed
from udl._held_model import HeldModel
from udl._native_config import fill_loop_config, shows_loop_settings
from udl.autoencoders import AutoencoderSpec
from udl.records import TrainingRun, VaeEpochRecord
from udl.training import DataLike, _native_callback, _resolve_data

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from udl.settings import LoopOptions

__all__ = ["Vae", "VaeEpochRecord", "VaeLoss", "VaeResult", "train_vae"]


class Vae(HeldModel):
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
        _held: Any = None,
    ) -> None:
        self.spec = spec
        self.batch_norm = flag(batch_norm, "batch_norm")
        self._model = (
            _held
            if _held is not None
            else _native._C.Vae(
                _native._C.VaeSpec(spec._native(), self.batch_norm), check_seed(seed)
            )
        )

    @property
    def latent_dim(self) -> int:
        return self.spec.latent_dim

    def encode(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """The means of q(z|x) (N x latent_dim float32) of images (uint8 or float in [0, 1]).
        `device`: move the model there first (else it runs where it is, `self.device`)."""
        mean, _ = self._on(device).encode(images_for(images, self.spec.input_shape))
        return like(mean, images)

    def encode_distribution(
        self, images: ArrayLike, *, device: str | None = None
    ) -> tuple[ArrayLike, ArrayLike]:
        """(mean, log-variance) of q(z|x), each N x latent_dim."""
        native = self._on(device)
        mean, log_variance = native.encode(images_for(images, self.spec.input_shape))
        return like(mean, images), like(log_variance, images)

    def decode(self, codes: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """Images (N x C x H x W, float32 in [0, 1]) decoded from latent codes."""
        return like(self._on(device).decode(codes_for(codes, self.latent_dim)), codes)

    def reconstruct(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """Reconstructions through the means (no sampling)."""
        native = self._on(device)
        mean, _ = native.encode(images_for(images, self.spec.input_shape))
        return like(native.decode(mean), images)

    def sample(self, count: int, *, seed: int = 0, device: str | None = None) -> Any:
        """`count` new images decoded from z ~ N(0, I), as a NumPy array. The codes are
        drawn on the CPU: the same seed gives the same codes on every device."""
        return self._on(device).sample(integer(count, "count"), check_seed(seed))

    def _assemble(self, modules: dict[str, Any]) -> Any:
        from udl.portable import PortableVae

        return PortableVae(
            modules["encoder"], modules["mean"], modules["log_variance"], modules["decoder"]
        )

    def _export_parts(self) -> dict[str, tuple[str, Any]]:
        from udl.export import autoencoder_parts

        return autoencoder_parts(self.spec.input_shape, self.latent_dim)

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

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vae:
        """Reads a VAE written by `save`; DataFormatError if the file holds something else."""
        native = _native._C.Vae.load(existing_file(path))
        spec = AutoencoderSpec._from_native(native.spec.architecture)
        return cls(spec, batch_norm=native.spec.batch_norm, _held=native)

    def __repr__(self) -> str:
        norm = ", batch norm" if self.batch_norm else ""
        return f"Vae({self.spec.describe()}{norm}, {self.parameter_count} parameters)"


@dataclass(frozen=True)
class VaeLoss:
    """The loss terms per image on a set (z = mean)."""

    total: float
    reconstruction: float
    kl: float
    mse: float


@dataclass(kw_only=True)
class VaeResult(TrainingRun):
    """What VAE training returns: the model (at its best epoch) and its figures."""

    model: Vae
    history: list[VaeEpochRecord] = field(default_factory=list)
    test: VaeLoss | None = None


@shows_loop_settings()
def train_vae(
    data: DataLike,
    *,
    spec: AutoencoderSpec | None = None,
    nf: int = 8,
    latent_dim: int = 2,
    batch_norm: bool = False,
    beta: float = 0.8,
    loss: str = "mse",
    test: DataLike | None = None,
    callback: Callable[[VaeEpochRecord], None] | None = None,
    **options: Unpack[LoopOptions],
) -> VaeResult:
    """Trains a convolutional VAE; the defaults are report 000's (nf 8, latent 2, Adam 1e-3,
    no weight decay, MSE, beta 0.8).

    The loss per image is reconstruction + beta * KL(q(z|x) || N(0, I)), the reconstruction
    summed over pixels (squared error, or binary cross-entropy with loss="bce")
    and the KL over latent dimensions; training samples z with the reparameterisation
    trick, validation and test use z = mean.

    Args:
        data: images (labels unused): a Dataset, an ImageSet, a name or an array.
        spec: the architecture (default: the CAE of `nf`, `latent_dim`).
        nf: channels of the CAE's first convolution, unless `spec` is given.
        latent_dim: latent width, unless `spec` is given.
        batch_norm: batch normalisation after every convolution (report 002).
        beta: weight of the KL term, >= 0.
        loss: the reconstruction's, "mse" or "bce" (`reconstruction=`, its old name,
            still works and warns).
        test: images to score (default: the Dataset's test set).
        callback: called after every epoch with its VaeEpochRecord.

    Returns:
        A VaeResult.

    Raises:
        ValueError: for beta < 0 or any other parameter out of range.
    """
    if "reconstruction" in options:
        warnings.warn(
            "train_vae(reconstruction=...) is now loss=...", DeprecationWarning, stacklevel=2
        )
        loss = options.pop("reconstruction")  # type: ignore[typeddict-item]
    train_set, test_set = _resolve_data(data, test)
    if spec is None:
        spec = AutoencoderSpec.conv_autoencoder(nf, latent_dim, train_set.image_shape)
    config = fill_loop_config(_native._C.VaeConfig(), options, "train_vae")
    config.beta = number(beta, "beta")
    config.loss = loss
    config.validate()
    model = Vae(spec, batch_norm=batch_norm, seed=config.seed)
    native = _native._C.train_vae(
        model._model,
        train_set.images,
        None if test_set is None else test_set.images,
        config,
        _native_callback(callback, VaeEpochRecord),
    )
    test_loss = native.test
    return VaeResult(
        model=model,
        **TrainingRun._run_fields(native, VaeEpochRecord),
        test=None
        if test_loss is None
        else VaeLoss(test_loss.total, test_loss.reconstruction, test_loss.kl, test_loss.mse),
    )
