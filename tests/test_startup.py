"""Start-up: `import udl` and building the `udl` parser (what --help does) load none of
torch, Optuna, matplotlib, pandas and scikit-learn; each loads when a function or command
first needs it (checked in fresh processes: this one has loaded them all). And the layout
that keeps it so: the library never imports udl.app, no module imports the core at its top."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import udl

HEAVY = ("torch", "optuna", "matplotlib", "pandas", "sklearn")
PACKAGE = Path(udl.__file__).resolve().parent


def _loaded_after(code: str) -> list[str]:
    """The heavy modules (and udl's native core) in sys.modules after `code` ran."""
    probe = (
        f"{code}\n"
        "import json, sys\n"
        f"print(json.dumps([m for m in {(*HEAVY, 'udl._C')!r} if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_import_udl_loads_no_heavy_module() -> None:
    assert _loaded_after("import udl") == []


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["train", "cae", "--help"], ["tune", "--help"], ["reproduce", "--help"]],
)
def test_the_help_loads_no_heavy_module(argv: list[str]) -> None:
    code = f"from udl.app import cli\nassert cli.main({argv!r}) == 0"
    assert _loaded_after(code) == []


def test_building_the_whole_parser_loads_no_heavy_module() -> None:
    assert _loaded_after("from udl.app import cli\ncli.build_parser()") == []


def test_the_error_classes_load_the_core_only_when_read() -> None:
    assert _loaded_after("import udl.errors") == []
    assert "udl._C" in _loaded_after("import udl.errors\nudl.errors.DataFormatError")


def test_the_native_core_loads_on_first_use() -> None:
    loaded = _loaded_after("import udl\nassert udl.BUILT_WITH_TORCH")
    assert {"torch", "udl._C"} <= set(loaded)
    assert "optuna" not in loaded and "matplotlib" not in loaded


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in udl.__all__:
        assert getattr(udl, name) is not None, name
    assert set(udl.__all__) <= set(dir(udl))
    assert udl.__version__ == "0.1.0"
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = udl.no_such_name


def _udl_imports(path: Path) -> set[str]:
    """The udl modules a source file imports (at any level, TYPE_CHECKING blocks too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name == "udl" or name.startswith("udl.")}


def test_the_library_never_imports_the_app() -> None:
    # __main__.py is no library module: `python -m udl` is the command.
    library = sorted(p for p in PACKAGE.glob("*.py") if p.name != "__main__.py")
    assert len(library) > 10
    for path in library:
        assert not {n for n in _udl_imports(path) if n.startswith("udl.app")}, path.name


def test_no_module_imports_the_core_at_its_top() -> None:
    """The convention: `from udl import _native` at the top, `_native._C` at call time. A
    top-level `from udl._native import _C` (or `from udl.errors import ...`) would load
    torch as soon as the module is imported."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module in ("udl._native", "udl.errors"):
                offenders.append(f"{path.relative_to(PACKAGE)}: from {node.module} import ...")
    assert offenders == []
