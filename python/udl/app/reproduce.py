"""`udl reproduce`: the five reports' study in one go, in stages — a tuned CAE (report 000's
search, with pruning), its reconstructions and latent space (PCA, t-SNE), a fine-tuned
classifier against the from-scratch baseline, a denoiser, a VAE with its latent grid, a GAN,
and the generation metrics — then `report.html`.

Each stage writes its models and figures, then `stages/<name>.json` (its metrics and
figure captions) last and atomically: a stage is done exactly when its JSON exists. Running
again on the same folder skips the finished stages, so an interrupted reproduction resumes.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from udl import datasets, figures, latent, metrics
from udl.app.plan import BUDGETS, SETTINGS_FILE, STAGE_TITLES, Budget, check_resumable, settings_of
from udl.app.progress import Mode, Progress
from udl.app.report import write_report
from udl.app.runs import RunFolder
from udl.classifiers import finetune_classifier, train_classifier
from udl.corruption import Corruption, denoise
from udl.gan import train_gan
from udl.loading import load_model
from udl.training import train_autoencoder, train_dae
from udl.tuning import SEARCHES, tune
from udl.vae import train_vae

__all__ = ["BUDGETS", "STAGES", "Budget", "check_resumable", "reproduce", "settings_of"]

log = logging.getLogger("udl")

#: Report 000's best CAE after its 100 trials: the study's first trial, for it to beat.
REPORT000_BEST = {"nf": 16, "latent_dim": 10, "optimizer": "adam", "lr": 4e-3, "weight_decay": 1e-5}
SHOWN_IMAGES = 8


@dataclass
class Context:
    """What the stages share: the folder, the data, the budget and earlier stages' results."""

    run: RunFolder
    data: datasets.Dataset
    budget: Budget
    seed: int
    threads: int | None
    device: str
    mode: Mode
    done: dict[str, dict[str, Any]] = field(default_factory=dict)

    def epochs(self, description: str, total: int) -> Progress:
        return Progress(total, description, unit="epoch", mode=self.mode)

    def model_path(self, name: str) -> Path:
        self.run.file("models").mkdir(exist_ok=True)
        return self.run.file(f"models/{name}.udl")

    def figure(self, fig: Any, name: str, caption: str) -> dict[str, str]:
        path = self.run.save_figure(fig, name)
        return {"file": str(path.relative_to(self.run.path)), "caption": caption}

    def test_images(self) -> np.ndarray:
        return self.data.test.images


def reproduce(
    run: RunFolder,
    *,
    dataset: str = "fashion-mnist",
    budget: str = "quick",
    seed: int = 0,
    data_dir: str | None = None,
    subset: int | None = None,
    threads: int | None = None,
    device: str = "cpu",
    mode: Mode = "log",
) -> Path:
    """Runs every stage not yet done in `run` and writes `report.html`; returns its path.

    Args:
        run: the run folder (a new one, or one to resume).
        dataset: "fashion-mnist" or "mnist".
        budget: a key of BUDGETS.
        seed: seeds every stage.
        data_dir: where the IDX files are (see `udl.datasets.load`).
        subset: train every stage on at most this many training images.
        threads: LibTorch threads (default: all cores).
        device: where every stage trains and runs (see `udl.settings.LoopOptions`).
        mode: progress display, see `udl.app.progress`.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {sorted(BUDGETS)}, got {budget!r}")
    run.write_json(SETTINGS_FILE, settings_of(dataset, budget, seed, subset))
    data = _sized(datasets.load(dataset, data_dir), BUDGETS[budget], subset, seed)
    context = Context(run, data, BUDGETS[budget], seed, threads, device, mode)
    for name, (title, stage) in STAGES.items():
        path = run.file(f"stages/{name}.json")
        if path.is_file():
            context.done[name] = json.loads(path.read_text(encoding="utf-8"))
            log.info("stage %s: done earlier, skipped", name)
            continue
        log.info("stage %s: %s", name, title)
        start = time.perf_counter()
        outcome = stage(context)
        outcome["seconds"] = time.perf_counter() - start
        outcome["title"] = title
        run.write_json(f"stages/{name}.json", outcome)
        context.done[name] = json.loads(path.read_text(encoding="utf-8"))
        log.info("stage %s: finished in %.0f s", name, outcome["seconds"])
    return write_report(run)


def _sized(data: datasets.Dataset, budget: Budget, subset: int | None, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    train_count = min(x for x in (budget.train_images, subset, len(data.train)) if x is not None)
    test_count = min(budget.test_images or len(data.test), len(data.test))
    train = data.train
    if train_count < len(train):
        train = train.subset(np.sort(rng.choice(len(train), train_count, replace=False)))
    test = data.test if test_count == len(data.test) else data.test.subset(np.arange(test_count))
    return dataclasses.replace(data, train=train, test=test)


# --- the stages ------------------------------------------------------------------------------


def _tune_stage(c: Context) -> dict[str, Any]:
    train = c.data.train
    if c.budget.tune_images is not None and c.budget.tune_images < len(train):
        rng = np.random.default_rng(c.seed)
        train = train.subset(np.sort(rng.choice(len(train), c.budget.tune_images, False)))
    with Progress(c.budget.tune_trials, "study", unit="trial", mode=c.mode) as bar:
        result = tune(
            train,
            "report000",
            n_trials=c.budget.tune_trials,
            run_dir=c.run.file("study"),
            study_name="report000",
            pruner="median",
            epochs=c.budget.tune_epochs,
            seed=c.seed,
            threads=c.threads,
            device=c.device,
            callback=bar.trial,
            enqueue=[REPORT000_BEST],
        )
    table = result.trials_table()
    c.run.write_text("study/trials.csv", table.to_csv(index=False))
    shown = []
    for path in result.save_figures(c.run.file("figures")):
        name = path.stem.replace("_", " ")
        shown.append({"file": str(path.relative_to(c.run.path)), "caption": f"Study: {name}"})
    states = table["state"].value_counts().to_dict()
    return {
        "metrics": {
            "best_val_loss": result.best_value,
            "trials": len(table),
            "complete": int(states.get("COMPLETE", 0)),
            "pruned": int(states.get("PRUNED", 0)),
            "images": len(train),
            "epochs_per_trial": c.budget.tune_epochs,
        },
        "best_params": result.best_params,
        "figures": shown,
    }


def _cae_stage(c: Context) -> dict[str, Any]:
    import optuna

    params = c.done["tune"]["best_params"]
    plan = SEARCHES["report000"].space(optuna.trial.FixedTrial(params), c.data.train.image_shape)
    test = c.test_images()
    epochs = c.budget.cae_epochs
    snapshot_epochs = sorted({1, max(1, epochs // 2), epochs})
    with c.epochs("cae", epochs) as bar:
        result = train_autoencoder(
            plan.spec,
            c.data,
            **{
                **plan.training,
                "epochs": epochs,
                "seed": c.seed,
                "threads": c.threads,
                "device": c.device,
            },
            snapshot_images=test[:SHOWN_IMAGES],
            snapshot_epochs=snapshot_epochs,
            callback=bar.epoch,
        )
    result.model.save(c.model_path("cae"))
    rows = {f"epoch {e}": result.snapshots[e] for e in sorted(result.snapshots)}
    pca_mse = _pca_test_mse(c, result.model.latent_dim)
    return {
        "metrics": {
            "test_mse": result.test_mse,
            "pca_test_mse": pca_mse,
            "best_val_mse": result.best_val_mse,
            "best_epoch": result.best_epoch,
            "latent_dim": result.model.latent_dim,
            "parameters": result.model.parameter_count,
            "train_seconds": result.seconds,
        },
        "params": params,
        "stop_reason": result.stop_reason,
        "figures": [
            c.figure(figures.loss_curves(result.history), "cae-loss", "CAE: loss per epoch"),
            c.figure(
                figures.reconstruction_rows(test[:SHOWN_IMAGES], rows),
                "cae-reconstructions",
                "CAE: test images (top) and their reconstructions after chosen epochs",
            ),
        ],
    }


def _pca_test_mse(c: Context, components: int) -> float:
    """The linear baseline: PCA with as many components as the CAE's latent dimension."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(c.seed)
    train = c.data.train.images
    fit_on = train[rng.choice(len(train), min(len(train), 20_000), replace=False)]
    flat = fit_on.reshape(len(fit_on), -1).astype(np.float32) / 255
    pca = PCA(components, random_state=c.seed).fit(flat)
    test = c.test_images().reshape(len(c.test_images()), -1).astype(np.float32) / 255
    restored = pca.inverse_transform(pca.transform(test))
    return float(np.mean((restored - test) ** 2))


def _latent_stage(c: Context) -> dict[str, Any]:
    model = load_model(c.model_path("cae"))
    codes = latent.encode_dataset(model, c.data.test)
    labels = c.data.test.labels
    names = c.data.class_names
    pca = latent.project(codes, "pca")
    points = min(c.budget.tsne_points, len(codes))
    tsne = latent.project(codes, "tsne", max_points=points, seed=c.seed)
    variance = [float(v) for v in pca.explained_variance_ratio[:2]]
    return {
        "metrics": {"pca_explained_variance": variance, "tsne_points": points},
        "figures": [
            c.figure(
                figures.projection_scatter(pca, labels, names),
                "latent-pca",
                f"CAE latent codes of the test set, PCA ({variance[0]:.0%} and "
                f"{variance[1]:.0%} of the variance)",
            ),
            c.figure(
                figures.projection_scatter(tsne, labels, names),
                "latent-tsne",
                f"CAE latent codes, t-SNE of {points} test images",
            ),
        ],
    }


def _classifier_stage(c: Context) -> dict[str, Any]:
    autoencoder = load_model(c.model_path("cae"))
    epochs = c.budget.classifier_epochs
    common = {"epochs": epochs, "seed": c.seed, "threads": c.threads, "device": c.device}
    with c.epochs("fine-tune", epochs) as bar:
        tuned = finetune_classifier(
            autoencoder, c.data, freeze_conv=True, head="linear", callback=bar.epoch, **common
        )
    with c.epochs("from scratch", epochs) as bar:
        scratch = train_classifier(
            c.data, spec=autoencoder.spec, head="linear", callback=bar.epoch, **common
        )
    tuned.model.save(c.model_path("classifier-finetuned"))
    scratch.model.save(c.model_path("classifier-scratch"))
    report = tuned.test
    return {
        "metrics": {
            "finetuned_accuracy": report.accuracy,
            "scratch_accuracy": scratch.test.accuracy,
            "finetuned_seconds_per_epoch": tuned.seconds / max(1, len(tuned.history)),
            "scratch_seconds_per_epoch": scratch.seconds / max(1, len(scratch.history)),
            "finetuned_trainable_parameters": tuned.model.trainable_parameter_count,
            "scratch_trainable_parameters": scratch.model.trainable_parameter_count,
        },
        "per_class_accuracy": report.per_class_accuracy,
        "figures": [
            c.figure(
                figures.confusion_matrix(report.confusion, report.class_names),
                "classifier-confusion",
                "Fine-tuned classifier (frozen convolutions, linear head): test confusion matrix",
            ),
            c.figure(
                figures.loss_curves(tuned.history),
                "classifier-loss",
                "Fine-tuned classifier: loss per epoch",
            ),
        ],
    }


def _denoiser_stage(c: Context) -> dict[str, Any]:
    params = c.done["tune"]["best_params"]
    corruption = Corruption.report003()
    epochs = c.budget.denoiser_epochs
    with c.epochs("denoiser", epochs) as bar:
        result = train_dae(
            c.data,
            corruption,
            nf=params["nf"],
            latent_dim=params["latent_dim"],
            epochs=epochs,
            seed=c.seed,
            threads=c.threads,
            device=c.device,
            callback=bar.epoch,
        )
    result.model.save(c.model_path("denoiser"))
    shown = c.test_images()[:SHOWN_IMAGES]
    corrupted, denoised = denoise(result.model, shown, corruption, seed=c.seed)
    scores = result.test_denoising
    return {
        "metrics": {**dataclasses.asdict(scores), "psnr_gain": scores.psnr_gain},
        "corruption": dataclasses.asdict(corruption),
        "figures": [
            c.figure(
                figures.reconstruction_rows(
                    shown,
                    {"corrupted": corruption.displayed(corrupted), "denoised": denoised},
                ),
                "denoiser",
                "Denoiser: clean test images, corrupted (Gaussian noise sigma 0.3, rotation "
                "up to 15 degrees), denoised",
            )
        ],
    }


def _vae_stage(c: Context) -> dict[str, Any]:
    epochs = c.budget.vae_epochs
    with c.epochs("vae", epochs) as bar:
        result = train_vae(
            c.data,
            nf=8,
            latent_dim=2,
            beta=0.8,
            epochs=epochs,
            seed=c.seed,
            threads=c.threads,
            device=c.device,
            callback=bar.epoch,
        )
    model = result.model
    model.save(c.model_path("vae"))
    grid = model.latent_grid(15)
    return {
        "metrics": {
            "test_mse": result.test.mse,
            "test_reconstruction": result.test.reconstruction,
            "test_kl": result.test.kl,
        },
        "figures": [
            c.figure(
                figures.image_grid(grid, ncols=15),
                "vae-latent-grid",
                "VAE (nf 8, latent 2, beta 0.8): decoded grid over the prior's bulk",
            ),
            c.figure(
                figures.image_grid(np.asarray(model.sample(64, seed=c.seed))),
                "vae-samples",
                "VAE: samples from the prior",
            ),
        ],
    }


def _gan_stage(c: Context) -> dict[str, Any]:
    epochs = c.budget.gan_epochs
    architecture = c.budget.gan_architecture
    with c.epochs(f"gan {architecture}", epochs) as bar:
        result = train_gan(
            c.data,
            architecture=architecture,
            epochs=epochs,
            seed=c.seed,
            threads=c.threads,
            device=c.device,
            callback=bar.epoch,
        )
    result.model.save(c.model_path("gan"))
    last = result.history[-1]
    return {
        "metrics": {
            "architecture": architecture,
            "epochs": len(result.history),
            "real_score": last.real_score,
            "fake_score": last.fake_score,
            "train_seconds": result.seconds,
        },
        "stop_reason": result.stop_reason,
        "figures": [
            c.figure(
                figures.image_grid(result.model.generate(64, seed=c.seed)),
                "gan-samples",
                f"GAN ({architecture}, {len(result.history)} epochs): samples",
            )
        ],
    }


def _quality_stage(c: Context) -> dict[str, Any]:
    network = metrics.FeatureNetwork.train(
        c.data, epochs=c.budget.feature_epochs, seed=c.seed, threads=c.threads, device=c.device
    )
    network.classifier.save(c.model_path("feature-network"))
    count = min(c.budget.generated, len(c.data.train), len(c.data.test))
    rng = np.random.default_rng(c.seed)
    reference = c.data.train.images[rng.choice(len(c.data.train), count, replace=False)]
    vae = load_model(c.model_path("vae"))
    gan = load_model(c.model_path("gan"))
    scored = {
        "real_floor": metrics.real_data_floor(c.data, network, count=count, seed=c.seed),
        "vae": metrics.evaluate_generation(
            np.asarray(vae.sample(count, seed=c.seed)), reference, network
        ),
        "gan": metrics.evaluate_generation(gan.generate(count, seed=c.seed), reference, network),
    }
    return {
        "metrics": {
            "feature_network_accuracy": network.test_accuracy,
            **{f"{k}_fid": v.frechet_distance for k, v in scored.items()},
            **{f"{k}_inception_score": v.inception_score for k, v in scored.items()},
            "images": count,
        },
        "figures": [],
    }


StageFunction = Callable[[Context], dict[str, Any]]

_STAGE_FUNCTIONS: dict[str, StageFunction] = {
    "tune": _tune_stage,
    "cae": _cae_stage,
    "latent": _latent_stage,
    "classifiers": _classifier_stage,
    "denoiser": _denoiser_stage,
    "vae": _vae_stage,
    "gan": _gan_stage,
    "quality": _quality_stage,
}

#: The stages in order (`plan.STAGE_TITLES`): name -> (title, function).
STAGES: dict[str, tuple[str, StageFunction]] = {
    name: (title, _STAGE_FUNCTIONS[name]) for name, title in STAGE_TITLES.items()
}
