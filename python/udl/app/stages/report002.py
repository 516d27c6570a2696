"""Report 002 (Fashion-MNIST): its random search of 20 trials, its best configuration's test
loss, the VAE with batch normalisation, PCA and t-SNE of both with samples of each, and the
two-layer head trained on the frozen encoder."""

from __future__ import annotations

from typing import Any

import numpy as np

from udl import figures, latent
from udl.app.progress import Progress
from udl.app.stages.context import SHOWN_IMAGES, Context, projection_figures
from udl.classifiers import finetune_classifier
from udl.loading import load_model
from udl.search_spaces import REPORT002_BEST, report002_cae
from udl.training import train_autoencoder
from udl.tuning import tune
from udl.vae import train_vae


def _search(c: Context) -> dict[str, Any]:
    train = c.subset(c.budget.search_images)
    trials = min(c.budget.search_trials, 20)
    with Progress(trials, "002 study", unit="trial", mode=c.mode) as bar:
        result = tune(
            train,
            "report002",
            n_trials=trials,
            run_dir=c.run.file("study/002"),
            study_name="report002",
            pruner="median",
            epochs=c.budget.search_epochs,
            seed=c.seed,
            threads=c.threads,
            device=c.device,
            callback=bar.trial,
        )
    table = result.trials_table()
    c.run.write_text("study/002/trials.csv", table.to_csv(index=False))
    shown = []
    for path in result.save_figures(c.run.file("figures/002-study")):
        caption = "Report 002's random search: " + path.stem.replace("_", " ")
        shown.append({"file": str(path.relative_to(c.run.path)), "caption": caption})
    states = table["state"].value_counts().to_dict()
    return {
        "metrics": {
            "best_val_loss": result.best_value,
            "trials": len(table),
            "pruned": int(states.get("PRUNED", 0)),
            "images": len(train),
            "epochs_per_trial": c.budget.search_epochs,
        },
        "best_params": result.best_params,
        "figures": shown,
    }


def _cae(c: Context) -> dict[str, Any]:
    epochs = c.budget.cae_epochs
    test = c.test_images()
    training = {k: v for k, v in REPORT002_BEST.items() if k not in ("nf", "latent_dim")}
    with c.epochs("cae", epochs) as bar:
        result = train_autoencoder(
            report002_cae(8, 14, c.data.train.image_shape),
            c.data,
            snapshot_images=test[:SHOWN_IMAGES],
            snapshot_epochs=[epochs],
            callback=bar.epoch,
            **c.loop(epochs=epochs, **training),
        )
    result.model.save(c.model_path("cae"))
    return {
        "metrics": {
            "test_mse": result.test_mse,
            "best_val_mse": result.best_val_mse,
            "best_epoch": result.best_epoch,
        },
        "params": REPORT002_BEST,
        "stop_reason": result.stop_reason,
        "figures": [
            c.figure(figures.loss_curves(result.history), "cae-loss", "CAE: loss per epoch"),
            c.figure(
                figures.reconstruction_rows(
                    test[:SHOWN_IMAGES], {"CAE": result.snapshots[max(result.snapshots)]}
                ),
                "cae-reconstructions",
                "Report 002's best CAE: test images and their reconstructions",
            ),
        ],
    }


def _vae(c: Context) -> dict[str, Any]:
    epochs = c.budget.vae_epochs
    test = c.test_images()
    with c.epochs("vae", epochs) as bar:
        result = train_vae(
            c.data,
            spec=report002_cae(8, 14, c.data.train.image_shape),
            batch_norm=True,
            callback=bar.epoch,
            **c.loop(epochs=epochs),
        )
    result.model.save(c.model_path("vae"))
    shown = test[:SHOWN_IMAGES]
    return {
        "metrics": {"test_mse": result.test.mse, "test_kl": result.test.kl},
        "params": {"nf": 8, "latent_dim": 14, "batch_norm": True},
        "figures": [
            c.figure(
                figures.reconstruction_rows(shown, {"VAE": result.model.reconstruct(shown)}),
                "vae-reconstructions",
                "Batch-norm VAE (nf 8, latent 14): test images and their reconstructions",
            )
        ],
    }


def _latent(c: Context) -> dict[str, Any]:
    cae = load_model(c.model_path("cae"))
    vae = load_model(c.model_path("vae"))
    cae_variance, cae_figures = projection_figures(
        c, latent.encode_dataset(cae, c.data.test), "CAE", "cae"
    )
    vae_variance, vae_figures = projection_figures(
        c, latent.encode_dataset(vae, c.data.test), "VAE (means)", "vae"
    )
    # The CAE has no prior: decode codes drawn from a Gaussian fitted to its test codes.
    codes = latent.encode_dataset(cae, c.data.test)
    rng = np.random.default_rng(c.seed)
    drawn = rng.multivariate_normal(codes.mean(0), np.cov(codes.T), 64).astype(np.float32)
    return {
        "metrics": {"cae_pca_variance": cae_variance, "vae_pca_variance": vae_variance},
        "figures": [
            *cae_figures,
            *vae_figures,
            c.figure(
                figures.image_grid(np.asarray(cae.decode(drawn))),
                "cae-samples",
                "CAE: codes drawn from a Gaussian fitted to its test codes, decoded",
            ),
            c.figure(
                figures.image_grid(np.asarray(vae.sample(64, seed=c.seed))),
                "vae-samples",
                "VAE: samples from the prior",
            ),
        ],
    }


def _finetune(c: Context) -> dict[str, Any]:
    epochs = c.budget.classifier_epochs
    with c.epochs("two-layer head", epochs) as bar:
        result = finetune_classifier(
            load_model(c.model_path("cae")),
            c.data,
            head="two_layer",
            freeze_conv=True,
            freeze_linear=True,
            callback=bar.epoch,
            **c.loop(epochs=epochs),
        )
    result.model.save(c.model_path("classifier"))
    return {
        "metrics": {
            "accuracy": result.test.accuracy,
            "trainable_parameters": result.model.trainable_parameter_count,
        },
        "figures": [
            c.figure(
                figures.confusion_matrix(result.test.confusion, result.test.class_names),
                "finetune-confusion",
                "Two-layer head on the frozen encoder: test confusion matrix",
            )
        ],
    }


STAGES = {
    "search": _search,
    "cae": _cae,
    "vae": _vae,
    "latent": _latent,
    "finetune": _finetune,
}
