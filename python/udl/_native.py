"""Loads the compiled core, refusing a torch other than the one it was built against."""

from __future__ import annotations

import torch  # loads libtorch before the extension that links against it

try:
    from udl._build_info import TORCH_VERSION as BUILT_WITH_TORCH
except ImportError as error:  # pragma: no cover - only in a source tree that was never built
    raise ImportError(
        "udl's compiled core is missing: build and install it with `pip install .`"
    ) from error

if torch.__version__ != BUILT_WITH_TORCH:
    raise ImportError(
        f"udl was built against torch {BUILT_WITH_TORCH} but torch {torch.__version__} is "
        f"installed; its compiled core runs only with the torch it was built against. Either "
        f"`pip install torch=={BUILT_WITH_TORCH.split('+')[0]}` or rebuild udl against this "
        f"torch with `pip install --force-reinstall --no-deps --no-build-isolation .` from its "
        f"source folder."
    )

from udl import _C

__all__ = ["BUILT_WITH_TORCH", "_C"]
