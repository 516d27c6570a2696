"""udl.autoencoders: architecture specs, inference from NumPy and torch, saving and loading."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from dataclasses import replace
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


# --- report 001's architectures: dropout, validation speed, a randomized sweep ----------

#: Report 001's best architecture (its search's winning trial).
REPORT_001_LAYERS = ((6, 2, 1, 1), (12, 2, 1, 0), (17, 3, 3, 1))


@pytest.fixture(scope="module")
def report_001_spec() -> AutoencoderSpec:
    return AutoencoderSpec(
        conv_layers=REPORT_001_LAYERS, hidden_widths=(57,), latent_dim=6, dropout=0.1905
    )


def test_report_001_best_architecture_builds(
    report_001_spec: AutoencoderSpec, images: np.ndarray
) -> None:
    spec = report_001_spec
    # The tuples became ConvLayers, in order.
    assert spec.conv_layers == tuple(ConvLayer(*layer) for layer in REPORT_001_LAYERS)
    assert all(isinstance(layer, ConvLayer) for layer in spec.conv_layers)
    assert spec.dropout == 0.1905
    assert spec.decoder_dropout is False
    text = spec.describe()
    # 28 -k2s1p1-> 29 -k2s1p0-> 28 -k3s3p1-> 10, then 17 x 10 x 10 = 1700 flattened.
    for size in ("6x29x29", "12x28x28", "17x10x10", "-> 1700 -> 57 -> latent 6"):
        assert size in text
    assert text.endswith("dropout 0.1905 (encoder)")
    model = Autoencoder(spec, seed=0)
    assert model.encode(images).shape == (64, 6)
    assert model.reconstruct(images).shape == images.shape


def test_describe_names_decoder_dropout() -> None:
    spec = AutoencoderSpec(
        conv_layers=REPORT_001_LAYERS,
        hidden_widths=(57,),
        latent_dim=6,
        dropout=0.25,
        decoder_dropout=True,
    )
    assert spec.describe().endswith("dropout 0.25 (encoder and decoder)")
    # Without dropout the description says nothing about it.
    plain = AutoencoderSpec(conv_layers=REPORT_001_LAYERS, hidden_widths=(57,), latent_dim=6)
    assert "dropout" not in plain.describe()


def test_impossible_spec_names_the_layer() -> None:
    # Report 001's layers end at 10 x 10; a fourth layer with kernel 12 cannot fit.
    with pytest.raises(
        udl.InvalidArchitecture,
        match=r"conv layer 3 \(kernel 12, stride 1, padding 0\) gets input 10x10",
    ):
        AutoencoderSpec(
            conv_layers=(*REPORT_001_LAYERS, (8, 12, 1, 0)), hidden_widths=(57,), latent_dim=6
        )


@pytest.mark.parametrize("dropout", [1.0, -0.1, 1.5, float("nan")], ids=str)
def test_dropout_out_of_range(dropout: float) -> None:
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)") as info:
        AutoencoderSpec(
            conv_layers=REPORT_001_LAYERS, hidden_widths=(57,), latent_dim=6, dropout=dropout
        )
    assert not isinstance(info.value, udl.InvalidArchitecture)  # a range error, not a shape one


@pytest.mark.parametrize("dropout", ["0.5", None, True], ids=repr)
def test_dropout_of_the_wrong_type(dropout) -> None:
    with pytest.raises(TypeError, match="dropout must be a number"):
        AutoencoderSpec(conv_layers=(), hidden_widths=(8,), latent_dim=2, dropout=dropout)


def test_dropout_is_stored_as_a_float() -> None:
    sizes = {"conv_layers": (), "hidden_widths": (8,), "latent_dim": 2}
    spec = AutoencoderSpec(**sizes, dropout=np.float32(0.5))
    assert type(spec.dropout) is float and spec.dropout == 0.5
    zero = AutoencoderSpec(**sizes, dropout=0)
    assert type(zero.dropout) is float and zero.dropout == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden_widths": (57.5,)}, "hidden layer 0 width must be an integer, got 57.5"),
        ({"latent_dim": 6.0}, "latent_dim must be an integer, got 6.0"),
        ({"latent_dim": "6"}, "latent_dim must be an integer, got '6'"),
        ({"conv_layers": [(6, 2.5, 1, 1)]}, "conv layer 0 kernel must be an integer, got 2.5"),
        ({"input_shape": (1, 28.0, 28)}, "input_shape entry must be an integer, got 28.0"),
    ],
    ids=["hidden", "latent-float", "latent-str", "kernel", "input_shape"],
)
def test_sizes_must_be_integers(kwargs, message) -> None:
    settings = {"conv_layers": REPORT_001_LAYERS, "hidden_widths": (57,), "latent_dim": 6}
    settings.update(kwargs)
    with pytest.raises(TypeError, match=message):
        AutoencoderSpec(**settings)


def test_numpy_integer_sizes_are_accepted() -> None:
    spec = AutoencoderSpec(
        conv_layers=[tuple(np.int64(v) for v in (6, 2, 1, 1))],
        hidden_widths=np.array([57]),
        latent_dim=np.int32(6),
    )
    assert spec == AutoencoderSpec(conv_layers=[(6, 2, 1, 1)], hidden_widths=(57,), latent_dim=6)
    assert type(spec.latent_dim) is int and type(spec.hidden_widths[0]) is int


def test_a_thousand_invalid_specs_are_rejected_in_well_under_a_second(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # An architecture search discards invalid trials before building anything: each rejection
    # costs microseconds (about 0.1 s for the thousand here). Half the specs fail on shape,
    # half on their dropout. The fastest of three rounds is timed: a collection of the
    # garbage earlier tests left, or a busy machine, can stall one round, not all three.
    def reject_a_thousand() -> float:
        gc.collect()
        start = time.perf_counter()
        rejected = 0
        for i in range(1000):
            try:
                if i % 2:
                    AutoencoderSpec(
                        conv_layers=[(8, 3 + i % 5, 2, 0), (16, 9, 4, 0)],
                        hidden_widths=(32,),
                        latent_dim=4,
                        input_shape=(1, 12, 12),
                    )
                else:
                    AutoencoderSpec(
                        conv_layers=REPORT_001_LAYERS,
                        hidden_widths=(57,),
                        latent_dim=6,
                        dropout=1.0,
                    )
            except udl.InvalidArchitecture:
                rejected += 1
            except ValueError as error:
                assert "dropout" in str(error)
                rejected += 1
        assert rejected == 1000
        return time.perf_counter() - start

    elapsed = min(reject_a_thousand() for _ in range(3))
    assert elapsed < 1.0, f"1000 rejections took {elapsed:.3f} s at best of three rounds"
    out, err = capfd.readouterr()
    assert out == "" and err == ""  # rejecting prints nothing, not even from the native core


def test_dropout_spec_survives_save_and_load(images: np.ndarray, tmp_path: Path) -> None:
    spec = AutoencoderSpec(
        conv_layers=REPORT_001_LAYERS,
        hidden_widths=(57, 20),
        latent_dim=6,
        dropout=0.1905,
        decoder_dropout=True,
    )
    model = Autoencoder(spec, seed=2)
    model.save(tmp_path / "dropout.udl")
    loaded = load_model(tmp_path / "dropout.udl")
    assert loaded.spec == spec
    assert loaded.spec.dropout == 0.1905  # exactly: the file keeps all 17 digits
    assert loaded.spec.decoder_dropout is True
    assert loaded.spec.describe() == spec.describe()
    np.testing.assert_array_equal(loaded.encode(images), model.encode(images))
    np.testing.assert_array_equal(loaded.reconstruct(images), model.reconstruct(images))


def test_dropout_model_inference_is_deterministic(
    report_001_spec: AutoencoderSpec, images: np.ndarray
) -> None:
    # Inference runs in eval mode, where dropout passes its input through: a dropout model
    # answers the same twice, and the same as the model of the same seed without dropout.
    with_dropout = Autoencoder(report_001_spec, seed=4)
    codes = with_dropout.encode(images)
    np.testing.assert_array_equal(with_dropout.encode(images), codes)
    np.testing.assert_array_equal(
        with_dropout.reconstruct(images), with_dropout.reconstruct(images)
    )
    no_dropout = replace(report_001_spec, dropout=0.0)
    np.testing.assert_array_equal(Autoencoder(no_dropout, seed=4).encode(images), codes)


# --- state_dict and sparsity of a fresh model -------------------------------------------


def test_state_dict_names_weights_biases_and_masks(report_001_spec: AutoencoderSpec) -> None:
    model = Autoencoder(report_001_spec, seed=0)
    state = model.state_dict()
    weights = [name for name in state if name.endswith(".weight")]
    masks = [name for name in state if name.startswith("mask_")]
    # Three convs and two linears in the encoder, mirrored in the decoder: ten of each.
    assert len(weights) == len(masks) == 10
    assert masks == [f"mask_{i}" for i in range(10)]
    for weight, mask in zip(weights, masks, strict=True):
        assert state[weight].shape == state[mask].shape
        assert state[mask].dtype == np.float32
        np.testing.assert_array_equal(state[mask], 1.0)  # nothing pruned yet
    assert state["encoder.0.weight"].shape == (6, 1, 2, 2)
    assert state["encoder.4.weight"].shape == (17, 12, 3, 3)
    total = sum(a.size for name, a in state.items() if not name.startswith("mask_"))
    assert total == model.parameter_count


def test_state_dict_is_a_copy(model: Autoencoder, images: np.ndarray) -> None:
    before = model.encode(images)
    state = model.state_dict()
    state["encoder.0.weight"][...] = 0.0
    np.testing.assert_array_equal(model.encode(images), before)
    assert np.any(model.state_dict()["encoder.0.weight"] != 0)


def test_fresh_model_has_no_sparsity(model: Autoencoder) -> None:
    assert model.sparsity() == dict.fromkeys(udl.LAYER_GROUPS, 0.0)


def test_sparsity_of_a_model_without_convolutions() -> None:
    model = Autoencoder(AutoencoderSpec(conv_layers=(), hidden_widths=(16,), latent_dim=3))
    assert set(model.sparsity()) == set(udl.LAYER_GROUPS)
    assert all(value == 0.0 for value in model.sparsity().values())
    assert all(v.ndim <= 2 for v in model.state_dict().values())  # linear layers only


# --- a randomized sweep of report 001's search space ------------------------------------


def _spatial_sizes(layers, height: int, width: int) -> list[tuple[int, int]]:
    """The spatial size after each conv layer, by floor((size + 2p - k) / s) + 1."""
    sizes = []
    for _channels, kernel, stride, padding in layers:
        height = (height + 2 * padding - kernel) // stride + 1
        width = (width + 2 * padding - kernel) // stride + 1
        sizes.append((height, width))
    return sizes


def _random_spec_args(rng: np.random.Generator, input_shape: tuple[int, int, int]) -> dict:
    layers = []
    for j in range(int(rng.integers(1, 5))):
        kernel = int(rng.integers(2, 7))
        layers.append(
            (
                int(rng.integers(1, 4 * 2**j + 1)),
                kernel,
                int(rng.integers(1, 5)),
                int(rng.integers(0, kernel // 2 + 1)),
            )
        )
    return {
        "conv_layers": layers,
        "hidden_widths": tuple(int(w) for w in rng.integers(4, 65, int(rng.integers(1, 4)))),
        "latent_dim": int(rng.integers(1, 65)),
        "input_shape": input_shape,
        "dropout": float(rng.choice([0.0, 0.1905, 0.5])),
    }


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Inference on one thread: many tiny forward passes, free of thread start-up costs."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_randomized_sweep_of_report_001_space(one_thread: None) -> None:
    rng = np.random.default_rng(1)
    inputs = {
        (1, 28, 28): rng.integers(0, 256, (2, 1, 28, 28), dtype=np.uint8),
        (3, 32, 32): rng.random((2, 3, 32, 32), dtype=np.float32),
    }
    valid = invalid = 0
    for trial in range(400):
        shape = (1, 28, 28) if trial % 2 == 0 else (3, 32, 32)
        args = _random_spec_args(rng, shape)
        sizes = _spatial_sizes(args["conv_layers"], shape[1], shape[2])
        bad = [i for i, (h, w) in enumerate(sizes) if h <= 0 or w <= 0]
        if bad:
            # The first layer whose output would reach 0 is the one named.
            with pytest.raises(udl.InvalidArchitecture, match=rf"^conv layer {bad[0]} "):
                AutoencoderSpec(**args)
            invalid += 1
            continue
        spec = AutoencoderSpec(**args)  # raises nothing: every size stays positive
        h, w = sizes[-1]
        channels = args["conv_layers"][-1][0]
        assert f"-> {channels}x{h}x{w} -> {channels * h * w} ->" in spec.describe()
        x = inputs[shape]
        model = Autoencoder(spec, seed=trial)
        out = model.reconstruct(x)
        assert out.shape == x.shape, (args, out.shape)
        assert model.encode(x).shape == (2, args["latent_dim"])
        valid += 1
    # The space holds plenty of both; the sweep saw enough of each to mean something.
    assert valid >= 100 and invalid >= 25, (valid, invalid)


def test_the_old_module_name_still_works_and_warns() -> None:
    import udl.models

    with pytest.warns(DeprecationWarning, match="now udl.autoencoders.AutoencoderSpec"):
        assert udl.models.AutoencoderSpec is udl.AutoencoderSpec
    with pytest.raises(AttributeError):
        _ = udl.models.Trainer
