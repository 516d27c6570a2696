"""udl.models: architecture specs, inference from NumPy and torch, saving and loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import udl
from udl import Autoencoder, AutoencoderSpec, ConvLayer, load_model


@pytest.fixture(scope="module")
def spec() -> AutoencoderSpec:
    return AutoencoderSpec.conv_autoencoder(16, 10)


@pytest.fixture(scope="module")
def model(spec: AutoencoderSpec) -> Autoencoder:
    return Autoencoder(spec, seed=0)


@pytest.fixture(scope="module")
def images(fashion: udl.datasets.Dataset) -> np.ndarray:
    """64 real test images, uint8 N x 1 x 28 x 28."""
    return fashion.test.images[:64]


# --- specs ------------------------------------------------------------------------------


def test_conv_autoencoder_layers(spec: AutoencoderSpec) -> None:
    assert spec.conv_layers == (
        ConvLayer(16, 3, 2, 1),
        ConvLayer(32, 3, 2, 1),
        ConvLayer(64, 3, 2, 0),
    )
    assert [(c.channels, c.kernel, c.stride, c.padding) for c in spec.conv_layers] == [
        (16, 3, 2, 1),
        (32, 3, 2, 1),
        (64, 3, 2, 0),
    ]
    assert spec.hidden_widths == (64,)
    assert spec.latent_dim == 10
    assert spec.input_shape == (1, 28, 28)


def test_describe_lists_the_sizes(spec: AutoencoderSpec) -> None:
    text = spec.describe()
    assert text.startswith("1x28x28")
    for size in ("16x14x14", "32x7x7", "64x3x3"):
        assert size in text
    assert "576" in text  # 64 x 3 x 3 flattened
    assert text.endswith("latent 10")


def test_spec_accepts_tuples_for_layers() -> None:
    from_tuples = AutoencoderSpec(conv_layers=[(8, 3, 2, 1)], hidden_widths=[16], latent_dim=4)
    from_layers = AutoencoderSpec(
        conv_layers=(ConvLayer(8, 3, 2, 1),), hidden_widths=(16,), latent_dim=4
    )
    assert from_tuples == from_layers
    assert isinstance(from_tuples.conv_layers[0], ConvLayer)
    assert "8x14x14" in from_tuples.describe()


def test_non_28_input_works() -> None:
    spec = AutoencoderSpec.conv_autoencoder(8, 5, (3, 32, 32))
    assert spec.input_shape == (3, 32, 32)
    assert "8x16x16" in spec.describe()
    model = Autoencoder(spec, seed=1)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    out = model.reconstruct(x)
    assert out.shape == x.shape
    assert model.encode(x).shape == (4, 5)


def test_kernel_larger_than_input_is_invalid_architecture() -> None:
    with pytest.raises(udl.InvalidArchitecture, match=r"conv layer 0 \(kernel 5.*input 3x3"):
        AutoencoderSpec(
            conv_layers=[(8, 5, 1, 0)], hidden_widths=(), latent_dim=4, input_shape=(1, 3, 3)
        )


def test_too_small_input_names_the_failing_layer() -> None:
    with pytest.raises(udl.InvalidArchitecture, match=r"conv layer 2 .*input 2x2"):
        AutoencoderSpec.conv_autoencoder(16, 10, (1, 8, 8))


def test_invalid_architecture_is_a_value_error() -> None:
    assert issubclass(udl.InvalidArchitecture, ValueError)


def test_latent_dim_zero() -> None:
    with pytest.raises(ValueError, match="latent_dim must be > 0, got 0"):
        AutoencoderSpec.conv_autoencoder(16, 0)


def test_nf_zero() -> None:
    with pytest.raises(ValueError, match="nf must be > 0, got 0"):
        AutoencoderSpec.conv_autoencoder(0, 10)


def test_non_positive_hidden_width() -> None:
    with pytest.raises(ValueError, match="hidden layer 0 width must be > 0"):
        AutoencoderSpec(conv_layers=[(8, 3, 2, 1)], hidden_widths=[0], latent_dim=4)


def test_negative_padding() -> None:
    with pytest.raises(ValueError, match="conv layer 0 padding must be >= 0"):
        AutoencoderSpec(conv_layers=[(8, 3, 2, -1)], hidden_widths=[], latent_dim=4)


# --- inference --------------------------------------------------------------------------


def test_numpy_in_numpy_out(model: Autoencoder, images: np.ndarray) -> None:
    codes = model.encode(images)
    assert isinstance(codes, np.ndarray)
    assert codes.dtype == np.float32
    assert codes.shape == (64, 10)
    assert np.isfinite(codes).all()

    decoded = model.decode(codes)
    assert isinstance(decoded, np.ndarray)
    assert decoded.dtype == np.float32
    assert decoded.shape == (64, 1, 28, 28)

    recon = model.reconstruct(images)
    assert isinstance(recon, np.ndarray)
    assert recon.dtype == np.float32
    assert recon.shape == images.shape
    assert recon.min() >= 0.0 and recon.max() <= 1.0
    # reconstruct is decode after encode.
    np.testing.assert_allclose(recon, decoded, atol=1e-6)


def test_float_images_accepted(model: Autoencoder, images: np.ndarray) -> None:
    as_float = images.astype(np.float32) / 255
    recon = model.reconstruct(as_float)
    assert recon.dtype == np.float32
    assert recon.shape == images.shape
    assert 0.0 <= recon.min() and recon.max() <= 1.0


def test_uint8_and_unit_float_give_the_same_codes(model: Autoencoder, images: np.ndarray) -> None:
    from_bytes = model.encode(images)
    from_float32 = model.encode(images.astype(np.float32) / 255)
    from_float64 = model.encode(images / 255.0)
    np.testing.assert_allclose(from_bytes, from_float32, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(from_bytes, from_float64, rtol=1e-5, atol=1e-6)


def test_different_images_give_different_codes(model: Autoencoder, images: np.ndarray) -> None:
    codes = model.encode(images)
    assert not np.allclose(codes[0], codes[1])


def test_single_channel_images_without_channel_axis(model: Autoencoder, images: np.ndarray) -> None:
    np.testing.assert_array_equal(model.encode(images[:, 0]), model.encode(images))
    assert model.reconstruct(images[:, 0]).shape == (64, 1, 28, 28)


def test_torch_in_torch_out(model: Autoencoder, images: np.ndarray) -> None:
    tensor = torch.from_numpy(images)
    codes = model.encode(tensor)
    assert isinstance(codes, torch.Tensor)
    assert codes.dtype == torch.float32
    assert codes.shape == (64, 10)
    np.testing.assert_array_equal(codes.numpy(), model.encode(images))

    decoded = model.decode(codes)
    assert isinstance(decoded, torch.Tensor)
    assert decoded.shape == (64, 1, 28, 28)

    recon = model.reconstruct(tensor.float() / 255)
    assert isinstance(recon, torch.Tensor)
    assert recon.shape == (64, 1, 28, 28)
    assert 0.0 <= recon.min().item() and recon.max().item() <= 1.0


def test_tensor_requiring_grad_is_accepted(model: Autoencoder, images: np.ndarray) -> None:
    tensor = (torch.from_numpy(images).float() / 255).requires_grad_()
    codes = model.encode(tensor)
    assert isinstance(codes, torch.Tensor)
    assert not codes.requires_grad


def test_inference_is_deterministic(model: Autoencoder, images: np.ndarray) -> None:
    np.testing.assert_array_equal(model.encode(images), model.encode(images))


def test_same_seed_same_weights(spec: AutoencoderSpec, images: np.ndarray) -> None:
    a, b, c = Autoencoder(spec, seed=3), Autoencoder(spec, seed=3), Autoencoder(spec, seed=4)
    np.testing.assert_array_equal(a.encode(images), b.encode(images))
    assert not np.allclose(a.encode(images), c.encode(images))


def test_parameter_count(model: Autoencoder) -> None:
    # encoder: 160 + 4640 + 18496 (convs) + 36928 + 650 (linears)
    # decoder: 704 + 37440 (linears) + 18464 + 4624 + 145 (transposed convs)
    assert model.parameter_count == 160 + 4640 + 18496 + 36928 + 650 + 704 + 37440 + 18464 + (
        4624 + 145
    )
    assert model.latent_dim == 10
    assert "parameters" in repr(model)


@pytest.mark.parametrize(
    "shape", [(2, 1, 28, 27), (2, 3, 28, 28), (28, 28), (0, 1, 28, 28)], ids=str
)
def test_encode_rejects_wrong_shapes(model: Autoencoder, shape) -> None:
    with pytest.raises(ValueError, match=r"the model takes N x 1 x 28 x 28 images"):
        model.encode(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.int64], ids=str)
def test_encode_rejects_wrong_dtypes(model: Autoencoder, dtype) -> None:
    with pytest.raises(TypeError, match="images must be uint8 or floating point"):
        model.encode(np.zeros((2, 1, 28, 28), dtype))


def test_reconstruct_rejects_lists(model: Autoencoder) -> None:
    with pytest.raises(TypeError, match="images must be a NumPy array or torch tensor"):
        model.reconstruct([[0.0] * 28] * 28)


@pytest.mark.parametrize("bad", [1.01, -0.5, np.nan, np.inf], ids=str)
def test_reconstruct_rejects_floats_outside_unit_range(model: Autoencoder, bad: float) -> None:
    images = np.full((2, 1, 28, 28), 0.5, np.float32)
    images[1, 0, 5, 5] = bad
    with pytest.raises(ValueError, match=r"float images must be finite and lie in \[0, 1\]"):
        model.reconstruct(images)


@pytest.mark.parametrize("shape", [(3, 9), (3,), (0, 10), (3, 10, 1)], ids=str)
def test_decode_rejects_wrong_shapes(model: Autoencoder, shape) -> None:
    with pytest.raises(ValueError, match=r"codes must be N x 10 with N > 0"):
        model.decode(np.zeros(shape, np.float32))


def test_decode_rejects_integer_codes(model: Autoencoder) -> None:
    with pytest.raises(TypeError, match="codes must be floating point"):
        model.decode(np.zeros((3, 10), np.int64))


def test_decode_rejects_non_finite_codes(model: Autoencoder) -> None:
    codes = np.zeros((3, 10), np.float32)
    codes[1, 1] = np.nan
    with pytest.raises(ValueError, match="codes contain NaN"):
        model.decode(codes)


def test_decode_accepts_float64(model: Autoencoder) -> None:
    codes = np.random.default_rng(0).normal(size=(5, 10))
    out = model.decode(codes)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, model.decode(codes.astype(np.float32)), atol=1e-6)


# --- save and load ----------------------------------------------------------------------


def test_save_then_load_gives_identical_encodings(
    model: Autoencoder, images: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "cae.udl"
    model.save(path)
    loaded = load_model(path)
    assert loaded.spec == model.spec
    assert loaded.parameter_count == model.parameter_count
    np.testing.assert_array_equal(loaded.encode(images), model.encode(images))
    np.testing.assert_array_equal(loaded.reconstruct(images), model.reconstruct(images))
    again = Autoencoder.load(str(path))  # a str path works too
    np.testing.assert_array_equal(again.encode(images), model.encode(images))


def test_save_and_load_a_non_default_spec(tmp_path: Path) -> None:
    spec = AutoencoderSpec(
        conv_layers=[(4, 5, 1, 2), (6, 3, 2, 0)],
        hidden_widths=(32, 16),
        latent_dim=3,
        input_shape=(2, 11, 9),
    )
    model = Autoencoder(spec, seed=5)
    x = np.random.default_rng(1).random((3, 2, 11, 9))
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.spec == spec
    np.testing.assert_array_equal(loaded.encode(x), model.encode(x))
    assert loaded.reconstruct(x).shape == (3, 2, 11, 9)


def test_save_overwrites(spec: AutoencoderSpec, images: np.ndarray, tmp_path: Path) -> None:
    path = tmp_path / "model.udl"
    first, second = Autoencoder(spec, seed=1), Autoencoder(spec, seed=2)
    first.save(path)
    second.save(path)
    np.testing.assert_array_equal(load_model(path).encode(images), second.encode(images))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.udl"]  # no temporary left


class _FailingNative:
    """Stands in for the native model: writes half a file, then fails, like a full disk."""

    def save(self, path: str) -> None:
        Path(path).write_bytes(b"PK\x03\x04 half a file")
        raise OSError("No space left on device")


def test_failed_save_keeps_the_old_file(
    spec: AutoencoderSpec, images: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.udl"
    original = Autoencoder(spec, seed=1)
    original.save(path)
    before = path.read_bytes()
    doomed = Autoencoder(spec, seed=2)
    monkeypatch.setattr(doomed, "_model", _FailingNative())
    with pytest.raises(OSError, match="No space left"):
        doomed.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.udl"]
    np.testing.assert_array_equal(load_model(path).encode(images), original.encode(images))


def test_save_into_a_missing_folder(model: Autoencoder, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "cae.udl"
    with pytest.raises(FileNotFoundError, match=r"cannot save the model to .*: no folder"):
        model.save(target)
    assert not (tmp_path / "missing").exists()


def test_load_non_model_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a model\n" * 20)
    with pytest.raises(udl.DataFormatError, match="is not a udl model file"):
        load_model(path)


def test_load_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.udl"
    path.write_bytes(b"")
    with pytest.raises(udl.DataFormatError, match="is not a udl model file"):
        load_model(path)


def test_load_torch_pickle(tmp_path: Path) -> None:
    path = tmp_path / "state.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(udl.DataFormatError, match="is not a udl model file"):
        load_model(path)


def test_load_truncated_model(model: Autoencoder, tmp_path: Path) -> None:
    path = tmp_path / "cae.udl"
    model.save(path)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(udl.DataFormatError, match="truncated"):
        load_model(path)


def test_load_missing_path(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no model file at .*missing\.udl"):
        load_model(tmp_path / "missing.udl")


def test_load_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no model file"):
        load_model(tmp_path)
