"""python/udl/_C.pyi against the compiled udl._C: the same module-level names, the same
classes with the same bases, and the same public members defined on each class, both ways,
so the hand-written stub cannot drift from the bindings."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable
from pathlib import Path

import pytest

from udl._native import _C

STUB = Path(__file__).resolve().parent.parent / "python" / "udl" / "_C.pyi"


def _public(names: Iterable[str]) -> set[str]:
    return {name for name in names if not name.startswith("_")}


def _stub_names(body: list[ast.stmt]) -> dict[str, ast.stmt]:
    """The functions, classes and annotated names that `body` defines (not its imports)."""
    names: dict[str, ast.stmt] = {}
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names[target.id] = node
    return names


STUB_MODULE = _stub_names(ast.parse(STUB.read_text(encoding="utf-8")).body)
STUB_CLASSES = {name: node for name, node in STUB_MODULE.items() if isinstance(node, ast.ClassDef)}
NATIVE_CLASSES = sorted(name for name in _public(dir(_C)) if inspect.isclass(getattr(_C, name)))


def test_stub_has_every_public_name_of_the_module_and_no_other() -> None:
    native = _public(dir(_C))
    stub = _public(STUB_MODULE)
    assert sorted(native - stub) == [], "in udl._C but missing from _C.pyi"
    assert sorted(stub - native) == [], "in _C.pyi but not in udl._C"


def test_stub_classes_are_the_module_classes() -> None:
    assert sorted(_public(STUB_CLASSES)) == NATIVE_CLASSES


@pytest.mark.parametrize("name", NATIVE_CLASSES)
def test_stub_class_mirrors_the_native_class(name: str) -> None:
    native = getattr(_C, name)
    node = STUB_CLASSES.get(name)
    assert node is not None, f"class {name} is missing from _C.pyi"

    native_bases = [base.__name__ for base in native.__bases__]
    native_bases = [base for base in native_bases if base != "pybind11_object"]
    assert [ast.unparse(base) for base in node.bases] == native_bases

    # Members defined on the class itself: inherited ones belong to the stub's base class.
    native_members = _public(vars(native))
    stub_members = _public(_stub_names(node.body))
    assert sorted(native_members - stub_members) == [], f"{name} members missing from _C.pyi"
    assert sorted(stub_members - native_members) == [], f"{name} members not in udl._C"
