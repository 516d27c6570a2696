"""udl.metrics: the Fréchet distance against a SciPy reference, the Inception Score, the
feature network (trained, cached), and generation quality against the real-data floor."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import torch

import udl
from udl.metrics import (
    FeatureNetwork,
    GenerationQuality,
    class_shares,
    evaluate_generation,
    frechet_distance,
    frechet_distance_of_features,
    inception_score,
    real_data_floor,
)

# Inference outside the training loop runs on one thread (the machine is shared).
pytestmark = pytest.mark.usefixtures("one_thread_per_module")


def reference_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + tr(S_a + S_b - 2 sqrtm(S_a S_b)) with SciPy, in float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s_a @ s_b)
    root = np.real(root)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * root))


def reference_inception_score(log_p: np.ndarray, splits: int) -> tuple[float, float]:
    scores = []
    for part in np.array_split(log_p.astype(np.float64), splits):
        p = np.exp(part)
        log_marginal = np.log(p.mean(axis=0))
        kl = np.sum(p * (part - log_marginal), axis=1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def correlated(rng: np.random.Generator, n: int, f: int, shift: float = 0.0) -> np.ndarray:
    """Gaussian features with a random full covariance, as float32."""
    mixing = rng.normal(size=(f, f)) / math.sqrt(f)
    return (rng.normal(size=(n, f)) @ mixing + shift + rng.normal(size=f)).astype(np.float32)


class FixedNetwork:
    """Stands in for a FeatureNetwork whose class probabilities are given."""

    def __init__(self, log_p: np.ndarray) -> None:
        self._log_p = log_p.astype(np.float32)

    def log_probabilities(self, images: np.ndarray, *, device: str | None = None) -> np.ndarray:
        assert len(images) == len(self._log_p)
        return self._log_p


# --- class shares -------------------------------------------------------------------------


def test_class_shares_count_each_images_most_probable_class() -> None:
    log_p = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.5, 0.4, 0.1]]))
    shares = class_shares(np.zeros((4, 1, 2, 2), np.float32), FixedNetwork(log_p))
    np.testing.assert_allclose(shares, [0.75, 0.25, 0.0])  # a class never chosen stays 0


def test_class_shares_of_no_images() -> None:
    with pytest.raises(ValueError, match="at least one image"):
        class_shares(np.zeros((0, 1, 2, 2), np.float32), FixedNetwork(np.zeros((0, 3))))


# --- the Fréchet distance of features ---------------------------------------------------


def test_frechet_distance_of_a_set_with_itself() -> None:
    a = correlated(np.random.default_rng(0), 400, 16)
    trace = np.trace(np.cov(a.astype(np.float64), rowvar=False))
    assert 0.0 <= frechet_distance_of_features(a, a) < 1e-8 * trace
    # Order does not matter.
    assert frechet_distance_of_features(a, a[::-1].copy()) < 1e-8 * trace


@pytest.mark.parametrize(
    ("n_a", "n_b", "f", "shift", "seed"),
    [(500, 500, 16, 0.0, 1), (300, 700, 8, 0.5, 2), (1000, 200, 32, 2.0, 3), (50, 60, 4, 0.1, 4)],
)
def test_frechet_distance_matches_scipy(
    n_a: int, n_b: int, f: int, shift: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = correlated(rng, n_a, f)
    b = correlated(rng, n_b, f, shift=shift)
    expected = reference_frechet(a, b)
    assert expected > 0.01
    assert frechet_distance_of_features(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_of_close_sets_matches_scipy() -> None:
    # Two samples of one distribution: a small distance left by sampling alone.
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(8, 8)) / math.sqrt(8)
    a = (rng.normal(size=(2000, 8)) @ mixing).astype(np.float32)
    b = (rng.normal(size=(2000, 8)) @ mixing).astype(np.float32)
    expected = reference_frechet(a, b)
    assert 0 < expected < 0.05
    assert frechet_distance_of_features(a, b) == pytest.approx(expected, rel=1e-5)


def test_frechet_distance_is_symmetric() -> None:
    rng = np.random.default_rng(6)
    a, b = correlated(rng, 300, 12), correlated(rng, 400, 12, shift=1.0)
    assert frechet_distance_of_features(a, b) == pytest.approx(
        frechet_distance_of_features(b, a), rel=1e-9
    )


def test_frechet_distance_of_a_shift_is_its_squared_length() -> None:
    a = correlated(np.random.default_rng(7), 300, 6)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 0.0, 3.0], dtype=np.float32)
    assert frechet_distance_of_features(a, a + shift) == pytest.approx(
        float(np.sum(shift.astype(np.float64) ** 2)), rel=1e-5
    )


def test_frechet_distance_of_a_scaled_set() -> None:
    # Covariance s^2 S and mean s mu: (1 - s)^2 (|mu|^2 + tr S).
    a = correlated(np.random.default_rng(8), 500, 10).astype(np.float64)
    s = 3.0
    mu, cov = a.mean(axis=0), np.cov(a, rowvar=False)
    expected = (1 - s) ** 2 * (np.sum(mu**2) + np.trace(cov))
    got = frechet_distance_of_features(a.astype(np.float32), (s * a).astype(np.float32))
    assert got == pytest.approx(expected, rel=1e-5)


def test_frechet_distance_accepts_tensors_and_float64() -> None:
    rng = np.random.default_rng(9)
    a, b = correlated(rng, 100, 5), correlated(rng, 100, 5, shift=1.0)
    expected = frechet_distance_of_features(a, b)
    assert frechet_distance_of_features(torch.from_numpy(a), torch.from_numpy(b)) == expected
    assert frechet_distance_of_features(a.astype(np.float64), b) == expected


def test_frechet_distance_of_different_widths() -> None:
    rng = np.random.default_rng(10)
    with pytest.raises(ValueError, match="3 and 4 features"):
        frechet_distance_of_features(rng.normal(size=(10, 3)), rng.normal(size=(10, 4)))


@pytest.mark.parametrize(
    ("a", "message"),
    [
        (np.zeros((1, 3)), "N x F with N >= 2"),
        (np.zeros(10), "N x F with N >= 2"),
        (np.zeros((4, 3, 2)), "N x F with N >= 2"),
        (np.full((5, 3), np.nan), "NaN or infinite"),
    ],
    ids=["one_row", "1d", "3d", "nan"],
)
def test_frechet_distance_of_bad_features(a: np.ndarray, message: str) -> None:
    b = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(ValueError, match=message):
        frechet_distance_of_features(a, b)
    with pytest.raises(ValueError, match=message):
        frechet_distance_of_features(b, a)


def test_frechet_distance_of_non_arrays() -> None:
    with pytest.raises(TypeError, match="NumPy array or torch tensor"):
        frechet_distance_of_features([[0.0, 1.0], [1.0, 0.0]], np.eye(2))


# --- the Inception Score ----------------------------------------------------------------


def test_inception_score_of_uniform_predictions_is_one() -> None:
    log_p = np.log(np.full((40, 10), 0.1))
    images = np.zeros((40, 1, 28, 28), np.uint8)
    mean, std = inception_score(images, FixedNetwork(log_p), splits=4)
    assert mean == pytest.approx(1.0, abs=1e-6)
    assert std == pytest.approx(0.0, abs=1e-6)


def test_inception_score_of_confident_balanced_predictions_is_the_class_count() -> None:
    # Each image surely one class, every class equally often: exp(log K) = K.
    k = 5
    p = np.full((50, k), 1e-7)
    p[np.arange(50), np.arange(50) % k] = 1.0
    log_p = np.log(p / p.sum(axis=1, keepdims=True))
    mean, std = inception_score(np.zeros((50, 1, 4, 4)), FixedNetwork(log_p), splits=5)
    assert mean == pytest.approx(k, rel=1e-4)
    assert std == pytest.approx(0.0, abs=1e-4)


def test_inception_score_of_one_confident_class_is_one() -> None:
    p = np.full((30, 4), 1e-7)
    p[:, 2] = 1.0
    log_p = np.log(p / p.sum(axis=1, keepdims=True))
    mean, _ = inception_score(np.zeros((30, 1, 4, 4)), FixedNetwork(log_p), splits=3)
    assert mean == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(("n", "splits"), [(100, 10), (103, 10), (37, 1), (12, 12)])
def test_inception_score_matches_a_reference(n: int, splits: int) -> None:
    rng = np.random.default_rng(n)
    logits = rng.normal(scale=3.0, size=(n, 10))
    log_p = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    expected_mean, expected_std = reference_inception_score(log_p.astype(np.float32), splits)
    mean, std = inception_score(np.zeros((n, 1, 4, 4)), FixedNetwork(log_p), splits=splits)
    assert 1.0 <= mean < 10.0
    assert mean == pytest.approx(expected_mean, rel=1e-6)
    assert std == pytest.approx(expected_std, rel=1e-5, abs=1e-9)
    if splits == 1:
        assert std == 0.0
    if splits == n:
        # One image per part: its own marginal, no divergence.
        assert mean == pytest.approx(1.0, abs=1e-9)
    else:
        assert mean > 1.5


@pytest.mark.parametrize("splits", [0, 11])
def test_inception_score_splits_in_range(splits: int) -> None:
    log_p = np.log(np.full((10, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"splits must be in 1..N \(10\)"):
        inception_score(np.zeros((10, 1, 4, 4)), FixedNetwork(log_p), splits=splits)


def test_inception_score_splits_type() -> None:
    log_p = np.log(np.full((10, 3), 1 / 3))
    with pytest.raises(TypeError, match="splits must be an integer"):
        inception_score(np.zeros((10, 1, 4, 4)), FixedNetwork(log_p), splits=2.0)


# --- the feature network ----------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled(fashion: udl.datasets.Dataset) -> udl.datasets.Dataset:
    return udl.datasets.Dataset(
        "fashion-mnist",
        fashion.train.subset(slice(0, 2048)),
        fashion.test.subset(slice(0, 500)),
        fashion.class_names,
    )


@pytest.fixture(scope="module")
def network(labelled: udl.datasets.Dataset) -> FeatureNetwork:
    """The feature network trained for 2 epochs on 2048 images (weak, but a real one)."""
    return FeatureNetwork.train(labelled, epochs=2, threads=1)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).random((400, 1, 28, 28), dtype=np.float32)


def test_feature_network_architecture(network: FeatureNetwork) -> None:
    classifier = network.classifier
    spec = classifier.spec
    assert spec.encoder == udl.AutoencoderSpec.conv_autoencoder(32, 64, (1, 28, 28))
    assert spec.head == "two_layer" and spec.head_hidden == 128 and spec.classes == 10
    assert classifier.feature_dim == 128


def test_feature_network_test_accuracy(
    network: FeatureNetwork, labelled: udl.datasets.Dataset
) -> None:
    assert network.test_accuracy is not None
    assert network.test_accuracy == network.classifier.evaluate(labelled).accuracy
    assert network.test_accuracy > 0.2  # chance: 0.1


def test_feature_network_outputs(network: FeatureNetwork, labelled: udl.datasets.Dataset) -> None:
    images = labelled.test.images[:30]
    features = network.features(images)
    assert isinstance(features, np.ndarray)
    assert features.shape == (30, 128)
    assert features.min() >= 0  # ReLU activations
    log_p = network.log_probabilities(images)
    assert log_p.shape == (30, 10)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0, rtol=1e-5)
    # Tensors in, NumPy out.
    np.testing.assert_array_equal(network.features(torch.from_numpy(images)), features)


def test_frechet_distance_of_images(
    network: FeatureNetwork, labelled: udl.datasets.Dataset
) -> None:
    a, b = labelled.test.images[:200], labelled.train.images[:300]
    expected = frechet_distance_of_features(network.features(a), network.features(b))
    assert frechet_distance(a, b, network) == expected
    assert frechet_distance(a, a, network) < 1e-6


def test_evaluate_generation(
    network: FeatureNetwork, labelled: udl.datasets.Dataset, noise: np.ndarray
) -> None:
    reference = labelled.train.images[:400]
    quality = evaluate_generation(noise[:300], reference, network, splits=5)
    assert isinstance(quality, GenerationQuality)
    assert quality.count == 300
    for value in (quality.frechet_distance, quality.inception_score, quality.inception_score_std):
        assert math.isfinite(value)
    assert quality.frechet_distance == frechet_distance(noise[:300], reference, network)
    assert (quality.inception_score, quality.inception_score_std) == inception_score(
        noise[:300], network, splits=5
    )
    assert 1.0 <= quality.inception_score <= 10.0


def test_real_data_floor_is_far_below_noise(
    network: FeatureNetwork, labelled: udl.datasets.Dataset, noise: np.ndarray
) -> None:
    floor = real_data_floor(labelled, network, count=400)
    assert floor.count == 400
    assert math.isfinite(floor.frechet_distance) and floor.frechet_distance >= 0
    of_noise = evaluate_generation(noise, labelled.train.images[:400], network)
    assert floor.frechet_distance * 10 < of_noise.frechet_distance
    # Real images are recognised as something, uniform noise hardly.
    assert floor.inception_score > of_noise.inception_score


def test_real_data_floor_count_and_seed(
    network: FeatureNetwork, labelled: udl.datasets.Dataset
) -> None:
    small = udl.datasets.Dataset(
        "f",
        labelled.train.subset(slice(0, 300)),
        labelled.test.subset(slice(0, 120)),
        labelled.class_names,
    )
    assert real_data_floor(small, network).count == 120  # at most the smaller set
    a = real_data_floor(small, network, count=100, seed=1)
    b = real_data_floor(small, network, count=100, seed=1)
    c = real_data_floor(small, network, count=100, seed=2)
    assert a == b
    assert a.frechet_distance != c.frechet_distance
    with pytest.raises(ValueError, match="seed must be >= 0"):
        real_data_floor(small, network, seed=-1)


def test_feature_network_cached_trains_once(
    labelled: udl.datasets.Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = udl.datasets.Dataset(
        "f",
        labelled.train.subset(slice(0, 256)),
        labelled.test.subset(slice(0, 64)),
        labelled.class_names,
    )
    path = tmp_path / "nested" / "features.udl"
    calls: list[int] = []
    train = FeatureNetwork.train.__func__  # type: ignore[attr-defined]

    def counting(cls: type[FeatureNetwork], *args: object, **kwargs: object) -> FeatureNetwork:
        calls.append(1)
        return train(cls, *args, **kwargs)

    monkeypatch.setattr(FeatureNetwork, "train", classmethod(counting))
    first = FeatureNetwork.cached(data, path, epochs=1, threads=1)
    assert calls == [1]
    assert path.is_file()
    assert first.test_accuracy is not None
    second = FeatureNetwork.cached(data, path, epochs=1, threads=1)
    assert calls == [1]  # loaded, not trained again
    images = data.test.images[:20]
    np.testing.assert_array_equal(second.features(images), first.features(images))
    np.testing.assert_array_equal(second.log_probabilities(images), first.log_probabilities(images))
    assert second.classifier.spec == first.classifier.spec


def test_feature_network_cached_of_another_file(
    labelled: udl.datasets.Dataset, tmp_path: Path
) -> None:
    path = tmp_path / "ae.udl"
    udl.Autoencoder(udl.AutoencoderSpec.conv_autoencoder(4, 2, (1, 28, 28))).save(path)
    with pytest.raises(udl.DataFormatError):
        FeatureNetwork.cached(labelled, path)
