"""Deprecated: the autoencoder's classes live in `udl.autoencoders` (this module's name said
"models" but held only the autoencoder). Importing from here still works and warns."""

from __future__ import annotations

import warnings
from typing import Any

#: What this module used to hold (not in an `__all__`: it only forwards).
_MOVED = ("Autoencoder", "AutoencoderSpec", "ConvLayer")


def __getattr__(name: str) -> Any:
    if name not in _MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"udl.models.{name} is now udl.autoencoders.{name} (or udl.{name})",
        DeprecationWarning,
        stacklevel=2,
    )
    from udl import autoencoders

    return getattr(autoencoders, name)
