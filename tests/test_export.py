"""Models leave udl: `to_torch()`, TorchScript and ONNX files give udl's own outputs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

import udl
from udl.autoencoders import Autoencoder, AutoencoderSpec, ConvLayer
from udl.classifiers import Classifier, ClassifierSpec
from udl.gan import Gan
from udl.vae import Vae

pytestmark = [
    pytest.mark.usefixtures("one_thread_per_module"),
    # torch 2.9+ calls TorchScript deprecated; reading its files is what these tests check.
    pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning"),
]


TOLERANCE = 1e-5


def _images(n: int = 6, shape: tuple[int, ...] = (1, 28, 28)) -> np.ndarray:
    return np.random.default_rng(0).random((n, *shape), dtype=np.float32)


def _trained_cae(images: np.ndarray) -> Autoencoder:
    """A CAE with dropout in both halves and pruned weights: every layer kind it can hold."""
    spec = AutoencoderSpec(
        input_shape=(1, 28, 28),
        conv_layers=(ConvLayer(4, 3, 2, 1), ConvLayer(8, 3, 2, 1)),
        hidden_widths=(16,),
        latent_dim=3,
        dropout=0.2,
        decoder_dropout=True,
    )
    return udl.train_autoencoder(
        spec, images, epochs=1, batch_size=64, prune_every=1, prune_amounts=0.3, threads=1
    ).model


MODELS = {
    "cae": lambda: Autoencoder(AutoencoderSpec.conv_autoencoder(4, 5), seed=1),
    "vae_batch_norm": lambda: Vae(AutoencoderSpec.conv_autoencoder(4, 2), batch_norm=True, seed=2),
    "classifier_linear": lambda: Classifier(
        ClassifierSpec(AutoencoderSpec.conv_autoencoder(4, 8), 10, "linear"), seed=3
    ),
    "classifier_two_layer": lambda: Classifier(
        ClassifierSpec(AutoencoderSpec.conv_autoencoder(4, 8), 10, "two_layer", 16), seed=4
    ),
    "classifier_batch_norm": lambda: Classifier(
        ClassifierSpec(AutoencoderSpec.conv_autoencoder(4, 8), 10, "two_layer", 16, True), seed=9
    ),
    "classifier_headless": lambda: Classifier(
        ClassifierSpec(AutoencoderSpec.conv_autoencoder(4, 10), 10, "none"), seed=5
    ),
    "gan_fc": lambda: Gan("fc", seed=6),
    "gan_fc_leaky": lambda: Gan("fc_leaky", seed=7),
    "gan_dcgan": lambda: Gan("dcgan", seed=8),
}


def _udl_outputs(model: object, inputs: np.ndarray) -> np.ndarray:
    """What udl itself returns for the module's forward input."""
    if isinstance(model, Classifier):
        return model.log_probabilities(inputs)
    if isinstance(model, Gan):
        raise AssertionError("a GAN's input is noise; see the generator test")
    return model.reconstruct(inputs)


@pytest.mark.parametrize("name", [n for n in MODELS if not n.startswith("gan")])
def test_to_torch_gives_the_same_outputs(name: str) -> None:
    model = MODELS[name]()
    module = model.to_torch()
    assert not module.training
    images = _images()
    with torch.no_grad():
        ours = module(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(ours, _udl_outputs(model, images), atol=TOLERANCE)


def test_to_torch_is_made_of_torch_layers_only() -> None:
    module = MODELS["vae_batch_norm"]().to_torch()
    for sub in module.modules():
        assert type(sub).__module__.startswith(("torch.nn", "udl.portable")), type(sub)
    names = set(module.state_dict())
    assert "encoder.0.weight" in names and "mean.weight" in names


def test_a_pruned_trained_cae_with_dropout_exports_exactly(fashion: udl.datasets.Dataset) -> None:
    model = _trained_cae(fashion.train.images[:512])
    assert model.sparsity()["encoder_conv"] > 0
    module = model.to_torch()
    images = fashion.test.images[:8].astype(np.float32) / 255
    with torch.no_grad():
        np.testing.assert_allclose(
            module.encode(torch.from_numpy(images)).numpy(), model.encode(images), atol=TOLERANCE
        )
        np.testing.assert_allclose(
            module(torch.from_numpy(images)).numpy(), model.reconstruct(images), atol=TOLERANCE
        )


@pytest.mark.parametrize("architecture", ["fc", "fc_leaky", "dcgan"])
def test_the_generator_draws_what_udl_draws_from_the_same_seed(architecture: str) -> None:
    model = MODELS[f"gan_{architecture}"]()
    generator = model.to_torch()
    # udl's Gan.generate draws its noise with torch's CPU generator: the same from a seed.
    noise = torch.empty(5, model.noise_dim).normal_(generator=torch.Generator().manual_seed(11))
    with torch.no_grad():
        ours = generator(noise).numpy()
    np.testing.assert_allclose(ours, model.generate(5, seed=11), atol=TOLERANCE)


@pytest.mark.parametrize("name", list(MODELS))
def test_torchscript_file_runs_every_method(name: str, tmp_path: Path) -> None:
    model = MODELS[name]()
    path = model.export(tmp_path / "model.pt")
    scripted = torch.jit.load(str(path))
    module = model.to_torch()
    inputs = torch.randn(3, model.noise_dim) if isinstance(model, Gan) else torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_allclose(scripted(inputs).numpy(), module(inputs).numpy(), atol=1e-6)
        if isinstance(model, (Autoencoder, Vae)):
            codes = scripted.encode(inputs)
            np.testing.assert_allclose(codes.numpy(), model.encode(inputs.numpy()), atol=TOLERANCE)
            np.testing.assert_allclose(
                scripted.decode(codes).numpy(), model.decode(codes.numpy()), atol=TOLERANCE
            )


ONNX_CASES = [
    ("cae", "reconstruct"),
    ("cae", "encode"),
    ("cae", "decode"),
    ("vae_batch_norm", "encode"),
    ("vae_batch_norm", "reconstruct"),
    ("classifier_two_layer", None),
    ("classifier_headless", None),
    ("gan_dcgan", None),
    ("gan_fc_leaky", None),
]


@pytest.mark.parametrize(("name", "part"), ONNX_CASES)
def test_onnx_graph_gives_the_same_outputs(name: str, part: str | None, tmp_path: Path) -> None:
    model = MODELS[name]()
    path = model.export(tmp_path / "model.onnx", "onnx", part=part)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if isinstance(model, Gan):
        noise = np.random.default_rng(1).standard_normal((7, model.noise_dim), np.float32)
        expected = model.to_torch()(torch.from_numpy(noise)).detach().numpy()
        inputs = noise
    elif part == "decode":
        inputs = np.random.default_rng(1).standard_normal((7, model.latent_dim), np.float32)
        expected = model.decode(inputs)
    else:
        inputs = _images(7)  # another batch size than the export's example
        expected = model.encode(inputs) if part == "encode" else _udl_outputs(model, inputs)
    (output,) = session.run(None, {"input": inputs})
    np.testing.assert_allclose(output, expected, atol=1e-4)


# torch 2.11's own loader warns of the read-only bytes it reads the weights from (seen on the
# GPU machine's torch, 2026-11-30); the program it loads is what this test checks.
@pytest.mark.filterwarnings("ignore:The given buffer is not writable:UserWarning")
@pytest.mark.parametrize(("name", "part"), [("cae", "decode"), ("classifier_linear", None)])
def test_torch_export_program_gives_the_same_outputs(
    name: str, part: str | None, tmp_path: Path
) -> None:
    model = MODELS[name]()
    path = model.export(tmp_path / "model.pt2", "pt2", part=part)
    program = torch.export.load(str(path)).module()
    if part == "decode":
        inputs = np.random.default_rng(2).standard_normal((5, model.latent_dim), np.float32)
        expected = model.decode(inputs)
    else:
        inputs = _images(5)
        expected = _udl_outputs(model, inputs)
    with torch.no_grad():
        np.testing.assert_allclose(
            program(torch.from_numpy(inputs)).numpy(), expected, atol=TOLERANCE
        )


def test_the_torchscript_file_runs_where_udl_cannot_be_imported(tmp_path: Path) -> None:
    model = MODELS["cae"]()
    path = model.export(tmp_path / "model.pt")
    images = _images(4)
    np.save(tmp_path / "images.npy", images)
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["udl"] = None  # any import of udl now fails
        import numpy as np, torch
        module = torch.jit.load({str(path)!r})
        x = torch.from_numpy(np.load({str(tmp_path / "images.npy")!r}))
        np.save({str(tmp_path / "out.npy")!r}, module(x).detach().numpy())
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    np.testing.assert_allclose(
        np.load(tmp_path / "out.npy"), model.reconstruct(images), atol=TOLERANCE
    )


def test_bad_format_or_part_is_refused_before_writing(tmp_path: Path) -> None:
    model = MODELS["cae"]()
    with pytest.raises(ValueError, match="format must be one of torchscript, pt2, onnx, got 'k"):
        model.export(tmp_path / "m", "keras")
    with pytest.raises(ValueError, match="part must be one of reconstruct, encode, decode"):
        model.export(tmp_path / "m", "onnx", part="generate")
    assert list(tmp_path.iterdir()) == []


def test_export_onto_a_folder_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="it is a folder; name a file"):
        MODELS["cae"]().export(tmp_path)


def test_export_replaces_a_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"an older file")
    MODELS["cae"]().export(path)
    assert torch.jit.load(str(path)) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_onnx_without_its_packages_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'udl\[onnx\]'"):
        MODELS["cae"]().export(tmp_path / "m.onnx", "onnx")
    assert not (tmp_path / "m.onnx").exists()
