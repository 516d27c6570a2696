"""Generation quality: a Fréchet distance and an Inception Score computed in the feature
space of a classifier that udl trains on the same dataset (the role the Inception network
plays in FID and IS for natural images).

The feature network: the CAE encoder with nf = 32 (convolutions of 32, 64 and 128
channels, kernel 3, strides 2, paddings 1, 1, 0; a 64-wide hidden layer; a 64-wide latent
layer), then a two-layer head (64 → 128, ReLU → classes), trained from scratch on the
dataset's training set (Adam, one-cycle up to 3e-3, batch 64, 10 epochs, seed 0). The
schedule matters: a weak labeller blurs the class shares of generated images, and on
Fashion-MNIST 5 such epochs reach 90.7% test accuracy where 5 at a constant 1e-3 and
batch 256 reach 87.1%. The Fréchet distance compares the 128 ReLU activations of the
head's hidden layer (the input of the last linear layer); the Inception Score uses the
class probabilities.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from udl import _native, datasets
from udl._arrays import ArrayLike, as_numpy
from udl._checks import integer
from udl._checks import seed as check_seed
from udl.classifiers import Classifier, train_classifier

__all__ = [
    "FeatureNetwork",
    "GenerationQuality",
    "class_shares",
    "evaluate_generation",
    "frechet_distance",
    "frechet_distance_of_features",
    "inception_score",
    "real_data_floor",
]


@dataclass(frozen=True, eq=False)
class FeatureNetwork:
    """The classifier whose features and class probabilities the metrics use."""

    classifier: Classifier
    test_accuracy: float | None = None

    @classmethod
    def train(
        cls,
        dataset: datasets.Dataset,
        *,
        epochs: int = 10,
        seed: int = 0,
        threads: int | None = None,
        device: str = "cpu",
    ) -> FeatureNetwork:
        """Trains the feature network described in this module's docstring on `dataset`, on
        `device` (where it then computes features)."""
        result = train_classifier(
            dataset,
            nf=32,
            latent_dim=64,
            head="two_layer",
            head_hidden=128,
            epochs=epochs,
            lr=3e-3,
            lr_schedule="onecycle",
            early_stopping=False,
            batch_size=64,
            seed=seed,
            threads=threads,
            device=device,
        )
        accuracy = None if result.test is None else result.test.accuracy
        return cls(result.model, accuracy)

    @classmethod
    def cached(
        cls, dataset: datasets.Dataset, path: str | os.PathLike[str], **training: Any
    ) -> FeatureNetwork:
        """Loads the network from `path` if it is there, else trains and saves it there."""
        path = Path(path)
        if path.is_file():
            return cls(Classifier.load(path))
        network = cls.train(dataset, **training)
        path.parent.mkdir(parents=True, exist_ok=True)
        network.classifier.save(path)
        return network

    def features(self, images: ArrayLike, *, device: str | None = None) -> np.ndarray:
        """The features of `images`, computed on `device` (default: where the network is)."""
        features = self.classifier.features(images, device=device)
        return np.asarray(as_numpy(features, "features"))

    def log_probabilities(self, images: ArrayLike, *, device: str | None = None) -> np.ndarray:
        """The class log-probabilities of `images`, computed on `device`."""
        log_p = self.classifier.log_probabilities(images, device=device)
        return np.asarray(as_numpy(log_p, "log-probabilities"))


def frechet_distance_of_features(features_a: ArrayLike, features_b: ArrayLike) -> float:
    """The Fréchet distance between Gaussians fitted to two feature sets (N x F, M x F):
    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2). The features are
    taken as float32; means, covariances and roots are computed in float64."""
    a = np.ascontiguousarray(as_numpy(features_a, "features_a"), dtype=np.float32)
    b = np.ascontiguousarray(as_numpy(features_b, "features_b"), dtype=np.float32)
    return float(_native._C.frechet_distance(a, b))


def frechet_distance(
    images_a: ArrayLike, images_b: ArrayLike, network: FeatureNetwork, *, device: str | None = None
) -> float:
    """The Fréchet distance between two image sets (in [0, 1]) in `network`'s features,
    computed on `device` (default: where the network is). Lower is closer; two halves of one
    real dataset give the floor."""
    return frechet_distance_of_features(
        network.features(images_a, device=device), network.features(images_b, device=device)
    )


def inception_score(
    images: ArrayLike, network: FeatureNetwork, *, splits: int = 10, device: str | None = None
) -> tuple[float, float]:
    """exp(E KL(p(y|x) || p(y))) under `network`'s class probabilities: high when each image
    is confidently one class and the classes are balanced (at most the class count).

    Returns:
        (mean, standard deviation) over `splits` equal parts of the images.
    """
    log_p = np.ascontiguousarray(network.log_probabilities(images, device=device), np.float32)
    mean, std = _native._C.inception_score(log_p, integer(splits, "splits"))
    return float(mean), float(std)


def class_shares(
    images: ArrayLike, network: FeatureNetwork, *, device: str | None = None
) -> np.ndarray:
    """The share of `images` that `network` labels as each class (sums to 1): a generator
    that collapsed onto a few modes leaves the other classes (nearly) empty."""
    log_p = network.log_probabilities(images, device=device)
    if len(log_p) == 0:
        raise ValueError("class_shares needs at least one image")
    return np.bincount(log_p.argmax(axis=1), minlength=log_p.shape[1]) / len(log_p)


@dataclass(frozen=True)
class GenerationQuality:
    """The metrics of one image set against real reference images."""

    frechet_distance: float
    inception_score: float
    inception_score_std: float
    count: int


def evaluate_generation(
    images: ArrayLike,
    reference: ArrayLike,
    network: FeatureNetwork,
    *,
    splits: int = 10,
    device: str | None = None,
) -> GenerationQuality:
    """Fréchet distance of `images` to `reference` (real images) and their Inception Score,
    computed on `device` (default: where the network is)."""
    score, std = inception_score(images, network, splits=splits, device=device)
    return GenerationQuality(
        frechet_distance=frechet_distance(images, reference, network, device=device),
        inception_score=score,
        inception_score_std=std,
        count=len(images),
    )


def real_data_floor(
    dataset: datasets.Dataset, network: FeatureNetwork, *, count: int = 10000, seed: int = 0
) -> GenerationQuality:
    """The best a generator can hope for: `count` real test images scored against `count`
    real training images, the same way generated images are."""
    rng = np.random.default_rng(check_seed(seed))
    count = min(integer(count, "count"), len(dataset.test), len(dataset.train))
    test = dataset.test.images[rng.choice(len(dataset.test), count, replace=False)]
    train = dataset.train.images[rng.choice(len(dataset.train), count, replace=False)]
    return evaluate_generation(test, train, network)
