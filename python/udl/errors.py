"""The exceptions udl raises for bad input, beside Python's own ValueError and TypeError:

- `InvalidArchitecture`: a spec whose layer shapes do not work for its input (raised before
  any training).
- `DataFormatError`: a file whose content is not what its format promises (IDX files, udl
  model files).
- `InvalidArgument`: an argument outside its documented range, detected by the native core.

They are the native core's own classes (registered by pybind11, subclasses of ValueError),
read from the core the first time one is asked for: importing this module loads nothing,
`udl.errors.DataFormatError` loads torch and the core.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from udl import _native

if TYPE_CHECKING:
    from udl._C import DataFormatError, InvalidArchitecture, InvalidArgument

__all__ = ["DataFormatError", "InvalidArchitecture", "InvalidArgument"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    error = getattr(_native._C, name)
    globals()[name] = error
    return error


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
