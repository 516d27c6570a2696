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
    # Every numeric figure the C++ record declares, in its order.
    assert lines[0].split() == ["epoch", "train_loss", "val_loss", "val_mse", "seconds"]
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
    # pruning (report 001's amounts, in its order: encoder linear, encoder conv, decoder
    # linear, decoder conv)
    (
        {"prune_amounts": (0.398, 0.1, 1.0, 0.068)},
        ValueError,
        r"pruning amount for decoder_linear must be in \[0, 1\), got 1\.0",
    ),
    (
        {"prune_amounts": (0.398, 0.1, 0.214)},
        ValueError,
        r"prune_amounts needs 4 values \(encoder_linear, encoder_conv, decoder_linear, "
        r"decoder_conv\), got 3",
    ),
    (
        {"prune_amounts": (0.398, 0.1, 0.214, 0.068, 0.1)},
        ValueError,
        "prune_amounts needs 4 values .*got 5",
    ),
    (
        {"prune_amounts": {"encoder_conv": 0.1, "encoder_lin": 0.398}},
        ValueError,
        r"prune_amounts: unknown layer groups \['encoder_lin'\]; expected encoder_linear",
    ),
    (
        {"prune_amounts": {"decoder_conv": 1.0}},
        ValueError,
        r"pruning amount for decoder_conv must be in \[0, 1\)",
    ),
    ({"prune_amounts": "0.1"}, TypeError, "prune_amounts must be a number, got '0.1'"),
    ({"prune_amounts": (0.1, "a", 0.1, 0.1)}, TypeError, "prune_amounts must be a number"),
    ({"prune_amounts": None}, TypeError, "prune_amounts must be a number"),
    ({"prune_amounts": -0.1}, ValueError, r"pruning amount for encoder_linear must be in \[0, 1\)"),
    ({"prune_amounts": float("nan")}, ValueError, r"must be in \[0, 1\), got nan"),
    ({"prune_every": -1}, ValueError, "prune_every must be >= 0, got -1"),
    ({"prune_every": 1.5}, TypeError, "prune_every must be an integer"),
    # iterative autoencoding
    ({"passes": 0}, ValueError, "passes must be >= 1, got 0"),
    ({"passes": -2}, ValueError, "passes must be >= 1, got -2"),
    ({"passes": 2.0}, TypeError, "passes must be an integer"),
    # reduce on plateau
    ({"lr_decay": 0.0}, ValueError, "lr_decay must be in"),
    ({"lr_decay": 1.5}, ValueError, "lr_decay must be in"),
    ({"lr_decay": "0.5"}, TypeError, "lr_decay must be a number"),
    ({"lr_patience": 0}, ValueError, "lr_patience must be >= 1, got 0"),
    ({"lr_patience": 1.5}, TypeError, "lr_patience must be an integer"),
    # learning-rate schedules
    ({"lr_schedule": 1}, TypeError, "lr_schedule must be one of constant, cosine, onecycle, got 1"),
    ({"optimizer": 3}, TypeError, "optimizer must be one of adam, sgd, got 3"),
    ({"precision": None}, TypeError, "precision must be one of fp32, bf16, got None"),
    ({"lr_schedule": "linear"}, ValueError, "unknown lr_schedule 'linear' \\(expected 'constant'"),
    (
        {"lr_schedule": "cosine", "lr_decay": 0.5},
        ValueError,
        "lr_decay lowers a constant learning rate on plateaus; with lr_schedule cosine it must",
    ),
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


# --- report 001's additions: figures, pruning, dropout, iterative autoencoding ----------

#: One thread: these small models train as fast on one as on two, and a second thread only
#: costs when another process shares the machine's two cores.
LIGHT = {"threads": 1, "batch_size": 128}

#: Report 001's pruning amounts, in its order: encoder linear, encoder conv, decoder linear,
#: decoder conv.
REPORT_001_AMOUNTS = (0.398, 0.1, 0.214, 0.068)
#: The same by layer group, written out rather than derived from udl.LAYER_GROUPS.
REPORT_001_BY_GROUP = {
    "encoder_linear": 0.398,
    "encoder_conv": 0.1,
    "decoder_linear": 0.214,
    "decoder_conv": 0.068,
}


def test_layer_groups_are_in_report_001s_order() -> None:
    assert udl.LAYER_GROUPS == ("encoder_linear", "encoder_conv", "decoder_linear", "decoder_conv")


def test_records_have_no_fold_outside_cross_validation(three_epochs: TrainResult) -> None:
    assert all(r.fold is None for r in three_epochs.history)


def test_run_seconds_cover_every_epoch(three_epochs: TrainResult) -> None:
    result = three_epochs
    assert result.seconds > 0
    assert result.seconds >= sum(r.seconds for r in result.history) - 1e-9


def test_best_val_mse_is_the_best_epochs(three_epochs: TrainResult) -> None:
    result = three_epochs
    best = result.history[result.best_epoch - 1]
    assert result.best_val_mse == best.val_mse
    # With the MSE loss and one pass, the validation loss is the validation MSE.
    for r in result.history:
        assert r.val_loss == pytest.approx(r.val_mse, abs=1e-7)
    assert result.best_val_mse == pytest.approx(result.best_val_loss, abs=1e-7)


def test_no_pruning_by_default(three_epochs: TrainResult) -> None:
    zeros = dict.fromkeys(udl.LAYER_GROUPS, 0.0)
    assert all(r.sparsity == zeros for r in three_epochs.history)
    assert three_epochs.model.sparsity() == zeros


# --- pruning ----------------------------------------------------------------------------


def _figures(result: TrainResult) -> list[tuple]:
    """Every figure of the history but the timings, which differ from run to run."""
    return [
        (r.epoch, r.train_loss, r.val_loss, r.val_mse, r.improved, r.sparsity, r.fold)
        for r in result.history
    ]


def _llround(x: float) -> int:
    """C's llround for x >= 0: halves away from zero (Python's round goes to even)."""
    return math.floor(x + 0.5)


def _prunable(state: dict[str, np.ndarray]) -> list[tuple[str, str, str]]:
    """(weight name, mask name, layer group) of every conv and linear layer.

    Masks are numbered in the order the layers are built: the encoder's layers in order,
    then the decoder's. Weights are sorted the same way; their shapes must then agree.
    """
    weights = sorted(
        (name for name in state if name.endswith(".weight")),
        key=lambda name: (name.split(".")[0] != "encoder", int(name.split(".")[1])),
    )
    masks = sorted((name for name in state if name.startswith("mask_")), key=lambda n: int(n[5:]))
    layers = []
    for weight, mask in zip(weights, masks, strict=True):
        assert state[weight].shape == state[mask].shape, (weight, mask)
        kind = "conv" if state[weight].ndim == 4 else "linear"
        layers.append((weight, mask, f"{weight.split('.')[0]}_{kind}"))
    return layers


@pytest.fixture(scope="module")
def pruned(small_train: np.ndarray) -> TrainResult:
    """Two epochs of the CAE pruned after each by report 001's amounts, last epoch kept."""
    return train_cae(
        small_train[:1024],
        nf=4,
        epochs=2,
        seed=0,
        prune_every=1,
        prune_amounts=REPORT_001_AMOUNTS,
        restore_best=False,
        **LIGHT,
    )


def test_pruned_layers_pair_up_with_their_masks(pruned: TrainResult) -> None:
    layers = _prunable(pruned.model.state_dict())
    groups = [group for _, _, group in layers]
    # nf=4 CAE: three convs, two linears, mirrored.
    assert groups == ["encoder_conv"] * 3 + ["encoder_linear"] * 2 + (
        ["decoder_linear"] * 2 + ["decoder_conv"] * 3
    )


def test_masked_weights_are_exactly_zero(pruned: TrainResult) -> None:
    state = pruned.model.state_dict()
    for weight_name, mask_name, _ in _prunable(state):
        weight, mask = state[weight_name], state[mask_name]
        assert set(np.unique(mask)) <= {0.0, 1.0}
        assert (mask == 0).any(), mask_name  # every layer lost some weights
        assert np.all(weight[mask == 0] == 0.0), weight_name
        assert np.count_nonzero(weight == 0) >= np.count_nonzero(mask == 0)


def test_pruning_rounds_match_the_amounts(pruned: TrainResult) -> None:
    state = pruned.model.state_dict()
    amounts = REPORT_001_BY_GROUP
    first = dict.fromkeys(udl.LAYER_GROUPS, 0)  # weights masked by round 1, per group
    second = dict.fromkeys(udl.LAYER_GROUPS, 0)  # and by rounds 1 and 2
    totals = dict.fromkeys(udl.LAYER_GROUPS, 0)
    layer_counts = dict.fromkeys(udl.LAYER_GROUPS, 0)
    for _, mask_name, group in _prunable(state):
        mask = state[mask_name]
        n = mask.size
        # Each round masks round(amount x remaining) of the layer's remaining weights.
        round_1 = _llround(amounts[group] * n)
        round_2 = round_1 + _llround(amounts[group] * (n - round_1))
        assert abs(np.count_nonzero(mask == 0) - round_2) <= 1, mask_name
        first[group] += round_1
        second[group] += round_2
        totals[group] += n
        layer_counts[group] += 1
    for group in udl.LAYER_GROUPS:
        # Within one weight per layer of the group.
        slack = layer_counts[group] / totals[group]
        assert pruned.history[0].sparsity[group] == pytest.approx(
            first[group] / totals[group], abs=slack
        )
        assert pruned.history[1].sparsity[group] == pytest.approx(
            second[group] / totals[group], abs=slack
        )
        # Two rounds of a fraction of what remains: 1 - (1 - a)^2 overall.
        assert pruned.history[1].sparsity[group] == pytest.approx(
            1 - (1 - amounts[group]) ** 2, abs=0.01
        )


def test_model_sparsity_is_the_last_epochs(pruned: TrainResult) -> None:
    sparsity = pruned.model.sparsity()
    assert sparsity == pruned.history[-1].sparsity  # restore_best=False keeps the last epoch
    state = pruned.model.state_dict()
    masked = dict.fromkeys(udl.LAYER_GROUPS, 0)
    totals = dict.fromkeys(udl.LAYER_GROUPS, 0)
    for _, mask_name, group in _prunable(state):
        masked[group] += np.count_nonzero(state[mask_name] == 0)
        totals[group] += state[mask_name].size
    for group in udl.LAYER_GROUPS:
        assert sparsity[group] == pytest.approx(masked[group] / totals[group], rel=1e-12)


def test_pruned_model_survives_save_and_load(
    pruned: TrainResult, small_test: np.ndarray, tmp_path
) -> None:
    pruned.model.save(tmp_path / "pruned.udl")
    loaded = udl.load_model(tmp_path / "pruned.udl")
    assert loaded.sparsity() == pruned.model.sparsity()
    before, after = pruned.model.state_dict(), loaded.state_dict()
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    for weight_name, mask_name, _ in _prunable(after):
        assert np.all(after[weight_name][after[mask_name] == 0] == 0.0)
    np.testing.assert_array_equal(loaded.encode(small_test), pruned.model.encode(small_test))


def test_restore_best_brings_back_the_best_epochs_masks(small_train: np.ndarray) -> None:
    # min_delta 1.0: epoch 1 stays the best; patience 1 stops after epoch 2. The model
    # returns to epoch 1's weights and masks, though epoch 2 pruned further.
    result = train_cae(
        small_train[:512],
        nf=4,
        epochs=5,
        seed=0,
        patience=1,
        min_delta=1.0,
        prune_every=1,
        prune_amounts=0.3,
        **LIGHT,
    )
    assert [r.epoch for r in result.history] == [1, 2]
    assert result.best_epoch == 1
    first, second = result.history[0].sparsity, result.history[1].sparsity
    assert all(second[g] > first[g] > 0 for g in udl.LAYER_GROUPS)
    assert result.model.sparsity() == first
    state = result.model.state_dict()
    for weight_name, mask_name, _ in _prunable(state):
        assert np.all(state[weight_name][state[mask_name] == 0] == 0.0)


def test_prune_amounts_as_a_mapping(small_train: np.ndarray) -> None:
    settings = dict(nf=4, epochs=1, seed=0, prune_every=1, **LIGHT)
    by_name = train_cae(small_train[:512], prune_amounts={"encoder_linear": 0.5}, **settings)
    sparsity = by_name.history[0].sparsity
    assert sparsity["encoder_linear"] == pytest.approx(0.5, abs=1e-3)
    assert sparsity["encoder_conv"] == sparsity["decoder_linear"] == 0.0
    assert sparsity["decoder_conv"] == 0.0
    # The same as the four values with zeros for the groups left out.
    by_order = train_cae(small_train[:512], prune_amounts=(0.5, 0, 0, 0), **settings)
    assert _figures(by_order) == _figures(by_name)
    mapped = train_cae(small_train[:512], prune_amounts=REPORT_001_BY_GROUP, **settings)
    ordered = train_cae(small_train[:512], prune_amounts=REPORT_001_AMOUNTS, **settings)
    assert _figures(mapped) == _figures(ordered)


def test_prune_amounts_as_a_single_number(small_train: np.ndarray) -> None:
    result = train_cae(
        small_train[:512], nf=4, epochs=1, seed=0, prune_every=1, prune_amounts=0.25, **LIGHT
    )
    for group in udl.LAYER_GROUPS:
        assert result.history[0].sparsity[group] == pytest.approx(0.25, abs=0.01)


def test_prune_amounts_as_a_numpy_array(small_train: np.ndarray) -> None:
    settings = dict(nf=4, epochs=1, seed=0, prune_every=1, **LIGHT)
    from_array = train_cae(
        small_train[:512], prune_amounts=np.array(REPORT_001_AMOUNTS), **settings
    )
    from_tuple = train_cae(small_train[:512], prune_amounts=REPORT_001_AMOUNTS, **settings)
    assert _figures(from_array) == _figures(from_tuple)
    scalar = train_cae(small_train[:512], prune_amounts=np.float64(0.25), **settings)
    assert scalar.history[0].sparsity["encoder_conv"] == pytest.approx(0.25, abs=0.01)


def test_prune_every_zero_never_prunes(small_train: np.ndarray) -> None:
    settings = dict(nf=4, epochs=2, seed=0, **LIGHT)
    never = train_cae(small_train[:512], prune_every=0, prune_amounts=0.5, **settings)
    zeros = dict.fromkeys(udl.LAYER_GROUPS, 0.0)
    assert all(r.sparsity == zeros for r in never.history)
    assert never.model.sparsity() == zeros
    # Amounts without a period change nothing at all.
    plain = train_cae(small_train[:512], **settings)
    assert _figures(never) == _figures(plain)


def test_prune_every_sets_the_period(small_train: np.ndarray) -> None:
    result = train_cae(
        small_train[:512],
        nf=4,
        epochs=3,
        seed=0,
        early_stopping=False,
        prune_every=2,
        prune_amounts=0.2,
        restore_best=False,
        **LIGHT,
    )
    s1, s2, s3 = (r.sparsity["encoder_linear"] for r in result.history)
    assert s1 == 0.0  # no round after epoch 1
    assert s2 == pytest.approx(0.2, abs=1e-3)  # a round after epoch 2
    assert s3 == s2  # none after epoch 3
    assert result.model.sparsity() == result.history[-1].sparsity


def test_pruning_is_deterministic_and_reaches_the_callback(small_train: np.ndarray) -> None:
    seen: list[EpochRecord] = []
    settings = dict(
        nf=4, epochs=2, seed=3, prune_every=1, prune_amounts=REPORT_001_AMOUNTS, **LIGHT
    )
    a = train_cae(small_train[:512], callback=seen.append, **settings)
    b = train_cae(small_train[:512], **settings)
    assert seen == a.history
    assert [r.sparsity for r in a.history] == [r.sparsity for r in b.history]
    assert [r.val_loss for r in a.history] == [r.val_loss for r in b.history]


# --- dropout ----------------------------------------------------------------------------


def _small_spec(**kwargs) -> udl.AutoencoderSpec:
    return udl.AutoencoderSpec(
        conv_layers=[(4, 3, 2, 1), (8, 3, 2, 1)], hidden_widths=(32,), latent_dim=4, **kwargs
    )


def _losses(result: TrainResult) -> list[tuple[float, float, float]]:
    return [(r.train_loss, r.val_loss, r.val_mse) for r in result.history]


def test_dropout_changes_training(small_train: np.ndarray) -> None:
    data = small_train[:1024]
    plain = train_autoencoder(_small_spec(), data, epochs=2, seed=0, **LIGHT)
    dropped = train_autoencoder(_small_spec(dropout=0.5), data, epochs=2, seed=0, **LIGHT)
    assert plain.history[0].train_loss != dropped.history[0].train_loss
    assert _losses(plain) != _losses(dropped)


def test_decoder_dropout_changes_training(small_train: np.ndarray) -> None:
    data = small_train[:1024]
    encoder_only = train_autoencoder(_small_spec(dropout=0.5), data, epochs=1, seed=0, **LIGHT)
    both = train_autoencoder(
        _small_spec(dropout=0.5, decoder_dropout=True), data, epochs=1, seed=0, **LIGHT
    )
    assert encoder_only.history[0].train_loss != both.history[0].train_loss


def test_dropout_training_is_deterministic(small_train: np.ndarray) -> None:
    data = small_train[:1024]
    spec = _small_spec(dropout=0.5, decoder_dropout=True)
    a = train_autoencoder(spec, data, epochs=2, seed=5, **LIGHT)
    b = train_autoencoder(spec, data, epochs=2, seed=5, **LIGHT)
    assert _losses(a) == _losses(b)
    np.testing.assert_array_equal(a.model.encode(data[:64]), b.model.encode(data[:64]))
    c = train_autoencoder(spec, data, epochs=2, seed=6, **LIGHT)
    assert _losses(c) != _losses(a)


def test_dropout_model_evaluates_in_eval_mode(
    small_train: np.ndarray, small_test: np.ndarray
) -> None:
    result = train_autoencoder(
        _small_spec(dropout=0.5), small_train[:1024], test=small_test, epochs=1, seed=0, **LIGHT
    )
    model = result.model
    codes = model.encode(small_test)
    np.testing.assert_array_equal(model.encode(small_test), codes)  # no dropout at inference
    # The test figures come from the same eval-mode forward pass as reconstruct().
    recon = model.reconstruct(small_test).astype(np.float64)
    mse = float(np.mean((recon - small_test / 255.0) ** 2))
    assert result.test_mse == pytest.approx(mse, rel=1e-5)


# --- iterative autoencoding -------------------------------------------------------------


def test_two_passes_add_the_second_reconstruction_error(
    small_train: np.ndarray, small_test: np.ndarray
) -> None:
    result = train_cae(
        small_train[:1024], nf=4, test=small_test, epochs=2, seed=0, passes=2, loss="mse", **LIGHT
    )
    for r in result.history:
        assert r.val_loss > r.val_mse > 0
    assert result.test_loss > result.test_mse > 0
    # The loss of pass 2 encodes pass 1's reconstruction and compares it with the input.
    x = small_test / 255.0
    first = result.model.reconstruct(small_test)
    second = result.model.reconstruct(first)
    mse_1 = float(np.mean((first.astype(np.float64) - x) ** 2))
    mse_2 = float(np.mean((second.astype(np.float64) - x) ** 2))
    assert result.test_mse == pytest.approx(mse_1, rel=1e-5)
    assert result.test_loss == pytest.approx(mse_1 + mse_2, rel=1e-5)


def test_one_pass_loss_is_the_mse(small_train: np.ndarray) -> None:
    one = train_cae(small_train[:1024], nf=4, epochs=2, seed=0, passes=1, **LIGHT)
    for r in one.history:
        assert abs(r.val_loss - r.val_mse) <= 1e-7
    two = train_cae(small_train[:1024], nf=4, epochs=2, seed=0, passes=2, **LIGHT)
    assert two.history[0].train_loss != one.history[0].train_loss


def test_passes_with_bce_report_the_first_pass_mse(small_train: np.ndarray) -> None:
    result = train_cae(small_train[:512], nf=4, epochs=1, seed=0, passes=3, loss="bce", **LIGHT)
    record = result.history[0]
    assert record.val_loss > record.val_mse > 0
    assert record.val_mse < 0.25  # an MSE of [0, 1] images, not a cross-entropy


def test_a_run_that_diverges_at_once_has_no_best_val_mse(small_train: np.ndarray) -> None:
    result = train_cae(small_train[:512], nf=4, epochs=3, optimizer="sgd", lr=1e30, **LIGHT)
    assert result.stop_reason == "diverged at epoch 1"
    assert result.best_epoch == 0
    assert result.best_val_loss == math.inf
    assert not math.isfinite(result.best_val_mse), result.best_val_mse


# --- reconstruction snapshots -----------------------------------------------------------


def test_snapshots_hold_reconstructions_after_the_chosen_epochs(small_train: np.ndarray) -> None:
    fixed = small_train[:6]
    result = train_cae(
        small_train[:512],
        epochs=3,
        early_stopping=False,
        restore_best=False,
        snapshot_images=fixed,
        snapshot_epochs=[1, 3],
        **FAST,
    )
    assert sorted(result.snapshots) == [1, 3]
    for images in result.snapshots.values():
        assert images.shape == (6, 1, 28, 28) and images.dtype == np.float32
    # After the last epoch the model is the one returned (restore_best is off).
    np.testing.assert_allclose(result.snapshots[3], result.model.reconstruct(fixed), atol=1e-6)
    assert not np.allclose(result.snapshots[1], result.snapshots[3])


def test_snapshot_epochs_need_images(small_train: np.ndarray) -> None:
    with pytest.raises(ValueError, match="snapshot_epochs needs snapshot_images"):
        train_cae(small_train[:256], epochs=1, snapshot_epochs=[1], **FAST)


def test_snapshot_images_of_the_wrong_shape_fail_before_training(small_train: np.ndarray) -> None:
    calls = []
    with pytest.raises(ValueError, match="the model takes N x 1 x 28 x 28"):
        train_cae(
            small_train[:256],
            epochs=1,
            snapshot_images=np.zeros((2, 1, 14, 14), np.float32),
            snapshot_epochs=[1],
            callback=calls.append,
            **FAST,
        )
    assert calls == []  # no epoch ran
