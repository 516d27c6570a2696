"""udl.classifiers: fine-tuning with frozen parts, training from scratch, the encoder as the
classifier, predictions, features, reports, files and argument checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

import udl
from udl import (
    ClassificationReport,
    Classifier,
    ClassifierResult,
    ClassifierSpec,
    finetune_classifier,
    train_classifier,
)
from udl.classifiers import HEADS, ClassifierEpochRecord

QUICK = dict(epochs=2, batch_size=64, threads=1, seed=0)


# Inference outside the training loop runs on one thread (the machine is shared).
pytestmark = pytest.mark.usefixtures("one_thread_per_module")


def subset(fashion: udl.datasets.Dataset, train: int, test: int) -> udl.datasets.Dataset:
    return udl.datasets.Dataset(
        "fashion-mnist",
        fashion.train.subset(slice(0, train)),
        fashion.test.subset(slice(0, test)),
        fashion.class_names,
    )


@pytest.fixture(scope="module")
def small(fashion: udl.datasets.Dataset) -> udl.datasets.Dataset:
    """512 labelled training images, 256 test images."""
    return subset(fashion, 512, 256)


@pytest.fixture(scope="module")
def labelled(fashion: udl.datasets.Dataset) -> udl.datasets.Dataset:
    """2000 labelled training images, 500 test images."""
    return subset(fashion, 2000, 500)


@pytest.fixture(scope="module")
def autoencoder(labelled: udl.datasets.Dataset) -> udl.Autoencoder:
    """A small CAE trained for 3 epochs: its frozen encoder is good for about 45% accuracy."""
    return udl.train_cae(
        labelled.train.images, nf=4, latent_dim=10, epochs=3, batch_size=32, lr=3e-3, threads=1
    ).model


FINETUNE = dict(epochs=2, batch_size=32, threads=1, seed=0)


@pytest.fixture(scope="module")
def frozen_conv(autoencoder: udl.Autoencoder, labelled: udl.datasets.Dataset) -> ClassifierResult:
    return finetune_classifier(autoencoder, labelled, freeze_conv=True, **FINETUNE)


@pytest.fixture(scope="module")
def frozen_encoder(
    autoencoder: udl.Autoencoder, labelled: udl.datasets.Dataset
) -> ClassifierResult:
    return finetune_classifier(
        autoencoder, labelled, freeze_conv=True, freeze_linear=True, head="two_layer", **FINETUNE
    )


@pytest.fixture(scope="module")
def scratch(labelled: udl.datasets.Dataset) -> ClassifierResult:
    """A classifier trained from scratch on 2000 images for 2 epochs (seeds 0..2 reach
    about 68% test accuracy with these settings; chance is 10%)."""
    return train_classifier(labelled, nf=8, epochs=2, batch_size=32, threads=1, seed=0)


def conv_parameters(state: dict[str, np.ndarray]) -> set[str]:
    """Names of the encoder's convolution parameters: those of 4-D weights and their biases."""
    layers = {
        name.rsplit(".", 1)[0]
        for name, value in state.items()
        if name.startswith("encoder.") and value.ndim == 4
    }
    return {name for name in state if name.rsplit(".", 1)[0] in layers}


def encoder_linear_parameters(state: dict[str, np.ndarray]) -> set[str]:
    return {n for n in state if n.startswith("encoder.")} - conv_parameters(state)


def head_parameters(state: dict[str, np.ndarray]) -> set[str]:
    return {n for n in state if n.startswith("head.")}


# --- fine-tuning: what is frozen ----------------------------------------------------------


def test_parameter_groups_of_the_cae_classifier(frozen_conv: ClassifierResult) -> None:
    state = frozen_conv.model.state_dict()
    assert len(conv_parameters(state)) == 6  # three convolutions, weight and bias each
    assert len(encoder_linear_parameters(state)) == 4  # hidden and latent layers
    assert head_parameters(state) == {"head.0.weight", "head.0.bias"}
    assert set(frozen_conv.model.requires_grad()) == set(state)


def test_freeze_conv_freezes_exactly_the_convolutions(frozen_conv: ClassifierResult) -> None:
    model = frozen_conv.model
    state = model.state_dict()
    frozen = {name for name, trains in model.requires_grad().items() if not trains}
    assert frozen == conv_parameters(state)


def test_frozen_convolutions_keep_the_autoencoders_weights(
    frozen_conv: ClassifierResult, autoencoder: udl.Autoencoder
) -> None:
    trained = frozen_conv.model.state_dict()
    source = autoencoder.state_dict()
    for name in conv_parameters(trained):
        np.testing.assert_array_equal(trained[name], source[name], err_msg=name)


def test_unfrozen_linear_layers_and_head_train(
    frozen_conv: ClassifierResult, autoencoder: udl.Autoencoder
) -> None:
    trained = frozen_conv.model.state_dict()
    source = autoencoder.state_dict()
    for name in encoder_linear_parameters(trained):
        # Copied from the autoencoder, then trained.
        assert trained[name].shape == source[name].shape
        assert not np.array_equal(trained[name], source[name]), name
    initial = Classifier(frozen_conv.model.spec, seed=0).state_dict()
    for name in head_parameters(trained):
        assert not np.array_equal(trained[name], initial[name]), name


def test_freeze_linear_too_leaves_only_the_head(
    frozen_encoder: ClassifierResult, autoencoder: udl.Autoencoder
) -> None:
    model = frozen_encoder.model
    trained = model.state_dict()
    assert head_parameters(trained) == {
        "head.0.weight",
        "head.0.bias",
        "head.2.weight",
        "head.2.bias",
    }
    trains = {name for name, flag in model.requires_grad().items() if flag}
    assert trains == head_parameters(trained)
    source = autoencoder.state_dict()
    for name in conv_parameters(trained) | encoder_linear_parameters(trained):
        np.testing.assert_array_equal(trained[name], source[name], err_msg=name)
    initial = Classifier(model.spec, seed=0).state_dict()
    for name in head_parameters(trained):
        assert not np.array_equal(trained[name], initial[name]), name


def test_nothing_frozen_trains_the_convolutions_too(
    autoencoder: udl.Autoencoder, small: udl.datasets.Dataset
) -> None:
    result = finetune_classifier(autoencoder, small, freeze_conv=False, epochs=1, threads=1)
    model = result.model
    assert all(model.requires_grad().values())
    assert model.trainable_parameter_count == model.parameter_count
    trained, source = model.state_dict(), autoencoder.state_dict()
    for name in conv_parameters(trained):
        assert not np.array_equal(trained[name], source[name]), name


def test_freeze_linear_alone_freezes_only_the_linear_layers(
    autoencoder: udl.Autoencoder, small: udl.datasets.Dataset
) -> None:
    result = finetune_classifier(
        autoencoder, small, freeze_conv=False, freeze_linear=True, epochs=1, threads=1
    )
    state = result.model.state_dict()
    frozen = {name for name, trains in result.model.requires_grad().items() if not trains}
    assert frozen == encoder_linear_parameters(state)


@pytest.mark.parametrize("fixture", ["frozen_conv", "frozen_encoder"])
def test_trainable_parameter_count_matches_requires_grad(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    model: Classifier = request.getfixturevalue(fixture).model
    state = model.state_dict()
    flags = model.requires_grad()
    assert model.parameter_count == sum(v.size for v in state.values())
    assert model.trainable_parameter_count == sum(state[n].size for n, f in flags.items() if f)
    assert 0 < model.trainable_parameter_count < model.parameter_count
    assert f"{model.trainable_parameter_count}/{model.parameter_count}" in repr(model)


def test_finetuning_learns(frozen_conv: ClassifierResult) -> None:
    assert frozen_conv.test is not None
    history = frozen_conv.history
    assert [r.epoch for r in history] == [1, 2]
    assert history[-1].train_loss < history[0].train_loss
    assert frozen_conv.test.accuracy > 0.3  # chance: 0.1


def test_frozen_encoder_carries_the_autoencoders_features(
    frozen_encoder: ClassifierResult,
    autoencoder: udl.Autoencoder,
    labelled: udl.datasets.Dataset,
) -> None:
    # Only the head trains: a trained autoencoder's encoder is worth far more than an
    # untrained one's (seeds 0..2: about 0.45-0.5 against 0.08-0.1).
    untrained = udl.Autoencoder(autoencoder.spec, seed=0)
    baseline = finetune_classifier(
        untrained, labelled, freeze_conv=True, freeze_linear=True, head="two_layer", **FINETUNE
    )
    assert frozen_encoder.test is not None and baseline.test is not None
    assert frozen_encoder.test.accuracy > 0.3
    assert frozen_encoder.test.accuracy > baseline.test.accuracy + 0.2


def test_finetune_needs_an_autoencoder(small: udl.datasets.Dataset) -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 10, (1, 28, 28))
    with pytest.raises(TypeError, match=r"autoencoder must be a udl\.Autoencoder"):
        finetune_classifier(spec, small, epochs=1)  # type: ignore[arg-type]


def test_finetune_on_images_of_another_shape(autoencoder: udl.Autoencoder) -> None:
    images = np.zeros((20, 30, 30), dtype=np.uint8)
    data = udl.datasets.from_numpy(images, np.arange(20) % 2)
    with pytest.raises(ValueError, match="28 x 28"):
        finetune_classifier(autoencoder, data, epochs=1, threads=1)


def test_finetune_head_none_needs_latent_equal_to_classes(
    small: udl.datasets.Dataset,
) -> None:
    ae = udl.train_cae(small.train.images[:64], nf=4, latent_dim=5, epochs=1, threads=1).model
    with pytest.raises(ValueError, match="latent_dim 5 != 10 classes"):
        finetune_classifier(ae, small, head="none", epochs=1, threads=1)


# --- training from scratch --------------------------------------------------------------


def test_from_scratch_beats_chance_clearly(scratch: ClassifierResult) -> None:
    assert scratch.test is not None
    assert scratch.test.accuracy > 0.5
    assert scratch.history[-1].val_accuracy > 0.4
    assert all(scratch.model.requires_grad().values())


def test_from_scratch_history_fields(scratch: ClassifierResult) -> None:
    assert isinstance(scratch, ClassifierResult)
    assert [r.epoch for r in scratch.history] == [1, 2]
    assert scratch.stop_reason == "completed"
    for record in scratch.history:
        assert isinstance(record, ClassifierEpochRecord)
        assert math.isfinite(record.train_loss) and record.train_loss > 0
        assert math.isfinite(record.val_loss) and record.val_loss > 0
        assert 0.0 <= record.train_accuracy <= 1.0 and 0.0 <= record.val_accuracy <= 1.0
    val = [r.val_loss for r in scratch.history]
    assert scratch.best_epoch == int(np.argmin(val)) + 1
    assert scratch.best_val_loss == min(val)
    assert scratch.seconds >= sum(r.seconds for r in scratch.history) * 0.99


def test_same_seed_same_classifier(small: udl.datasets.Dataset) -> None:
    a = train_classifier(small, nf=4, **QUICK)
    b = train_classifier(small, nf=4, **QUICK)
    c = train_classifier(small, nf=4, **{**QUICK, "seed": 1})
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]
    images = small.test.images[:32]
    np.testing.assert_array_equal(
        a.model.log_probabilities(images), b.model.log_probabilities(images)
    )
    assert [r.train_loss for r in a.history] != [r.train_loss for r in c.history]


def test_head_none_is_the_encoder_as_classifier(small: udl.datasets.Dataset) -> None:
    result = train_classifier(small, nf=4, latent_dim=10, head="none", **QUICK)
    model = result.model
    assert model.spec.head == "none"
    assert head_parameters(model.state_dict()) == set()
    assert model.log_probabilities(small.test.images[:8]).shape == (8, 10)


@pytest.mark.parametrize("latent_dim", [2, 9, 11])
def test_head_none_requires_latent_dim_equal_to_classes(
    latent_dim: int, small: udl.datasets.Dataset
) -> None:
    with pytest.raises(ValueError, match=f"latent_dim {latent_dim} != 10 classes"):
        train_classifier(small, nf=4, latent_dim=latent_dim, head="none", epochs=1, threads=1)


def test_classifier_spec_checks() -> None:
    encoder = udl.AutoencoderSpec.conv_autoencoder(4, 10, (1, 28, 28))
    assert ClassifierSpec(encoder, 10, "none").head == "none"
    with pytest.raises(ValueError, match="latent_dim 10 != 5 classes"):
        ClassifierSpec(encoder, 5, "none")
    with pytest.raises(ValueError, match="unknown head 'deep'"):
        ClassifierSpec(encoder, 10, "deep")
    with pytest.raises(ValueError, match=">= 2 classes"):
        ClassifierSpec(encoder, 1)
    with pytest.raises(ValueError, match="head_hidden must be > 0"):
        ClassifierSpec(encoder, 10, "two_layer", 0)
    with pytest.raises(TypeError, match="encoder must be an AutoencoderSpec"):
        ClassifierSpec("cae", 10)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="classes must be an integer"):
        ClassifierSpec(encoder, 10.0)  # type: ignore[arg-type]
    assert HEADS == ("linear", "two_layer", "none")


def test_image_set_without_class_names(small: udl.datasets.Dataset) -> None:
    result = train_classifier(
        small.train, test=small.test, nf=4, epochs=1, batch_size=64, threads=1
    )
    assert result.model.spec.classes == 10
    assert result.test is not None
    assert result.test.class_names == tuple(str(i) for i in range(10))


def test_classes_follow_the_training_labels(small: udl.datasets.Dataset) -> None:
    train = small.train.subset(small.train.labels < 3)
    result = train_classifier(train, nf=4, epochs=1, batch_size=64, threads=1)
    assert result.model.spec.classes == 3
    # Test labels the classifier has no class for are rejected.
    with pytest.raises(ValueError, match="label"):
        train_classifier(train, test=small.test, nf=4, epochs=1, threads=1)


def test_callback_gets_one_record_per_epoch(small: udl.datasets.Dataset) -> None:
    records: list[ClassifierEpochRecord] = []
    result = train_classifier(small, nf=4, callback=records.append, **{**QUICK, "epochs": 3})
    assert [r.epoch for r in records] == [1, 2, 3]
    assert records == result.history
    assert all(isinstance(r, ClassifierEpochRecord) for r in records)


def test_finetune_callback(autoencoder: udl.Autoencoder, small: udl.datasets.Dataset) -> None:
    records: list[ClassifierEpochRecord] = []
    result = finetune_classifier(autoencoder, small, callback=records.append, **QUICK)
    assert [r.epoch for r in records] == [1, 2]
    assert records == result.history


def test_callback_exception_stops_training(small: udl.datasets.Dataset) -> None:
    class Stop(Exception):
        pass

    def stop(record: ClassifierEpochRecord) -> None:
        raise Stop(record.epoch)

    with pytest.raises(Stop, match="1"):
        train_classifier(small, nf=4, callback=stop, **QUICK)


# --- unlabelled data --------------------------------------------------------------------


def test_unlabelled_training_images(small: udl.datasets.Dataset) -> None:
    with pytest.raises(ValueError, match="labelled training images"):
        train_classifier(small.train.images, nf=4, epochs=1, threads=1)
    with pytest.raises(ValueError, match="labelled training images"):
        train_classifier(udl.datasets.ImageSet(small.train.images), nf=4, epochs=1)


def test_unlabelled_test_images(small: udl.datasets.Dataset) -> None:
    data = udl.datasets.Dataset(
        "x", small.train, udl.datasets.ImageSet(small.test.images), small.class_names
    )
    with pytest.raises(ValueError, match="test images have no labels"):
        train_classifier(data, nf=4, epochs=1, threads=1)


def test_finetune_on_unlabelled_images(
    autoencoder: udl.Autoencoder, small: udl.datasets.Dataset
) -> None:
    with pytest.raises(ValueError, match="labelled training images"):
        finetune_classifier(autoencoder, small.train.images, epochs=1, threads=1)


def test_evaluate_unlabelled(scratch: ClassifierResult, small: udl.datasets.Dataset) -> None:
    with pytest.raises(ValueError, match="no labels"):
        scratch.model.evaluate(udl.datasets.ImageSet(small.test.images))
    with pytest.raises(TypeError, match="Dataset, an ImageSet or a name"):
        scratch.model.evaluate(small.test.images)


# --- reports ----------------------------------------------------------------------------


def test_report_confusion_matrix(scratch: ClassifierResult) -> None:
    report = scratch.test
    assert isinstance(report, ClassificationReport)
    assert report.confusion.shape == (10, 10)
    assert report.confusion.sum() == 500
    assert np.all(report.confusion >= 0)
    assert np.trace(report.confusion) / report.confusion.sum() == pytest.approx(report.accuracy)


def test_report_rows_are_the_true_classes(
    scratch: ClassifierResult, fashion: udl.datasets.Dataset
) -> None:
    report = scratch.test
    assert report is not None
    labels = fashion.test.labels[:500]
    np.testing.assert_array_equal(report.confusion.sum(axis=1), np.bincount(labels, minlength=10))
    predicted = scratch.model.predict(fashion.test.images[:500])
    np.testing.assert_array_equal(
        report.confusion.sum(axis=0), np.bincount(predicted, minlength=10)
    )
    assert report.accuracy == pytest.approx(np.mean(predicted == labels))


def test_report_loss_is_the_mean_negative_log_likelihood(
    scratch: ClassifierResult, fashion: udl.datasets.Dataset
) -> None:
    report = scratch.test
    assert report is not None
    log_p = scratch.model.log_probabilities(fashion.test.images[:500])
    labels = fashion.test.labels[:500]
    assert report.loss == pytest.approx(-np.mean(log_p[np.arange(500), labels]), rel=1e-5)


def test_per_class_accuracy(scratch: ClassifierResult, fashion: udl.datasets.Dataset) -> None:
    report = scratch.test
    assert report is not None
    per_class = report.per_class_accuracy
    assert list(per_class) == list(fashion.class_names)
    assert report.class_names == fashion.class_names
    totals = report.confusion.sum(axis=1)
    for i, name in enumerate(fashion.class_names):
        assert per_class[name] == pytest.approx(report.confusion[i, i] / totals[i])
    # The overall accuracy is the per-class one weighted by class size.
    weighted = sum(per_class[n] * totals[i] for i, n in enumerate(report.class_names))
    assert weighted / totals.sum() == pytest.approx(report.accuracy)


def test_per_class_accuracy_of_an_absent_class_is_nan() -> None:
    confusion = np.array([[3, 1, 0], [0, 0, 0], [1, 0, 4]])
    report = ClassificationReport(7 / 9, 0.5, confusion, ("a", "b", "c"))
    per_class = report.per_class_accuracy
    assert per_class["a"] == 0.75 and per_class["c"] == 0.8
    assert math.isnan(per_class["b"])


def test_report_table(scratch: ClassifierResult, fashion: udl.datasets.Dataset) -> None:
    report = scratch.test
    assert report is not None
    lines = report.table().splitlines()
    assert len(lines) == 11
    for line, name in zip(lines, fashion.class_names, strict=False):
        assert line.strip().startswith(name)
        assert line.endswith(f"{report.per_class_accuracy[name]:6.2%}")
    assert lines[-1].split()[0] == "overall"
    assert lines[-1].endswith(f"{report.accuracy:6.2%}")


def test_evaluate_matches_the_training_report(
    scratch: ClassifierResult, labelled: udl.datasets.Dataset, fashion: udl.datasets.Dataset
) -> None:
    data = labelled
    report = scratch.model.evaluate(data)
    assert report.class_names == fashion.class_names
    assert scratch.test is not None
    assert report.accuracy == scratch.test.accuracy
    np.testing.assert_array_equal(report.confusion, scratch.test.confusion)
    # An ImageSet has no class names: the classes are numbered.
    numbered = scratch.model.evaluate(data.test)
    assert numbered.class_names == tuple(str(i) for i in range(10))
    named = scratch.model.evaluate(data.test, class_names=fashion.class_names)
    assert named.class_names == fashion.class_names


# --- predictions and features -----------------------------------------------------------


def test_prediction_shapes_and_consistency(
    scratch: ClassifierResult, fashion: udl.datasets.Dataset
) -> None:
    model = scratch.model
    images = fashion.test.images[:40]
    log_p = model.log_probabilities(images)
    proba = model.predict_proba(images)
    predicted = model.predict(images)
    assert log_p.shape == proba.shape == (40, 10)
    assert log_p.dtype == np.float32
    assert predicted.shape == (40,) and predicted.dtype == np.int64
    assert np.all(log_p <= 1e-6)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(proba, np.exp(log_p), rtol=1e-6)
    np.testing.assert_array_equal(predicted, log_p.argmax(axis=1))
    np.testing.assert_array_equal(predicted, proba.argmax(axis=1))
    assert len(set(predicted.tolist())) > 2  # not a constant classifier


def test_predictions_accept_tensors_floats_and_n_by_h_by_w(
    scratch: ClassifierResult, fashion: udl.datasets.Dataset
) -> None:
    model = scratch.model
    images = fashion.test.images[:16]
    expected = model.log_probabilities(images)
    as_tensor = model.log_probabilities(torch.from_numpy(images))
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_array_equal(as_tensor.numpy(), expected)
    predicted = model.predict(torch.from_numpy(images))
    assert isinstance(predicted, torch.Tensor) and predicted.dtype == torch.int64
    np.testing.assert_array_equal(model.log_probabilities(images[:, 0]), expected)
    floats = (images / 255.0).astype(np.float32)
    np.testing.assert_allclose(model.log_probabilities(floats), expected, atol=1e-5)


def test_bad_images_for_prediction(scratch: ClassifierResult) -> None:
    model = scratch.model
    with pytest.raises(ValueError, match="1 x 28 x 28"):
        model.predict(np.zeros((2, 1, 30, 30), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.predict(np.full((2, 1, 28, 28), 2.0, np.float32))
    with pytest.raises(TypeError, match="uint8 or floating point"):
        model.predict(np.zeros((2, 1, 28, 28), np.int32))


@pytest.mark.parametrize(
    ("head", "last_layer", "width"),
    [("linear", "head.0", 10), ("two_layer", "head.2", 24), ("none", "encoder.9", 64)],
)
def test_features_feed_the_last_linear_layer(
    head: str, last_layer: str, width: int, small: udl.datasets.Dataset
) -> None:
    model = train_classifier(
        small, nf=4, latent_dim=10, head=head, head_hidden=24, epochs=1, threads=1
    ).model
    images = small.test.images[:20]
    features = model.features(images)
    assert model.feature_dim == width
    assert features.shape == (20, width) and features.dtype == np.float32
    # log_softmax(features W^T + b) is the classifier's output.
    state = model.state_dict()
    weight, bias = state[f"{last_layer}.weight"], state[f"{last_layer}.bias"]
    assert weight.shape == (10, width)
    logits = torch.from_numpy(features) @ torch.from_numpy(weight).T + torch.from_numpy(bias)
    np.testing.assert_allclose(
        torch.log_softmax(logits, dim=1).numpy(), model.log_probabilities(images), atol=1e-4
    )
    if head != "linear":
        assert features.min() >= 0  # after a ReLU
    as_tensor = model.features(torch.from_numpy(images))
    assert isinstance(as_tensor, torch.Tensor)
    assert tuple(as_tensor.shape) == (20, width)


# --- batch norm and augmentation --------------------------------------------------------


def test_batch_norm_adds_a_scale_and_shift_per_channel_and_survives_saving(
    small: udl.datasets.Dataset, tmp_path: Path
) -> None:
    model = train_classifier(small, nf=4, batch_norm=True, **QUICK).model
    plain = Classifier(ClassifierSpec(model.spec.encoder), seed=0)
    assert model.spec.batch_norm and "with batch norm" in repr(model)
    assert model.parameter_count == plain.parameter_count + 2 * (4 + 8 + 16)
    model.save(tmp_path / "batch_norm.udl")
    loaded = Classifier.load(tmp_path / "batch_norm.udl")
    assert loaded.spec == model.spec
    # Equal in evaluation only if the trained running statistics came along.
    images = small.test.images[:50]
    np.testing.assert_array_equal(loaded.log_probabilities(images), model.log_probabilities(images))


def test_augmentation_is_seeded_and_changes_the_training_batches_only(
    small: udl.datasets.Dataset,
) -> None:
    plain = train_classifier(small, nf=4, **QUICK)
    augmented = train_classifier(small, nf=4, max_shift=2, horizontal_flip=True, **QUICK)
    again = train_classifier(small, nf=4, max_shift=2, horizontal_flip=True, **QUICK)
    assert augmented.history[0].train_loss != plain.history[0].train_loss
    assert [r.train_loss for r in again.history] == [r.train_loss for r in augmented.history]
    # The test images are scored as they are.
    assert augmented.test is not None
    assert augmented.model.evaluate(small).accuracy == augmented.test.accuracy


def test_finetuning_with_batch_norm_trains_the_norms_over_frozen_convolutions(
    autoencoder: udl.Autoencoder, labelled: udl.datasets.Dataset
) -> None:
    result = finetune_classifier(autoencoder, labelled, batch_norm=True, max_shift=1, **FINETUNE)
    trained = result.model.state_dict()
    trains = result.model.requires_grad()

    def kernels(state: dict[str, np.ndarray]) -> list[tuple[str, np.ndarray]]:
        return [(n, v) for n, v in state.items() if n.startswith("encoder.") and v.ndim == 4]

    # The norms sit between the layers, so the copied convolutions have other indices.
    copied = kernels(trained)
    assert len(copied) == 3
    for (name, weight), (_, original) in zip(
        copied, kernels(autoencoder.state_dict()), strict=True
    ):
        np.testing.assert_array_equal(weight, original, err_msg=name)
        assert not trains[name]
    norms = [n for n in trains if trained[n.rsplit(".", 1)[0] + ".weight"].ndim == 1]
    assert len(norms) == 2 * 3 and all(trains[n] for n in norms)
    assert result.test is not None and result.test.accuracy > 0.3


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"max_shift": -1}, ValueError, "max_shift must be >= 0"),
        ({"max_shift": 28}, ValueError, "max_shift 28 would move whole images"),
        ({"max_shift": 2.0}, TypeError, "max_shift must be an integer"),
        ({"max_shift": "2"}, TypeError, "max_shift must be an integer"),
        ({"horizontal_flip": "yes"}, TypeError, "horizontal_flip must be True or False"),
        ({"batch_norm": "False"}, TypeError, "batch_norm must be True or False"),
    ],
)
def test_bad_augmentation_and_batch_norm_fail_before_training(
    small: udl.datasets.Dataset,
    autoencoder: udl.Autoencoder,
    arguments: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    epochs: list[object] = []
    with pytest.raises(error, match=message):
        train_classifier(small, nf=4, callback=epochs.append, **arguments, **QUICK)
    with pytest.raises(error, match=message):
        finetune_classifier(autoencoder, small, callback=epochs.append, **arguments, **QUICK)
    assert epochs == []


def test_finetune_freeze_flags_must_be_bools(
    autoencoder: udl.Autoencoder, small: udl.datasets.Dataset
) -> None:
    with pytest.raises(TypeError, match="freeze_conv must be True or False"):
        finetune_classifier(autoencoder, small, freeze_conv="False", **QUICK)
    with pytest.raises(TypeError, match="freeze_linear must be True or False"):
        finetune_classifier(autoencoder, small, freeze_linear=1, **QUICK)


# --- files ------------------------------------------------------------------------------


def test_save_and_load_round_trip(
    frozen_encoder: ClassifierResult, small: udl.datasets.Dataset, tmp_path: Path
) -> None:
    model = frozen_encoder.model
    path = tmp_path / "classifier.udl"
    model.save(path)
    loaded = Classifier.load(path)
    assert loaded.spec == model.spec
    images = small.test.images[:50]
    np.testing.assert_array_equal(loaded.log_probabilities(images), model.log_probabilities(images))
    np.testing.assert_array_equal(loaded.features(images), model.features(images))
    assert loaded.parameter_count == model.parameter_count
    assert set(loaded.state_dict()) == set(model.state_dict())
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[name], value)


def test_save_and_load_with_a_string_path(scratch: ClassifierResult, tmp_path: Path) -> None:
    path = str(tmp_path / "c.udl")
    scratch.model.save(path)
    assert Classifier.load(path).spec == scratch.model.spec
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary file left behind


def test_load_an_autoencoder_file(autoencoder: udl.Autoencoder, tmp_path: Path) -> None:
    path = tmp_path / "ae.udl"
    autoencoder.save(path)
    with pytest.raises(udl.DataFormatError, match="classifier"):
        Classifier.load(path)


def test_autoencoder_load_of_a_classifier_file(scratch: ClassifierResult, tmp_path: Path) -> None:
    path = tmp_path / "classifier.udl"
    scratch.model.save(path)
    with pytest.raises(udl.DataFormatError):
        udl.Autoencoder.load(path)


def test_load_garbage_and_missing_files(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.udl"
    garbage.write_bytes(b"not a model at all" * 10)
    with pytest.raises(udl.DataFormatError):
        Classifier.load(garbage)
    with pytest.raises(FileNotFoundError):
        Classifier.load(tmp_path / "missing.udl")


def test_save_into_a_missing_folder(scratch: ClassifierResult, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scratch.model.save(tmp_path / "no" / "such" / "c.udl")


def test_finetune_dropout_regularises_without_changing_the_weights_layout(
    autoencoder: udl.Autoencoder, labelled: udl.datasets.Dataset
) -> None:
    result = finetune_classifier(autoencoder, labelled, freeze_conv=True, dropout=0.5, **FINETUNE)
    assert result.model.spec.encoder.dropout == 0.5
    assert autoencoder.spec.dropout == 0.0  # the autoencoder itself is untouched
    trained = result.model.state_dict()
    source = autoencoder.state_dict()
    for name in conv_parameters(trained):
        np.testing.assert_array_equal(trained[name], source[name], err_msg=name)
    # Dropout is on while training, off in inference: predictions are deterministic.
    images = labelled.test.images[:64]
    np.testing.assert_array_equal(
        result.model.log_probabilities(images), result.model.log_probabilities(images)
    )


@pytest.mark.parametrize("dropout", [-0.1, 1.0])
def test_finetune_dropout_out_of_range(
    autoencoder: udl.Autoencoder, labelled: udl.datasets.Dataset, dropout: float
) -> None:
    with pytest.raises(ValueError, match="dropout"):
        finetune_classifier(autoencoder, labelled, dropout=dropout, **FINETUNE)
