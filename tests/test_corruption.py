"""udl.corruption: Corruption's checks and the statistics of what corrupt() draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import udl
from udl import Corruption, corrupt

GREY = 0.5


def grey(n: int = 64, channels: int = 1, size: int = 28) -> np.ndarray:
    """Mid-grey float images: no clipping for small noise, every pixel distinguishable
    from the 0s and 1s that the corruptions write."""
    return np.full((n, channels, size, size), GREY, dtype=np.float32)


# --- Corruption validation --------------------------------------------------------------


def test_all_fields_none_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one of its four corruptions"):
        Corruption()


@pytest.mark.parametrize("sigma", [0.0, -0.1, -1e-9])
def test_non_positive_gaussian_sigma(sigma: float) -> None:
    with pytest.raises(ValueError, match=r"gaussian_sigma must be finite and > 0"):
        Corruption(gaussian_sigma=sigma)


def test_nan_gaussian_sigma() -> None:
    with pytest.raises(ValueError, match=r"gaussian_sigma must be finite and > 0, got nan"):
        Corruption(gaussian_sigma=math.nan)


def test_infinite_gaussian_sigma_never_corrupts() -> None:
    # Infinite noise is no corruption that can be drawn: a ValueError (udl.InvalidArgument
    # is one), at construction or at the latest when it is applied.
    with pytest.raises(ValueError, match=r"(?i)sigma"):
        corrupt(grey(2), Corruption(gaussian_sigma=math.inf))


@pytest.mark.parametrize("degrees", [0.0, -15.0])
def test_non_positive_rotation(degrees: float) -> None:
    with pytest.raises(ValueError, match=r"rotation_degrees must be in \(0, 180\]"):
        Corruption(rotation_degrees=degrees)


@pytest.mark.parametrize("degrees", [180.0001, 270.0, math.nan])
def test_rotation_above_180(degrees: float) -> None:
    with pytest.raises(ValueError, match=r"rotation_degrees must be in \(0, 180\]"):
        Corruption(rotation_degrees=degrees)


@pytest.mark.parametrize("name", ["salt_pepper", "mask_fraction"])
@pytest.mark.parametrize("value", [-0.01, 1.01, 2.0, math.nan])
def test_fraction_outside_unit_interval(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"{name} must be in \[0, 1\]"):
        Corruption(**{name: value})


@pytest.mark.parametrize(
    "name", ["rotation_degrees", "gaussian_sigma", "salt_pepper", "mask_fraction"]
)
@pytest.mark.parametrize("value", ["0.5", True, [0.5], 1j])
def test_non_numbers_are_type_errors(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=rf"{name} must be a number"):
        Corruption(**{name: value})


def test_boundaries_and_numpy_numbers_are_accepted() -> None:
    c = Corruption(rotation_degrees=180, salt_pepper=np.float32(0.0), mask_fraction=1)
    assert c.rotation_degrees == 180.0 and isinstance(c.rotation_degrees, float)
    assert c.salt_pepper == 0.0 and type(c.salt_pepper) is float
    assert c.mask_fraction == 1.0 and type(c.mask_fraction) is float
    assert c.gaussian_sigma is None
    assert Corruption(gaussian_sigma=np.float64(1e-6)).gaussian_sigma == pytest.approx(1e-6)


def test_corruption_is_frozen() -> None:
    c = Corruption(gaussian_sigma=0.3)
    with pytest.raises(AttributeError):
        c.gaussian_sigma = 0.5  # type: ignore[misc]


def test_report_presets() -> None:
    assert Corruption.report003() == Corruption(rotation_degrees=15.0, gaussian_sigma=0.3)
    assert Corruption.report004() == Corruption(mask_fraction=0.5)


# --- corrupt(): statistics --------------------------------------------------------------


def test_gaussian_noise_has_std_sigma() -> None:
    sigma = 0.1
    out = corrupt(grey(200), Corruption(gaussian_sigma=sigma), seed=3)
    noise = out.astype(np.float64) - GREY
    assert out.dtype == np.float32 and out.shape == (200, 1, 28, 28)
    assert noise.std() == pytest.approx(sigma, rel=0.02)
    assert abs(noise.mean()) < 0.002
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert (out == GREY).mean() < 0.01  # every pixel got noise


def test_large_noise_is_clipped_to_the_unit_interval() -> None:
    out = corrupt(grey(50), Corruption(gaussian_sigma=2.0), seed=0)
    assert out.min() == 0.0 and out.max() == 1.0
    # With sigma 2, about 40% of pixels fall below 0 and as many above 1.
    assert 0.3 < (out == 0).mean() < 0.5
    assert 0.3 < (out == 1).mean() < 0.5


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_mask_zeroes_a_fraction_p_of_pixels(p: float) -> None:
    out = corrupt(grey(100), Corruption(mask_fraction=p), seed=1)
    zeroed = (out == 0).mean()
    assert zeroed == pytest.approx(p, abs=0.01)
    # The other pixels are untouched.
    assert np.all((out == 0) | (out == GREY))


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_dropout_style_masking_scales_the_kept_pixels_as_torch_dropout(p: float) -> None:
    images = np.full((100, 1, 28, 28), 0.8, dtype=np.float32)  # 0.8 / 0.5 > 1: not clipped
    out = corrupt(images, Corruption(mask_fraction=p, mask_rescale=True), seed=1)
    assert (out == 0).mean() == pytest.approx(p, abs=0.01)
    kept = out[out != 0]
    np.testing.assert_allclose(kept, 0.8 / (1 - p), rtol=1e-6)
    # torch's Dropout keeps the mean: so does this.
    assert out.mean() == pytest.approx(0.8, rel=0.01)


def test_denoise_takes_rescaled_inputs_and_figures_show_them_in_range(
    fashion: udl.datasets.Dataset,
) -> None:
    corruption = Corruption.report004(dropout_scaling=True)
    model = udl.Autoencoder(udl.AutoencoderSpec.conv_autoencoder(4, 3))
    images = fashion.test.images[:6]
    corrupted, denoised = udl.corruption.denoise(model, images, corruption, seed=2)
    assert corrupted.max() > 1.0 and denoised.shape == (6, 1, 28, 28)
    np.testing.assert_allclose(denoised, model._model.reconstruct(corrupted))
    shown = corruption.displayed(corrupted)
    assert shown.max() <= 1.0
    np.testing.assert_allclose(
        shown, corrupt(images, Corruption.report004(), seed=2), rtol=1e-6, atol=1e-7
    )


def test_report004_offers_both_kinds_of_masking() -> None:
    assert Corruption.report004() == Corruption(mask_fraction=0.5)
    assert Corruption.report004(dropout_scaling=True) == Corruption(
        mask_fraction=0.5, mask_rescale=True
    )


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"gaussian_sigma": 0.3, "mask_rescale": True}, ValueError, "needs a mask_fraction"),
        ({"mask_fraction": 1.0, "mask_rescale": True}, ValueError, r"in \(0, 1\), got 1.0"),
        ({"mask_fraction": 0.5, "mask_rescale": "yes"}, TypeError, "mask_rescale must be True"),
    ],
)
def test_mask_rescale_needs_a_fraction_in_the_open_interval(fields, error, message) -> None:
    with pytest.raises(error, match=message):
        Corruption(**fields)


def test_mask_fraction_zero_and_one() -> None:
    images = grey(8)
    np.testing.assert_array_equal(corrupt(images, Corruption(mask_fraction=0.0)), images)
    assert not corrupt(images, Corruption(mask_fraction=1.0)).any()


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_salt_and_pepper_sets_half_of_p_to_each_extreme(p: float) -> None:
    out = corrupt(grey(100), Corruption(salt_pepper=p), seed=2)
    assert (out == 0).mean() == pytest.approx(p / 2, abs=0.01)
    assert (out == 1).mean() == pytest.approx(p / 2, abs=0.01)
    assert np.all((out == 0) | (out == 1) | (out == GREY))


def test_salt_and_pepper_of_one_leaves_no_grey() -> None:
    out = corrupt(grey(20), Corruption(salt_pepper=1.0), seed=0)
    assert np.all((out == 0) | (out == 1))
    assert (out == 1).mean() == pytest.approx(0.5, abs=0.02)


def test_masking_and_salt_and_pepper_hit_whole_pixels_across_channels() -> None:
    images = grey(20, channels=3, size=12)
    for c in (Corruption(mask_fraction=0.5), Corruption(salt_pepper=0.5)):
        out = corrupt(images, c, seed=4)
        assert out.shape == (20, 3, 12, 12)
        np.testing.assert_array_equal(out[:, 0], out[:, 1])
        np.testing.assert_array_equal(out[:, 0], out[:, 2])
        assert (out != GREY).mean() == pytest.approx(0.5, abs=0.03)


def test_gaussian_noise_is_drawn_per_channel() -> None:
    out = corrupt(grey(4, channels=3, size=8), Corruption(gaussian_sigma=0.1), seed=0)
    assert not np.array_equal(out[:, 0], out[:, 1])


def test_rotation_changes_images_and_stays_in_range() -> None:
    images = grey(100)
    out = corrupt(images, Corruption(rotation_degrees=180), seed=5)
    assert out.dtype == np.float32 and out.shape == images.shape
    assert 0.0 <= out.min() and out.max() <= GREY + 1e-6
    # Corners rotate in from outside the image, which is black.
    changed = np.abs(out - images).reshape(len(images), -1).max(axis=1) > 0.1
    assert changed.mean() > 0.9
    # The centre of the image stays where it is.
    np.testing.assert_allclose(out[:, :, 13:15, 13:15], GREY, atol=1e-5)


def test_small_rotation_barely_changes_a_centred_blob() -> None:
    images = np.zeros((10, 1, 28, 28), dtype=np.float32)
    images[:, :, 10:18, 10:18] = 1.0
    small = corrupt(images, Corruption(rotation_degrees=1.0), seed=0)
    large = corrupt(images, Corruption(rotation_degrees=180.0), seed=0)
    small_change = np.abs(small - images).mean()
    large_change = np.abs(large - images).mean()
    assert 0 < small_change < large_change / 3
    # Rotation redistributes brightness, it does not make any.
    assert small.sum() == pytest.approx(images.sum(), rel=0.05)


def test_corruptions_apply_in_order_noise_then_salt_and_pepper_then_mask() -> None:
    # Salt-and-pepper after the noise: its 0s and 1s stay exact. Masking last: masked
    # pixels are exactly 0 whatever came before.
    out = corrupt(
        grey(100), Corruption(gaussian_sigma=0.05, salt_pepper=0.4, mask_fraction=0.5), seed=6
    )
    # zeros: the mask (0.5) plus the pepper of the unmasked half (0.5 * 0.2).
    assert (out == 0).mean() == pytest.approx(0.5 + 0.5 * 0.2, abs=0.01)
    assert (out == 1).mean() == pytest.approx(0.5 * 0.2, abs=0.01)


def test_uint8_images_are_scaled_to_the_unit_interval() -> None:
    images = np.full((4, 1, 28, 28), 51, dtype=np.uint8)
    out = corrupt(images, Corruption(mask_fraction=0.0))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, 0.2, rtol=1e-6)


def test_real_images_stay_in_range_under_report003(small_test: np.ndarray) -> None:
    out = corrupt(small_test[:64], Corruption.report003(), seed=0)
    assert out.shape == (64, 1, 28, 28) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    clean = small_test[:64] / 255.0
    mse = float(np.mean((out - clean) ** 2))
    assert 0.01 < mse < 0.3**2 + 0.1


# --- corrupt(): determinism, types and shapes -------------------------------------------

ALL = Corruption(rotation_degrees=30, gaussian_sigma=0.2, salt_pepper=0.1, mask_fraction=0.2)


def test_same_seed_same_corruption() -> None:
    images = grey(16)
    np.testing.assert_array_equal(corrupt(images, ALL, seed=9), corrupt(images, ALL, seed=9))


def test_different_seeds_differ() -> None:
    images = grey(16)
    a, b = corrupt(images, ALL, seed=1), corrupt(images, ALL, seed=2)
    assert (a != b).mean() > 0.5


def test_default_seed_is_zero() -> None:
    images = grey(4)
    np.testing.assert_array_equal(corrupt(images, ALL), corrupt(images, ALL, seed=0))


def test_input_is_not_modified() -> None:
    images = grey(8)
    corrupt(images, ALL, seed=0)
    assert np.all(images == GREY)


def test_tensor_in_tensor_out() -> None:
    images = grey(8)
    out = corrupt(torch.from_numpy(images), ALL, seed=3)
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float32 and tuple(out.shape) == images.shape
    np.testing.assert_array_equal(out.numpy(), corrupt(images, ALL, seed=3))


def test_n_by_h_by_w_is_one_channel() -> None:
    images = grey(8, size=20)
    out = corrupt(images[:, 0], ALL, seed=3)
    assert out.shape == (8, 1, 20, 20)
    np.testing.assert_array_equal(out, corrupt(images, ALL, seed=3))


def test_non_square_images() -> None:
    out = corrupt(np.full((3, 2, 10, 16), GREY, np.float32), ALL, seed=0)
    assert out.shape == (3, 2, 10, 16)
    assert 0.0 <= out.min() and out.max() <= 1.0


@pytest.mark.parametrize(
    "shape", [(28, 28), (784,), (2, 1, 1, 28, 28), (0, 1, 28, 28), (0, 28, 28)]
)
def test_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"N x C x H x W|N > 0"):
        corrupt(np.full(shape, GREY, np.float32), ALL)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.uint16])
def test_bad_dtypes(dtype: type) -> None:
    with pytest.raises(TypeError, match="uint8 or floating point"):
        corrupt(np.zeros((2, 1, 8, 8), dtype=dtype), ALL)


@pytest.mark.parametrize("value", [-0.1, 1.5, math.nan, math.inf])
def test_float_images_outside_the_unit_interval(value: float) -> None:
    images = grey(2)
    images[0, 0, 0, 0] = value
    with pytest.raises(ValueError, match=r"finite and lie in \[0, 1\]"):
        corrupt(images, ALL)


def test_non_arrays_are_type_errors() -> None:
    with pytest.raises(TypeError, match="NumPy array or torch tensor"):
        corrupt(grey(2).tolist(), ALL)


def test_corruption_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match=r"must be a udl\.Corruption, got dict"):
        corrupt(grey(2), {"gaussian_sigma": 0.3})  # type: ignore[arg-type]


@pytest.mark.parametrize(("seed", "error"), [(-1, ValueError), (1.5, TypeError), ("0", TypeError)])
def test_bad_seed(seed: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="seed"):
        corrupt(grey(2), ALL, seed=seed)  # type: ignore[arg-type]


def test_corrupt_is_exported() -> None:
    assert udl.corrupt is corrupt and udl.Corruption is Corruption
