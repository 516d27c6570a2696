"""The CAE on one device: udl's native loop against PyTorch eager and against
torch.compile(mode="reduce-overhead"), same model, same data, same device, one run; then a
5-fold cross-validation and a report-000 study, wall time on that device against the CPU.

The model is the report-000 CAE of benchmarks/speed.py (nf 16, latent 10, Adam 1e-3, batch
256, MSE on the sigmoid) on Fashion-MNIST, 48,000 training / 12,000 validation images. The
PyTorch loops are written the fast way for a GPU, not the DataLoader way: the images live
on the device as floats, each epoch cuts its batches from a permutation drawn there, and
the losses are summed on the device (one synchronisation per epoch). The compiled side
runs the same loop through `torch.compile(model, mode="reduce-overhead")` (CUDA graphs on a
GPU); its first epoch, which compiles, is not counted. Each side's best epoch counts.

    UDL_DATA_DIR=../shared/data python benchmarks/gpu_speed.py --device cuda
        [--epochs 4] [--subset N] [--no-compile] [--cv-epochs 2] [--trials 20]
        [--study-subset 12000] [--skip-studies]

scripts/gpu-check runs it on the device machine; tests/test_speed_benchmark.py runs a tiny
one on the CPU.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

import udl


def _speed_module():
    """benchmarks/speed.py, for its PyTorch CAE (the same layers as udl's)."""
    path = Path(__file__).resolve().parent / "speed.py"
    spec = importlib.util.spec_from_file_location("udl_benchmarks_speed", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


speed = _speed_module()
CAE_SPEC = udl.AutoencoderSpec.conv_autoencoder(speed.CAE["nf"], speed.CAE["latent_dim"])
BATCH = int(speed.CAE_TRAINING["batch_size"])
LR = float(speed.CAE_TRAINING["lr"])


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def pytorch_epochs(
    train: torch.Tensor, val: torch.Tensor, epochs: int, device: torch.device, compiled: bool
) -> list[float]:
    """Seconds of each epoch (training and validation) of the fast PyTorch loop."""
    torch.manual_seed(speed.SEED)
    model = speed.Autoencoder(CAE_SPEC).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    forward: Callable[[torch.Tensor], torch.Tensor] = (
        torch.compile(model, mode="reduce-overhead") if compiled else model
    )
    train, val = train.to(device), val.to(device)
    seconds = []
    for _ in range(epochs):
        _synchronize(device)
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), device=device)
        total = torch.zeros((), device=device)
        for begin in range(0, len(train), BATCH):
            images = train[order[begin : begin + BATCH]]
            optimizer.zero_grad(set_to_none=True)
            loss = F.mse_loss(torch.sigmoid(forward(images)), images)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(images)
        model.eval()
        with torch.no_grad():
            val_total = sum(
                F.mse_loss(torch.sigmoid(forward(val[b : b + BATCH])), val[b : b + BATCH])
                * len(val[b : b + BATCH])
                for b in range(0, len(val), BATCH)
            )
        float(total), float(val_total)  # one synchronisation per epoch
        seconds.append(time.perf_counter() - start)
    return seconds


def udl_epochs(images: udl.datasets.ImageSet, epochs: int, device: str) -> list[float]:
    result = udl.train_cae(
        images,
        nf=speed.CAE["nf"],
        latent_dim=speed.CAE["latent_dim"],
        epochs=epochs,
        early_stopping=False,
        seed=speed.SEED,
        device=device,
        **speed.CAE_TRAINING,
    )
    return [record.seconds for record in result.history]


def training_speed(images: udl.datasets.ImageSet, args: argparse.Namespace) -> dict[str, float]:
    """Images per second of each side's best epoch."""
    train, val = speed.split(images, validation=True)
    assert val is not None
    device = torch.device(udl._native._C.resolve_device(args.device))
    sides: dict[str, Callable[[], list[float]]] = {
        "udl": lambda: udl_epochs(images, args.epochs, args.device),
        "pytorch eager": lambda: pytorch_epochs(train, val, args.epochs, device, False),
    }
    if args.compile:
        # One more epoch: the first compiles and does not count.
        sides["torch.compile"] = lambda: pytorch_epochs(train, val, args.epochs + 1, device, True)[
            1:
        ]
    rates = {}
    for side, run in sides.items():
        seconds = run()
        rates[side] = len(train) / min(seconds)
        print(
            f"  {side:14s} {rates[side]:9.0f} images/s  (epochs: "
            f"{', '.join(f'{s:.2f}' for s in seconds)} s)",
            flush=True,
        )
    for side in list(sides)[1:]:
        print(f"  udl / {side}: {rates['udl'] / rates[side]:.2f}x")
    return rates


def _timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def study_times(images: udl.datasets.ImageSet, args: argparse.Namespace) -> list[str]:
    """Wall time of a 5-fold CV and of a report-000 study on the device and on the CPU."""
    rows = []
    for device in dict.fromkeys([args.device, "cpu"]):
        cv = _timed(
            lambda d=device: udl.cross_validate(
                CAE_SPEC, images, k=5, epochs=args.cv_epochs, seed=0, device=d
            )
        )
        with tempfile.TemporaryDirectory() as folder:
            study = _timed(
                lambda d=device, f=folder: udl.tune(
                    images,
                    "report000",
                    n_trials=args.trials,
                    epochs=args.cv_epochs,
                    run_dir=f,
                    seed=0,
                    device=d,
                )
            )
        rows.append(f"| {device} | {cv:.1f} | {study:.1f} |")
        print(
            f"  {device}: 5-fold CV {cv:.1f} s, {args.trials}-trial study {study:.1f} s", flush=True
        )
    return rows


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=4, help="per side")
    parser.add_argument("--subset", type=int, help="only the first N training images")
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--skip-studies", action="store_true")
    parser.add_argument("--cv-epochs", type=int, default=2, help="per fold and per trial")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--study-subset", type=int, default=12000)
    args = parser.parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per study, not per trial
    data = udl.datasets.load("fashion-mnist").train
    images = data if args.subset is None else data.subset(slice(0, args.subset))
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"torch {torch.__version__}, {name}; CAE nf 16, latent 10, batch {BATCH}")
    print(f"training speed, best of {args.epochs} epochs, {len(images)} images:")
    rates = training_speed(images, args)
    print("\n| side | images/s | udl / side |\n|---|---|---|")
    for side, rate in rates.items():
        print(f"| {side} | {rate:.0f} | {rates['udl'] / rate:.2f}x |")
    if not args.skip_studies:
        subset = data.subset(slice(0, min(args.study_subset, len(data))))
        print(f"\nstudies on {len(subset)} images, {args.cv_epochs} epochs per fold/trial:")
        rows = study_times(subset, args)
        print("\n| device | 5-fold CV s | study s |\n|---|---|---|")
        print("\n".join(rows))
    return rates


if __name__ == "__main__":
    main()
