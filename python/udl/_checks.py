"""Argument checks shared by the public functions: a TypeError or ValueError that names the
argument, before anything reaches the native core."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

#: The native core's integers are 64-bit: a Python int outside them would reach it as an
#: unreadable pybind11 TypeError, so `integer` refuses it first unless told other bounds.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def integer(
    value: Any, name: str, minimum: int | None = INT64_MIN, maximum: int | None = INT64_MAX
) -> int:
    """An int from an int or NumPy integer; TypeError for anything else (bool, 5.7, "5"),
    ValueError outside [minimum, maximum] (by default, 64 bits)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def seed(value: Any, name: str = "seed") -> int:
    """A seed: an integer in [0, 2**64), what the native generators take."""
    return integer(value, name, minimum=0, maximum=2**64 - 1)


def choice_name(value: Any, name: str, choices: Sequence[str]) -> str:
    """A string naming one of `choices`; TypeError for anything else (the native core
    names the choices for an unknown string)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def number(value: Any, name: str) -> float:
    """A float from any real number (NumPy's included); TypeError for bools and the rest."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    return float(value)


def flag(value: Any, name: str) -> bool:
    """A bool from a bool or NumPy bool; TypeError for anything else ("False" is truthy)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
