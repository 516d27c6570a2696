"""udl: unsupervised deep learning, compiled.

Autoencoders trained by a native LibTorch loop, driven from Python::

    import udl
    data = udl.datasets.load("fashion-mnist")
    result = udl.train_cae(data, nf=16, latent_dim=10, epochs=10)
    print(result.test_mse)
"""

from udl import datasets, figures, latent, metrics, search_spaces, tuning
from udl._native import BUILT_WITH_TORCH
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
from udl.models import Autoencoder, AutoencoderSpec, ConvLayer
from udl.search_spaces import SearchSpace, TrialPlan
from udl.training import (
    LAYER_GROUPS,
    DenoisingScores,
    EpochRecord,
    TrainResult,
    train_autoencoder,
    train_cae,
    train_dae,
)
from udl.tuning import TuneResult, tune
from udl.vae import Vae, VaeResult, train_vae

__version__ = "0.1.0"

__all__ = [
    "BUILT_WITH_TORCH",
    "LAYER_GROUPS",
    "Autoencoder",
    "AutoencoderSpec",
    "ClassificationReport",
    "Classifier",
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
    "GanResult",
    "InvalidArchitecture",
    "InvalidArgument",
    "SearchSpace",
    "TrainResult",
    "TrialPlan",
    "TuneResult",
    "Vae",
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
    "search_spaces",
    "train_autoencoder",
    "train_cae",
    "train_classifier",
    "train_dae",
    "train_gan",
    "train_vae",
    "tune",
    "tuning",
]
