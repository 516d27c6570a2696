"""Transfer learning against training from scratch (reports 000, 002, 003).

On Fashion-MNIST: a convolutional autoencoder is trained, its encoder's convolutions are
frozen and a classifier with a linear head is fine-tuned on top (report 000: 87%); the
same network trained from scratch is the baseline. On MNIST: the CAE encoder with a 10-d
latent trained directly as the classifier (report 003: 98.37%). Prints test accuracies,
per-class accuracy and the time of fine-tuning against training from scratch.

    UDL_DATA_DIR=../shared/data python benchmarks/transfer_learning.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import udl
from udl import figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--convs",
        default="64:3:2:1,128:3:2:1,256:3:2:0",
        help="the autoencoder's convolutions as channels:kernel:stride:padding,...",
    )
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--latent", type=int, default=32)
    parser.add_argument("--cae-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--scratch-epochs", type=int, default=15)
    parser.add_argument(
        "--autoencoder",
        help="load the trained autoencoder from this file if it is there, "
        "else train it and save it there",
    )
    parser.add_argument("--figures", default="docs/figures/transfer")
    parser.add_argument("--json", help="write the figures of merit to this file")
    args = parser.parse_args()
    convs = [tuple(int(v) for v in layer.split(":")) for layer in args.convs.split(",")]
    spec = udl.AutoencoderSpec(convs, (args.hidden,), args.latent)
    print(f"architecture: {spec.describe()}")

    fashion = udl.datasets.load("fashion-mnist")
    if args.autoencoder and Path(args.autoencoder).is_file():
        autoencoder = udl.Autoencoder.load(args.autoencoder)
        if autoencoder.spec != spec:
            parser.error(f"{args.autoencoder} holds another architecture")
        print(f"autoencoder loaded from {args.autoencoder}")
    else:
        cae = udl.train_autoencoder(spec, fashion, epochs=args.cae_epochs)
        print(f"autoencoder: test MSE {cae.test_mse:.5f} in {cae.seconds:.0f} s")
        autoencoder = cae.model
        if args.autoencoder:
            autoencoder.save(args.autoencoder)

    # Reduce on plateau lets the layers on the frozen features settle.
    common = {"patience": 6, "lr": 1e-3, "batch_size": 128, "lr_decay": 0.3, "lr_patience": 2}
    finetuned = udl.finetune_classifier(
        autoencoder, fashion, freeze_conv=True, epochs=args.epochs, **common
    )
    scratch = udl.train_classifier(fashion, spec=spec, epochs=args.scratch_epochs, **common)
    for name, result in (("fine-tuned (frozen convs)", finetuned), ("from scratch", scratch)):
        print(
            f"{name:>26}: test accuracy {result.test.accuracy:.2%} (best epoch "
            f"{result.best_epoch} of {len(result.history)}), {result.seconds:.0f} s"
        )
    print(finetuned.test.table())
    per_epoch = {
        "finetune": finetuned.seconds / len(finetuned.history),
        "scratch": scratch.seconds / len(scratch.history),
    }
    print(
        f"seconds per epoch: fine-tuning {per_epoch['finetune']:.2f}, from scratch "
        f"{per_epoch['scratch']:.2f} ({per_epoch['scratch'] / per_epoch['finetune']:.2f}x); "
        f"whole runs {finetuned.seconds:.0f} s vs {scratch.seconds:.0f} s "
        f"({scratch.seconds / finetuned.seconds:.2f}x)"
    )
    out = Path(args.figures)
    figures.save_figure(
        figures.confusion_matrix(finetuned.test.confusion, fashion.class_names),
        out / "finetuned-confusion.png",
    )
    figures.save_figure(
        figures.loss_curves(finetuned.history, title="fine-tuning"), out / "finetuned-loss.png"
    )

    mnist = udl.datasets.load("mnist")
    encoder = udl.train_classifier(
        mnist, nf=32, latent_dim=10, head="none", epochs=args.scratch_epochs, **common
    )
    print(
        f"MNIST encoder as classifier (latent 10): test accuracy {encoder.test.accuracy:.2%} "
        f"(report 003: 98.37%), {encoder.seconds:.0f} s"
    )
    if args.json:
        figures_of_merit = {
            "finetune_accuracy": finetuned.test.accuracy,
            "scratch_accuracy": scratch.test.accuracy,
            "finetune_seconds": finetuned.seconds,
            "scratch_seconds": scratch.seconds,
            "finetune_seconds_per_epoch": per_epoch["finetune"],
            "scratch_seconds_per_epoch": per_epoch["scratch"],
            "mnist_encoder_accuracy": encoder.test.accuracy,
        }
        Path(args.json).write_text(json.dumps(figures_of_merit, indent=2))


if __name__ == "__main__":
    main()
