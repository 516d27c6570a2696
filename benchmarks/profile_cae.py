"""Where a training step of the report-000 CAE spends its time: per layer and pass, udl
against idiomatic PyTorch, with the achieved GFLOP/s against the machine's peak.

Profiles (torch.profiler) one epoch of each on the same Fashion-MNIST images, batch 256,
Adam 1e-3, MSE, the same threads: udl's native loop (udl.train_cae) and the plain PyTorch
loop of benchmarks/speed.py. Each row is one convolution layer's forward or backward pass
(input and weight gradients together), timed inclusively per call. udl's layers record
themselves as udl::Conv2dLayer and udl::ConvTranspose2dLayer; their backward nodes are
ConvolutionBackward0 and udl's TransposedConvFunction. PyTorch's layers show as aten::conv2d
and aten::conv_transpose2d, their backward nodes as ConvolutionBackward0. The flops of a pass
are 2 x its multiply-adds (x 2 for a backward pass with both gradients, x 1 for the first
layer, which needs no input gradient). The last lines split each side's step into its
convolution layers and the rest (element-wise work, linear layers, loss, optimizer, and for
PyTorch the DataLoader and Python).

    UDL_DATA_DIR=../shared/data python benchmarks/profile_cae.py [--threads 2] [--images 12800]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

import udl

sys.path.insert(0, str(Path(__file__).parent))
import speed  # a sibling script, not a package

BATCH = 256


@dataclass(frozen=True)
class Layer:
    name: str
    transposed: bool
    in_shape: tuple[int, ...]  # per image: C, H, W
    out_shape: tuple[int, ...]
    macs_per_image: int
    first: bool  # needs no input gradient


def cae_layers(spec: udl.AutoencoderSpec) -> list[Layer]:
    """The six convolution layers of the CAE with their shapes, in forward order."""
    convs = speed.convolutions(spec)
    encoder = [
        Layer(
            f"conv{i + 1}",
            False,
            (c.in_channels, *c.input_size),
            (c.out_channels, *c.output_size),
            c.macs,
            i == 0,
        )
        for i, c in enumerate(convs)
    ]
    decoder = [
        Layer(
            f"deconv{i + 1}",
            True,
            (c.out_channels, *c.output_size),
            (c.in_channels, *c.input_size),
            c.macs,
            False,
        )
        for i, c in enumerate(reversed(convs))
    ]
    return encoder + decoder


Shapes = tuple[tuple[int, ...], ...]


def profiled_seconds(run) -> dict[tuple[str, Shapes], tuple[float, int]]:
    """{(event name, its first two input shapes): (inclusive seconds, calls)} of one run."""
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        run()
    events = {}
    for event in prof.key_averages(group_by_input_shape=True):
        shapes = tuple(tuple(shape) for shape in event.input_shapes[:2])
        seconds, calls = events.get((event.key, shapes), (0.0, 0))
        events[(event.key, shapes)] = (seconds + event.cpu_time_total / 1e6, calls + event.count)
    return events


def per_call(events, name: str, shapes: Shapes) -> float:
    """Mean inclusive seconds per call of event `name` whose inputs start with `shapes`."""
    seconds = calls = 0
    for (key, event_shapes), (s, c) in events.items():
        if key == name and event_shapes[: len(shapes)] == shapes:
            seconds, calls = seconds + s, calls + c
    return seconds / calls if calls else float("nan")


# Forward passes by the layer's own event; backward passes by the one ATen op every one of
# them runs (oneDNN's convolution_backward, with the output gradient and the layer's input as
# its first two inputs: a backward node's own inputs would not tell apart layers whose
# outputs have the same shape).
UDL_FORWARD = {False: "udl::Conv2dLayer", True: "udl::ConvTranspose2dLayer"}
PYTORCH_FORWARD = {False: "aten::conv2d", True: "aten::conv_transpose2d"}
BACKWARD = "aten::convolution_backward"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--images", type=int, default=12800, help="training + validation")
    parser.add_argument(
        "--peak-size", type=int, default=4096, help="side of the peak's matrices (torch.mm)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    images = udl.datasets.load("fashion-mnist").train.subset(slice(0, args.images))
    train, val = speed.split(images, validation=True)
    spec = udl.AutoencoderSpec.conv_autoencoder(speed.CAE["nf"], speed.CAE["latent_dim"])
    batches = -(-len(train) // BATCH)

    def run_udl() -> float:
        result = udl.train_cae(
            images,
            **speed.CAE,
            **speed.CAE_TRAINING,
            epochs=1,
            threads=args.threads,
            early_stopping=False,
            seed=speed.SEED,
        )
        return result.history[0].seconds

    def run_pytorch() -> float:
        return speed.pytorch_cae(train, val, epochs=1)[0]

    run_udl(), run_pytorch()  # warm oneDNN's kernel caches
    # Then the best of two unprofiled epochs of each times the whole step.
    step_ms = {
        "udl": 1e3 * min(run_udl(), run_udl()) / batches,
        "pytorch": 1e3 * min(run_pytorch(), run_pytorch()) / batches,
    }
    profiles = {"udl": profiled_seconds(run_udl), "pytorch": profiled_seconds(run_pytorch)}
    peak = speed.peak_gflops(args.threads, args.peak_size)
    print(
        f"{args.threads} threads; batch {BATCH}; {len(train)} training images; "
        f"peak (torch.mm {args.peak_size}^2) {peak:.0f} GFLOP/s\n"
    )
    print("| layer | pass | udl ms | PyTorch ms | udl/PyTorch | MFLOP | udl GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|---|---|")
    layer_ms = {"udl": 0.0, "pytorch": 0.0}
    for layer in cae_layers(spec):
        for direction in ("forward", "backward"):
            inputs = (BATCH, *layer.in_shape)
            outputs = (BATCH, *layer.out_shape)
            ms = {}
            for side, forward in (("udl", UDL_FORWARD), ("pytorch", PYTORCH_FORWARD)):
                if direction == "forward":
                    seconds = per_call(profiles[side], forward[layer.transposed], (inputs,))
                else:
                    seconds = per_call(profiles[side], BACKWARD, (outputs, inputs))
                ms[side] = 1e3 * seconds
                layer_ms[side] += ms[side]
            gradients = 1 if layer.first else 2
            mflop = (
                2
                * BATCH
                * layer.macs_per_image
                * (1 if direction == "forward" else gradients)
                / 1e6
            )
            gflops = mflop / ms["udl"]
            print(
                f"| {layer.name} | {direction} | {ms['udl']:.2f} | {ms['pytorch']:.2f} | "
                f"{ms['pytorch'] / ms['udl']:.2f}x | {mflop:.0f} | {gflops:.0f} | "
                f"{100 * gflops / peak:.0f}% |"
            )
    print()
    for side in ("udl", "pytorch"):
        print(
            f"{side:8s} step {step_ms[side]:6.2f} ms (unprofiled epoch / {batches} training "
            f"batches, validation included); its convolution layers {layer_ms[side]:6.2f} ms "
            f"(profiled); the rest {step_ms[side] - layer_ms[side]:6.2f} ms"
        )


if __name__ == "__main__":
    main()
