"""Training speed of the report-000 CAE: udl's native loop against idiomatic PyTorch.

Both train the same network (nf=16, latent 10) the same way on Fashion-MNIST: the same
48,000 training / 12,000 validation images, batch 256, Adam 1e-3, MSE, the same thread
count, a validation pass after every epoch. PyTorch runs the usual way: an nn.Module, a
DataLoader over a TensorDataset, the loop in Python. Prints images per second for each,
their ratio, and the achieved GFLOP/s against the machine's peak, measured here as the best
rate of a 4096 x 4096 float32 matrix product (torch.mm) on the same threads.

    UDL_DATA_DIR=../shared/data python benchmarks/speed_cae.py [--epochs 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import itertools
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import udl


def pytorch_cae(nf: int, latent_dim: int) -> nn.Module:
    encoder = nn.Sequential(
        nn.Conv2d(1, nf, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(nf, 2 * nf, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(2 * nf, 4 * nf, 3, stride=2, padding=0),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(36 * nf, 64),
        nn.ReLU(),
        nn.Linear(64, latent_dim),
    )
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 64),
        nn.ReLU(),
        nn.Linear(64, 36 * nf),
        nn.ReLU(),
        nn.Unflatten(1, (4 * nf, 3, 3)),
        nn.ConvTranspose2d(4 * nf, 2 * nf, 3, stride=2, padding=0),
        nn.ReLU(),
        nn.ConvTranspose2d(2 * nf, nf, 3, stride=2, padding=1, output_padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(nf, 1, 3, stride=2, padding=1, output_padding=1),
        nn.Sigmoid(),
    )
    return nn.Sequential(encoder, decoder)


def training_flops_per_image(spec: udl.AutoencoderSpec) -> float:
    """Multiply-adds of the forward pass, times 2 (flops) times 3 (forward + backward)."""
    channels, height, width = spec.input_shape
    macs = 0
    for layer in spec.conv_layers:
        height = (height + 2 * layer.padding - layer.kernel) // layer.stride + 1
        width = (width + 2 * layer.padding - layer.kernel) // layer.stride + 1
        macs += 2 * layer.channels * height * width * channels * layer.kernel**2  # conv + mirror
        channels = layer.channels
    widths = [channels * height * width, *spec.hidden_widths, spec.latent_dim]
    macs += 2 * sum(a * b for a, b in itertools.pairwise(widths))
    return 6.0 * macs


def peak_gflops(threads: int, size: int = 4096, repeats: int = 5) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_pytorch(train: torch.Tensor, val: torch.Tensor, epochs: int, seed: int) -> float:
    """Seconds per epoch (training and validation) of the idiomatic PyTorch loop."""
    torch.manual_seed(seed)
    model = pytorch_cae(16, 10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.MSELoss()
    loader = DataLoader(TensorDataset(train), batch_size=256, shuffle=True)
    val_loader = DataLoader(TensorDataset(val), batch_size=256)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for (images,) in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), images)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = sum(loss_fn(model(x), x).item() * len(x) for (x,) in val_loader)
        seconds.append(time.perf_counter() - start)
        print(f"  pytorch epoch: {seconds[-1]:.2f} s, val loss {val_loss / len(val):.5f}")
    return min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    data = udl.datasets.load("fashion-mnist")
    n_val = round(0.2 * len(data.train))
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))
    images = torch.from_numpy(data.train.images).float().div_(255)
    train, val = images[order[n_val:]], images[order[:n_val]]

    print(f"threads: {args.threads}; best of {args.epochs} epochs each")
    result = udl.train_cae(
        data.train,
        nf=16,
        latent_dim=10,
        epochs=args.epochs,
        threads=args.threads,
        early_stopping=False,
        callback=lambda r: print(f"  udl epoch: {r.seconds:.2f} s, val loss {r.val_loss:.5f}"),
    )
    udl_seconds = min(r.seconds for r in result.history)
    torch_seconds = run_pytorch(train, val, args.epochs, seed=0)

    n_train = len(train)
    flops = training_flops_per_image(udl.AutoencoderSpec.conv_autoencoder(16, 10))
    peak = peak_gflops(args.threads)
    print(f"\nCAE nf=16 latent 10, batch 256, {n_train} training images per epoch")
    print(f"peak (torch.mm 4096^2, {args.threads} threads): {peak:.0f} GFLOP/s")
    for name, seconds in (("udl", udl_seconds), ("pytorch", torch_seconds)):
        rate = n_train / seconds
        gflops = rate * flops / 1e9
        print(
            f"{name:8s} {rate:8.0f} images/s  {gflops:6.1f} GFLOP/s  "
            f"{100 * gflops / peak:5.1f}% of peak"
        )
    print(f"udl / pytorch speed: {torch_seconds / udl_seconds:.2f}x")


if __name__ == "__main__":
    main()
