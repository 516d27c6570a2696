"""The compiled core, loaded on first use, refusing a torch other than the one it was built
against.

Importing this module loads nothing. Reading `_native._C` (or `_native.BUILT_WITH_TORCH`)
the first time imports torch (libtorch must be loaded before the extension that links
against it), checks its version and loads the extension; later reads are plain attribute
reads. So every module of udl uses the core as

    from udl import _native
    ...
    _native._C.validate_images(...)  # at call time

and never `from udl._native import _C` at module level, which would load torch as soon as
the module is imported (and with it `import udl` and `udl --help`).
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from udl import _C

    #: The torch version the extension was compiled against (== torch.__version__).
    BUILT_WITH_TORCH: str

__all__ = ["BUILT_WITH_TORCH", "_C"]

_LAZY = frozenset(__all__)
_lock = threading.Lock()


def _load() -> None:
    """Imports torch, checks its version against the build's and loads the extension."""
    import torch  # loads libtorch before the extension that links against it

    try:
        from udl._build_info import TORCH_VERSION as built
    except ImportError as error:  # pragma: no cover - only in a source tree never built
        raise ImportError(
            "udl's compiled core is missing: build and install it with `pip install .`"
        ) from error

    if torch.__version__ != built:
        raise ImportError(
            f"udl was built against torch {built} but torch {torch.__version__} is "
            f"installed; its compiled core runs only with the torch it was built against. "
            f"Either `pip install torch=={built.split('+')[0]}` or rebuild udl against this "
            f"torch with `pip install --force-reinstall --no-deps --no-build-isolation .` "
            f"from its source folder."
        )
    core = importlib.import_module("udl._C")
    globals().update(BUILT_WITH_TORCH=built, _C=core)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    with _lock:
        if name not in globals():
            _load()
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
