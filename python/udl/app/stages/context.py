"""What every stage shares: the run folder, the report's data, the budget, the loop
settings, earlier stages' outcomes, and helpers used by several reports (the feature
network of the generation metrics, a GAN's training and scoring, a projection's figures)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from udl import datasets, figures, latent, metrics
from udl.app.plan import Budget
from udl.app.progress import Mode, Progress
from udl.app.runs import RunFolder

#: Test images shown in reconstruction figures.
SHOWN_IMAGES = 8


@dataclass
class Context:
    """One report's view of a reproduction."""

    run: RunFolder
    report: str
    budget: Budget
    seed: int
    threads: int | None
    device: str
    mode: Mode
    #: dataset name -> the dataset sized by the budget (loaded on first use)
    load: Callable[[str], datasets.Dataset]
    dataset: str
    done: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def data(self) -> datasets.Dataset:
        return self.load(self.dataset)

    def loop(self, **settings: Any) -> dict[str, Any]:
        """Loop settings of a training: the run's seed, threads and device, and `settings`."""
        return {"seed": self.seed, "threads": self.threads, "device": self.device, **settings}

    def epochs(self, description: str, total: int) -> Progress:
        return Progress(total, f"{self.report} {description}", unit="epoch", mode=self.mode)

    def model_path(self, name: str) -> Path:
        folder = self.run.file(f"models/{self.report}")
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}.udl"

    def figure(self, fig: Any, name: str, caption: str) -> dict[str, str]:
        path = self.run.save_figure(fig, f"{self.report}-{name}")
        return {"file": str(path.relative_to(self.run.path)), "caption": caption}

    def test_images(self) -> np.ndarray:
        return self.data.test.images

    def subset(self, images: int | None) -> Any:
        """The training set cut to `images` (seeded; None: all of it)."""
        train = self.data.train
        if images is None or images >= len(train):
            return train
        rng = np.random.default_rng(self.seed)
        return train.subset(np.sort(rng.choice(len(train), images, replace=False)))

    def feature_network(self, dataset: str) -> metrics.FeatureNetwork:
        """The dataset's feature network for FID, IS and class shares, trained once per run
        and shared by every report."""
        path = self.run.file(f"models/feature-network-{dataset}.udl")
        return metrics.FeatureNetwork.cached(
            self.load(dataset),
            path,
            epochs=self.budget.feature_epochs,
            seed=self.seed,
            threads=self.threads,
            device=self.device,
        )


def study_outcome(
    c: Context, search: str, data: Any, trials: int, what: str, **tuning: Any
) -> tuple[dict[str, Any], Any]:
    """Runs the Optuna study `search` (a `udl.tuning.SEARCHES` key) on `data` in
    `study/<report>/`, writes its trials table and Optuna's figures; returns the stage's
    outcome and the trials table (a DataFrame)."""
    from udl.tuning import tune

    with Progress(trials, f"{c.report} study", unit="trial", mode=c.mode) as bar:
        result = tune(
            data,
            search,
            n_trials=trials,
            run_dir=c.run.file(f"study/{c.report}"),
            study_name=search,
            epochs=c.budget.search_epochs,
            seed=c.seed,
            threads=c.threads,
            device=c.device,
            callback=bar.trial,
            **tuning,
        )
    table = result.trials_table()
    c.run.write_text(f"study/{c.report}/trials.csv", table.to_csv(index=False))
    figures_folder = c.run.file(f"figures/{c.report}-study")
    states = table["state"].value_counts().to_dict()
    outcome = {
        "metrics": {
            "best_value": result.best_value,
            "trials": len(table),
            "complete": int(states.get("COMPLETE", 0)),
            "pruned": int(states.get("PRUNED", 0)),
            "images": len(data),
            "epochs_per_trial": c.budget.search_epochs,
        },
        "best_params": result.best_params,
        "figures": [
            {
                "file": str(path.relative_to(c.run.path)),
                "caption": f"{what}: " + path.stem.replace("_", " "),
            }
            for path in result.save_figures(figures_folder)
        ],
    }
    return outcome, table


def sized(data: datasets.Dataset, budget: Budget, subset: int | None, seed: int) -> Any:
    """`data` cut to the budget's (and `subset`'s) numbers of training and test images."""
    rng = np.random.default_rng(seed)
    train_count = min(x for x in (budget.train_images, subset, len(data.train)) if x is not None)
    test_count = min(budget.test_images or len(data.test), len(data.test))
    train = data.train
    if train_count < len(train):
        train = train.subset(np.sort(rng.choice(len(train), train_count, replace=False)))
    test = data.test if test_count == len(data.test) else data.test.subset(np.arange(test_count))
    return dataclasses.replace(data, train=train, test=test)


#: udl's one-cycle runs: the schedule decides where training ends, so no early stopping.
ONE_CYCLE: dict[str, Any] = {"lr_schedule": "onecycle", "early_stopping": False}

#: udl's best classifiers from scratch (reports 000 and 003): the encoder widened to a first
#: nf of 32, batch norm after its convolutions, one-cycle to 3e-3.
BEST_CLASSIFIER: dict[str, Any] = {"nf": 32, "batch_norm": True, "lr": 3e-3}
#: Their augmentation per dataset: clothes shift by a pixel and mirror; digits shift by two
#: and never mirror (a mirrored 2 or 7 is no digit). Measured on Fashion-MNIST, 10 epochs
#: without augmentation give 91.5% and 20 with it 93.2%; on MNIST, 10 epochs with shifts
#: give 99.4%.
BEST_AUGMENTATION: dict[str, dict[str, Any]] = {
    "fashion-mnist": {"max_shift": 1, "horizontal_flip": True},
    "mnist": {"max_shift": 2, "horizontal_flip": False},
}


def recipe_text(settings: dict[str, Any], epochs: int) -> str:
    """A recipe as the page states it: 'nf 32, batch norm, shifts up to 1 pixel, left-right
    flips, one-cycle to 0.003, 20 epochs'."""
    parts = [f"nf {settings['nf']}"] if "nf" in settings else []
    if settings.get("latent_dim"):
        parts.append(f"latent {settings['latent_dim']}")
    if settings.get("head") == "two_layer":
        parts.append(f"two-layer head of {settings['head_hidden']}")
    elif settings.get("head") == "linear":
        parts.append("linear head")
    if settings.get("batch_norm"):
        parts.append("batch norm")
    if settings.get("max_shift"):
        parts.append(
            f"shifts up to {settings['max_shift']} pixel" + "s" * (settings["max_shift"] > 1)
        )
    if settings.get("horizontal_flip"):
        parts.append("left-right flips")
    parts.append(f"one-cycle to {settings['lr']:g}")
    if "batch_size" in settings:
        parts.append(f"batches of {settings['batch_size']}")
    parts.append(f"{epochs} epoch" + "s" * (epochs != 1))
    return ", ".join(parts)


#: How each GAN trains beyond what its report gives. The fully connected GANs of reports 000
#: and 003 keep their layers and add the R1 gradient penalty, without which report 000's GAN
#: collapses onto one image on MNIST, and batches of 64 (neither report gives a size): in
#: 5 epochs on MNIST batches of 128 leave the rarest digit at 1.7% of the samples, 64 at
#: 5.1%. Report 000 trains with Adam 1e-4; report 003 gives no rate, and udl's 2e-4 raises
#: its rarest Fashion-MNIST class from 2.8% to 4.0% in 5 epochs. Both fully connected GANs
#: let the discriminator learn faster than the generator (the two time-scale rule): at 4e-4
#: it raises the rarest class of report 000's GAN in 5 epochs from 2.7% to 4.8% (MNIST) and
#: from 0.01% to 4.2% (Fashion-MNIST); report 003's, at 3e-4, from 3.3% to 6.1% (MNIST) and
#: from 4.0% to 5.5% (Fashion-MNIST; at 4e-4 it fell to 3.2%). Even so, report 000's rarest
#: Fashion-MNIST class after 5 epochs lands anywhere between 2.7% and 7% with the seed;
#: 10 epochs and a discriminator that sees each batch's spread (minibatch_stddev) give 5.4%
#: to 7.1% on seeds 0 to 2 (10 epochs alone: 3.8% and 6.8%; the spread alone in 5: 8.2% and
#: 2.9%). The DCGAN is udl's own:
#: batches of 32 rather than its default 64 raise its rarest MNIST digit after 2 epochs
#: from 2.7% to 4.4%. Radford et al.'s DCGAN (64 wide, batch norm in the discriminator,
#: 2e-4) stays near a Fréchet distance of 165 on MNIST in 2 to 4 epochs; half as wide it
#: trains 2.4 times the epochs in the same time, and without the discriminator's batch
#: norm, with R1 (gamma 1), a moving average of the generator and Adam 1e-3 it falls to 106
#: after 3 epochs (5e-4: 113). R1 makes its epoch 39% longer; on every 4th batch with 4
#: times the weight (lazy R1) it adds a quarter of that. The minibatch spread takes its
#: Fashion-MNIST distance after 12 epochs from 24.0 to 17.8 (a cosine decay: 22.2), which
#: keeps it under half the improved fully connected GAN's. The first figure is from a
#: labeller trained at a constant lr, the others from the one-cycle one
#: (`benchmarks/gan_coverage.py` reruns each with it; docs/benchmarks.md lists the runs).
GAN_TRAINING: dict[str, dict[str, Any]] = {
    "fc": {
        "gradient_penalty": 10.0,
        "batch_size": 64,
        "discriminator_lr": 4e-4,
        "minibatch_stddev": True,
    },
    "fc_leaky": {"gradient_penalty": 10.0, "batch_size": 64, "lr": 2e-4, "discriminator_lr": 3e-4},
    "dcgan": {
        "batch_size": 32,
        "lr": 1e-3,
        "dcgan_width": 32,
        "discriminator_batch_norm": False,
        "gradient_penalty": 1.0,
        "gradient_penalty_interval": 4,
        "generator_average": 0.999,
        "minibatch_stddev": True,
    },
}


def gan_outcome(c: Context, architecture: str, dataset: str, epochs: int) -> dict[str, Any]:
    """Trains a GAN of `architecture` on `dataset` and scores it: Fréchet distance to the
    test images, Inception Score, and each class's share of the samples as the feature
    network labels them (mode collapse leaves classes empty). Metrics keys start with
    `<architecture>_<dataset>_`. Each architecture trains as GAN_TRAINING says."""
    from udl.gan import train_gan

    data = c.load(dataset)
    training = GAN_TRAINING[architecture]
    sample_epochs = sorted({1, max(1, epochs // 2), epochs})
    with c.epochs(f"gan {architecture} {dataset}", epochs) as bar:
        result = train_gan(
            data,
            architecture=architecture,
            sample_epochs=sample_epochs,
            sample_count=32,
            callback=bar.epoch,
            **c.loop(epochs=epochs, **training),
        )
    name = f"gan-{architecture}-{dataset}"
    result.model.save(c.model_path(name))
    kept = sorted(result.samples)  # fewer when the run stopped early (diverged)
    network = c.feature_network(dataset)
    count = min(c.budget.generated, len(data.test))
    samples = result.model.generate(count, seed=c.seed)
    quality = metrics.evaluate_generation(samples, data.test.images[:count], network)
    shares = metrics.class_shares(samples, network)
    prefix = f"{architecture}_{dataset}"
    return {
        "metrics": {
            f"{prefix}_fid": quality.frechet_distance,
            f"{prefix}_inception_score": quality.inception_score,
            f"{prefix}_smallest_class_share": float(shares.min()),
            f"{prefix}_largest_class_share": float(shares.max()),
            f"{prefix}_epochs": len(result.history),
            # what labels the samples: its accuracy bounds how far the shares can be trusted
            f"feature_network_accuracy_{dataset}": float(
                np.mean(network.classifier.predict(data.test.images) == data.test.labels)
            ),
            f"{prefix}_seconds": result.seconds,
        },
        "class_shares": {f"{prefix}": [float(s) for s in shares]},
        "params": {f"{prefix}": training},
        "figures": [
            c.figure(
                figures.gan_loss_curves(result.history),
                f"{name}-loss",
                f"{architecture} GAN on {dataset}: generator and discriminator loss per epoch",
            ),
            c.figure(
                figures.image_grid(np.concatenate([result.samples[e][:8] for e in kept]), ncols=8),
                f"{name}-epochs",
                f"{architecture} GAN on {dataset}: the same noise after epochs "
                f"{', '.join(map(str, kept))}, one row each",
            ),
            c.figure(
                figures.image_grid(samples[:64]),
                f"{name}-samples",
                f"{architecture} GAN on {dataset}: samples; of {count}, the smallest class "
                f"has {shares.min():.1%}, Fréchet distance {quality.frechet_distance:.3g}",
            ),
        ],
    }


def fold_table(result: Any, caption: str) -> dict[str, Any]:
    """A cross-validation's folds as a page table: best epoch, validation and test MSE, time."""
    rows = [
        {
            "fold": f.fold,
            "best_epoch": f.best_epoch,
            "val_mse": f.best_val_mse,
            "test_mse": f.test_mse,
            "seconds": f.seconds,
        }
        for f in result.folds
    ]
    return {"caption": caption, "rows": rows}


def merge(*outcomes: dict[str, Any]) -> dict[str, Any]:
    """Stage outcomes joined: metrics and class shares merged, figures concatenated."""
    joined: dict[str, Any] = {"metrics": {}, "figures": []}
    for outcome in outcomes:
        for key, value in outcome.items():
            if key == "figures":
                joined["figures"] += value
            elif isinstance(value, dict):
                joined.setdefault(key, {}).update(value)
            else:
                joined[key] = value
    return joined


def projection_figures(
    c: Context, codes: np.ndarray, what: str, name: str
) -> tuple[list[float], list[dict[str, str]]]:
    """PCA and t-SNE scatter plots of the test set's codes."""
    labels = c.data.test.labels
    names = c.data.class_names
    pca = latent.project(codes, "pca")
    points = min(c.budget.tsne_points, len(codes))
    tsne = latent.project(codes, "tsne", max_points=points, seed=c.seed)
    variance = [float(v) for v in pca.explained_variance_ratio[:2]]
    return variance, [
        c.figure(
            figures.projection_scatter(pca, labels, names),
            f"{name}-pca",
            f"{what}: test-set codes, PCA ({variance[0]:.0%} and {variance[1]:.0%} of the "
            "variance)",
        ),
        c.figure(
            figures.projection_scatter(tsne, labels, names),
            f"{name}-tsne",
            f"{what}: codes of {points} test images, t-SNE",
        ),
    ]
