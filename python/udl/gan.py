"""Generative adversarial networks (reports 000, 003) and a DCGAN, trained natively."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from udl import _native
from udl._arrays import ArrayLike, existing_file, images_for, like
from udl._checks import flag, integer, number
from udl._checks import seed as check_seed
from udl._held_model import HeldModel
from udl._native_config import fill_loop_config, shows_loop_settings
from udl.records import GanEpochRecord, TrainingRun
from udl.settings import GAN_DEFAULTS, GAN_UNUSED
from udl.training import DataLike, _native_callback, _resolve_data

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from udl.settings import LoopOptions

__all__ = ["ARCHITECTURES", "Gan", "GanEpochRecord", "GanResult", "train_gan"]

#: "fc": report 000's (four linear layers each, ReLU, discriminator dropout 0.3);
#: "fc_leaky": report 003's (two hidden layers each, LeakyReLU 0.2, dropout 0.5 in both);
#: "dcgan": convolutional generator and discriminator with batch norm (Radford et al.), of
#: width `dcgan_width`, its discriminator's batch norm optional.
ARCHITECTURES = ("fc", "fc_leaky", "dcgan")


class Gan(HeldModel):
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
        dcgan_width: int = 64,
        discriminator_batch_norm: bool = True,
        minibatch_stddev: bool = False,
        seed: int = 0,
        _held: Any = None,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"unknown GAN architecture {architecture!r} (expected one of "
                f"{', '.join(ARCHITECTURES)})"
            )
        self.architecture = architecture
        self.image_shape = tuple(integer(s, "image_shape entry") for s in image_shape)
        self.noise_dim = integer(noise_dim, "noise_dim")
        self.dcgan_width = integer(dcgan_width, "dcgan_width")
        self.discriminator_batch_norm = flag(discriminator_batch_norm, "discriminator_batch_norm")
        self.minibatch_stddev = flag(minibatch_stddev, "minibatch_stddev")
        if _held is None:
            spec = _native._C.GanSpec(
                architecture,
                list(self.image_shape),
                self.noise_dim,
                self.dcgan_width,
                self.discriminator_batch_norm,
                self.minibatch_stddev,
            )
            _held = _native._C.Gan(spec, check_seed(seed))
        self._model = _held

    @property
    def parameter_count(self) -> dict[str, int]:
        """Parameters of the generator and of the discriminator."""
        return {
            "generator": int(self._model.generator_parameter_count),
            "discriminator": int(self._model.discriminator_parameter_count),
        }

    def generate(self, count: int, *, seed: int = 0, device: str | None = None) -> np.ndarray:
        """`count` images (N x C x H x W float32 in [0, 1]) from noise drawn with `seed` on
        the CPU (the same noise on every device). `device`: move the model there first."""
        return self._on(device).generate(integer(count, "count"), check_seed(seed))

    def real_probability(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """The discriminator's probability that each image (in [0, 1]) is real. With
        `minibatch_stddev` an image's score depends on the others (scored 1024 at a time)."""
        native = self._on(device)
        return like(native.real_probability(images_for(images, self.image_shape)), images)

    def _assemble(self, modules: dict[str, Any]) -> Any:
        from udl.portable import PortableGenerator

        return PortableGenerator(modules["generator"])  # the discriminator stays behind

    def _export_parts(self) -> dict[str, tuple[str, Any]]:
        import torch

        return {"generate": ("forward", torch.randn(2, self.noise_dim))}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Gan:
        """Reads a GAN written by `save`; DataFormatError if the file holds something else."""
        native = _native._C.Gan.load(existing_file(path))
        spec = native.spec
        return cls(
            spec.architecture,
            image_shape=tuple(spec.image_shape),
            noise_dim=spec.noise_dim,
            dcgan_width=spec.dcgan_width,
            discriminator_batch_norm=spec.discriminator_batch_norm,
            minibatch_stddev=spec.minibatch_stddev,
            _held=native,
        )

    def __repr__(self) -> str:
        counts = self.parameter_count
        dcgan = ""
        if self.architecture == "dcgan":
            norm = "" if self.discriminator_batch_norm else ", no discriminator batch norm"
            dcgan = f", width {self.dcgan_width}{norm}"
        if self.minibatch_stddev:
            dcgan += ", minibatch stddev"
        return (
            f"Gan({self.architecture}, {'x'.join(map(str, self.image_shape))}, noise "
            f"{self.noise_dim}{dcgan}, {counts['generator']} + {counts['discriminator']} "
            "parameters)"
        )


@dataclass(kw_only=True)
class GanResult(TrainingRun):
    """What GAN training returns: the model, its history and the kept samples (nothing is
    monitored, so best_epoch stays 0)."""

    model: Gan
    history: list[GanEpochRecord] = field(default_factory=list)
    #: epoch -> images (float32 in [0, 1]) the generator made of one fixed noise batch
    samples: dict[int, np.ndarray] = field(default_factory=dict)


@shows_loop_settings(GAN_DEFAULTS, skip=GAN_UNUSED)
def train_gan(
    data: DataLike,
    *,
    architecture: str = "fc",
    noise_dim: int = 100,
    dcgan_width: int = 64,
    discriminator_batch_norm: bool = True,
    minibatch_stddev: bool = False,
    lr: float | None = None,
    sample_epochs: Sequence[int] = (),
    sample_count: int = 64,
    label_smoothing: float = 0.0,
    gradient_penalty: float = 0.0,
    gradient_penalty_interval: int = 1,
    discriminator_lr: float | None = None,
    generator_average: float = 0.0,
    callback: Callable[[GanEpochRecord], None] | None = None,
    **options: Unpack[LoopOptions],
) -> GanResult:
    """Trains a GAN on the training images (labels unused).

    Each batch: one discriminator step (BCE: real images as real, the generator's as fake),
    then one generator step (BCE: its images as real, the non-saturating loss). Adam for
    both.

    Args:
        data: a Dataset (its train set), an ImageSet, a name or an array.
        architecture: one of ARCHITECTURES.
        noise_dim: size of the generator's Gaussian input (reports: 100).
        dcgan_width: the DCGAN's w, channels of its generator's last hidden layer and of its
            discriminator's first (the layers beside the linear ones have 2w); Radford et
            al.'s 64, or 32 for an epoch in about 40% of the time. The DCGAN only.
        discriminator_batch_norm: batch norm after the DCGAN discriminator's second
            convolution (Radford et al.). Without it each image's score depends on that
            image alone, as the R1 gradient_penalty assumes. The DCGAN only.
        minibatch_stddev: the discriminator's last layer also sees the batch's standard
            deviation of its features, averaged to one number (Karras et al. 2018), so a
            generator that draws too little variety is told apart. Any architecture; a
            batch of one has no spread (0).
        lr: Adam's learning rate for the generator, and for the discriminator unless
            discriminator_lr is given (default: report 000's 1e-4 for the fully connected
            GANs, 2e-4 for the DCGAN).
        sample_epochs: epochs after which to keep the images of one fixed noise batch
            (report 000 shows epochs 5 and 100).
        sample_count: images in that batch.
        label_smoothing: one-sided label smoothing in [0, 0.5): the discriminator learns
            real images as 1 - this rather than 1 (it keeps the discriminator from growing
            overconfident); 0: the plain GAN.
        gradient_penalty: gamma of the R1 penalty, gamma / 2 times the mean squared norm of
            the discriminator's gradient at the real images, added to its loss (>= 0; 0: none).
            It keeps the discriminator from overpowering the generator: report 000's fully
            connected GAN collapses onto one image on MNIST without it.
        gradient_penalty_interval: lazy R1 (Karras et al. 2020): the penalty on every this
            many-th batch of an epoch, weighted by this many, so the double backward it costs
            runs that much less often (>= 1; 1: every batch).
        discriminator_lr: the discriminator's own learning rate (the two time-scale update
            rule, e.g. 4e-4 against the generator's 1e-4); a schedule scales it like lr.
            None: lr.
        generator_average: decay of an exponential moving average of the generator's
            weights, updated after every generator step, in [0, 1) (e.g. 0.999); the samples
            and the returned model are the average's, which drifts less from mode to mode
            than the last step's weights. 0: no average.
        callback: called after every epoch with its GanEpochRecord.

    Returns:
        A GanResult.
    """
    if lr is None:
        lr = GAN_DEFAULTS["lr"] if architecture == "dcgan" else 1e-4
    config = fill_loop_config(
        _native._C.GanConfig(),
        {**options, "lr": lr},
        "train_gan",
        overrides=GAN_DEFAULTS,
        unused=GAN_UNUSED,
    )
    config.sample_epochs = [integer(e, "sample epoch") for e in sample_epochs]
    config.sample_count = integer(sample_count, "sample_count")
    config.label_smoothing = number(label_smoothing, "label_smoothing")
    config.gradient_penalty = number(gradient_penalty, "gradient_penalty")
    config.gradient_penalty_interval = integer(
        gradient_penalty_interval, "gradient_penalty_interval"
    )
    if discriminator_lr is not None:
        config.discriminator_learning_rate = number(discriminator_lr, "discriminator_lr")
        if config.discriminator_learning_rate <= 0:
            raise ValueError(f"discriminator_lr must be > 0, got {discriminator_lr!r}")
    config.generator_average = number(generator_average, "generator_average")
    config.validate()
    train_set, _ = _resolve_data(data, None)
    model = Gan(
        architecture,
        image_shape=train_set.image_shape,
        noise_dim=noise_dim,
        dcgan_width=dcgan_width,
        discriminator_batch_norm=discriminator_batch_norm,
        minibatch_stddev=minibatch_stddev,
        seed=config.seed,
    )
    native = _native._C.train_gan(
        model._model, train_set.images, config, _native_callback(callback, GanEpochRecord)
    )
    return GanResult(
        model=model,
        **TrainingRun._run_fields(native, GanEpochRecord),
        samples={int(epoch): images for epoch, images in native.samples},
    )
