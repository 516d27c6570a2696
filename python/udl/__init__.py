"""udl: unsupervised deep learning, compiled.

Autoencoders trained by a native LibTorch loop, driven from Python::

    import udl
    data = udl.datasets.load("fashion-mnist")
    result = udl.train_cae(data, nf=16, latent_dim=10, epochs=10)
    print(result.test_mse)
"""

from udl import datasets
from udl._native import BUILT_WITH_TORCH
from udl.errors import DataFormatError, InvalidArchitecture, InvalidArgument
from udl.models import Autoencoder, AutoencoderSpec, ConvLayer, load_model
from udl.training import EpochRecord, TrainResult, train_autoencoder, train_cae

__version__ = "0.1.0"

__all__ = [
    "BUILT_WITH_TORCH",
    "Autoencoder",
    "AutoencoderSpec",
    "ConvLayer",
    "DataFormatError",
    "EpochRecord",
    "InvalidArchitecture",
    "InvalidArgument",
    "TrainResult",
    "__version__",
    "datasets",
    "load_model",
    "train_autoencoder",
    "train_cae",
]
