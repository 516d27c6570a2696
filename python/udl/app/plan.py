"""What a `udl reproduce` run is, apart from how its stages run: the stages' names and titles
in order, the budgets, and the settings that make two reproductions the same one.

`reproduce` runs the stages and then has `report` write them up; `report` needs the stages'
order and titles, `udl reproduce --help` the budgets' names. Both read them here, so neither
`report` nor the parser imports `reproduce` (nor the library's training code behind it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BUDGETS",
    "SETTINGS_FILE",
    "STAGE_TITLES",
    "Budget",
    "check_resumable",
    "settings_of",
]

#: The settings of a reproduction (`settings_of`), written first.
SETTINGS_FILE = "stages/settings.json"

#: The stages in order: name -> title. Later stages read earlier ones' files.
STAGE_TITLES: dict[str, str] = {
    "tune": "Tuning the CAE (report 000's search, median pruning)",
    "cae": "The best CAE, retrained",
    "latent": "Its latent space: PCA and t-SNE",
    "classifiers": "Fine-tuned classifier against the from-scratch baseline",
    "denoiser": "Denoising autoencoder",
    "vae": "Variational autoencoder",
    "gan": "GAN",
    "quality": "Generation quality: Fréchet distance and Inception Score",
}


@dataclass(frozen=True)
class Budget:
    """How much each stage trains. `None` subsets mean the whole set."""

    tune_images: int | None  # training images the study sees
    tune_trials: int
    tune_epochs: int
    train_images: int | None  # training images of every other stage
    test_images: int | None
    cae_epochs: int
    classifier_epochs: int
    denoiser_epochs: int
    vae_epochs: int
    gan_architecture: str
    gan_epochs: int
    feature_epochs: int  # the FID/IS feature network
    generated: int  # images per generator for FID and IS
    tsne_points: int


BUDGETS: dict[str, Budget] = {
    # Seconds: checks that every stage runs and the report renders; the numbers mean nothing.
    "smoke": Budget(
        tune_images=600,
        tune_trials=2,
        tune_epochs=1,
        train_images=600,
        test_images=500,
        cae_epochs=1,
        classifier_epochs=1,
        denoiser_epochs=1,
        vae_epochs=1,
        gan_architecture="fc",
        gan_epochs=1,
        feature_epochs=1,
        generated=200,
        tsne_points=150,
    ),
    # Under ten minutes on a 2-core machine: a study on a subset, short trainings.
    "quick": Budget(
        tune_images=10_000,
        tune_trials=12,
        tune_epochs=3,
        train_images=None,
        test_images=None,
        cae_epochs=8,
        classifier_epochs=10,
        denoiser_epochs=4,
        vae_epochs=5,
        gan_architecture="dcgan",
        gan_epochs=2,
        feature_epochs=3,
        generated=5_000,
        tsne_points=2_000,
    ),
    # The reports' own budget: report 000's 100 trials, tens of epochs per model.
    "full": Budget(
        tune_images=None,
        tune_trials=100,
        tune_epochs=10,
        train_images=None,
        test_images=None,
        cae_epochs=30,
        classifier_epochs=20,
        denoiser_epochs=20,
        vae_epochs=30,
        gan_architecture="dcgan",
        gan_epochs=20,
        feature_epochs=15,
        generated=10_000,
        tsne_points=5_000,
    ),
}


def settings_of(dataset: str, budget: str, seed: int, subset: int | None) -> dict[str, Any]:
    """What makes two reproductions the same one (stored in stages/settings.json)."""
    return {"dataset": dataset, "budget": budget, "seed": seed, "subset": subset}


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
