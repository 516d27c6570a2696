"""Report 004 (MNIST): the CAE under k-fold cross-validation, the denoiser that zeroes half of
the pixels (both ways: zeros only, and torch's Dropout, which also doubles the kept pixels),
a VAE and a fine-tuned classifier. The report gives no architecture: udl takes the lab's CAE
(nf 8, latent 4), which reports 001 and 003 start from too."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from udl import figures
from udl.app.stages.context import SHOWN_IMAGES, Context, fold_table, merge
from udl.autoencoders import AutoencoderSpec
from udl.classifiers import finetune_classifier
from udl.corruption import Corruption, denoise
from udl.cross_validation import cross_validate
from udl.loading import load_model
from udl.training import train_dae
from udl.vae import train_vae

FOLDS = 5
NF, LATENT = 8, 4


def _cv(c: Context) -> dict[str, Any]:
    spec = AutoencoderSpec.conv_autoencoder(NF, LATENT, c.data.train.image_shape)
    epochs = c.budget.short_epochs
    with c.epochs("cae cv", FOLDS * epochs) as bar:
        result = cross_validate(spec, c.data, k=FOLDS, callback=bar.epoch, **c.loop(epochs=epochs))
    result.model.save(c.model_path("cae"))
    test = c.test_images()[:SHOWN_IMAGES]
    return {
        "metrics": {
            "mean_val_mse": result.mean_val_mse,
            "std_val_mse": result.std_val_mse,
            "best_fold_test_mse": result.folds[result.best_fold].test_mse,
            "epochs_per_fold": epochs,
        },
        "params": {"nf": NF, "latent_dim": LATENT, "folds": FOLDS},
        "tables": [fold_table(result, f"{FOLDS}-fold cross-validation of the CAE")],
        "figures": [
            c.figure(
                figures.reconstruction_rows(test, {"best fold": result.model.reconstruct(test)}),
                "cv-reconstructions",
                "The best fold's CAE: test images and their reconstructions",
            )
        ],
    }


def _denoiser_outcome(c: Context, dropout_scaling: bool) -> dict[str, Any]:
    corruption = Corruption.report004(dropout_scaling=dropout_scaling)
    name = "dropout" if dropout_scaling else "zeros"
    epochs = c.budget.denoiser_epochs
    with c.epochs(f"denoiser ({name})", epochs) as bar:
        result = train_dae(
            c.data,
            corruption,
            nf=NF,
            latent_dim=LATENT,
            callback=bar.epoch,
            **c.loop(epochs=epochs),
        )
    result.model.save(c.model_path(f"denoiser-{name}"))
    shown = c.test_images()[:SHOWN_IMAGES]
    corrupted, denoised = denoise(result.model, shown, corruption, seed=c.seed)
    scores = result.test_denoising
    how = "kept pixels doubled (torch's Dropout)" if dropout_scaling else "zeros only"
    return {
        "metrics": {f"{name}_{key}": value for key, value in dataclasses.asdict(scores).items()}
        | {f"{name}_psnr_gain": scores.psnr_gain},
        "figures": [
            c.figure(
                figures.reconstruction_rows(
                    shown, {"masked": corruption.displayed(corrupted), "denoised": denoised}
                ),
                f"denoiser-{name}",
                f"Denoiser, half the pixels zeroed, {how}: clean, masked, denoised",
            )
        ],
    }


def _denoiser(c: Context) -> dict[str, Any]:
    return merge(_denoiser_outcome(c, False), _denoiser_outcome(c, True))


def _vae(c: Context) -> dict[str, Any]:
    epochs = c.budget.vae_epochs
    with c.epochs("vae", epochs) as bar:
        result = train_vae(
            c.data, nf=NF, latent_dim=LATENT, callback=bar.epoch, **c.loop(epochs=epochs)
        )
    result.model.save(c.model_path("vae"))
    shown = c.test_images()[:SHOWN_IMAGES]
    return {
        "metrics": {"test_mse": result.test.mse, "test_kl": result.test.kl},
        "figures": [
            c.figure(
                figures.reconstruction_rows(shown, {"VAE": result.model.reconstruct(shown)}),
                "vae-reconstructions",
                f"VAE (nf {NF}, latent {LATENT}): test images and their reconstructions",
            ),
            c.figure(
                figures.image_grid(np.asarray(result.model.sample(64, seed=c.seed))),
                "vae-samples",
                "VAE: samples from the prior",
            ),
        ],
    }


def _finetune(c: Context) -> dict[str, Any]:
    epochs = c.budget.classifier_epochs
    with c.epochs("fine-tune", epochs) as bar:
        result = finetune_classifier(
            load_model(c.model_path("cae")),
            c.data,
            freeze_conv=True,
            head="linear",
            callback=bar.epoch,
            **c.loop(epochs=epochs),
        )
    result.model.save(c.model_path("classifier"))
    return {
        "metrics": {"accuracy": result.test.accuracy},
        "figures": [
            c.figure(
                figures.confusion_matrix(result.test.confusion, result.test.class_names),
                "finetune-confusion",
                "Fine-tuned on the frozen convolutions, linear head: test confusion matrix",
            )
        ],
    }


STAGES = {
    "cv": _cv,
    "denoiser": _denoiser,
    "vae": _vae,
    "finetune": _finetune,
}
