"""udl._native: the compiled core loads on first use, and only with the torch it was built
against."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

import udl
from udl import _native


def test_core_was_built_against_the_installed_torch() -> None:
    assert _native._C.__torch_version__ == torch.__version__
    assert udl.BUILT_WITH_TORCH == torch.__version__


def test_core_exposes_its_model_format_version() -> None:
    assert _native._C.MODEL_FORMAT_VERSION == 1


def test_error_classes_come_from_the_core() -> None:
    assert udl.DataFormatError is _native._C.DataFormatError
    assert udl.InvalidArchitecture is _native._C.InvalidArchitecture
    assert udl.InvalidArgument is _native._C.InvalidArgument
    assert udl.errors.InvalidArgument is _native._C.InvalidArgument
    for error in (udl.DataFormatError, udl.InvalidArchitecture, udl.InvalidArgument):
        assert issubclass(error, ValueError)


MISMATCH = textwrap.dedent(
    """
    import torch
    built = torch.__version__
    torch.__version__ = "9.9.9"
    import udl  # loads nothing yet: the core loads on first use
    from udl import _native
    try:
        _native._C
    except ImportError as error:
        print("BUILT", built)
        print(error)
    else:
        print("LOADED")
    """
)


def test_another_torch_version_refuses_to_import() -> None:
    result = subprocess.run(
        [sys.executable, "-c", MISMATCH], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    first, message = result.stdout.split("\n", 1)
    built = first.removeprefix("BUILT ")
    assert built == torch.__version__
    assert "LOADED" not in result.stdout
    assert f"built against torch {built}" in message
    assert "torch 9.9.9 is installed" in message
    # ... and it says how to fix it: install the matching torch or rebuild udl.
    assert f"pip install torch=={built.split('+')[0]}" in message
    assert "rebuild udl" in message
    assert "pip install --force-reinstall --no-deps --no-build-isolation ." in message


def test_import_with_the_right_torch_succeeds_in_a_fresh_process() -> None:
    code = "import udl, torch; print(udl.BUILT_WITH_TORCH == torch.__version__)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
