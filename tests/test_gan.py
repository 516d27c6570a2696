"""udl.gan: training the three GAN architectures, their samples, generation, the
discriminator, files and argument checks."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch

import udl
from udl import Gan, GanResult, train_gan
from udl.gan import ARCHITECTURES, GanEpochRecord

SAMPLES = 8
QUICK = dict(epochs=2, batch_size=64, threads=1, seed=0, sample_epochs=(2,), sample_count=SAMPLES)


# Inference outside the training loop runs on one thread (the machine is shared).
pytestmark = pytest.mark.usefixtures("one_thread_per_module")


@pytest.fixture(scope="module")
def images(small_train: np.ndarray) -> np.ndarray:
    return small_train[:256]


@pytest.fixture(scope="module", params=ARCHITECTURES)
def trained(request: pytest.FixtureRequest, images: np.ndarray) -> GanResult:
    """Each architecture trained once for 2 epochs on 256 images."""
    return train_gan(images, architecture=request.param, **QUICK)


@pytest.fixture(scope="module")
def fc(images: np.ndarray) -> GanResult:
    return train_gan(images[:128], architecture="fc", epochs=1, threads=1, batch_size=64)


# --- training ---------------------------------------------------------------------------


def test_architectures() -> None:
    assert ARCHITECTURES == ("fc", "fc_leaky", "dcgan")


def test_history(trained: GanResult) -> None:
    assert isinstance(trained, GanResult)
    assert trained.stop_reason == "completed"
    assert [r.epoch for r in trained.history] == [1, 2]
    for r in trained.history:
        assert isinstance(r, GanEpochRecord)
        assert math.isfinite(r.generator_loss) and r.generator_loss > 0
        assert math.isfinite(r.discriminator_loss) and r.discriminator_loss > 0
        assert 0.0 <= r.real_score <= 1.0
        assert 0.0 <= r.fake_score <= 1.0
        assert r.seconds > 0
    assert trained.seconds >= sum(r.seconds for r in trained.history) * 0.99


def test_samples_at_the_requested_epochs(trained: GanResult) -> None:
    assert set(trained.samples) == {2}
    samples = trained.samples[2]
    assert isinstance(samples, np.ndarray)
    assert samples.shape == (SAMPLES, 1, 28, 28) and samples.dtype == np.float32
    assert 0.0 <= samples.min() and samples.max() <= 1.0
    assert np.isfinite(samples).all()
    assert not np.array_equal(samples[0], samples[1])  # different noise, different images


def test_model(trained: GanResult) -> None:
    model = trained.model
    assert isinstance(model, Gan)
    assert model.architecture in ARCHITECTURES
    assert model.image_shape == (1, 28, 28)
    assert model.noise_dim == 100
    counts = model.parameter_count
    assert set(counts) == {"generator", "discriminator"}
    assert counts["generator"] > 0 and counts["discriminator"] > 0
    assert f"{counts['generator']} + {counts['discriminator']} parameters" in repr(model)


def test_generate(trained: GanResult) -> None:
    generated = trained.model.generate(5, seed=1)
    assert isinstance(generated, np.ndarray)
    assert generated.shape == (5, 1, 28, 28) and generated.dtype == np.float32
    assert 0.0 <= generated.min() and generated.max() <= 1.0


def test_generate_is_seed_deterministic(trained: GanResult) -> None:
    model = trained.model
    np.testing.assert_array_equal(model.generate(6, seed=3), model.generate(6, seed=3))
    np.testing.assert_array_equal(model.generate(6), model.generate(6, seed=0))
    assert not np.array_equal(model.generate(6, seed=3), model.generate(6, seed=4))


def test_real_probability(trained: GanResult, images: np.ndarray) -> None:
    model = trained.model
    real = model.real_probability(images[:32])
    fake = model.real_probability(model.generate(32, seed=0))
    for p in (real, fake):
        assert p.shape == (32,) and p.dtype == np.float32
        assert np.all((0.0 <= p) & (p <= 1.0))
    # uint8 images are scaled like float ones; tensors come back as tensors.
    np.testing.assert_allclose(
        model.real_probability((images[:32] / 255.0).astype(np.float32)), real, atol=1e-5
    )
    as_tensor = model.real_probability(torch.from_numpy(images[:32]))
    assert isinstance(as_tensor, torch.Tensor)
    np.testing.assert_array_equal(as_tensor.numpy(), real)


def test_discriminator_evaluates_in_eval_mode(trained: GanResult, images: np.ndarray) -> None:
    # No dropout and batch norm on running statistics: an image's score does not depend on
    # the other images of its batch, nor on the call.
    model = trained.model
    many = model.real_probability(images[:16])
    np.testing.assert_allclose(model.real_probability(images[:1]), many[:1], atol=1e-6)
    np.testing.assert_array_equal(model.real_probability(images[:16]), many)


def test_save_and_load(trained: GanResult, images: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "gan.udl"
    trained.model.save(path)
    loaded = Gan.load(path)
    assert loaded.architecture == trained.model.architecture
    assert loaded.image_shape == trained.model.image_shape
    assert loaded.noise_dim == trained.model.noise_dim
    assert loaded.parameter_count == trained.model.parameter_count
    np.testing.assert_array_equal(loaded.generate(8, seed=5), trained.model.generate(8, seed=5))
    np.testing.assert_array_equal(
        loaded.real_probability(images[:8]), trained.model.real_probability(images[:8])
    )


# --- one architecture is enough ---------------------------------------------------------


def test_report_000s_fc_parameter_counts() -> None:
    # Generator 100 -> 256 -> 512 -> 1024 -> 784, discriminator 784 -> 1024 -> 512 -> 256 -> 1.
    def linear(sizes: list[int]) -> int:
        return sum(a * b + b for a, b in itertools.pairwise(sizes))

    model = Gan("fc")
    assert model.parameter_count == {
        "generator": linear([100, 256, 512, 1024, 784]),
        "discriminator": linear([784, 1024, 512, 256, 1]),
    }
    leaky = Gan("fc_leaky")
    assert leaky.parameter_count == {
        "generator": linear([100, 256, 512, 784]),
        "discriminator": linear([784, 512, 256, 1]),
    }


def test_samples_at_several_epochs(images: np.ndarray) -> None:
    result = train_gan(
        images[:64], epochs=3, sample_epochs=[1, 3], sample_count=4, threads=1, batch_size=32
    )
    assert sorted(result.samples) == [1, 3]
    assert all(s.shape == (4, 1, 28, 28) for s in result.samples.values())
    # The same noise batch every time, a generator that has changed in between.
    assert not np.array_equal(result.samples[1], result.samples[3])


def test_no_sample_epochs_no_samples(fc: GanResult) -> None:
    assert fc.samples == {}


def test_same_seed_same_training(images: np.ndarray) -> None:
    settings = dict(epochs=1, threads=1, batch_size=32, seed=4)
    a = train_gan(images[:64], **settings)
    b = train_gan(images[:64], **settings)
    c = train_gan(images[:64], **{**settings, "seed": 5})
    assert a.history[0].generator_loss == b.history[0].generator_loss
    assert a.history[0].discriminator_loss == b.history[0].discriminator_loss
    np.testing.assert_array_equal(a.model.generate(4), b.model.generate(4))
    assert a.history[0].generator_loss != c.history[0].generator_loss


def test_callback_gets_each_epoch(images: np.ndarray) -> None:
    records: list[GanEpochRecord] = []
    result = train_gan(images[:64], epochs=2, callback=records.append, threads=1, batch_size=32)
    assert [r.epoch for r in records] == [1, 2]
    assert records == result.history


def test_noise_dim(images: np.ndarray) -> None:
    result = train_gan(images[:64], noise_dim=16, epochs=1, threads=1, batch_size=32)
    assert result.model.noise_dim == 16
    assert result.model.parameter_count["generator"] < Gan("fc").parameter_count["generator"]
    assert result.model.generate(3).shape == (3, 1, 28, 28)


def test_train_gan_accepts_a_dataset(fashion: udl.datasets.Dataset) -> None:
    data = udl.datasets.Dataset(
        "f",
        fashion.train.subset(slice(0, 64)),
        fashion.test.subset(slice(0, 8)),
        fashion.class_names,
    )
    result = train_gan(data, epochs=1, threads=1, batch_size=32)
    assert len(result.history) == 1


def test_other_image_shapes() -> None:
    rng = np.random.default_rng(0)
    colour = udl.datasets.from_numpy(rng.integers(0, 256, (32, 3, 12, 12), dtype=np.uint8))
    dcgan = train_gan(colour, architecture="dcgan", epochs=1, threads=1, batch_size=16)
    assert dcgan.model.image_shape == (3, 12, 12)
    assert dcgan.model.generate(2).shape == (2, 3, 12, 12)
    odd = udl.datasets.from_numpy(rng.integers(0, 256, (32, 30, 30), dtype=np.uint8))
    fc = train_gan(odd, architecture="fc", epochs=1, threads=1, batch_size=16)
    assert fc.model.generate(2).shape == (2, 1, 30, 30)


def test_generate_count_must_be_positive(fc: GanResult) -> None:
    with pytest.raises(ValueError, match="sample count must be > 0"):
        fc.model.generate(0)
    with pytest.raises(ValueError, match="sample count must be > 0"):
        fc.model.generate(-3)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        fc.model.generate(2, seed=-1)
    with pytest.raises(TypeError, match="count must be an integer"):
        fc.model.generate(2.5)  # type: ignore[arg-type]


def test_real_probability_checks_images(fc: GanResult) -> None:
    with pytest.raises(ValueError, match="1 x 28 x 28"):
        fc.model.real_probability(np.zeros((2, 1, 30, 30), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fc.model.real_probability(np.full((2, 1, 28, 28), -1.0, np.float32))


def test_files_of_other_models(fc: GanResult, tmp_path: Path) -> None:
    autoencoder = tmp_path / "ae.udl"
    udl.Autoencoder(udl.AutoencoderSpec.conv_autoencoder(4, 2, (1, 28, 28))).save(autoencoder)
    with pytest.raises(udl.DataFormatError, match="gan"):
        Gan.load(autoencoder)
    gan = tmp_path / "gan.udl"
    fc.model.save(gan)
    with pytest.raises(udl.DataFormatError):
        udl.Vae.load(gan)
    with pytest.raises(FileNotFoundError):
        Gan.load(tmp_path / "missing.udl")


# --- argument checks --------------------------------------------------------------------


def test_unknown_architecture(images: np.ndarray) -> None:
    with pytest.raises(ValueError, match="unknown GAN architecture 'wgan'"):
        train_gan(images[:16], architecture="wgan", epochs=1)
    with pytest.raises(ValueError, match="unknown GAN architecture"):
        Gan("FC")


@pytest.mark.parametrize("epoch", [0, 3, -1])
def test_sample_epoch_outside_the_run(epoch: int, images: np.ndarray) -> None:
    with pytest.raises(ValueError, match=f"sample epoch {epoch} is outside 1..2"):
        train_gan(images[:16], epochs=2, sample_epochs=[epoch], threads=1)


def test_dcgan_needs_sizes_divisible_by_4() -> None:
    data = udl.datasets.from_numpy(np.zeros((16, 30, 30), dtype=np.uint8))
    with pytest.raises(ValueError, match="divisible by 4, got 30x30"):
        train_gan(data, architecture="dcgan", epochs=1, threads=1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"lr": 0.0}, ValueError, "lr"),
        ({"lr": "fast"}, TypeError, "lr"),
        ({"beta1": 1.0}, ValueError, "beta1"),
        ({"beta2": -0.1}, ValueError, "beta2"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"sample_count": 0}, ValueError, "sample count"),
        ({"noise_dim": 0}, ValueError, "noise_dim"),
        ({"seed": -1}, ValueError, "seed"),
        ({"threads": 0}, ValueError, "threads"),
        ({"sample_epochs": [1.0]}, TypeError, "sample epoch"),
        ({"label_smoothing": 0.5}, ValueError, "label_smoothing must be in"),
        ({"label_smoothing": -0.1}, ValueError, "label_smoothing must be in"),
        ({"label_smoothing": "yes"}, TypeError, "label_smoothing must be a number"),
        ({"gradient_penalty": -0.1}, ValueError, "gradient_penalty must be"),
        ({"gradient_penalty": float("nan")}, ValueError, "gradient_penalty must be"),
        ({"gradient_penalty_interval": 0}, ValueError, "gradient_penalty_interval must be >= 1"),
        ({"gradient_penalty_interval": 1.5}, TypeError, "gradient_penalty_interval must be an"),
        # past 64 bits: a named ValueError, not pybind11's "incompatible arguments"
        ({"gradient_penalty_interval": 2**70}, ValueError, "gradient_penalty_interval must be <="),
        ({"architecture": "dcgan", "dcgan_width": 2**70}, ValueError, "dcgan_width must be <="),
        ({"noise_dim": -(2**70)}, ValueError, "noise_dim must be >="),
        ({"discriminator_lr": 0.0}, ValueError, "discriminator_lr must be > 0"),
        ({"discriminator_lr": float("nan")}, ValueError, "discriminator_lr"),
        ({"discriminator_lr": "fast"}, TypeError, "discriminator_lr must be a number"),
        ({"generator_average": 1.0}, ValueError, "generator_average must be in"),
        ({"generator_average": -0.5}, ValueError, "generator_average must be in"),
        ({"generator_average": None}, TypeError, "generator_average must be a number"),
        ({"architecture": "dcgan", "dcgan_width": 0}, ValueError, "dcgan_width must be > 0"),
        ({"architecture": "dcgan", "dcgan_width": 8.0}, TypeError, "dcgan_width must be an"),
        ({"dcgan_width": 32}, ValueError, "apply to the DCGAN only"),
        ({"discriminator_batch_norm": False}, ValueError, "apply to the DCGAN only"),
        ({"discriminator_batch_norm": "no"}, TypeError, "discriminator_batch_norm must be True"),
        ({"minibatch_stddev": 1}, TypeError, "minibatch_stddev must be True"),
    ],
)
def test_bad_parameters(
    kwargs: dict, error: type[Exception], message: str, images: np.ndarray
) -> None:
    with pytest.raises(error, match=message):
        train_gan(images[:16], **{"epochs": 1, **kwargs})


def test_narrow_dcgan_without_discriminator_batch_norm(images: np.ndarray, tmp_path: Path) -> None:
    settings = dict(architecture="dcgan", epochs=1, batch_size=32, threads=1, seed=0)
    narrow = train_gan(
        images[:64], dcgan_width=8, discriminator_batch_norm=False, gradient_penalty=1.0, **settings
    ).model
    standard = Gan("dcgan")
    assert (narrow.dcgan_width, narrow.discriminator_batch_norm) == (8, False)
    assert (standard.dcgan_width, standard.discriminator_batch_norm) == (64, True)
    # The generator's width scales its convolutions; the discriminator also loses its
    # batch norm's 2 x 2w parameters.
    assert narrow.parameter_count["generator"] < standard.parameter_count["generator"] / 7
    assert narrow.parameter_count["discriminator"] < standard.parameter_count["discriminator"] / 7
    assert "width 8, no discriminator batch norm" in repr(narrow)
    narrow.save(tmp_path / "narrow.udl")
    loaded = Gan.load(tmp_path / "narrow.udl")
    assert (loaded.dcgan_width, loaded.discriminator_batch_norm) == (8, False)
    np.testing.assert_array_equal(loaded.generate(4, seed=3), narrow.generate(4, seed=3))


def test_minibatch_stddev_trains_saves_and_loads(images: np.ndarray, tmp_path: Path) -> None:
    settings = dict(epochs=1, batch_size=32, threads=1, seed=0, gradient_penalty=10.0)
    spread = train_gan(images[:64], minibatch_stddev=True, **settings).model
    plain = train_gan(images[:64], **settings).model
    assert spread.minibatch_stddev and not plain.minibatch_stddev
    assert spread.parameter_count["discriminator"] == plain.parameter_count["discriminator"] + 1
    assert "minibatch stddev" in repr(spread) and "minibatch stddev" not in repr(plain)
    # The spread changes what the discriminator teaches, so the generators part ways.
    assert not np.array_equal(spread.generate(4, seed=1), plain.generate(4, seed=1))
    # A discriminator that sees the batch scores an image by its company.
    alone = spread.real_probability(images[:2])
    together = spread.real_probability(images[:6])[:2]
    assert not np.allclose(alone, together)
    spread.save(tmp_path / "spread.udl")
    loaded = Gan.load(tmp_path / "spread.udl")
    assert loaded.minibatch_stddev
    np.testing.assert_array_equal(loaded.generate(4, seed=3), spread.generate(4, seed=3))
    np.testing.assert_array_equal(
        loaded.real_probability(images[:6]), spread.real_probability(images[:6])
    )


def test_images_of_another_shape_for_a_model() -> None:
    with pytest.raises(ValueError, match="image_shape"):
        Gan("fc", image_shape=(1, 28))


@pytest.mark.parametrize("setting", ["val_fraction", "patience", "early_stopping", "lr_decay"])
def test_settings_of_a_validated_loop_are_refused(setting: str, small_train) -> None:
    # Nothing is validated or monitored in a GAN's loop: such a setting would do nothing.
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{setting}'"):
        udl.train_gan(small_train[:64], epochs=1, **{setting: 0.5})


@pytest.mark.parametrize(
    "setting", [{"label_smoothing": 0.1}, {"gradient_penalty": 10.0}, {"discriminator_lr": 4e-4}]
)
def test_an_anti_collapse_setting_changes_the_training_and_keeps_it_reproducible(
    setting: dict, images: np.ndarray
) -> None:
    plain = train_gan(images[:256], **QUICK)
    changed = train_gan(images[:256], **setting, **QUICK)
    again = train_gan(images[:256], **setting, **QUICK)
    assert [r.discriminator_loss for r in changed.history] == [
        r.discriminator_loss for r in again.history
    ]
    assert changed.history[0].discriminator_loss != plain.history[0].discriminator_loss
    assert not np.array_equal(changed.model.generate(4), plain.model.generate(4))


def test_the_generator_average_is_what_the_model_and_samples_hold(images: np.ndarray) -> None:
    # The average leaves the training as it is (the same losses) but the returned generator
    # and the kept samples are the average's, not the last step's.
    settings = {**QUICK, "sample_epochs": [1]}
    plain = train_gan(images[:256], **settings)
    averaged = train_gan(images[:256], generator_average=0.9, **settings)
    assert [r.generator_loss for r in averaged.history] == [r.generator_loss for r in plain.history]
    assert not np.array_equal(averaged.model.generate(4), plain.model.generate(4))
    assert not np.array_equal(averaged.samples[1], plain.samples[1])
    following = train_gan(images[:256], generator_average=1e-12, **settings)
    np.testing.assert_allclose(following.model.generate(4), plain.model.generate(4), atol=1e-5)
