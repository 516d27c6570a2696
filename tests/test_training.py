"""udl.training: the native loop as seen from Python — history, early stopping, restoring the
best epoch, determinism, callbacks, parameter checks, Ctrl-C, and the acceptance run."""

from __future__ import annotations

import math
import os
import select
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

import udl
from udl import EpochRecord, TrainResult, train_autoencoder, train_cae

FAST = {"threads": 2, "batch_size": 128}


@pytest.fixture(scope="module")
def three_epochs(small_train: np.ndarray) -> TrainResult:
    """A plain 3-epoch run on 2048 images, shared by the tests that only read it."""
    return train_cae(small_train, epochs=3, seed=0, **FAST)


# --- results ----------------------------------------------------------------------------


def test_history_length_and_fields(three_epochs: TrainResult) -> None:
    result = three_epochs
    assert isinstance(result, TrainResult)
    assert [r.epoch for r in result.history] == [1, 2, 3]
    assert result.stop_reason == "completed"
    for record in result.history:
        assert isinstance(record, EpochRecord)
        assert math.isfinite(record.train_loss) and record.train_loss > 0
        assert math.isfinite(record.val_loss) and record.val_loss > 0
        assert record.seconds > 0
        assert isinstance(record.improved, bool)
    assert result.history[0].improved  # the first epoch always beats "no epoch yet"
    # Three epochs of Adam at lr 1e-3 do learn something.
    assert result.history[-1].val_loss < result.history[0].val_loss
    assert isinstance(result.model, udl.Autoencoder)
    assert result.model.latent_dim == 10


def test_best_epoch_is_argmin_of_val_loss(three_epochs: TrainResult) -> None:
    result = three_epochs
    val = [r.val_loss for r in result.history]
    assert 1 <= result.best_epoch <= len(result.history)
    assert result.best_epoch == int(np.argmin(val)) + 1
    assert result.best_val_loss == min(val)
    assert result.best_val_loss == result.history[result.best_epoch - 1].val_loss
    improved = [r.epoch for r in result.history if r.improved]
    assert improved[-1] == result.best_epoch


def test_history_table_marks_the_best_epoch(three_epochs: TrainResult) -> None:
    lines = three_epochs.history_table().splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "val_loss", "seconds"]
    assert len(lines) == 4
    marked = [line for line in lines[1:] if line.endswith(" *")]
    assert len(marked) == 1
    assert marked[0].split()[0] == str(three_epochs.best_epoch)


def test_restore_best_puts_the_best_epochs_weights_back(
    small_train: np.ndarray, small_test: np.ndarray
) -> None:
    # min_delta 1.0: only epoch 1 counts as an improvement, so epoch 1 is the best even though
    # epochs 2 and 3 have lower validation losses; patience 2 stops after epoch 3.
    settings = dict(epochs=10, seed=0, patience=2, min_delta=1.0, **FAST)
    restored = train_cae(small_train, **settings)
    assert [r.epoch for r in restored.history] == [1, 2, 3]
    assert restored.stop_reason == "early stopping"
    assert restored.best_epoch == 1
    assert restored.best_val_loss == restored.history[0].val_loss
    assert restored.history[2].val_loss < restored.history[0].val_loss

    # Training is deterministic, so epoch 1's weights are those of a one-epoch run.
    one_epoch = train_cae(small_train, epochs=1, seed=0, **FAST)
    np.testing.assert_array_equal(
        restored.model.encode(small_test), one_epoch.model.encode(small_test)
    )

    # Without restore_best the model keeps its last epoch's weights.
    kept = train_cae(small_train, restore_best=False, **settings)
    assert [r.val_loss for r in kept.history] == [r.val_loss for r in restored.history]
    three = train_cae(small_train, epochs=3, seed=0, early_stopping=False, **FAST)
    np.testing.assert_array_equal(kept.model.encode(small_test), three.model.encode(small_test))
    assert not np.array_equal(kept.model.encode(small_test), one_epoch.model.encode(small_test))


def test_restored_model_has_the_best_epochs_loss(
    small_train: np.ndarray, small_test: np.ndarray
) -> None:
    # The test loss of the restored model is that of the best epoch's model, not the last's.
    settings = dict(epochs=10, seed=0, patience=2, min_delta=1.0, test=small_test, **FAST)
    restored = train_cae(small_train, **settings)
    kept = train_cae(small_train, restore_best=False, **settings)
    one_epoch = train_cae(small_train, epochs=1, seed=0, test=small_test, **FAST)
    assert restored.test_loss == pytest.approx(one_epoch.test_loss, rel=1e-9)
    assert kept.test_loss < restored.test_loss
    recon = restored.model.reconstruct(small_test)
    mse = float(np.mean((recon.astype(np.float64) - small_test / 255.0) ** 2))
    assert restored.test_mse == pytest.approx(mse, rel=1e-4)


def test_same_seed_gives_identical_history(small_train: np.ndarray) -> None:
    data = small_train[:1024]
    a = train_cae(data, epochs=2, seed=7, **FAST)
    b = train_cae(data, epochs=2, seed=7, **FAST)
    assert [(r.train_loss, r.val_loss) for r in a.history] == [
        (r.train_loss, r.val_loss) for r in b.history
    ]
    np.testing.assert_array_equal(a.model.encode(data[:32]), b.model.encode(data[:32]))


def test_different_seed_gives_different_history(small_train: np.ndarray) -> None:
    data = small_train[:1024]
    a = train_cae(data, epochs=2, seed=7, **FAST)
    b = train_cae(data, epochs=2, seed=8, **FAST)
    assert a.history[0].train_loss != b.history[0].train_loss
    assert a.history[-1].val_loss != b.history[-1].val_loss


def test_training_accepts_dataset_image_set_and_tensor(fashion: udl.datasets.Dataset) -> None:
    subset = udl.datasets.Dataset(
        name="subset",
        train=udl.datasets.from_numpy(fashion.train.images[:600]),
        test=udl.datasets.from_numpy(fashion.test.images[:200]),
        class_names=fashion.class_names,
    )
    from_dataset = train_cae(subset, epochs=1, seed=0, **FAST)
    assert from_dataset.test_loss is not None  # a Dataset brings its test set
    from_set = train_cae(subset.train, epochs=1, seed=0, **FAST)
    from_tensor = train_cae(torch.from_numpy(fashion.train.images[:600]), epochs=1, seed=0, **FAST)
    assert from_set.test_loss is None
    assert [r.train_loss for r in from_set.history] == [r.train_loss for r in from_tensor.history]
    assert from_dataset.history[0].train_loss == from_set.history[0].train_loss


def test_float_images_train_like_uint8(small_train: np.ndarray) -> None:
    data = small_train[:512]
    a = train_cae(data, epochs=1, seed=0, **FAST)
    b = train_cae(data.astype(np.float32) / 255, epochs=1, seed=0, **FAST)
    assert b.history[0].train_loss == pytest.approx(a.history[0].train_loss, rel=1e-5)


# --- callback ---------------------------------------------------------------------------


def test_callback_gets_each_epoch_in_order(small_train: np.ndarray) -> None:
    seen: list[EpochRecord] = []
    result = train_cae(small_train[:1024], epochs=3, seed=0, callback=seen.append, **FAST)
    assert [r.epoch for r in seen] == [1, 2, 3]
    assert all(isinstance(r, EpochRecord) for r in seen)
    assert seen == result.history


class StopTraining(Exception):
    """A user's own exception, raised from the callback."""


def test_callback_exception_reaches_the_caller_unchanged(small_train: np.ndarray) -> None:
    raised = StopTraining("enough")
    epochs: list[int] = []

    def callback(record: EpochRecord) -> None:
        epochs.append(record.epoch)
        if record.epoch == 2:
            raise raised

    with pytest.raises(StopTraining) as info:
        train_cae(small_train[:1024], epochs=5, seed=0, callback=callback, **FAST)
    assert info.value is raised
    assert type(info.value) is StopTraining
    assert epochs == [1, 2]  # no epoch after the one whose callback raised


def test_training_works_again_after_a_callback_exception(small_train: np.ndarray) -> None:
    def callback(record: EpochRecord) -> None:
        raise StopTraining

    with pytest.raises(StopTraining):
        train_cae(small_train[:512], epochs=2, seed=0, callback=callback, **FAST)
    result = train_cae(small_train[:512], epochs=1, seed=0, **FAST)
    assert len(result.history) == 1


# --- early stopping ---------------------------------------------------------------------


def test_early_stopping_with_huge_min_delta(small_train: np.ndarray) -> None:
    result = train_cae(small_train[:1024], epochs=10, seed=0, patience=1, min_delta=1.0, **FAST)
    assert len(result.history) == 2
    assert result.stop_reason == "early stopping"
    assert [r.improved for r in result.history] == [True, False]
    assert result.best_epoch == 1


def test_early_stopping_disabled_runs_every_epoch(small_train: np.ndarray) -> None:
    result = train_cae(
        small_train[:512],
        epochs=3,
        seed=0,
        patience=1,
        min_delta=1.0,
        early_stopping=False,
        **FAST,
    )
    assert len(result.history) == 3
    assert result.stop_reason == "completed"


# --- test loss, losses and optimizers ---------------------------------------------------


def test_no_test_data_gives_no_test_figures(three_epochs: TrainResult) -> None:
    assert three_epochs.test_loss is None
    assert three_epochs.test_mse is None


def test_test_data_gives_test_figures(small_train: np.ndarray, small_test: np.ndarray) -> None:
    result = train_cae(small_train[:1024], test=small_test, epochs=1, seed=0, **FAST)
    assert isinstance(result.test_loss, float)
    assert isinstance(result.test_mse, float)
    assert result.test_loss == result.test_mse  # the MSE loss is the MSE
    assert 0 < result.test_mse < 0.25


def test_bce_loss_reports_test_mse(small_train: np.ndarray, small_test: np.ndarray) -> None:
    result = train_cae(small_train[:1024], test=small_test, epochs=1, seed=0, loss="bce", **FAST)
    assert math.isfinite(result.history[0].train_loss)
    assert isinstance(result.test_loss, float) and isinstance(result.test_mse, float)
    # Binary cross-entropy of [0, 1] targets is well above their squared error.
    assert result.test_loss > result.test_mse > 0
    mse = train_cae(small_train[:1024], epochs=1, seed=0, **FAST)
    assert result.history[0].train_loss != mse.history[0].train_loss


def test_sgd_optimizer(small_train: np.ndarray) -> None:
    sgd = train_cae(
        small_train[:1024], epochs=2, seed=0, optimizer="sgd", lr=0.05, momentum=0.9, **FAST
    )
    adam = train_cae(small_train[:1024], epochs=2, seed=0, **FAST)
    assert len(sgd.history) == 2
    assert all(math.isfinite(r.val_loss) for r in sgd.history)
    assert sgd.history[0].train_loss != adam.history[0].train_loss


def test_train_autoencoder_with_a_custom_spec(small_train: np.ndarray) -> None:
    spec = udl.AutoencoderSpec(conv_layers=[(4, 3, 2, 1)], hidden_widths=(16,), latent_dim=2)
    result = train_autoencoder(spec, small_train[:512], epochs=1, seed=0, **FAST)
    assert result.model.spec == spec
    assert result.model.encode(small_train[:8]).shape == (8, 2)


# --- bad parameters ---------------------------------------------------------------------

BAD_VALUES = [
    ({"lr": 0.0}, ValueError, r"lr \(learning rate\) must be > 0"),
    ({"lr": -1e-3}, ValueError, r"lr \(learning rate\) must be > 0"),
    ({"lr": float("nan")}, ValueError, r"lr \(learning rate\) must be > 0"),
    ({"lr": float("inf")}, ValueError, r"lr \(learning rate\) must be > 0"),
    ({"batch_size": 0}, ValueError, "batch_size must be > 0"),
    ({"epochs": 0}, ValueError, "epochs must be > 0"),
    ({"weight_decay": -0.1}, ValueError, "weight_decay must be >= 0"),
    ({"momentum": 1.0}, ValueError, r"momentum must be in \[0, 1\)"),
    ({"val_fraction": 0.0}, ValueError, r"val_fraction must be in \(0, 1\)"),
    ({"val_fraction": 1.0}, ValueError, r"val_fraction must be in \(0, 1\)"),
    ({"patience": 0}, ValueError, "patience must be >= 1"),
    ({"min_delta": -1.0}, ValueError, "min_delta must be >= 0"),
    ({"loss": "l1"}, ValueError, "unknown loss 'l1'"),
    ({"optimizer": "rmsprop"}, ValueError, "unknown optimizer 'rmsprop'"),
    ({"latent_dim": 0}, ValueError, "latent_dim must be > 0"),
    ({"nf": 0}, ValueError, "nf must be > 0"),
    ({"threads": 0}, ValueError, "threads must be >= 1"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"batch_size": 32.0}, TypeError, "batch_size must be an integer"),
    ({"epochs": "3"}, TypeError, "epochs must be an integer"),
    ({"epochs": True}, TypeError, "epochs must be an integer"),
    ({"lr": "0.1"}, TypeError, "lr must be a number"),
]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"), BAD_VALUES, ids=[repr(b[0]) for b in BAD_VALUES]
)
def test_bad_parameter(small_train: np.ndarray, kwargs, error, message) -> None:
    settings = dict(epochs=1, **FAST)
    settings.update(kwargs)
    with pytest.raises(error, match=message):
        train_cae(small_train[:256], **settings)


def test_val_fraction_leaving_no_training_images(small_train: np.ndarray) -> None:
    with pytest.raises(ValueError, match="leaves no training images"):
        train_cae(small_train[:2], epochs=1, val_fraction=0.9, **FAST)


def test_data_of_the_wrong_shape_for_the_spec(small_train: np.ndarray) -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(8, 4)  # 1 x 28 x 28
    images = np.zeros((64, 1, 32, 32), np.uint8)
    with pytest.raises(ValueError, match=r"architecture takes \(1, 28, 28\).*\(1, 32, 32\)"):
        train_autoencoder(spec, images, epochs=1, **FAST)


def test_images_too_small_for_the_cae() -> None:
    with pytest.raises(udl.InvalidArchitecture, match="conv layer 2"):
        train_cae(np.zeros((64, 1, 8, 8), np.uint8), epochs=1, **FAST)


def test_test_images_of_another_shape(small_train: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"test images are \(1, 32, 32\)"):
        train_cae(small_train[:256], test=np.zeros((8, 1, 32, 32), np.uint8), epochs=1, **FAST)


def test_data_of_an_unsupported_type() -> None:
    with pytest.raises(TypeError, match="data: images must be a NumPy array or torch tensor"):
        train_cae([[0, 1], [1, 0]], epochs=1, **FAST)


def test_data_of_an_unsupported_dtype() -> None:
    with pytest.raises(TypeError, match="data: images must be uint8 or floating point"):
        train_cae(np.zeros((64, 1, 28, 28), np.int32), epochs=1, **FAST)


# --- Ctrl-C -----------------------------------------------------------------------------

CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys
    import udl

    data = udl.datasets.load("fashion-mnist", download=False)

    def report(record):
        print("epoch", record.epoch, flush=True)

    udl.train_cae(data.train.images[:4096], epochs=1000, early_stopping=False, threads=2,
                  callback=report)
    print("finished", flush=True)
    """
)


def _read_line(process: subprocess.Popen, deadline: float) -> str:
    """The next stdout line, or "" if the process ends or the deadline passes first."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return ""
    ready, _, _ = select.select([process.stdout], [], [], remaining)
    return process.stdout.readline() if ready else ""


def test_ctrl_c_stops_training_as_keyboard_interrupt() -> None:
    assert os.environ.get("UDL_DATA_DIR")  # set by conftest; the child inherits it
    process = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        lines: list[str] = []
        while not lines or not lines[-1].startswith("epoch"):
            line = _read_line(process, deadline)
            if not line:
                process.kill()
                _, stderr = process.communicate()
                pytest.fail(f"no epoch reported; output {lines}; stderr {stderr}")
            lines.append(line.strip())
        assert lines[-1] == "epoch 1"
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pytest.fail("training went on for more than 2 s after SIGINT")
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
        stdout, stderr = process.communicate()
    assert elapsed < 2
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert "finished" not in stdout


# --- acceptance -------------------------------------------------------------------------


@pytest.mark.slow
def test_fashion_mnist_cae_reaches_the_acceptance_mse(fashion: udl.datasets.Dataset) -> None:
    """The issue's acceptance criterion: the CAE of reports 000/002 on real Fashion-MNIST."""
    result = train_cae(
        fashion,
        nf=16,
        latent_dim=10,
        optimizer="adam",
        lr=1e-3,
        batch_size=256,
        epochs=10,
        seed=0,
    )
    assert result.test_mse is not None
    assert result.test_mse < 0.020
    assert 1 <= result.best_epoch <= len(result.history) <= 10
    assert result.best_val_loss < 0.020


def test_divergence_stops_with_a_reason(small_train: np.ndarray) -> None:
    result = train_cae(small_train, epochs=5, optimizer="sgd", lr=1e30, **FAST)
    assert result.stop_reason.startswith("diverged at epoch ")
    assert len(result.history) < 5
    last = result.history[-1]
    assert not (np.isfinite(last.train_loss) and np.isfinite(last.val_loss))
