"""Corruptions for denoising autoencoders (reports 003, 004), applied by the native loop to
every batch on the fly: rotation, additive Gaussian noise, salt-and-pepper, masking."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from udl import _native
from udl._arrays import ArrayLike, as_numpy, images_for, like
from udl._checks import number
from udl._checks import seed as check_seed

__all__ = ["Corruption", "corrupt", "denoise"]

# The fields that each switch a corruption on.
_CORRUPTIONS = ("rotation_degrees", "gaussian_sigma", "salt_pepper", "mask_fraction")


@dataclass(frozen=True)
class Corruption:
    """What a denoiser's input suffers, in this order: rotation, noise, salt-and-pepper,
    clipped to [0, 1], then masking. Leave a field None to skip that corruption.

    Attributes:
        rotation_degrees: each image is rotated by an angle uniform in ±this, in (0, 180]
            (report 003 combines it with Gaussian noise); pixels from outside are black.
        gaussian_sigma: standard deviation of additive Gaussian noise, > 0.
        salt_pepper: fraction of pixels set to 0 or 1 (half each on average), in [0, 1].
        mask_fraction: fraction of pixels set to 0, in [0, 1] (report 004: about 0.5).
        mask_rescale: mask as torch's Dropout does, which report 004 used: the kept pixels
            are also scaled by 1 / (1 - mask_fraction), so they may exceed 1. Needs a
            mask_fraction in (0, 1).

    Raises:
        ValueError: for a non-positive sigma, a rotation outside (0, 180], or a fraction
            outside [0, 1].
    """

    rotation_degrees: float | None = None
    gaussian_sigma: float | None = None
    salt_pepper: float | None = None
    mask_fraction: float | None = None
    mask_rescale: bool = False

    def __post_init__(self) -> None:
        for name in _CORRUPTIONS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, number(value, name))
        if self.gaussian_sigma is not None and not (
            math.isfinite(self.gaussian_sigma) and self.gaussian_sigma > 0
        ):
            raise ValueError(f"gaussian_sigma must be finite and > 0, got {self.gaussian_sigma}")
        if self.rotation_degrees is not None and not 0 < self.rotation_degrees <= 180:
            raise ValueError(f"rotation_degrees must be in (0, 180], got {self.rotation_degrees}")
        for name in ("salt_pepper", "mask_fraction"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if all(getattr(self, f) is None for f in _CORRUPTIONS):
            raise ValueError("a Corruption needs at least one of its four corruptions")
        if not isinstance(self.mask_rescale, bool):
            raise TypeError(f"mask_rescale must be True or False, got {self.mask_rescale!r}")
        if self.mask_rescale and not (
            self.mask_fraction is not None and 0 < self.mask_fraction < 1
        ):
            raise ValueError(
                "mask_rescale scales the pixels a mask keeps: it needs a mask_fraction in "
                f"(0, 1), got {self.mask_fraction}"
            )

    @classmethod
    def report003(cls) -> Corruption:
        """Report 003's denoising task: Gaussian noise and a random rotation. The report
        gives no values; udl takes sigma 0.3 and ±15 degrees."""
        return cls(rotation_degrees=15.0, gaussian_sigma=0.3)

    @classmethod
    def report004(cls, *, dropout_scaling: bool = False) -> Corruption:
        """Report 004's: half of the pixels zeroed. The report masked with torch's
        Dropout(0.5), which also doubles the pixels it keeps: `dropout_scaling=True` does
        that too; the default only zeroes, so the input stays an image in [0, 1]."""
        return cls(mask_fraction=0.5, mask_rescale=dropout_scaling)

    def displayed(self, corrupted: np.ndarray) -> np.ndarray:
        """Corrupted images as a figure shows them, in [0, 1]: with `mask_rescale` the kept
        pixels scaled back (the masked image itself), else unchanged."""
        if not self.mask_rescale or self.mask_fraction is None:
            return corrupted
        return corrupted * np.float32(1.0 - self.mask_fraction)

    def _native(self) -> Any:
        config = _native._C.CorruptionConfig()
        config.rotation_degrees = self.rotation_degrees or 0.0
        config.gaussian_sigma = self.gaussian_sigma or 0.0
        config.salt_pepper = self.salt_pepper or 0.0
        config.mask_fraction = self.mask_fraction or 0.0
        config.mask_rescale = self.mask_rescale
        config.validate()
        return config


def corrupt(images: ArrayLike, corruption: Corruption, *, seed: int = 0) -> ArrayLike:
    """Corrupted copies (float32 in [0, 1]; above 1 where `mask_rescale` scales kept pixels)
    of images, as the denoising loop draws them.

    Args:
        images: N x C x H x W (or N x H x W) uint8 or float images in [0, 1].
        corruption: what to apply.
        seed: seeds the draws; the same seed gives the same corruption.

    Returns:
        float32 images of the input's shape (N x C x H x W), as NumPy or torch like the input.
    """
    if not isinstance(corruption, Corruption):
        raise TypeError(f"corruption must be a udl.Corruption, got {type(corruption).__name__}")
    array = as_numpy(images, "images")
    array = images_for(array, _shape_of(array))
    return like(_native._C.corrupt(array, corruption._native(), check_seed(seed)), images)


def denoise(
    model: Any, images: ArrayLike, corruption: Corruption, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """`images` corrupted as the denoising loop draws them, and `model`'s reconstructions
    of those: what a denoiser's figure shows. Unlike `model.reconstruct`, it takes the
    corrupted inputs whatever their range (`mask_rescale` lifts kept pixels above 1).

    Returns:
        (corrupted, denoised), each N x C x H x W float32 NumPy arrays.
    """
    corrupted = np.asarray(corrupt(as_numpy(images, "images"), corruption, seed=seed))
    return corrupted, model._model.reconstruct(np.ascontiguousarray(corrupted))


def _shape_of(images: np.ndarray) -> tuple[int, int, int]:
    shape = images.shape
    if len(shape) == 3:
        return (1, shape[1], shape[2])
    if len(shape) == 4:
        return (shape[1], shape[2], shape[3])
    raise ValueError(f"images must be N x C x H x W or N x H x W, got shape {shape}")
