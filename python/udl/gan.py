"""Generative adversarial networks (reports 000, 003) and a DCGAN, trained natively."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from udl._arrays import ArrayLike, existing_file, images_for, like, save_atomically
from udl._checks import integer, number
from udl._checks import seed as check_seed
from udl._native import _C
from udl.training import DataLike, _resolve_data

__all__ = ["ARCHITECTURES", "Gan", "GanEpochRecord", "GanResult", "train_gan"]

#: "fc": report 000's (four linear layers each, ReLU, discriminator dropout 0.3);
#: "fc_leaky": report 003's (two hidden layers each, LeakyReLU 0.2, dropout 0.5 in both);
#: "dcgan": convolutional generator and discriminator with batch norm (Radford et al.).
ARCHITECTURES = ("fc", "fc_leaky", "dcgan")


class Gan:
    """A generator and its discriminator, held by the native core.

    The generator maps N(0, I) noise to images through a tanh; `generate` returns them
    rescaled to [0, 1] like every other udl image. The discriminator ends in one logit.
    """

    def __init__(
        self,
        architecture: str = "fc",
        *,
        image_shape: Sequence[int] = (1, 28, 28),
        noise_dim: int = 100,
        seed: int = 0,
        _native: Any = None,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"unknown GAN architecture {architecture!r} (expected one of "
                f"{', '.join(ARCHITECTURES)})"
            )
        self.architecture = architecture
        self.image_shape = tuple(integer(s, "image_shape entry") for s in image_shape)
        self.noise_dim = integer(noise_dim, "noise_dim")
        if _native is None:
            spec = _C.GanSpec(architecture, list(self.image_shape), self.noise_dim)
            _native = _C.Gan(spec, check_seed(seed))
        self._model = _native

    @property
    def parameter_count(self) -> dict[str, int]:
        """Parameters of the generator and of the discriminator."""
        return {
            "generator": int(self._model.generator_parameter_count),
            "discriminator": int(self._model.discriminator_parameter_count),
        }

    def generate(self, count: int, *, seed: int = 0) -> np.ndarray:
        """`count` images (N x C x H x W float32 in [0, 1]) from noise drawn with `seed`."""
        return self._model.generate(integer(count, "count"), check_seed(seed))

    def real_probability(self, images: ArrayLike) -> ArrayLike:
        """The discriminator's probability that each image (in [0, 1]) is real."""
        return like(self._model.real_probability(images_for(images, self.image_shape)), images)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes both networks to `path` atomically (see `Autoencoder.save`)."""
        save_atomically(self._model.save, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Gan:
        """Reads a GAN written by `save`; DataFormatError if the file holds something else."""
        native = _C.Gan.load(existing_file(path))
        spec = native.spec
        return cls(
            spec.architecture,
            image_shape=tuple(spec.image_shape),
            noise_dim=spec.noise_dim,
            _native=native,
        )

    def __repr__(self) -> str:
        counts = self.parameter_count
        return (
            f"Gan({self.architecture}, {'x'.join(map(str, self.image_shape))}, noise "
            f"{self.noise_dim}, {counts['generator']} + {counts['discriminator']} parameters)"
        )


@dataclass(frozen=True)
class GanEpochRecord:
    """One epoch: mean losses over its batches and the discriminator's mean outputs."""

    epoch: int
    generator_loss: float
    discriminator_loss: float  # BCE on the real batch + BCE on the generated batch
    real_score: float  # mean D(x) on real images
    fake_score: float  # mean D(G(z)) before the generator's step
    seconds: float


@dataclass
class GanResult:
    """What GAN training returns: the model, its history and the kept samples."""

    model: Gan
    history: list[GanEpochRecord] = field(default_factory=list)
    #: epoch -> images (float32 in [0, 1]) the generator made of one fixed noise batch
    samples: dict[int, np.ndarray] = field(default_factory=dict)
    stop_reason: str = "completed"
    seconds: float = 0.0


def train_gan(
    data: DataLike,
    *,
    architecture: str = "fc",
    noise_dim: int = 100,
    lr: float | None = None,
    beta1: float = 0.5,
    beta2: float = 0.999,
    batch_size: int = 64,
    epochs: int = 10,
    seed: int = 0,
    sample_epochs: Sequence[int] = (),
    sample_count: int = 64,
    threads: int | None = None,
    callback: Callable[[GanEpochRecord], None] | None = None,
) -> GanResult:
    """Trains a GAN on the training images (labels unused).

    Each batch: one discriminator step (BCE: real images as real, the generator's as fake),
    then one generator step (BCE: its images as real, the non-saturating loss). Adam for
    both.

    Args:
        data: a Dataset (its train set), an ImageSet, a name or an array.
        architecture: one of ARCHITECTURES.
        noise_dim: size of the generator's Gaussian input (reports: 100).
        lr: Adam's learning rate for both networks (default: report 000's 1e-4 for the
            fully connected GANs, 2e-4 for the DCGAN).
        beta1, beta2: Adam's betas (0.5 is the DCGAN setting).
        batch_size: images per step.
        epochs: passes over the data (no early stopping: GAN losses do not measure quality).
        seed: seeds the weights, the noise and the shuffling.
        sample_epochs: epochs after which to keep the images of one fixed noise batch
            (report 000 shows epochs 5 and 100).
        sample_count: images in that batch.
        threads: LibTorch threads for this run.
        callback: called after every epoch with its GanEpochRecord.

    Returns:
        A GanResult.
    """
    train_set, _ = _resolve_data(data, None)
    model = Gan(
        architecture,
        image_shape=train_set.image_shape,
        noise_dim=noise_dim,
        seed=check_seed(seed),
    )
    config = _C.GanConfig()
    if lr is None:
        lr = 2e-4 if architecture == "dcgan" else 1e-4
    config.learning_rate = number(lr, "lr")
    config.beta1 = number(beta1, "beta1")
    config.beta2 = number(beta2, "beta2")
    config.batch_size = integer(batch_size, "batch_size")
    config.epochs = integer(epochs, "epochs")
    config.seed = check_seed(seed)
    config.sample_epochs = [integer(e, "sample epoch") for e in sample_epochs]
    config.sample_count = integer(sample_count, "sample_count")
    config.threads = 0 if threads is None else integer(threads, "threads", minimum=1)
    config.validate()
    on_epoch = None if callback is None else (lambda stats: callback(_record(stats)))
    native = _C.train_gan(model._model, train_set.images, config, on_epoch)
    return GanResult(
        model=model,
        history=[_record(s) for s in native.history],
        samples={int(epoch): images for epoch, images in native.samples},
        stop_reason=native.stop_reason,
        seconds=native.seconds,
    )


def _record(stats: Any) -> GanEpochRecord:
    return GanEpochRecord(
        epoch=stats.epoch,
        generator_loss=stats.generator_loss,
        discriminator_loss=stats.discriminator_loss,
        real_score=stats.real_score,
        fake_score=stats.fake_score,
        seconds=stats.seconds,
    )
