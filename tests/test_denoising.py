"""Denoising autoencoders: train_dae, train_autoencoder(corruption=...), DenoisingScores."""

from __future__ import annotations

import math

import numpy as np
import pytest

import udl
from udl import Corruption, DenoisingScores, TrainResult, train_autoencoder, train_cae, train_dae

NOISE = Corruption(gaussian_sigma=0.3)
# Small and quick, yet enough for a clear denoising gain on 2048 images.
QUICK = dict(nf=8, latent_dim=16, lr=3e-3, epochs=5, batch_size=32, threads=1, seed=0)
# For checks that do not need a trained model.
TINY = dict(nf=4, latent_dim=8, epochs=1, batch_size=64, threads=1)


# Inference outside the training loop runs on one thread (the machine is shared).
pytestmark = pytest.mark.usefixtures("one_thread_per_module")


@pytest.fixture(scope="module")
def test_images(small_test: np.ndarray) -> np.ndarray:
    return small_test[:512]


@pytest.fixture(scope="module")
def dae(small_train: np.ndarray, test_images: np.ndarray) -> TrainResult:
    """A denoiser trained once on 2048 images with Gaussian noise, scored on 512."""
    return train_dae(small_train, NOISE, test=test_images, **QUICK)


def psnr(images: np.ndarray, clean: np.ndarray) -> float:
    """Mean PSNR over images (peak 1), as the loop scores it."""
    mse = np.mean((images.astype(np.float64) - clean) ** 2, axis=(1, 2, 3))
    return float(np.mean(-10 * np.log10(np.maximum(mse, 1e-10))))


# --- the scores -------------------------------------------------------------------------


def test_train_dae_fills_test_denoising(dae: TrainResult) -> None:
    scores = dae.test_denoising
    assert isinstance(scores, DenoisingScores)
    for value in (
        scores.corrupted_mse,
        scores.denoised_mse,
        scores.corrupted_psnr,
        scores.denoised_psnr,
    ):
        assert math.isfinite(value)
    assert scores.corrupted_mse > 0 and scores.denoised_mse > 0
    assert scores.psnr_gain == scores.denoised_psnr - scores.corrupted_psnr
    assert [r.epoch for r in dae.history] == [1, 2, 3, 4, 5]


def test_denoiser_improves_on_its_input(dae: TrainResult) -> None:
    scores = dae.test_denoising
    assert scores is not None
    assert scores.denoised_psnr > scores.corrupted_psnr + 1.0
    assert scores.psnr_gain > 1.0
    assert scores.denoised_mse < 0.8 * scores.corrupted_mse


def test_test_mse_is_the_denoised_mse(dae: TrainResult) -> None:
    # The test loss is scored on the same seeded corruption of the test images; with the
    # MSE loss and one pass, loss, MSE and denoised MSE are one number.
    assert dae.test_denoising is not None
    assert dae.test_mse == dae.test_denoising.denoised_mse
    assert dae.test_loss == pytest.approx(dae.test_mse, rel=1e-12)


def test_corrupted_scores_match_corrupt(dae: TrainResult, test_images: np.ndarray) -> None:
    # Another draw of the same corruption: the same statistics within sampling error.
    clean = test_images / 255.0
    noisy = udl.corrupt(test_images, NOISE, seed=12345)
    scores = dae.test_denoising
    assert scores is not None
    assert scores.corrupted_mse == pytest.approx(np.mean((noisy - clean) ** 2), rel=0.02)
    assert scores.corrupted_psnr == pytest.approx(psnr(noisy, clean), abs=0.1)


def test_denoised_scores_match_the_model(dae: TrainResult, test_images: np.ndarray) -> None:
    clean = test_images / 255.0
    denoised = dae.model.reconstruct(udl.corrupt(test_images, NOISE, seed=12345))
    scores = dae.test_denoising
    assert scores is not None
    assert scores.denoised_mse == pytest.approx(np.mean((denoised - clean) ** 2), rel=0.02)
    assert scores.denoised_psnr == pytest.approx(psnr(denoised, clean), abs=0.1)


def test_denoiser_beats_a_plain_autoencoder_on_noisy_input(
    dae: TrainResult, small_train: np.ndarray, test_images: np.ndarray
) -> None:
    plain = train_cae(small_train, **QUICK)
    clean = test_images / 255.0
    noisy = udl.corrupt(test_images, NOISE, seed=7)
    dae_mse = np.mean((dae.model.reconstruct(noisy) - clean) ** 2)
    plain_mse = np.mean((plain.model.reconstruct(noisy) - clean) ** 2)
    assert dae_mse < 0.97 * plain_mse


def test_history_is_scored_against_clean_images(dae: TrainResult) -> None:
    for record in dae.history:
        assert math.isfinite(record.train_loss) and math.isfinite(record.val_loss)
        # MSE loss, one pass: the validation loss is the validation MSE.
        assert record.val_loss == pytest.approx(record.val_mse, rel=1e-12)
    assert dae.history[-1].val_loss < dae.history[0].val_loss
    assert dae.best_val_mse == min(r.val_mse for r in dae.history)


# --- the corruption draws ---------------------------------------------------------------


def test_test_corruption_is_fixed_by_the_seed(
    small_train: np.ndarray, test_images: np.ndarray
) -> None:
    # The corrupted test images depend on the seed only: training longer changes the
    # denoised figures, not the corrupted ones.
    short = train_dae(small_train[:256], NOISE, test=test_images, seed=3, **TINY)
    longer = train_dae(small_train[:256], NOISE, test=test_images, seed=3, **{**TINY, "epochs": 2})
    other = train_dae(small_train[:256], NOISE, test=test_images, seed=4, **TINY)
    a, b, c = short.test_denoising, longer.test_denoising, other.test_denoising
    assert a is not None and b is not None and c is not None
    assert a.corrupted_mse == b.corrupted_mse and a.corrupted_psnr == b.corrupted_psnr
    assert a.denoised_mse != b.denoised_mse
    assert c.corrupted_mse != a.corrupted_mse
    assert c.corrupted_mse == pytest.approx(a.corrupted_mse, rel=0.02)


def test_same_seed_same_denoiser(small_train: np.ndarray, test_images: np.ndarray) -> None:
    a = train_dae(small_train[:256], Corruption.report003(), test=test_images, seed=1, **TINY)
    b = train_dae(small_train[:256], Corruption.report003(), test=test_images, seed=1, **TINY)
    assert a.test_denoising == b.test_denoising
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]


def test_two_passes_keep_test_mse_as_the_first_pass(
    small_train: np.ndarray, test_images: np.ndarray
) -> None:
    result = train_dae(small_train[:256], NOISE, test=test_images, passes=2, **TINY)
    assert result.test_denoising is not None
    assert result.test_mse == result.test_denoising.denoised_mse
    # The loss sums the errors of both passes.
    assert result.test_loss > result.test_mse


@pytest.mark.parametrize(
    ("corruption", "rel"),
    [
        (Corruption(mask_fraction=0.5), 0.05),
        (Corruption(salt_pepper=0.2), 0.05),
        # A random angle per image: the MSE varies much more from draw to draw.
        (Corruption(rotation_degrees=30), 0.15),
        (Corruption.report003(), 0.1),
    ],
    ids=["mask", "salt_pepper", "rotation", "report003"],
)
def test_every_corruption_trains(
    corruption: Corruption, rel: float, small_train: np.ndarray, test_images: np.ndarray
) -> None:
    result = train_dae(small_train[:256], corruption, test=test_images[:128], **TINY)
    scores = result.test_denoising
    assert scores is not None
    clean = test_images[:128] / 255.0
    expected = np.mean(
        [
            np.mean((udl.corrupt(test_images[:128], corruption, seed=s) - clean) ** 2)
            for s in range(8)
        ]
    )
    assert scores.corrupted_mse == pytest.approx(expected, rel=rel)
    assert math.isfinite(scores.denoised_psnr)


# --- entry points -----------------------------------------------------------------------


def test_train_dae_uses_a_datasets_test_set(fashion: udl.datasets.Dataset) -> None:
    data = udl.datasets.Dataset(
        "fashion-small",
        fashion.train.subset(slice(0, 256)),
        fashion.test.subset(slice(0, 128)),
        fashion.class_names,
    )
    result = train_dae(data, NOISE, **TINY)
    assert result.test_denoising is not None
    assert result.test_mse == result.test_denoising.denoised_mse


def test_train_dae_with_a_spec(small_train: np.ndarray, test_images: np.ndarray) -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 5, (1, 28, 28))
    result = train_dae(
        small_train[:256], NOISE, spec=spec, test=test_images[:64], epochs=1, threads=1
    )
    assert result.model.spec == spec
    assert result.model.latent_dim == 5
    assert result.test_denoising is not None


def test_train_autoencoder_with_a_corruption(
    small_train: np.ndarray, test_images: np.ndarray
) -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 8, (1, 28, 28))
    result = train_autoencoder(
        spec, small_train[:256], test=test_images[:64], corruption=NOISE, epochs=1, threads=1
    )
    assert result.test_denoising is not None
    assert result.test_mse == result.test_denoising.denoised_mse


def test_no_test_set_no_denoising_scores(small_train: np.ndarray) -> None:
    result = train_dae(small_train[:256], NOISE, **TINY)
    assert result.test_denoising is None
    assert result.test_mse is None


def test_without_a_corruption_no_denoising_scores(
    small_train: np.ndarray, test_images: np.ndarray
) -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 8, (1, 28, 28))
    result = train_autoencoder(spec, small_train[:256], test=test_images[:64], epochs=1, threads=1)
    assert result.test_mse is not None
    assert result.test_denoising is None


@pytest.mark.parametrize("corruption", ["gaussian", 0.3, {"gaussian_sigma": 0.3}])
def test_train_dae_rejects_a_corruption_of_the_wrong_type(
    corruption: object, small_train: np.ndarray
) -> None:
    with pytest.raises(TypeError, match=r"corruption must be a udl\.Corruption"):
        train_dae(small_train[:64], corruption, **TINY)  # type: ignore[arg-type]


def test_train_autoencoder_rejects_a_corruption_of_the_wrong_type(
    small_train: np.ndarray,
) -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 8, (1, 28, 28))
    with pytest.raises(TypeError, match=r"corruption must be a udl\.Corruption, got str"):
        train_autoencoder(spec, small_train[:64], corruption="mask", epochs=1, threads=1)
