"""udl.cross_validate and udl.make_folds: report 001's k-fold framework as seen from Python —
folds, their figures and summary, the callback, errors, seeds, and the folds themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest

import udl
from udl import CrossValidationResult, EpochRecord, FoldResult, cross_validate, make_folds

#: One thread: the small models train as fast on one as on two, and a second thread only
#: costs when another process shares the machine's two cores.
LIGHT = {"threads": 1, "batch_size": 128}

#: A small CAE (nf=4) for 1 x 28 x 28 images.
SPEC = udl.AutoencoderSpec.conv_autoencoder(4, 4)

N_IMAGES = 900
K = 3
EPOCHS = 2


@pytest.fixture(scope="module")
def labelled(fashion: udl.datasets.Dataset) -> udl.datasets.Dataset:
    """900 labelled real Fashion-MNIST training images and 200 test images."""
    return udl.datasets.Dataset(
        name="fashion-mnist-900",
        train=udl.datasets.ImageSet(
            fashion.train.images[:N_IMAGES], fashion.train.labels[:N_IMAGES]
        ),
        test=udl.datasets.ImageSet(fashion.test.images[:200], fashion.test.labels[:200]),
        class_names=fashion.class_names,
    )


@pytest.fixture(scope="module")
def run(labelled: udl.datasets.Dataset) -> tuple[CrossValidationResult, list[EpochRecord]]:
    """3 folds of 2 epochs on the 900 training images (no test set), with the records the
    callback saw."""
    seen: list[EpochRecord] = []
    result = cross_validate(
        SPEC, labelled.train, k=K, epochs=EPOCHS, seed=0, callback=seen.append, **LIGHT
    )
    return result, seen


@pytest.fixture(scope="module")
def result(run: tuple[CrossValidationResult, list[EpochRecord]]) -> CrossValidationResult:
    return run[0]


def _figures(result: CrossValidationResult) -> list[list[tuple]]:
    """Every fold's history without the timings, which differ from run to run."""
    return [
        [(r.fold, r.epoch, r.train_loss, r.val_loss, r.val_mse, r.sparsity) for r in f.history]
        for f in result.folds
    ]


# --- the result -------------------------------------------------------------------------


def test_one_fold_result_per_fold(result: CrossValidationResult) -> None:
    assert isinstance(result, CrossValidationResult)
    assert len(result.folds) == K
    for i, fold in enumerate(result.folds):
        assert isinstance(fold, FoldResult)
        assert fold.fold == i
        assert [r.epoch for r in fold.history] == [1, 2]
        assert all(r.fold == i for r in fold.history)
        assert all(isinstance(r, EpochRecord) for r in fold.history)
        assert fold.stop_reason == "completed"
        assert 1 <= fold.best_epoch <= EPOCHS
        best = fold.history[fold.best_epoch - 1]
        assert fold.best_val_loss == best.val_loss == min(r.val_loss for r in fold.history)
        assert fold.best_val_mse == best.val_mse
        assert math.isfinite(fold.best_val_loss) and fold.best_val_loss > 0
        assert fold.seconds > 0
        assert fold.seconds >= sum(r.seconds for r in fold.history) - 1e-9
        assert fold.test_loss is None and fold.test_mse is None  # no test set given


def test_callback_sees_every_fold_and_epoch_in_order(
    run: tuple[CrossValidationResult, list[EpochRecord]],
) -> None:
    result, seen = run
    assert [(r.fold, r.epoch) for r in seen] == [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)]
    assert seen == [r for fold in result.folds for r in fold.history]


def test_summary_figures_are_mean_and_population_std(result: CrossValidationResult) -> None:
    losses = np.array([f.best_val_loss for f in result.folds])
    mses = np.array([f.best_val_mse for f in result.folds])
    assert result.mean_val_loss == pytest.approx(np.mean(losses), rel=1e-12)
    assert result.std_val_loss == pytest.approx(np.std(losses), rel=1e-9, abs=1e-15)
    assert result.mean_val_mse == pytest.approx(np.mean(mses), rel=1e-12)
    assert result.std_val_mse == pytest.approx(np.std(mses), rel=1e-9, abs=1e-15)
    # Population (ddof=0), not sample, standard deviation: the two differ for 3 folds.
    assert np.std(losses, ddof=1) != pytest.approx(result.std_val_loss)


def test_best_fold_is_the_argmin(result: CrossValidationResult) -> None:
    losses = [f.best_val_loss for f in result.folds]
    assert result.best_fold == int(np.argmin(losses))


def test_best_model_is_the_best_folds_at_its_best_epoch(
    result: CrossValidationResult, labelled: udl.datasets.Dataset
) -> None:
    model = result.model
    assert isinstance(model, udl.Autoencoder)
    assert model.spec == SPEC
    codes = model.encode(labelled.test.images)
    assert codes.shape == (200, 4) and np.isfinite(codes).all()
    # The best fold validated on its own fold of the images, drawn as make_folds draws it:
    # the returned model reconstructs exactly those images with the fold's best MSE.
    folds = make_folds(labelled.train.labels, k=K, seed=0, stratified=True)
    assert [len(f) for f in folds] == [N_IMAGES // K] * K
    images = labelled.train.images
    mses = []
    for fold in folds:
        recon = model.reconstruct(images[fold]).astype(np.float64)
        mses.append(float(np.mean((recon - images[fold] / 255.0) ** 2)))
    best = result.folds[result.best_fold]
    assert mses[result.best_fold] == pytest.approx(best.best_val_mse, rel=1e-5)
    # Any other fold of images gives another figure: the match above singles out the fold.
    others = [m for i, m in enumerate(mses) if i != result.best_fold]
    assert all(m != pytest.approx(best.best_val_mse, rel=1e-4) for m in others)


def test_seconds_cover_every_fold(result: CrossValidationResult) -> None:
    assert result.seconds > 0
    assert result.seconds >= sum(f.seconds for f in result.folds) - 1e-9


def test_summary_table(result: CrossValidationResult) -> None:
    lines = result.summary().splitlines()
    assert lines[0].split() == ["fold", "best_epoch", "val_loss", "val_mse", "seconds"]
    assert len(lines) == K + 2
    marked = [line for line in lines[1:-1] if line.endswith(" *")]
    assert len(marked) == 1 and marked[0].split()[0] == str(result.best_fold)
    assert lines[-1].startswith(f"mean val_loss {result.mean_val_loss:.5f} ± ")


# --- determinism and the data it folds ------------------------------------------------


def test_same_seed_gives_identical_folds(
    result: CrossValidationResult, labelled: udl.datasets.Dataset
) -> None:
    again = cross_validate(SPEC, labelled.train, k=K, epochs=EPOCHS, seed=0, **LIGHT)
    assert _figures(again) == _figures(result)
    assert again.best_fold == result.best_fold
    images = labelled.test.images[:32]
    np.testing.assert_array_equal(again.model.encode(images), result.model.encode(images))


def test_another_seed_gives_other_folds(
    result: CrossValidationResult, labelled: udl.datasets.Dataset
) -> None:
    other = cross_validate(SPEC, labelled.train, k=K, epochs=EPOCHS, seed=1, **LIGHT)
    for a, b in zip(_figures(other), _figures(result), strict=True):
        assert a != b


def test_unstratified_folds_differ_from_stratified(
    result: CrossValidationResult, labelled: udl.datasets.Dataset
) -> None:
    plain = cross_validate(
        SPEC, labelled.train, k=K, epochs=EPOCHS, seed=0, stratified=False, **LIGHT
    )
    assert _figures(plain) != _figures(result)


def test_unlabelled_images_ignore_stratified(labelled: udl.datasets.Dataset) -> None:
    images = labelled.train.images[:300]  # a bare array: no labels to stratify by
    settings = dict(k=2, epochs=1, seed=0, **LIGHT)
    asked = cross_validate(SPEC, images, stratified=True, **settings)
    plain = cross_validate(SPEC, images, stratified=False, **settings)
    assert _figures(asked) == _figures(plain)


def test_a_dataset_folds_its_train_set_and_tests_on_its_test_set(
    labelled: udl.datasets.Dataset,
) -> None:
    settings = dict(k=K, epochs=1, seed=0, **LIGHT)
    from_dataset = cross_validate(SPEC, labelled, **settings)
    explicit = cross_validate(SPEC, labelled.train, test=labelled.test, **settings)
    assert _figures(from_dataset) == _figures(explicit)
    for a, b in zip(from_dataset.folds, explicit.folds, strict=True):
        assert isinstance(a.test_mse, float) and isinstance(a.test_loss, float)
        assert a.test_mse == b.test_mse and a.test_loss == b.test_loss
    # The best fold's test MSE is its model's on the Dataset's test images.
    test = labelled.test.images
    recon = from_dataset.model.reconstruct(test).astype(np.float64)
    mse = float(np.mean((recon - test / 255.0) ** 2))
    assert from_dataset.folds[from_dataset.best_fold].test_mse == pytest.approx(mse, rel=1e-5)


def test_test_images_give_every_fold_a_test_mse(labelled: udl.datasets.Dataset) -> None:
    result = cross_validate(
        SPEC, labelled.train.images[:300], test=labelled.test.images, k=2, epochs=1, **LIGHT
    )
    test_mses = [f.test_mse for f in result.folds]
    assert all(isinstance(m, float) and 0 < m < 0.25 for m in test_mses)
    assert test_mses[0] != test_mses[1]  # two models, two figures
    assert all(f.test_loss == f.test_mse for f in result.folds)  # the MSE loss is the MSE


def test_val_fraction_is_not_used(labelled: udl.datasets.Dataset) -> None:
    images = labelled.train.images[:300]
    settings = dict(k=2, epochs=1, seed=0, **LIGHT)
    default = cross_validate(SPEC, images, **settings)
    other = cross_validate(SPEC, images, val_fraction=0.5, **settings)
    assert _figures(default) == _figures(other)


# --- training parameters reach every fold -----------------------------------------------


def test_pruning_and_passes_apply_in_every_fold(labelled: udl.datasets.Dataset) -> None:
    result = cross_validate(
        SPEC,
        labelled.train.images[:300],
        k=2,
        epochs=1,
        prune_every=1,
        prune_amounts=(0.398, 0.1, 0.214, 0.068),
        passes=2,
        **LIGHT,
    )
    for fold in result.folds:
        record = fold.history[0]
        assert record.sparsity["encoder_linear"] == pytest.approx(0.398, abs=1e-3)
        assert record.sparsity["decoder_conv"] == pytest.approx(0.068, abs=0.01)
        assert record.val_loss > record.val_mse  # two passes summed
    assert result.model.sparsity() == result.folds[result.best_fold].history[0].sparsity


def test_early_stopping_applies_per_fold(labelled: udl.datasets.Dataset) -> None:
    result = cross_validate(
        SPEC, labelled.train.images[:300], k=2, epochs=5, patience=1, min_delta=1.0, **LIGHT
    )
    for fold in result.folds:
        assert [r.epoch for r in fold.history] == [1, 2]
        assert fold.stop_reason == "early stopping"
        assert fold.best_epoch == 1


def test_dropout_spec_cross_validates(labelled: udl.datasets.Dataset) -> None:
    spec = udl.AutoencoderSpec(
        conv_layers=[(6, 2, 1, 1), (12, 2, 1, 0), (17, 3, 3, 1)],
        hidden_widths=(57,),
        latent_dim=6,
        dropout=0.1905,
    )
    result = cross_validate(spec, labelled.train.images[:300], k=2, epochs=1, **LIGHT)
    assert result.model.spec == spec
    assert all(math.isfinite(f.best_val_loss) for f in result.folds)


# --- the callback -----------------------------------------------------------------------


class StopSearch(Exception):
    """A user's own exception, raised from the callback (e.g. a search pruning a trial)."""


def test_callback_exception_stops_the_whole_run(labelled: udl.datasets.Dataset) -> None:
    raised = StopSearch("prune this trial")
    seen: list[tuple[int, int]] = []

    def callback(record: EpochRecord) -> None:
        seen.append((record.fold, record.epoch))
        if record.fold == 1:
            raise raised

    with pytest.raises(StopSearch) as info:
        cross_validate(SPEC, labelled.train.images[:300], k=3, epochs=2, callback=callback, **LIGHT)
    assert info.value is raised
    assert seen == [(0, 1), (0, 2), (1, 1)]  # no epoch and no fold after it


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 0, -3], ids=str)
def test_k_below_two(labelled: udl.datasets.Dataset, k: int) -> None:
    with pytest.raises(
        ValueError, match=rf"k \(folds\) must be in \[2, 900\] for 900 images, got {k}"
    ):
        cross_validate(SPEC, labelled.train, k=k, epochs=1, **LIGHT)


def test_k_above_the_number_of_images(labelled: udl.datasets.Dataset) -> None:
    with pytest.raises(ValueError, match=r"k \(folds\) must be in \[2, 900\] .*got 901"):
        cross_validate(SPEC, labelled.train, k=901, epochs=1, **LIGHT)


def test_k_of_the_wrong_type(labelled: udl.datasets.Dataset) -> None:
    with pytest.raises(TypeError, match=r"k must be an integer, got 3\.0"):
        cross_validate(SPEC, labelled.train, k=3.0, epochs=1, **LIGHT)


def test_spec_that_does_not_fit_the_images(labelled: udl.datasets.Dataset) -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(4, 4, (3, 32, 32))
    with pytest.raises(
        ValueError, match=r"architecture takes \(3, 32, 32\) images, the data has \(1, 28, 28\)"
    ):
        cross_validate(spec, labelled.train, k=K, epochs=1, **LIGHT)


def test_test_images_of_another_shape(labelled: udl.datasets.Dataset) -> None:
    with pytest.raises(ValueError, match=r"test images are \(1, 32, 32\)"):
        cross_validate(
            SPEC, labelled.train, test=np.zeros((4, 1, 32, 32), np.uint8), k=K, epochs=1, **LIGHT
        )


def test_bad_training_parameter(labelled: udl.datasets.Dataset) -> None:
    with pytest.raises(ValueError, match=r"lr \(learning rate\) must be > 0"):
        cross_validate(SPEC, labelled.train, k=K, epochs=1, lr=0.0, **LIGHT)


def test_bad_prune_amounts(labelled: udl.datasets.Dataset) -> None:
    with pytest.raises(ValueError, match=r"pruning amount for encoder_conv must be in \[0, 1\)"):
        cross_validate(
            SPEC, labelled.train, k=K, epochs=1, prune_every=1, prune_amounts=(0, 1.0, 0, 0)
        )


def test_unknown_training_parameter(labelled: udl.datasets.Dataset) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'learning_rate'"):
        cross_validate(SPEC, labelled.train, k=K, learning_rate=0.1)


# --- make_folds -------------------------------------------------------------------------


def _assert_partition(folds: list[np.ndarray], n: int) -> None:
    """Disjoint and complete: together every index 0..n-1 exactly once."""
    joined = np.concatenate(folds)
    assert joined.dtype == np.int64
    np.testing.assert_array_equal(np.sort(joined), np.arange(n))


def test_folds_by_count_partition_the_indices() -> None:
    folds = make_folds(100, k=3, seed=0)
    assert len(folds) == 3
    assert sorted(len(f) for f in folds) == [33, 33, 34]
    _assert_partition(folds, 100)
    # Shuffled, not runs of consecutive indices.
    assert not np.array_equal(np.sort(folds[0]), np.arange(folds[0][0], folds[0][0] + 34))


def test_stratified_folds_spread_every_class(fashion: udl.datasets.Dataset) -> None:
    labels = fashion.train.labels[:1000]
    k = 5
    folds = make_folds(labels, k=k, seed=0, stratified=True)
    _assert_partition(folds, 1000)
    totals = np.bincount(labels, minlength=10)
    assert (totals > 0).all()
    for fold in folds:
        counts = np.bincount(labels[fold], minlength=10)
        assert np.all(np.abs(counts - totals / k) <= 1), (counts, totals / k)


def test_unstratified_folds_of_labels_are_the_folds_of_the_count(
    fashion: udl.datasets.Dataset,
) -> None:
    labels = fashion.train.labels[:1000]
    plain = make_folds(labels, k=5, seed=0, stratified=False)
    by_count = make_folds(1000, k=5, seed=0)
    for a, b in zip(plain, by_count, strict=True):
        np.testing.assert_array_equal(a, b)
    stratified = make_folds(labels, k=5, seed=0, stratified=True)
    assert any(not np.array_equal(a, b) for a, b in zip(plain, stratified, strict=True))


def test_same_seed_reproduces_the_folds(fashion: udl.datasets.Dataset) -> None:
    labels = fashion.train.labels[:1000]
    for a, b in zip(make_folds(labels, 5, seed=7), make_folds(labels, 5, seed=7), strict=True):
        np.testing.assert_array_equal(a, b)


def test_another_seed_changes_the_folds(fashion: udl.datasets.Dataset) -> None:
    labels = fashion.train.labels[:1000]
    a, b = make_folds(labels, 5, seed=7), make_folds(labels, 5, seed=8)
    assert all(not np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    c, d = make_folds(1000, 5, seed=7), make_folds(1000, 5, seed=8)
    assert all(not np.array_equal(x, y) for x, y in zip(c, d, strict=True))


def test_labels_as_a_list_and_numpy_integers() -> None:
    labels = [0, 1, 1, 0, 1, 0]
    folds = make_folds(labels, k=3, seed=0)
    _assert_partition(folds, 6)
    for fold in folds:
        assert sorted(np.asarray(labels)[fold]) == [0, 1]  # one of each class per fold
    _assert_partition(make_folds(np.int64(10), k=np.int32(2)), 10)


def test_k_equal_to_the_count_gives_single_index_folds() -> None:
    folds = make_folds(7, k=7, seed=3)
    assert [len(f) for f in folds] == [1] * 7
    _assert_partition(folds, 7)


@pytest.mark.parametrize("k", [1, 11], ids=str)
def test_make_folds_k_out_of_range(k: int) -> None:
    with pytest.raises(
        ValueError, match=rf"k \(folds\) must be in \[2, 10\] for 10 images, got {k}"
    ):
        make_folds(10, k=k)


def test_make_folds_negative_seed() -> None:
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        make_folds(10, k=2, seed=-1)


def test_make_folds_float_seed() -> None:
    with pytest.raises(TypeError, match=r"seed must be an integer, got 1\.5"):
        make_folds(10, k=2, seed=1.5)


@pytest.mark.parametrize("count", [0, -5], ids=str)
def test_make_folds_non_positive_count(count: int) -> None:
    with pytest.raises(ValueError, match=rf"labels_or_count must be >= 1, got {count}"):
        make_folds(count, k=2)


def test_make_folds_bool_count() -> None:
    with pytest.raises(TypeError, match="labels_or_count must be an integer, got True"):
        make_folds(True, k=2)


def test_make_folds_float_labels() -> None:
    with pytest.raises(TypeError, match="labels must be integers, got float64"):
        make_folds(np.array([0.0, 1.0, 1.0, 2.7]), k=2)


def test_make_folds_negative_labels() -> None:
    with pytest.raises(ValueError, match="labels must be >= 0"):
        make_folds(np.array([0, 1, -1, 2]), k=2)


def test_make_folds_empty_labels() -> None:
    with pytest.raises(ValueError, match="labels_or_count: no labels given"):
        make_folds(np.array([], dtype=np.int64), k=2)


def test_make_folds_two_dimensional_labels() -> None:
    with pytest.raises(ValueError, match="labels must be a 1-D int64 array"):
        make_folds(np.zeros((4, 2), np.int64), k=2)


def test_diverged_folds_do_not_look_perfect(labelled: udl.datasets.Dataset) -> None:
    result = cross_validate(
        SPEC, labelled.train.images[:300], k=2, epochs=1, optimizer="sgd", lr=1e30, **LIGHT
    )
    assert all(f.stop_reason == "diverged at epoch 1" for f in result.folds)
    assert result.mean_val_loss == math.inf
    assert not math.isfinite(result.mean_val_mse), result.mean_val_mse
