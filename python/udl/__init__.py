"""udl: unsupervised deep learning, compiled.

Autoencoders trained by a native LibTorch loop, driven from Python::

    import udl
    data = udl.datasets.load("fashion-mnist")
    result = udl.train_cae(data, nf=16, latent_dim=10, epochs=10)
    print(result.test_mse)

Importing udl loads none of its modules, nor torch, Optuna, matplotlib, pandas or
scikit-learn: each name below is imported from its module the first time it is read
(PEP 562), and the native core (with torch) the first time a function needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names as type checkers and IDEs see them
    from udl import datasets, figures, latent, metrics, records, search_spaces, settings, tuning
    from udl._native import BUILT_WITH_TORCH
    from udl.autoencoders import Autoencoder, AutoencoderSpec, ConvLayer
    from udl.classifiers import (
        ClassificationReport,
        Classifier,
        ClassifierResult,
        ClassifierSpec,
        finetune_classifier,
        train_classifier,
    )
    from udl.corruption import Corruption, corrupt
    from udl.cross_validation import CrossValidationResult, FoldResult, cross_validate, make_folds
    from udl.errors import DataFormatError, InvalidArchitecture, InvalidArgument
    from udl.gan import Gan, GanResult, train_gan
    from udl.loading import load_model
    from udl.records import ClassifierEpochRecord, EpochRecord, GanEpochRecord, VaeEpochRecord
    from udl.search_spaces import SearchSpace, TrialPlan
    from udl.settings import LoopOptions
    from udl.training import (
        LAYER_GROUPS,
        DenoisingScores,
        TrainResult,
        train_autoencoder,
        train_cae,
        train_dae,
    )
    from udl.tuning import TuneResult, tune
    from udl.vae import Vae, VaeResult, train_vae

__version__ = "0.1.0"

#: Each lazily exported name -> the module of udl that defines it (None: the module itself).
_EXPORTS: dict[str, str | None] = {
    "BUILT_WITH_TORCH": "_native",
    "LAYER_GROUPS": "training",
    "Autoencoder": "autoencoders",
    "AutoencoderSpec": "autoencoders",
    "ClassificationReport": "classifiers",
    "Classifier": "classifiers",
    "ClassifierResult": "classifiers",
    "ClassifierSpec": "classifiers",
    "ConvLayer": "autoencoders",
    "Corruption": "corruption",
    "CrossValidationResult": "cross_validation",
    "DataFormatError": "errors",
    "DenoisingScores": "training",
    "ClassifierEpochRecord": "records",
    "EpochRecord": "records",
    "GanEpochRecord": "records",
    "LoopOptions": "settings",
    "VaeEpochRecord": "records",
    "FoldResult": "cross_validation",
    "Gan": "gan",
    "GanResult": "gan",
    "InvalidArchitecture": "errors",
    "InvalidArgument": "errors",
    "SearchSpace": "search_spaces",
    "TrainResult": "training",
    "TrialPlan": "search_spaces",
    "TuneResult": "tuning",
    "Vae": "vae",
    "VaeResult": "vae",
    "corrupt": "corruption",
    "cross_validate": "cross_validation",
    "datasets": None,
    "figures": None,
    "finetune_classifier": "classifiers",
    "latent": None,
    "load_model": "loading",
    "make_folds": "cross_validation",
    "metrics": None,
    "records": None,
    "search_spaces": None,
    "settings": None,
    "train_autoencoder": "training",
    "train_cae": "training",
    "train_classifier": "classifiers",
    "train_dae": "training",
    "train_gan": "gan",
    "train_vae": "vae",
    "tune": "tuning",
    "tuning": None,
    # Not public, but reachable as attributes of `udl` as when everything was imported eagerly.
    "_C": "_native",
    "classifiers": None,
    "corruption": None,
    "cross_validation": None,
    "errors": None,
    "gan": None,
    "loading": None,
    "autoencoders": None,
    "models": None,
    "training": None,
    "vae": None,
    "_arrays": None,
    "_checks": None,
    "_native_config": None,
    "_native": None,
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = _EXPORTS[name]
    if module is None:
        return importlib.import_module(f"{__name__}.{name}")  # which sets the attribute
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "BUILT_WITH_TORCH",
    "LAYER_GROUPS",
    "Autoencoder",
    "AutoencoderSpec",
    "ClassificationReport",
    "Classifier",
    "ClassifierEpochRecord",
    "ClassifierResult",
    "ClassifierSpec",
    "ConvLayer",
    "Corruption",
    "CrossValidationResult",
    "DataFormatError",
    "DenoisingScores",
    "EpochRecord",
    "FoldResult",
    "Gan",
    "GanEpochRecord",
    "GanResult",
    "InvalidArchitecture",
    "InvalidArgument",
    "LoopOptions",
    "SearchSpace",
    "TrainResult",
    "TrialPlan",
    "TuneResult",
    "Vae",
    "VaeEpochRecord",
    "VaeResult",
    "__version__",
    "corrupt",
    "cross_validate",
    "datasets",
    "figures",
    "finetune_classifier",
    "latent",
    "load_model",
    "make_folds",
    "metrics",
    "records",
    "search_spaces",
    "settings",
    "train_autoencoder",
    "train_cae",
    "train_classifier",
    "train_dae",
    "train_gan",
    "train_vae",
    "tune",
    "tuning",
]
