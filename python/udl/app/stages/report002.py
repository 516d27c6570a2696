"""Report 002 (Fashion-MNIST): its random search of 20 trials, its best configuration's test
loss, the VAE with batch normalisation, PCA and t-SNE of both with samples of each, and the
two-layer head trained on the frozen encoder."""

from __future__ import annotations

from typing import Any

import numpy as np

from udl import figures, latent
from udl.app.stages.context import SHOWN_IMAGES, Context, projection_figures, study_outcome
from udl.classifiers import finetune_classifier
from udl.loading import load_model
from udl.search_spaces import REPORT002_BEST, report002_cae, report002_space
from udl.training import train_autoencoder
from udl.vae import train_vae


def _search(c: Context) -> dict[str, Any]:
    outcome, _ = study_outcome(
        c,
        "report002",
        c.subset(c.budget.search_images),
        min(c.budget.search_trials, 20),
        "Report 002's random search",
        pruner="median",
    )
    return outcome


def _cae(c: Context) -> dict[str, Any]:
    import optuna

    epochs = c.budget.long_epochs
    shown = c.test_images()[:SHOWN_IMAGES]
    plan = report002_space(optuna.trial.FixedTrial(REPORT002_BEST), c.data.train.image_shape)
    with c.epochs("cae", epochs) as bar:
        result = train_autoencoder(
            plan.spec, c.data, callback=bar.epoch, **c.loop(epochs=epochs, **plan.training)
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
                figures.reconstruction_rows(shown, {"CAE": result.model.reconstruct(shown)}),
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
    codes = latent.encode_dataset(cae, c.data.test)
    cae_variance, cae_figures = projection_figures(c, codes, "CAE", "cae")
    vae_variance, vae_figures = projection_figures(
        c, latent.encode_dataset(vae, c.data.test), "VAE (means)", "vae"
    )
    # The CAE has no prior: decode codes drawn from a Gaussian fitted to its test codes.
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
