"""udl: unsupervised deep learning, compiled.

Autoencoders trained by a native LibTorch loop, driven from Python::

    import udl
    data = udl.datasets.load("fashion-mnist")
    result = udl.train_cae(data, nf=16, latent_dim=10, epochs=10)
    print(result.test_mse)
"""

from udl import datasets, search_spaces, tuning
from udl._native import BUILT_WITH_TORCH
from udl.cross_validation import CrossValidationResult, FoldResult, cross_validate, make_folds
from udl.errors import DataFormatError, InvalidArchitecture, InvalidArgument
from udl.models import Autoencoder, AutoencoderSpec, ConvLayer, load_model
from udl.search_spaces import SearchSpace, TrialPlan
from udl.training import LAYER_GROUPS, EpochRecord, TrainResult, train_autoencoder, train_cae
from udl.tuning import TuneResult, tune

__version__ = "0.1.0"

__all__ = [
    "BUILT_WITH_TORCH",
    "LAYER_GROUPS",
    "Autoencoder",
    "AutoencoderSpec",
    "ConvLayer",
    "CrossValidationResult",
    "DataFormatError",
    "EpochRecord",
    "FoldResult",
    "InvalidArchitecture",
    "InvalidArgument",
    "SearchSpace",
    "TrainResult",
    "TrialPlan",
    "TuneResult",
    "__version__",
    "cross_validate",
    "datasets",
    "load_model",
    "make_folds",
    "search_spaces",
    "train_autoencoder",
    "train_cae",
    "tune",
    "tuning",
]
