"""One entry point for every kind of udl model file."""

from __future__ import annotations

import os

from udl import _native, errors
from udl._arrays import existing_file
from udl.autoencoders import Autoencoder
from udl.classifiers import Classifier
from udl.gan import Gan
from udl.vae import Vae

__all__ = ["load_model"]

_LOADERS = {
    "autoencoder": Autoencoder.load,
    "classifier": Classifier.load,
    "vae": Vae.load,
    "gan": Gan.load,
}


def load_model(path: str | os.PathLike[str]) -> Autoencoder | Classifier | Vae | Gan:
    """Loads any model a udl `save` wrote, as the class it was saved from.

    Raises:
        FileNotFoundError: if `path` does not exist.
        udl.DataFormatError: if it is not a udl model file, is truncated, or has another
            format version.
    """
    kind = _native._C.model_kind(existing_file(path))
    if kind not in _LOADERS:
        raise errors.DataFormatError(f"{path} holds a {kind!r} model, which this udl cannot load")
    return _LOADERS[kind](path)
