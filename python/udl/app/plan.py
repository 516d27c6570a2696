"""What a `udl reproduce` run is, apart from how its stages run: the five reports with their
datasets and stages in order, the budgets, the comparisons with the reports' own numbers, and
the settings that make two reproductions the same one.

`reproduce` runs the stages and then has `report` write them up; `report` needs the stages'
order and titles and the comparisons, `udl reproduce --help` the budgets' and reports' names.
All read them here, so neither `report` nor the parser imports `reproduce` (nor the library's
training code behind it).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BUDGETS",
    "COMPARISONS",
    "REPORTS",
    "SETTINGS_FILE",
    "Budget",
    "Comparison",
    "ReportPlan",
    "check_resumable",
    "parse_reports",
    "settings_of",
    "stage_file",
]

#: The settings of a reproduction (`settings_of`), written first.
SETTINGS_FILE = "stages/settings.json"


@dataclass(frozen=True)
class ReportPlan:
    """One report's part of a reproduction: its dataset and its stages (name -> title) in
    order. Later stages read earlier ones' files."""

    dataset: str
    title: str
    stages: dict[str, str]
    #: what the page says about how the reproduction differs from the report
    note: str = ""


REPORTS: dict[str, ReportPlan] = {
    "000": ReportPlan(
        "fashion-mnist",
        "Report 000: a tuned CAE, its latent space, transfer learning, a VAE and a fully "
        "connected GAN",
        {
            "tune": "Report 000's search: TPE over nf, latent, optimizer, lr and weight decay, "
            "median pruning",
            "cae": "Report 000's best CAE (nf 16, latent 10, Adam 4e-3, weight decay 1e-5)",
            "latent": "Its latent space: PCA and t-SNE",
            "plane": "A CAE with a 2-d latent: its latent plane and decoded grid",
            "classifiers": "Frozen-convolution fine-tuning against training from scratch",
            "vae": "The beta = 0.8 VAE (nf 8, latent 2): latent scatter, CAE and VAE grids",
            "best": "udl's best recipes on the same data: the CAE with a 10-d code, "
            "fine-tuning and a classifier from scratch",
            "gans": "Report 000's fully connected GAN and udl's DCGAN, on both datasets",
        },
        note="In the standard budget udl's best CAE trains 10 epochs, its classifier from "
        "scratch 20 and its fine-tuning 40, on shifted and mirrored images (one-cycle, no "
        "early stopping), and the GANs 10 (fully connected; the report trained 100) or 12 "
        "(DCGAN) epochs. The fully connected GAN keeps the report's layers and its generator's "
        "Adam 1e-4; it adds the R1 gradient penalty (gamma 10), batches of 64, a discriminator "
        "that learns at 4e-4 (the two time-scale rule) and sees each batch's spread (the "
        "minibatch standard deviation, one input more to its last layer): without the spread "
        "and in 5 epochs its rarest Fashion-MNIST class (sandals) landed anywhere between about "
        "2.7% and 7% with the seed (docs/benchmarks.md lists the runs). udl's DCGAN is 32 "
        "channels wide (Radford et al.'s 64 takes 2.4 times as long an epoch), without batch "
        "norm in its discriminator, with R1 (gamma 1, on every 4th batch), Adam 1e-3 in "
        "batches of 32 and a moving average (0.999) of its generator's weights, and its "
        "discriminator sees the batch's spread too. The class shares of the samples are "
        "labelled by a feature network of 5 epochs (one-cycle). "
        "Where a row misses its bar, that is the budget's measured result, not a claim about "
        "the recipe.",
    ),
    "001": ReportPlan(
        "mnist",
        "Report 001: a framework with early stopping, pruning, dropout, iterative "
        "autoencoding, a 13-dimension search and cross-validation",
        {
            "basic": "The basic CAE ([8, 16, 32], 128/16, latent 4)",
            "ablations": "Ablations, each on the test set over several seeds",
            "search": "The 13-dimension search under 5-fold cross-validation, with the "
            "report's penalties",
            "best": "The report's best architecture under 5-fold cross-validation",
        },
        note="Report 001 gives no test figures to compare with; its ablations, search and "
        "cross-validation run here on subsets of MNIST with short trainings (see each stage), "
        "so their differences are small beside the spread over seeds.",
    ),
    "002": ReportPlan(
        "fashion-mnist",
        "Report 002: a random search, its best CAE, a batch-norm VAE, the latent spaces and a "
        "two-layer head",
        {
            "search": "Report 002's random search (20 trials, median pruning, SGD momentum)",
            "cae": "Its best configuration (latent 14, nf 8, Adam 1e-3, weight decay 1e-5)",
            "vae": "The VAE with batch normalisation",
            "latent": "PCA and t-SNE of the CAE and the VAE; samples of both",
            "finetune": "The two-layer head on the frozen encoder, only the head trained",
        },
    ),
    "003": ReportPlan(
        "mnist",
        "Report 003: a grid under 6-fold cross-validation, the encoder as the classifier, a "
        "denoiser and a LeakyReLU GAN",
        {
            "grid": "The grid lr x latent under 6-fold cross-validation",
            "best": "The report's best cell (latent 10, Adam) under 6-fold "
            "cross-validation of the whole training set; its latent table and PCA",
            "classifier": "The encoder as the classifier (latent 10 = the classes)",
            "denoiser": "The denoiser: Gaussian noise and rotation",
            "gan": "Report 003's LeakyReLU GAN, on both datasets",
        },
        note="The grid trains each fold on a subset for a few epochs (see its table): in the "
        "standard budget that is too short to rank the cells, so the comparisons train the "
        "report's own best cell (latent 10) on the whole training set. The report trained it "
        "at a constant lr of 1e-3 for epochs it does not give; udl trains the same layers, "
        "data and folds with a one-cycle schedule up to 1e-2 and batches of 64 (in the "
        "standard budget, 15 epochs a fold: at a constant 1e-3 and batches of 64 the folds "
        "are still improving then, at 0.0157). The encoder-as-classifier trains with the same "
        "schedule. The LeakyReLU GAN keeps the report's layers and trains with Adam 2e-4 (the "
        "report gives no rate; the discriminator 3e-4), batches of 64 and the R1 gradient "
        "penalty (gamma 10); 5 epochs in the standard budget.",
    ),
    "004": ReportPlan(
        "mnist",
        "Report 004: a CAE under k-fold cross-validation, a masking denoiser, a VAE and "
        "fine-tuning",
        {
            "cv": "The CAE under 5-fold cross-validation",
            "denoiser": "The denoiser with half the pixels zeroed: zeros only, and torch's "
            "Dropout (kept pixels scaled by 2)",
            "vae": "The VAE",
            "finetune": "Fine-tuning a classifier on the CAE's encoder",
        },
        note="Report 004 gives no figures to compare with.",
    ),
}


def stage_file(report: str, stage: str) -> str:
    """Where a stage's outcome is written: it is done exactly when this file exists."""
    return f"stages/{report}/{stage}.json"


@dataclass(frozen=True)
class Comparison:
    """One row of the comparisons: the report's number beside udl's at the report's setting,
    and udl's best where it has another recipe. `udl` and `best` are (stage, metrics key)."""

    report: str
    experiment: str
    metric: str
    reported: float | None  # None: the report has no number; `target` is udl's own bar
    udl: tuple[str, str]
    setting: str
    higher_is_better: bool = False
    target: float | None = None  # what udl must reach (default: the report's number)
    best: tuple[str, str] | None = None
    #: the entry of the best stage's params that states the recipe it ran
    best_recipe: str = ""
    best_target: float | None = None  # udl's own goal for its best recipe
    #: shown for information, never judged (e.g. the report's number measures another thing)
    informational: bool = False

    @property
    def bar(self) -> float | None:
        if self.informational:
            return None
        return self.reported if self.target is None else self.target

    def holds(self, value: float | None, bar: float | None = None) -> bool | None:
        """Whether `value` reaches `bar` (default: this comparison's bar): None without a
        value or a bar, False for NaN (a diverged run reaches nothing)."""
        bar = self.bar if bar is None else bar
        if value is None or bar is None:
            return None
        if math.isnan(value):
            return False
        return value >= bar if self.higher_is_better else value <= bar


def _gan_rows(report: str, stage: str, architecture: str, name: str) -> list[Comparison]:
    rows = []
    for dataset in ("fashion-mnist", "mnist"):
        prefix = f"{architecture}_{dataset}"
        setting = f"{name}, {dataset}; the budget's samples against the test images"
        rows += [
            Comparison(
                report,
                f"{name} on {dataset}",
                "smallest class share of the samples (no mode collapse)",
                None,
                (stage, f"{prefix}_smallest_class_share"),
                setting,
                higher_is_better=True,
                target=0.04,
            ),
            Comparison(
                report,
                f"{name} on {dataset}",
                "Fréchet distance to the test images",
                None,
                (stage, f"{prefix}_fid"),
                setting,
            ),
            Comparison(
                report,
                f"{name} on {dataset}",
                "Inception Score",
                None,
                (stage, f"{prefix}_inception_score"),
                setting,
                higher_is_better=True,
            ),
        ]
    return rows


#: Every comparison the page and `comparisons.csv` show, in the page's order.
COMPARISONS: tuple[Comparison, ...] = (
    Comparison(
        "000",
        "CAE",
        "test MSE",
        None,
        ("cae", "test_mse"),
        "nf 16, latent 10, Adam 4e-3, weight decay 1e-5",
        best=("best", "cae_test_mse"),
        best_recipe="cae",
        best_target=0.0120,
    ),
    Comparison(
        "000",
        "fine-tuning, convolutions frozen, linear head",
        "test accuracy",
        0.87,
        ("classifiers", "finetuned_accuracy"),
        "the CAE above; its encoder's linear layers and a linear head trained",
        higher_is_better=True,
        best=("best", "finetuned_accuracy"),
        best_recipe="fine-tuning",
        best_target=0.90,
    ),
    Comparison(
        "000",
        "fine-tuning against training from scratch",
        "time per epoch, from scratch / fine-tuned",
        4.0,
        ("classifiers", "cost_ratio"),
        "the same network and data; the report's 4x is for its whole run",
        higher_is_better=True,
        informational=True,
    ),
    Comparison(
        "000",
        "classifier from scratch",
        "test accuracy",
        0.9156,
        ("classifiers", "scratch_accuracy"),
        "the CAE's encoder and a linear head, nothing frozen (the report: its homework 1 network)",
        higher_is_better=True,
        informational=True,
        best=("best", "scratch_accuracy"),
        best_recipe="from scratch",
        best_target=0.93,
    ),
    *_gan_rows("000", "gans", "fc", "report 000's fully connected GAN"),
    *_gan_rows("000", "gans", "dcgan", "udl's DCGAN"),
    Comparison(
        "000",
        "DCGAN against the fully connected GAN",
        "Fréchet distance, DCGAN / FC GAN (Fashion-MNIST)",
        None,
        ("gans", "dcgan_to_fc_fid_fashion-mnist"),
        "both trained here",
        target=0.5,
    ),
    Comparison(
        "000",
        "DCGAN against the fully connected GAN",
        "Fréchet distance, DCGAN / FC GAN (MNIST)",
        None,
        ("gans", "dcgan_to_fc_fid_mnist"),
        "both trained here",
        target=0.5,
    ),
    Comparison(
        "002",
        "its best configuration",
        "test MSE",
        0.0166,
        ("cae", "test_mse"),
        "latent 14, nf 8, Adam 1e-3, weight decay 1e-5",
    ),
    Comparison(
        "002",
        "two-layer head, only the head trained",
        "test accuracy",
        0.78,
        ("finetune", "accuracy"),
        "the CAE above, frozen; latent -> 64, ReLU -> 10, LogSoftmax, NLL",
        higher_is_better=True,
    ),
    Comparison(
        "003",
        "the report's best cell under 6-fold CV",
        "mean validation MSE",
        0.0135,
        ("best", "mean_val_mse"),
        "latent 10, Adam, nf 8; 6 folds of the 60,000 training images; one-cycle to 1e-2, "
        "batch 64 (the report: constant 1e-3)",
    ),
    Comparison(
        "003",
        "the report's best cell under 6-fold CV",
        "mean training MSE",
        0.014326,
        ("best", "mean_train_mse"),
        "the same runs",
        informational=True,
    ),
    Comparison(
        "003",
        "the encoder as the classifier",
        "test accuracy",
        0.98369,
        ("classifier", "accuracy"),
        "the CAE's encoder (nf 8) with a 10-d latent, trained as the classifier; one-cycle "
        "to 1e-2, batch 64",
        higher_is_better=True,
        best=("classifier", "best_accuracy"),
        best_recipe="udl's best",
        best_target=0.99,
    ),
    Comparison(
        "003",
        "denoiser, Gaussian noise and rotation",
        "validation loss (MSE)",
        0.058079,
        ("denoiser", "best_val_loss"),
        "the CAE of the report's best cell; Gaussian noise sigma 0.3 and rotation up to 15 "
        "degrees (the report gives neither)",
    ),
    *_gan_rows("003", "gan", "fc_leaky", "report 003's LeakyReLU GAN"),
)


@dataclass(frozen=True)
class Budget:
    """How much each stage trains. `None` image counts mean the whole set."""

    train_images: int | None  # training images of every stage but searches
    test_images: int | None
    search_images: int | None  # training images a search's trial sees
    search_trials: int
    search_epochs: int
    cae_epochs: int  # a model at a report's setting
    #: report 002's best configuration, whose comparison (test MSE 0.0166) needs a long run
    long_epochs: int
    short_epochs: int  # each fold of a grid cell or of a cross-validation
    ablation_epochs: int
    ablation_seeds: int
    denoiser_epochs: int
    classifier_epochs: int
    best_epochs: int  # udl's own recipes (one-cycle runs: no early stopping)
    #: udl's best Fashion-MNIST classifier from scratch: augmented images take it longer
    augmented_epochs: int
    #: udl's best fine-tuning: an epoch over frozen convolutions is cheap, and it needs many
    finetune_epochs: int
    vae_epochs: int  # the VAEs, and report 000's 2-d CAE shown beside its VAE
    gan_epochs: int  # report 000's fully connected GAN
    leaky_gan_epochs: int  # report 003's LeakyReLU GAN
    dcgan_epochs: int
    feature_epochs: int  # the FID/IS feature networks
    generated: int  # images per generator for FID, IS and class shares
    tsne_points: int
    #: report 001's searches and cross-validations run on this many images (its nets with
    #: stride-1 convolutions are slow)
    report001_images: int | None
    report001_trials: int


BUDGETS: dict[str, Budget] = {
    # Seconds: checks that every stage runs and the report renders; the numbers mean nothing.
    "smoke": Budget(
        train_images=600,
        test_images=300,
        search_images=300,
        search_trials=2,
        search_epochs=1,
        cae_epochs=1,
        long_epochs=1,
        short_epochs=1,
        ablation_epochs=1,
        ablation_seeds=2,
        denoiser_epochs=1,
        classifier_epochs=1,
        best_epochs=1,
        augmented_epochs=1,
        finetune_epochs=1,
        vae_epochs=1,
        gan_epochs=1,
        leaky_gan_epochs=1,
        dcgan_epochs=1,
        feature_epochs=1,
        generated=200,
        tsne_points=150,
        report001_images=300,
        report001_trials=2,
    ),
    # At most ten minutes for all five reports on a 2-core machine: every stage, small.
    "quick": Budget(
        train_images=6_000,
        test_images=2_000,
        search_images=3_000,
        search_trials=6,
        search_epochs=2,
        cae_epochs=4,
        long_epochs=4,
        short_epochs=1,
        ablation_epochs=2,
        ablation_seeds=2,
        denoiser_epochs=2,
        classifier_epochs=3,
        best_epochs=2,
        augmented_epochs=2,
        finetune_epochs=2,
        vae_epochs=3,
        gan_epochs=2,
        leaky_gan_epochs=2,
        dcgan_epochs=1,
        feature_epochs=2,
        generated=2_000,
        tsne_points=1_000,
        report001_images=3_000,
        report001_trials=4,
    ),
    # Every comparison with the reports' own architectures and data, all five in at most 90
    # minutes on 2 cores (the stage times of docs/reproduce/standard add up to the figure
    # docs/benchmarks.md gives).
    "standard": Budget(
        train_images=None,
        test_images=None,
        search_images=12_000,
        search_trials=20,
        search_epochs=3,
        cae_epochs=15,
        long_epochs=40,
        short_epochs=2,
        ablation_epochs=8,
        ablation_seeds=3,
        denoiser_epochs=10,
        classifier_epochs=30,
        best_epochs=10,
        augmented_epochs=20,
        finetune_epochs=40,
        vae_epochs=10,
        gan_epochs=10,
        leaky_gan_epochs=5,
        dcgan_epochs=12,
        feature_epochs=5,
        generated=10_000,
        tsne_points=3_000,
        report001_images=12_000,
        report001_trials=10,
    ),
    # The reports' own budgets (hours).
    "full": Budget(
        train_images=None,
        test_images=None,
        search_images=None,
        search_trials=100,
        search_epochs=10,
        cae_epochs=100,
        long_epochs=100,
        short_epochs=20,
        ablation_epochs=30,
        ablation_seeds=5,
        denoiser_epochs=40,
        classifier_epochs=40,
        best_epochs=40,
        augmented_epochs=60,
        finetune_epochs=80,
        vae_epochs=30,
        gan_epochs=100,
        leaky_gan_epochs=100,
        dcgan_epochs=20,
        feature_epochs=15,
        generated=10_000,
        tsne_points=5_000,
        report001_images=None,
        report001_trials=60,
    ),
}


def parse_reports(text: str | None) -> tuple[str, ...]:
    """ "001,003" -> ("001", "003"), in the reports' order; None or "all" -> every report.

    Raises:
        ValueError: naming an unknown or repeated report.
    """
    if text is None or text.strip() == "all":
        return tuple(REPORTS)
    chosen = [word.strip() for word in text.split(",") if word.strip()]
    unknown = [word for word in chosen if word not in REPORTS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown report {', '.join(map(repr, unknown)) or repr(text)}: choose from "
            f"{', '.join(REPORTS)} (comma-separated) or all"
        )
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"a report is named twice in {text!r}")
    return tuple(name for name in REPORTS if name in chosen)


def settings_of(budget: str, seed: int, subset: int | None) -> dict[str, Any]:
    """What makes two reproductions the same one (stored in stages/settings.json): the
    budget's name and its values (a folder made before a budget changed is not resumed with
    the new one), the seed and the subset. The chosen reports are not part of it: a folder
    may gain reports run later."""
    return {
        "budget": budget,
        "seed": seed,
        "subset": subset,
        "budget_values": asdict(BUDGETS[budget]),
    }


def check_resumable(out: Path, chosen: dict[str, Any]) -> None:
    """Refuses to resume a folder that holds a reproduction with other settings.

    Raises:
        FileExistsError: if `out` holds files but no reproduction, or one of other settings.
    """
    settings_path = out / SETTINGS_FILE
    if settings_path.is_file():
        earlier = json.loads(settings_path.read_text(encoding="utf-8"))
        if earlier != chosen:
            raise FileExistsError(
                f"{out} holds a reproduction with other settings ({earlier}); resume it with "
                "those, or choose another --out"
            )
    elif out.is_dir() and any(out.iterdir()):
        raise FileExistsError(f"{out} already holds files that are not a udl reproduction")
