"""Transfer learning against training from scratch (reports 000, 002, 003).

On Fashion-MNIST: a CAE is trained, its encoder's convolutions are frozen and a classifier
is fine-tuned on top (report 000: 87%); the same network trained from scratch is the
baseline. On MNIST: the encoder with a 10-d latent trained directly as the classifier
(report 003: 98.37%). Prints test accuracies, per-class accuracy and the time ratio.

    UDL_DATA_DIR=../shared/data python benchmarks/transfer_learning.py
"""

from __future__ import annotations

import argparse
import json

import udl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nf", type=int, default=32)
    parser.add_argument("--cae-epochs", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()

    fashion = udl.datasets.load("fashion-mnist")
    cae = udl.train_cae(fashion, nf=args.nf, latent_dim=10, epochs=args.cae_epochs)
    print(f"CAE nf={args.nf} latent 10: test MSE {cae.test_mse:.5f} in {cae.seconds:.0f} s")

    common = {"epochs": args.epochs, "patience": 4, "lr": 1e-3}
    finetuned = udl.finetune_classifier(cae.model, fashion, freeze_conv=True, **common)
    scratch = udl.train_classifier(fashion, nf=args.nf, latent_dim=10, **common)
    for name, result in (("fine-tuned (frozen convs)", finetuned), ("from scratch", scratch)):
        print(
            f"{name:>26}: test accuracy {result.test.accuracy:.2%} after "
            f"{result.best_epoch} epochs, {result.seconds:.0f} s"
        )
    print(finetuned.test.table())
    per_epoch = {
        name: result.seconds / len(result.history)
        for name, result in (("finetune", finetuned), ("scratch", scratch))
    }
    print(
        f"time per epoch: fine-tuning {per_epoch['finetune']:.2f} s, from scratch "
        f"{per_epoch['scratch']:.2f} s: fine-tuning is "
        f"{per_epoch['scratch'] / per_epoch['finetune']:.2f}x cheaper per epoch, "
        f"{scratch.seconds / finetuned.seconds:.2f}x cheaper in total"
    )

    mnist = udl.datasets.load("mnist")
    encoder = udl.train_classifier(mnist, nf=args.nf, latent_dim=10, head="none", **common)
    print(
        f"MNIST encoder as classifier (latent 10): test accuracy {encoder.test.accuracy:.2%} "
        f"(report 003: 98.37%), {encoder.seconds:.0f} s"
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    "finetune_accuracy": finetuned.test.accuracy,
                    "scratch_accuracy": scratch.test.accuracy,
                    "finetune_seconds": finetuned.seconds,
                    "scratch_seconds": scratch.seconds,
                    "mnist_encoder_accuracy": encoder.test.accuracy,
                },
                out,
                indent=2,
            )


if __name__ == "__main__":
    main()
