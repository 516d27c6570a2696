"""Training and inference on a device: the tests scripts/gpu-check runs on a GPU.

They are parametrized by the devices in UDL_TEST_DEVICES (comma-separated; default "cpu"):
on CI they run on the CPU, on a GPU machine `UDL_TEST_DEVICES=cpu,cuda` runs each on both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import udl
from udl.autoencoders import Autoencoder, AutoencoderSpec

DEVICES = os.environ.get("UDL_TEST_DEVICES", "cpu").split(",")
on_every_device = pytest.mark.parametrize("device", DEVICES)

SMALL = {"batch_size": 64, "threads": 1}


def _cuda_name(device: str) -> str:
    """The name the core reports for `device` ("cuda" is the first GPU)."""
    return "cuda:0" if device == "cuda" else device


@pytest.fixture(scope="module")
def images(fashion: udl.datasets.Dataset) -> np.ndarray:
    return fashion.train.images[:512]


@pytest.fixture(scope="module")
def labelled(fashion: udl.datasets.Dataset) -> udl.datasets.ImageSet:
    return udl.datasets.ImageSet(fashion.train.images[:512], fashion.train.labels[:512])


# --- every model kind trains on the device ----------------------------------------------


@on_every_device
def test_cae_trains_on_the_device_and_stays_there(images: np.ndarray, device: str) -> None:
    result = udl.train_cae(images, nf=4, latent_dim=4, epochs=2, device=device, **SMALL)
    assert result.model.device == _cuda_name(device)
    assert len(result.history) == 2
    assert all(np.isfinite(r.val_loss) for r in result.history)
    assert result.model.encode(images[:3]).shape == (3, 4)


@on_every_device
def test_denoiser_trains_on_the_device(images: np.ndarray, device: str) -> None:
    result = udl.train_dae(
        images, udl.Corruption.report003(), nf=4, latent_dim=4, epochs=1, device=device, **SMALL
    )
    assert result.model.device == _cuda_name(device)
    assert np.isfinite(result.history[-1].val_loss)


@on_every_device
def test_vae_trains_on_the_device(images: np.ndarray, device: str) -> None:
    result = udl.train_vae(images, nf=4, latent_dim=2, epochs=1, device=device, **SMALL)
    assert result.model.device == _cuda_name(device)
    assert result.model.sample(5, seed=1).shape == (5, 1, 28, 28)


@on_every_device
@pytest.mark.parametrize("architecture", ["fc", "dcgan"])
def test_gan_trains_on_the_device(images: np.ndarray, device: str, architecture: str) -> None:
    result = udl.train_gan(
        images[:256], architecture=architecture, epochs=1, sample_epochs=[1], device=device
    )
    assert result.model.device == _cuda_name(device)
    generated = result.model.generate(4, seed=2)
    assert generated.shape == (4, 1, 28, 28)
    assert 0.0 <= generated.min() and generated.max() <= 1.0
    ((epoch, samples),) = result.samples.items()
    assert epoch == 1 and samples.dtype == np.float32 and samples.shape == (64, 1, 28, 28)
    assert 0.0 <= samples.min() and samples.max() <= 1.0


@on_every_device
def test_classifier_and_finetune_train_on_the_device(
    labelled: udl.datasets.ImageSet, images: np.ndarray, device: str
) -> None:
    scratch = udl.train_classifier(labelled, nf=4, latent_dim=8, epochs=1, device=device, **SMALL)
    assert scratch.model.device == _cuda_name(device)
    assert scratch.model.predict(images[:5]).shape == (5,)
    cae = udl.train_cae(images, nf=4, latent_dim=8, epochs=1, **SMALL)  # on the CPU
    tuned = udl.finetune_classifier(cae.model, labelled, epochs=1, device=device, **SMALL)
    assert tuned.model.device == _cuda_name(device)
    # Batch norm and augmentation draw and run where the model trains.
    augmented = udl.finetune_classifier(
        cae.model,
        labelled,
        batch_norm=True,
        max_shift=2,
        horizontal_flip=True,
        epochs=1,
        device=device,
        **SMALL,
    )
    assert augmented.model.device == _cuda_name(device)
    assert np.isfinite(augmented.history[0].train_loss)


@on_every_device
def test_cross_validation_and_a_study_run_on_the_device(
    images: np.ndarray, device: str, tmp_path: Path
) -> None:
    spec = AutoencoderSpec.conv_autoencoder(4, 4)
    cv = udl.cross_validate(spec, images, k=2, epochs=1, device=device, **SMALL)
    assert len(cv.folds) == 2 and np.isfinite(cv.mean_val_loss)
    study = udl.tune(
        images, "report000", n_trials=2, epochs=1, run_dir=tmp_path, device=device, **SMALL
    )
    assert len(study.study.trials) == 2


# --- the device is an input like any other -----------------------------------------------


@on_every_device
def test_same_seed_on_the_same_device_gives_the_same_history(
    images: np.ndarray, device: str
) -> None:
    def run() -> list[float]:
        result = udl.train_dae(
            images, udl.Corruption.report003(), nf=4, latent_dim=4, epochs=2, device=device, **SMALL
        )
        return [r.val_loss for r in result.history]

    assert run() == run()


@on_every_device
def test_a_model_trained_on_the_device_loads_on_the_cpu_with_the_same_outputs(
    images: np.ndarray, device: str, tmp_path: Path
) -> None:
    result = udl.train_cae(images, nf=4, latent_dim=4, epochs=1, device=device, **SMALL)
    on_device = result.model.reconstruct(images[:16])
    path = tmp_path / "model.udl"
    result.model.save(path)
    loaded = Autoencoder.load(path)
    assert loaded.device == "cpu"
    np.testing.assert_allclose(loaded.reconstruct(images[:16]), on_device, atol=1e-4)
    back = loaded.to(device)  # and back to the device
    np.testing.assert_allclose(back.reconstruct(images[:16]), on_device, atol=1e-4)


@on_every_device
def test_a_checkpoint_written_on_the_device_resumes_on_the_cpu(
    images: np.ndarray, device: str, tmp_path: Path
) -> None:
    checkpoint = tmp_path / "run.ckpt"
    udl.train_cae(
        images, nf=4, latent_dim=4, epochs=1, checkpoint=checkpoint, device=device, **SMALL
    )
    resumed = udl.train_cae(
        images, nf=4, latent_dim=4, epochs=2, checkpoint=checkpoint, resume=True, **SMALL
    )
    assert [r.epoch for r in resumed.history] == [1, 2]
    assert resumed.model.device == "cpu"


@on_every_device
def test_inference_moves_the_model_when_asked(images: np.ndarray, device: str) -> None:
    model = Autoencoder(AutoencoderSpec.conv_autoencoder(4, 4), seed=3)
    on_cpu = model.encode(images[:8])
    np.testing.assert_allclose(model.encode(images[:8], device=device), on_cpu, atol=1e-5)
    assert model.device == _cuda_name(device)


def test_auto_picks_the_gpu_only_when_torch_sees_one_everywhere(
    images: np.ndarray, labelled: udl.datasets.ImageSet, tmp_path: Path
) -> None:
    import torch

    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    auto = {"epochs": 1, "device": "auto", **SMALL}
    for train in (udl.train_cae, udl.train_vae):
        assert train(images, nf=4, latent_dim=2, **auto).model.device == expected
    assert udl.train_gan(images[:128], epochs=1, device="auto").model.device == expected
    classifier = udl.train_classifier(labelled, nf=4, latent_dim=8, **auto).model
    assert classifier.device == expected
    spec = AutoencoderSpec.conv_autoencoder(4, 4)
    assert udl.cross_validate(spec, images, k=2, **auto).model.device == expected
    udl.tune(images, "report000", n_trials=1, run_dir=tmp_path, **auto)
    model = Autoencoder(spec)
    model.encode(images[:2], device="auto")
    assert model.device == expected
    network = udl.metrics.FeatureNetwork(classifier.to("cpu"))
    distance = udl.metrics.frechet_distance(images[:64], images[64:128], network, device="auto")
    assert np.isfinite(distance) and classifier.device == expected


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import sys
    import udl

    data = udl.datasets.load("fashion-mnist", download=False)
    try:
        udl.train_cae(data.train.images[:4096], epochs=1000, early_stopping=False, threads=2,
                      device=sys.argv[1], callback=lambda r: print("epoch", r.epoch, flush=True))
    except KeyboardInterrupt:
        print("interrupted", flush=True)  # the moment training stopped, before shutdown
        raise
    """
)


@on_every_device
def test_ctrl_c_stops_training_on_the_device_within_a_second(device: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT, device],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the first epoch ends
        assert line.strip() == "epoch 1", process.stderr.read() if process.stderr else ""
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        line = process.stdout.readline()
        elapsed = time.monotonic() - sent
        assert line.strip() == "interrupted"
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate()
    assert elapsed < 1.0
    assert "KeyboardInterrupt" in stderr


# --- bad devices are refused before any work ---------------------------------------------


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("gpu", 'device must be "cpu", "cuda", "cuda:N" or "auto", got "gpu"'),
        ("cuda:x", 'device must be "cpu", "cuda", "cuda:N" or "auto"'),
        ("mps", 'device must be "cpu", "cuda", "cuda:N" or "auto"'),
        ("", 'device must be "cpu", "cuda", "cuda:N" or "auto"'),
    ],
)
def test_an_unknown_device_name_is_refused(images: np.ndarray, device: str, message: str) -> None:
    with pytest.raises(udl.InvalidArgument, match=message):
        udl.train_cae(images, epochs=1, device=device, **SMALL)


def test_a_gpu_this_machine_lacks_is_refused_before_any_work(
    images: np.ndarray, tmp_path: Path
) -> None:
    count = _gpu_count()
    missing = f"cuda:{count}"  # one past the last GPU: cuda:0 where there is none
    cause = (
        f"does not exist: this machine has {count} CUDA device"
        if count
        else r"is not available: torch sees no CUDA device \(a CPU-only build of torch, or no GPU"
    )
    checkpoint = tmp_path / "run.ckpt"
    start = time.monotonic()
    with pytest.raises(udl.InvalidArgument, match=f'device "{missing}" {cause}'):
        udl.train_vae(images, epochs=50, device=missing, checkpoint=checkpoint, **SMALL)
    assert time.monotonic() - start < 1.0
    assert not checkpoint.exists()


def test_every_entry_point_refuses_a_bad_device(
    images: np.ndarray, labelled: udl.datasets.ImageSet, tmp_path: Path
) -> None:
    spec = AutoencoderSpec.conv_autoencoder(4, 4)
    model = Autoencoder(spec)
    calls = [
        lambda: udl.train_gan(images, epochs=1, device="gpu"),
        lambda: udl.train_classifier(labelled, epochs=1, device="gpu"),
        lambda: udl.finetune_classifier(model, labelled, epochs=1, device="gpu"),
        lambda: udl.cross_validate(spec, images, k=2, epochs=1, device="gpu"),
        lambda: udl.tune(images, "report000", n_trials=1, run_dir=tmp_path, device="gpu"),
        lambda: model.encode(images[:2], device="gpu"),
        lambda: model.to("gpu"),
    ]
    for call in calls:
        with pytest.raises(udl.InvalidArgument, match="device must be"):
            call()
    with pytest.raises(TypeError, match="device must be a string"):
        udl.train_cae(images, epochs=1, device=0, **SMALL)


@on_every_device
def test_bf16_trains_on_cuda_and_is_refused_elsewhere(images: np.ndarray, device: str) -> None:
    if device.startswith("cuda"):
        settings = {"epochs": 3, "device": device, **SMALL}
        full = udl.train_vae(images, **settings)
        half = udl.train_vae(images, precision="bf16", **settings)
        assert all(np.isfinite(r.val_loss) for r in half.history)
        # It learns as float32 does, within bf16's rounding (stale or gradient-less cast
        # weights would stall it).
        assert half.history[-1].val_loss < half.history[0].val_loss
        assert half.history[-1].val_loss == pytest.approx(full.history[-1].val_loss, rel=0.05)
        gan = udl.train_gan(
            images[:256], epochs=2, sample_epochs=[2], precision="bf16", device=device
        )
        before = udl.gan.Gan("fc", seed=0).generate(8, seed=1)
        assert not np.allclose(gan.model.generate(8, seed=1), before)  # the generator trained
        assert gan.samples[2].dtype == np.float32
    else:
        with pytest.raises(udl.InvalidArgument, match="precision bf16 needs a CUDA device"):
            udl.train_cae(images, epochs=1, precision="bf16", device=device, **SMALL)
    with pytest.raises(ValueError, match="precision"):
        udl.train_cae(images, epochs=1, precision="fp8", device=device, **SMALL)


def _udl(*arguments: str) -> subprocess.CompletedProcess[str]:
    """The `udl` command run with `arguments` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "udl", *arguments], capture_output=True, text=True, timeout=120
    )


def test_the_command_takes_device(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    done = _udl(
        "train", "cae", "--epochs", "1", "--subset", "256", "--device", "gpu", "--out", str(out)
    )
    assert done.returncode == 2, done.stderr
    assert 'device must be "cpu", "cuda", "cuda:N" or "auto"' in done.stderr


def test_the_command_trains_on_the_device_it_is_given(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "run"
    done = _udl(
        "train", "vae", "--epochs", "1", "--subset", "256", "--device", "auto", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    assert 'device = "auto"' in (out / "config.toml").read_text(encoding="utf-8")
