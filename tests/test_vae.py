"""udl.vae: training the convolutional VAE, its loss terms, encoding, decoding, sampling,
batch norm, files, and the latent tools on a VAE."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import udl
from udl import Vae, VaeResult, train_vae
from udl.vae import VaeEpochRecord, VaeLoss

PIXELS = 28 * 28
# Report 000's defaults otherwise (nf 8, latent 2, beta 0.8): a VAE that learns in a second.
LEARN = dict(epochs=4, batch_size=16, lr=3e-3, threads=1, seed=0)
TINY = dict(epochs=1, batch_size=64, threads=1)


# Inference outside the training loop runs on one thread (the machine is shared).
pytestmark = pytest.mark.usefixtures("one_thread_per_module")


@pytest.fixture(scope="module")
def test_images(small_test: np.ndarray) -> np.ndarray:
    return small_test[:256]


@pytest.fixture(scope="module")
def trained(small_train: np.ndarray, test_images: np.ndarray) -> VaeResult:
    return train_vae(small_train[:1024], test=test_images, **LEARN)


@pytest.fixture(scope="module")
def batch_norm_vae(small_train: np.ndarray) -> Vae:
    return train_vae(small_train[:512], batch_norm=True, **TINY).model


def kl_to_standard_normal(mean: np.ndarray, log_variance: np.ndarray) -> np.ndarray:
    mean, log_variance = mean.astype(np.float64), log_variance.astype(np.float64)
    return 0.5 * np.sum(mean**2 + np.exp(log_variance) - 1 - log_variance, axis=1)


# --- training and the loss --------------------------------------------------------------


def test_defaults_are_report_000s(trained: VaeResult) -> None:
    model = trained.model
    assert isinstance(model, Vae)
    assert model.latent_dim == 2
    assert model.spec == udl.AutoencoderSpec.conv_autoencoder(8, 2, (1, 28, 28))
    assert model.batch_norm is False
    assert "latent 2" in repr(model) and "batch norm" not in repr(model)


def test_history_records(trained: VaeResult) -> None:
    assert [r.epoch for r in trained.history] == [1, 2, 3, 4]
    assert trained.stop_reason == "completed"
    for r in trained.history:
        assert isinstance(r, VaeEpochRecord)
        for value in (
            r.train_loss,
            r.train_reconstruction,
            r.train_kl,
            r.val_loss,
            r.val_reconstruction,
            r.val_kl,
            r.val_mse,
        ):
            assert math.isfinite(value)
        assert r.train_reconstruction > 0 and r.val_reconstruction > 0
        assert r.train_kl >= 0 and r.val_kl >= 0
        assert r.seconds > 0


def test_loss_is_reconstruction_plus_beta_kl(trained: VaeResult) -> None:
    for r in trained.history:
        assert r.val_loss == pytest.approx(r.val_reconstruction + 0.8 * r.val_kl, rel=1e-6)
        assert r.train_loss == pytest.approx(r.train_reconstruction + 0.8 * r.train_kl, rel=1e-6)


def test_reconstruction_is_summed_over_pixels(trained: VaeResult) -> None:
    # Squared error summed over the 784 pixels, per image; val_mse is per pixel.
    for r in trained.history:
        assert r.val_reconstruction == pytest.approx(PIXELS * r.val_mse, rel=1e-5)


def test_vae_learns(trained: VaeResult, small_train: np.ndarray, test_images: np.ndarray) -> None:
    history = trained.history
    assert history[-1].val_mse < 0.7 * history[0].val_mse
    assert trained.test is not None
    # Better than the mean training image, which knows nothing of the input.
    clean = test_images / 255.0
    mean_image = (small_train[:1024] / 255.0).mean(axis=0)
    assert trained.test.mse < 0.75 * np.mean((clean - mean_image) ** 2)
    # The code carries information: the KL term is well away from 0.
    assert trained.test.kl > 0.5


def test_best_epoch(trained: VaeResult) -> None:
    val = [r.val_loss for r in trained.history]
    assert trained.best_epoch == int(np.argmin(val)) + 1
    assert trained.best_val_loss == min(val)


def test_test_loss_matches_the_model(trained: VaeResult, test_images: np.ndarray) -> None:
    test = trained.test
    assert isinstance(test, VaeLoss)
    clean = test_images / 255.0
    reconstruction = trained.model.reconstruct(test_images)
    assert test.mse == pytest.approx(np.mean((reconstruction - clean) ** 2), rel=1e-4)
    assert test.reconstruction == pytest.approx(PIXELS * test.mse, rel=1e-5)
    mean, log_variance = trained.model.encode_distribution(test_images)
    assert test.kl == pytest.approx(kl_to_standard_normal(mean, log_variance).mean(), rel=1e-4)
    assert test.total == pytest.approx(test.reconstruction + 0.8 * test.kl, rel=1e-6)


def test_no_test_set(small_train: np.ndarray) -> None:
    assert train_vae(small_train[:128], **TINY).test is None


def test_beta_zero_still_trains(small_train: np.ndarray) -> None:
    result = train_vae(small_train[:256], beta=0, **TINY)
    record = result.history[0]
    assert math.isfinite(record.val_loss)
    assert record.val_loss == pytest.approx(record.val_reconstruction, rel=1e-9)
    assert record.train_loss == pytest.approx(record.train_reconstruction, rel=1e-9)
    assert math.isfinite(record.val_kl) and record.val_kl >= 0


def test_beta_weights_the_kl_term(small_train: np.ndarray) -> None:
    record = train_vae(small_train[:256], beta=3.0, **TINY).history[0]
    assert record.val_loss == pytest.approx(
        record.val_reconstruction + 3.0 * record.val_kl, rel=1e-6
    )


@pytest.mark.parametrize("beta", [-0.1, -1.0])
def test_negative_beta(beta: float, small_train: np.ndarray) -> None:
    with pytest.raises(ValueError, match="beta"):
        train_vae(small_train[:64], beta=beta, **TINY)


def test_bce_reconstruction(small_train: np.ndarray, test_images: np.ndarray) -> None:
    result = train_vae(small_train[:256], test=test_images[:64], loss="bce", **TINY)
    record = result.history[0]
    assert math.isfinite(record.val_loss) and record.val_reconstruction > 0
    # Binary cross-entropy summed over pixels is not the squared error: it is far larger.
    assert record.val_reconstruction > 2 * PIXELS * record.val_mse
    assert result.test is not None and math.isfinite(result.test.mse)


def test_the_old_name_reconstruction_warns_and_still_works(small_train: np.ndarray) -> None:
    with pytest.warns(DeprecationWarning, match="now loss"):
        old = train_vae(small_train[:128], reconstruction="bce", **TINY)  # type: ignore[call-arg]
    new = train_vae(small_train[:128], loss="bce", **TINY)
    assert [r.train_loss for r in old.history] == [r.train_loss for r in new.history]


def test_unknown_reconstruction(small_train: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        train_vae(small_train[:64], loss="l1", **TINY)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"beta": "0.8"}, TypeError),
        ({"epochs": 0}, ValueError),
        ({"lr": -1.0}, ValueError),
        ({"seed": -1}, ValueError),
        ({"latent_dim": 0}, ValueError),
    ],
)
def test_bad_parameters(kwargs: dict, error: type[Exception], small_train: np.ndarray) -> None:
    with pytest.raises(error):
        train_vae(small_train[:64], **{**TINY, **kwargs})


def test_same_seed_same_history(small_train: np.ndarray) -> None:
    a = train_vae(small_train[:256], seed=5, **TINY)
    b = train_vae(small_train[:256], seed=5, **TINY)
    c = train_vae(small_train[:256], seed=6, **TINY)
    assert a.history[0].train_loss == b.history[0].train_loss
    assert a.history[0].val_loss == b.history[0].val_loss
    assert a.history[0].train_loss != c.history[0].train_loss


def test_callback_gets_each_epoch(small_train: np.ndarray) -> None:
    records: list[VaeEpochRecord] = []
    result = train_vae(small_train[:256], callback=records.append, **{**TINY, "epochs": 2})
    assert [r.epoch for r in records] == [1, 2]
    assert records == result.history


def test_train_vae_accepts_a_dataset(fashion: udl.datasets.Dataset) -> None:
    data = udl.datasets.Dataset(
        "f",
        fashion.train.subset(slice(0, 128)),
        fashion.test.subset(slice(0, 64)),
        fashion.class_names,
    )
    result = train_vae(data, **TINY)
    assert result.test is not None  # the Dataset's test set


def test_train_vae_with_a_spec(small_train: np.ndarray) -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 3, (1, 28, 28))
    model = train_vae(small_train[:128], spec=spec, **TINY).model
    assert model.spec == spec and model.latent_dim == 3


# --- encode, decode, sample -------------------------------------------------------------


def test_encode_returns_the_means(trained: VaeResult, test_images: np.ndarray) -> None:
    model = trained.model
    codes = model.encode(test_images[:50])
    mean, log_variance = model.encode_distribution(test_images[:50])
    assert codes.shape == (50, 2) and codes.dtype == np.float32
    assert log_variance.shape == (50, 2)
    np.testing.assert_array_equal(codes, mean)
    assert np.isfinite(log_variance).all()
    # Different images, different codes.
    assert np.unique(codes.round(4), axis=0).shape[0] > 40


def test_encode_takes_tensors_and_n_by_h_by_w(trained: VaeResult, test_images: np.ndarray) -> None:
    model = trained.model
    expected = model.encode(test_images[:8])
    as_tensor = model.encode(torch.from_numpy(test_images[:8]))
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_array_equal(as_tensor.numpy(), expected)
    np.testing.assert_array_equal(model.encode(test_images[:8, 0]), expected)
    mean, log_variance = model.encode_distribution(torch.from_numpy(test_images[:8]))
    assert isinstance(mean, torch.Tensor) and isinstance(log_variance, torch.Tensor)


def test_decode_and_reconstruct(trained: VaeResult, test_images: np.ndarray) -> None:
    model = trained.model
    codes = model.encode(test_images[:20])
    decoded = model.decode(codes)
    assert decoded.shape == (20, 1, 28, 28) and decoded.dtype == np.float32
    assert 0.0 <= decoded.min() and decoded.max() <= 1.0
    np.testing.assert_array_equal(model.reconstruct(test_images[:20]), decoded)
    as_tensor = model.decode(torch.from_numpy(codes))
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_array_equal(as_tensor.numpy(), decoded)


def test_decode_checks_codes(trained: VaeResult) -> None:
    with pytest.raises(ValueError, match="N x 2"):
        trained.model.decode(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        trained.model.decode(np.full((3, 2), np.nan, np.float32))
    with pytest.raises(TypeError, match="floating point"):
        trained.model.decode(np.zeros((3, 2), np.int64))


def test_sample(trained: VaeResult) -> None:
    samples = trained.model.sample(12, seed=3)
    assert isinstance(samples, np.ndarray)
    assert samples.shape == (12, 1, 28, 28) and samples.dtype == np.float32
    assert 0.0 <= samples.min() and samples.max() <= 1.0
    # The trained decoder makes different images of different draws.
    assert np.abs(samples[0] - samples[1]).max() > 0.05


def test_sample_is_seed_deterministic(trained: VaeResult) -> None:
    model = trained.model
    np.testing.assert_array_equal(model.sample(6, seed=1), model.sample(6, seed=1))
    np.testing.assert_array_equal(model.sample(6), model.sample(6, seed=0))
    assert not np.array_equal(model.sample(6, seed=1), model.sample(6, seed=2))


@pytest.mark.parametrize("count", [0, -1])
def test_sample_count_must_be_positive(count: int, trained: VaeResult) -> None:
    with pytest.raises(ValueError, match="sample count must be > 0"):
        trained.model.sample(count)


def test_sample_argument_types(trained: VaeResult) -> None:
    with pytest.raises(TypeError, match="count must be an integer"):
        trained.model.sample(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="seed must be >= 0"):
        trained.model.sample(2, seed=-1)


# --- batch norm -------------------------------------------------------------------------


def test_batch_norm_trains(batch_norm_vae: Vae, small_test: np.ndarray) -> None:
    assert batch_norm_vae.batch_norm is True
    assert "batch norm" in repr(batch_norm_vae)
    plain = Vae(batch_norm_vae.spec)
    assert batch_norm_vae.parameter_count > plain.parameter_count
    codes = batch_norm_vae.encode(small_test[:16])
    assert np.isfinite(codes).all()


def test_batch_norm_evaluates_in_eval_mode(batch_norm_vae: Vae, small_test: np.ndarray) -> None:
    # Running statistics, not the batch's: an image's code does not depend on its batch.
    one = batch_norm_vae.encode(small_test[:1])
    many = batch_norm_vae.encode(small_test[:64])
    np.testing.assert_allclose(one, many[:1], atol=1e-5)


def test_batch_norm_round_trips_through_a_file(
    batch_norm_vae: Vae, small_test: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "vae.udl"
    batch_norm_vae.save(path)
    loaded = Vae.load(path)
    assert loaded.batch_norm is True
    assert loaded.spec == batch_norm_vae.spec
    codes = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    np.testing.assert_array_equal(loaded.decode(codes), batch_norm_vae.decode(codes))
    np.testing.assert_array_equal(
        loaded.encode(small_test[:10]), batch_norm_vae.encode(small_test[:10])
    )
    np.testing.assert_array_equal(loaded.sample(4, seed=2), batch_norm_vae.sample(4, seed=2))


def test_plain_round_trip(trained: VaeResult, test_images: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "vae.udl"
    trained.model.save(path)
    loaded = Vae.load(str(path))
    assert loaded.batch_norm is False and loaded.parameter_count == trained.model.parameter_count
    np.testing.assert_array_equal(
        loaded.reconstruct(test_images[:10]), trained.model.reconstruct(test_images[:10])
    )


def test_files_of_other_models(trained: VaeResult, tmp_path: Path) -> None:
    autoencoder = tmp_path / "ae.udl"
    udl.Autoencoder(udl.AutoencoderSpec.conv_autoencoder(4, 2, (1, 28, 28))).save(autoencoder)
    with pytest.raises(udl.DataFormatError, match="vae"):
        Vae.load(autoencoder)
    vae = tmp_path / "vae.udl"
    trained.model.save(vae)
    with pytest.raises(udl.DataFormatError):
        udl.Autoencoder.load(vae)
    with pytest.raises(FileNotFoundError):
        Vae.load(tmp_path / "missing.udl")


# --- latent tools -----------------------------------------------------------------------


def test_decode_latent_grid_with_a_vae(trained: VaeResult, test_images: np.ndarray) -> None:
    model = trained.model
    codes = model.encode(test_images)
    grid = udl.latent.decode_latent_grid(model, codes, 5)
    assert grid.shape == (25, 1, 28, 28)
    assert 0.0 <= grid.min() and grid.max() <= 1.0
    points = udl.latent.latent_grid(codes, 5)
    np.testing.assert_array_equal(grid, model.decode(points))
    # Opposite corners of the occupied plane decode to different images.
    assert np.abs(grid[0] - grid[-1]).mean() > 0.01


def test_latent_grid_needs_a_2d_latent(small_train: np.ndarray) -> None:
    model = train_vae(small_train[:128], latent_dim=3, **TINY).model
    codes = model.encode(small_train[:32])
    assert codes.shape == (32, 3)
    with pytest.raises(udl.InvalidArgument, match="needs a 2-D latent"):
        udl.latent.decode_latent_grid(model, codes, 4)


def test_prior_latent_grid_spans_the_extent(trained: VaeResult) -> None:
    model = trained.model
    grid = model.latent_grid(4, extent=2.0)
    assert grid.shape == (16, 1, 28, 28)
    corners = np.array([[-2.0, 2.0], [2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]], dtype=np.float32)
    expected = model.decode(corners)
    # Top-left, top-right, bottom-left, bottom-right of the mosaic.
    np.testing.assert_allclose(grid[[0, 3, 12, 15]], expected, atol=1e-6)


def test_prior_latent_grid_needs_a_2d_latent(small_train: np.ndarray) -> None:
    model = train_vae(small_train[:128], latent_dim=3, **TINY).model
    with pytest.raises(udl.InvalidArgument, match="2-D latent"):
        model.latent_grid(4)


@pytest.mark.parametrize("extent", [0.0, -1.0])
def test_prior_latent_grid_needs_a_positive_extent(trained: VaeResult, extent: float) -> None:
    with pytest.raises(ValueError, match="extent must be > 0"):
        trained.model.latent_grid(4, extent=extent)
