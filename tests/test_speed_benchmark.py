"""benchmarks/speed.py: its PyTorch models mirror udl's (layers, weights, defaults), its FLOP
counts agree with PyTorch's counter, and a tiny run of all four models prints their rates
and the table."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import udl


def _load(name: str):
    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"udl_benchmarks_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up in sys.modules
    spec.loader.exec_module(module)
    return module


speed = _load("speed")

# Tiny forward passes and a tiny benchmark: one thread (the machine is shared).
pytestmark = pytest.mark.usefixtures("one_thread_per_module")

SPECS = {
    "cae": udl.AutoencoderSpec.conv_autoencoder(16, 10),
    "report001": speed.REPORT001_SPEC,
    "decoder dropout": udl.AutoencoderSpec(
        conv_layers=[(4, 3, 2, 1), (8, 3, 2, 1)],
        hidden_widths=[32, 16],
        latent_dim=3,
        dropout=0.2,
        decoder_dropout=True,
    ),
    "no convolutions": udl.AutoencoderSpec(conv_layers=[], hidden_widths=[20], latent_dim=4),
}


@pytest.mark.parametrize("name", SPECS)
def test_the_pytorch_autoencoder_is_udl_s(name: str, small_test: np.ndarray) -> None:
    spec = SPECS[name]
    model = udl.Autoencoder(spec, seed=0)
    mirror = speed.Autoencoder(spec)
    weights = {k: torch.tensor(v) for k, v in model.state_dict().items() if "mask" not in k}
    mirror.load_state_dict(weights)  # strict: the same layers at the same places
    mirror.eval()
    images = small_test[:16]
    with torch.no_grad():
        got = torch.sigmoid(mirror(torch.tensor(images, dtype=torch.float32) / 255))
    np.testing.assert_allclose(got.numpy(), model.reconstruct(images), atol=1e-5)


def test_the_pytorch_vae_and_dcgan_have_udl_s_parameter_counts() -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(speed.VAE["nf"], speed.VAE["latent_dim"])
    vae = speed.Vae(spec)
    assert sum(p.numel() for p in vae.parameters()) == udl.Vae(spec).parameter_count
    generator, discriminator = speed.dcgan_networks(speed.DCGAN["noise_dim"])
    assert udl.Gan("dcgan", noise_dim=speed.DCGAN["noise_dim"]).parameter_count == {
        "generator": sum(p.numel() for p in generator.parameters()),
        "discriminator": sum(p.numel() for p in discriminator.parameters()),
    }


def _defaults(function) -> dict[str, object]:
    return {n: p.default for n, p in inspect.signature(function).parameters.items()}


def test_the_benchmarked_settings_are_udl_s_defaults_and_report001_s() -> None:
    autoencoder = _defaults(udl.train_autoencoder)
    cae = {**autoencoder, **_defaults(udl.train_cae)}
    benchmarked = {**speed.CAE, **speed.CAE_TRAINING}
    assert {k: cae[k] for k in benchmarked} == benchmarked
    vae = _defaults(udl.train_vae)
    assert {k: vae[k] for k in {**speed.VAE, **speed.VAE_TRAINING}} == {
        **speed.VAE,
        **speed.VAE_TRAINING,
    }
    assert (vae["optimizer"], vae["weight_decay"], vae["batch_norm"]) == ("adam", 0.0, False)
    assert vae["val_fraction"] == autoencoder["val_fraction"] == speed.VAL_FRACTION
    gan = _defaults(udl.train_gan)
    assert {k: gan[k] for k in speed.DCGAN if k != "lr"} == {
        k: v for k, v in speed.DCGAN.items() if k != "lr"
    }
    assert gan["lr"] is None and speed.DCGAN["lr"] == 2e-4  # train_gan's DCGAN default

    report001 = _load("report001_cv")
    assert speed.REPORT001_SPEC == report001.BEST_ARCHITECTURE
    for key, value in speed.REPORT001_TRAINING.items():
        assert report001.BEST_TRAINING[key] == value


def _forward_flops(module: torch.nn.Module, x: torch.Tensor) -> int:
    module.eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return counter.get_total_flops()


@pytest.mark.parametrize("name", SPECS)
def test_autoencoder_flops_are_three_forward_passes(name: str) -> None:
    spec = SPECS[name]
    forward = _forward_flops(speed.Autoencoder(spec), torch.rand(1, *spec.input_shape))
    assert speed.autoencoder_flops(spec) == 3 * forward


def test_vae_and_dcgan_flops_count_every_layer() -> None:
    spec = udl.AutoencoderSpec.conv_autoencoder(speed.VAE["nf"], speed.VAE["latent_dim"])
    forward = _forward_flops(speed.Vae(spec), torch.rand(1, 1, 28, 28))
    assert speed.autoencoder_flops(spec, latent_heads=2) == 3 * forward

    generator, discriminator = speed.dcgan_networks(speed.DCGAN["noise_dim"])
    g = _forward_flops(generator, torch.randn(2, speed.DCGAN["noise_dim"])) // 2
    d = _forward_flops(discriminator, torch.rand(2, 1, 28, 28)) // 2
    assert speed.dcgan_macs(speed.DCGAN["noise_dim"]) == (g // 2, d // 2)
    assert speed.dcgan_flops(speed.DCGAN["noise_dim"]) == 4 * g + 9 * d


def test_an_unknown_model_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        speed.main(["--models", "cae,resnet"])
    assert "resnet" in capsys.readouterr().err


def test_a_tiny_run_of_every_model_prints_their_rates_and_the_table(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tiny = ["--subset", "512", "--epochs", "1", "--repeats", "1", "--threads", "1"]
    # --peak-size: the 4096 x 4096 product of the full run takes seconds on one thread.
    results = speed.main([*tiny, "--peak-size", "1024"])
    out = capsys.readouterr().out
    assert [r.model for r in results] == list(speed.MODELS)
    sections = out.split("\n\n")
    for name in speed.MODELS:
        (section,) = [s for s in sections if s.startswith(f"{name}: ")]
        for side in ("udl", "pytorch"):
            rate = re.search(rf"^  {side} +([\d.]+) images/s", section, re.MULTILINE)
            assert rate is not None and float(rate.group(1)) > 0, section
        row = re.search(
            rf"^\| {name} \| ([\d,]+) \| ([\d,]+) \| [\d.]+x \| ([\d.]+) \| [\d.]+% \|$",
            out,
            re.MULTILINE,
        )
        assert row is not None, out
        assert all(float(value.replace(",", "")) > 0 for value in row.groups())
    assert (
        "| model | udl images/s | PyTorch images/s | udl/PyTorch | udl GFLOP/s | % of peak |\n"
        "|---|---|---|---|---|---|\n"
    ) in out


def test_the_layer_profile_finds_every_layer_and_pass_on_both_sides(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile_cae = _load("profile_cae")
    profile_cae.main(["--images", "1024", "--threads", "1", "--peak-size", "512"])
    out = capsys.readouterr().out
    rows = re.findall(r"^\| (de)?conv\d \| (forward|backward) \|.*$", out, re.MULTILINE)
    assert len(rows) == 12, out  # six layers, two passes each
    assert "nan" not in out, out  # an event the profile did not find
    assert re.search(r"^udl +step +[\d.]+ ms", out, re.MULTILINE), out


def test_the_gpu_benchmark_runs_every_side_and_both_studies_on_the_cpu(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gpu_speed = _load("gpu_speed")
    rates = gpu_speed.main(
        [
            "--device",
            "cpu",
            "--subset",
            "512",
            "--epochs",
            "1",
            "--no-compile",
            "--trials",
            "1",
            "--study-subset",
            "256",
            "--cv-epochs",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert set(rates) == {"udl", "pytorch eager"} and all(r > 0 for r in rates.values())
    assert re.search(r"^\| pytorch eager \| \d+ \| [\d.]+x \|$", out, re.MULTILINE), out
    assert re.search(r"^\| cpu \| [\d.]+ \| [\d.]+ \|$", out, re.MULTILINE), out
