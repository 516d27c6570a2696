"""udl's best recipes (issue 14's targets) and their variants, on the real test sets.

Trains one recipe and prints its test figure beside its target:

    cae       Fashion-MNIST CAE with a 10-d code: test MSE (target <= 0.0120)
    finetune  that CAE's convolutions frozen, a classifier trained on them (>= 90%)
    scratch   a Fashion-MNIST classifier from scratch (>= 93%)
    encoder   report 003's encoder as the classifier, on MNIST (>= 99.0%)

Without flags it runs what `udl reproduce --budget standard` runs (the recipes are read
from udl.app.stages); each flag changes one thing, as the tables of docs/benchmarks.md do.

    UDL_DATA_DIR=../shared/data python benchmarks/best_recipes.py scratch
    UDL_DATA_DIR=../shared/data python benchmarks/best_recipes.py finetune --epochs 20
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import udl
from udl.app.plan import BUDGETS
from udl.app.stages.context import BEST_AUGMENTATION, ONE_CYCLE, recipe_text
from udl.app.stages.report000 import BEST_CAE, BEST_CAE_TRAINING, BEST_FINETUNE, BEST_SCRATCH
from udl.app.stages.report003 import BEST_ENCODER_CLASSIFIER
from udl.autoencoders import AutoencoderSpec, ConvLayer

STANDARD = BUDGETS["standard"]
#: recipe -> (target, whether a higher figure is better)
TARGETS = {
    "cae": (0.0120, False),
    "finetune": (0.90, True),
    "scratch": (0.93, True),
    "encoder": (0.99, True),
}


def _cae_spec(args: argparse.Namespace) -> AutoencoderSpec:
    nf = args.cae_nf or BEST_CAE.conv_layers[0].channels
    last_padding = (
        BEST_CAE.conv_layers[-1].padding if args.last_padding is None else args.last_padding
    )
    paddings = (1, 1, last_padding)
    return AutoencoderSpec(
        conv_layers=tuple(
            ConvLayer(nf * 2**i, 3, 2, padding) for i, padding in enumerate(paddings)
        ),
        hidden_widths=(args.cae_hidden or BEST_CAE.hidden_widths[0],),
        latent_dim=10,
    )


def _classifier_recipe(
    args: argparse.Namespace, base: dict[str, Any], dataset: str, names: tuple[str, ...]
) -> dict[str, Any]:
    """`base` with the dataset's augmentation, and the flags among `names` that were given."""
    recipe = {**base, **BEST_AUGMENTATION[dataset]}
    common = (
        "lr",
        "batch_size",
        "head",
        "head_hidden",
        "max_shift",
        "horizontal_flip",
        "batch_norm",
    )
    for name in (*common, *names):
        if getattr(args, name) is not None:
            recipe[name] = getattr(args, name)
    return recipe


def _progress(record: Any) -> None:
    figure = getattr(record, "val_accuracy", None)
    if figure is None:
        print(f"  epoch {record.epoch}: validation MSE {record.val_mse:.5f}", flush=True)
    else:
        print(f"  epoch {record.epoch}: validation accuracy {figure:.2%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=sorted(TARGETS))
    parser.add_argument("--epochs", type=int, help="default: the standard budget's")
    parser.add_argument("--cae-epochs", type=int, default=STANDARD.best_epochs)
    parser.add_argument("--cae-nf", type=int, help="the CAE's first channels (then x2, x4)")
    parser.add_argument("--cae-hidden", type=int, help="the CAE's hidden width")
    parser.add_argument("--last-padding", type=int, help="padding of the CAE's last convolution")
    parser.add_argument("--cae-lr", type=float, help="the CAE's peak rate")
    parser.add_argument("--cae-batch-size", type=int, help="the CAE's batch size")
    parser.add_argument("--nf", type=int, help="a classifier from scratch's first channels")
    parser.add_argument("--lr", type=float)
    parser.add_argument("--head", choices=("linear", "two_layer"))
    parser.add_argument("--head-hidden", type=int)
    parser.add_argument("--dropout", type=float, help="fine-tuning only")
    parser.add_argument("--max-shift", type=int)
    parser.add_argument("--horizontal-flip", action=argparse.BooleanOptionalAction)
    parser.add_argument("--batch-norm", action=argparse.BooleanOptionalAction)
    parser.add_argument("--batch-size", type=int, help="a classifier's batch size")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    loop = {**ONE_CYCLE, "threads": args.threads, "seed": args.seed}
    started = time.perf_counter()

    if args.recipe in ("cae", "finetune"):
        fashion = udl.datasets.load("fashion-mnist")
        spec = _cae_spec(args)
        cae_epochs = args.epochs if args.recipe == "cae" and args.epochs else args.cae_epochs
        training = {**BEST_CAE_TRAINING}
        for name in ("lr", "batch_size"):
            if getattr(args, f"cae_{name}") is not None:
                training[name] = getattr(args, f"cae_{name}")
        print(f"CAE: {spec.describe()}, {recipe_text(training, cae_epochs)}")
        cae = udl.train_autoencoder(
            spec, fashion, epochs=cae_epochs, callback=_progress, **training, **loop
        )
        print(f"CAE: test MSE {cae.test_mse:.5f} in {cae.seconds:.0f} s")
        if args.recipe == "cae":
            figure = cae.test_mse
        else:
            epochs = args.epochs or STANDARD.finetune_epochs
            recipe = _classifier_recipe(args, BEST_FINETUNE, "fashion-mnist", ("dropout",))
            print(f"fine-tuning: convolutions frozen, {recipe_text(recipe, epochs)}")
            tuned = udl.finetune_classifier(
                cae.model,
                fashion,
                freeze_conv=True,
                epochs=epochs,
                callback=_progress,
                **recipe,
                **loop,
            )
            print(f"fine-tuning: {tuned.seconds:.0f} s")
            figure = tuned.test.accuracy
    else:
        dataset, base = (
            ("fashion-mnist", BEST_SCRATCH)
            if args.recipe == "scratch"
            else ("mnist", BEST_ENCODER_CLASSIFIER)
        )
        epochs = args.epochs or (
            STANDARD.augmented_epochs if args.recipe == "scratch" else STANDARD.best_epochs
        )
        recipe = _classifier_recipe(args, base, dataset, ("nf",))
        print(f"{args.recipe} on {dataset}: {recipe_text(recipe, epochs)}")
        result = udl.train_classifier(dataset, epochs=epochs, callback=_progress, **recipe, **loop)
        figure = result.test.accuracy

    target, higher_is_better = TARGETS[args.recipe]
    met = figure >= target if higher_is_better else figure <= target
    shown, bar = (
        (f"{figure:.2%}", f">= {target:.1%}")
        if higher_is_better
        else (f"{figure:.5f}", f"<= {target}")
    )
    print(
        f"{args.recipe}: test {shown} (target {bar}: {'met' if met else 'missed'}), "
        f"{time.perf_counter() - started:.0f} s in all"
    )


if __name__ == "__main__":
    main()
