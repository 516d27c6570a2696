"""Command-line flags made from the library's own signatures and docstrings, so that every
training parameter has a flag with the library's default and help text, and `--config FILE`
(TOML) sets the same names."""

from __future__ import annotations

import argparse
import inspect
import logging
import re
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from udl.settings import LOOP_SETTINGS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

__all__ = ["add_parameters", "config_arguments", "docstring_arguments"]

#: Settings renamed, old name -> new name: the old flag and the old key of a --config file
#: still work, with a warning.
RENAMED = {"reconstruction": "loss"}

log = logging.getLogger("udl")


class _Renamed(argparse.Action):
    """An old flag: sets its new name's value and says so."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        log.warning("%s is deprecated: it is now --%s", option_string, self.dest.replace("_", "-"))
        setattr(namespace, self.dest, values)


# Parameters that are strings from a fixed set.
_CHOICES: dict[str, Sequence[str]] = {
    **{
        name: typing.get_args(kind)
        for name, (kind, _) in LOOP_SETTINGS.items()
        if typing.get_origin(kind) is typing.Literal
    },
    "loss": ("mse", "bce"),
    "head": ("linear", "two_layer", "none"),
    "architecture": ("fc", "fc_leaky", "dcgan"),
}


def docstring_arguments(function: Callable[..., Any]) -> dict[str, str]:
    """The 'Args:' entries of a Google-style docstring, one line each ('a, b: text' gives
    both names the text)."""
    doc = inspect.getdoc(function) or ""
    match = re.search(r"^Args:\n(.*?)(?:\n\S|\Z)", doc, re.S | re.M)
    if not match:
        return {}
    entries: dict[str, str] = {}
    names: list[str] = []
    pending: list[str] = []  # a list of names running over several lines
    for line in match.group(1).splitlines():
        if line.startswith("     "):  # deeper indent: the entry goes on
            for name in names:
                entries[name] = f"{entries[name]} {line.strip()}"
            continue
        listed = re.match(r"^    ((?:\*{0,2}\w+,\s*)+)$", line)
        if listed:
            pending += _names(listed.group(1))
            continue
        entry = re.match(r"^    ((?:\*{0,2}\w+,?\s*)+):\s*(.*)$", line)
        if entry:
            names = pending + _names(entry.group(1))
            pending = []
            for name in names:
                entries[name] = entry.group(2).strip()
    return entries


def _names(text: str) -> list[str]:
    return [n.strip().lstrip("*") for n in text.split(",") if n.strip()]


def _is_reference(text: str) -> bool:
    """A help text that only points elsewhere ('as in `train_autoencoder`')."""
    return text.startswith(("as in", "as for", "see ")) or not text


def add_parameters(
    parser: argparse.ArgumentParser,
    functions: Sequence[Callable[..., Any]],
    *,
    skip: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    help_from: Sequence[Callable[..., Any]] = (),
) -> list[str]:
    """Adds a flag for every keyword parameter of `functions` with a default of a type a
    command line can carry (numbers, strings, booleans, lists of numbers); the first
    function that names a parameter gives its default and help (`help_from` adds functions
    that only lend help texts), `defaults` overrides the default. Returns the destinations
    added, in order."""
    skipped = set(skip)
    # The loop's settings carry their help in their declaration; a model's own parameters
    # in its docstring.
    helps = {name: setting.help for name, (_, setting) in LOOP_SETTINGS.items()}
    for function in (*functions, *help_from):  # a real help text wins over a reference
        for name, text in docstring_arguments(function).items():
            if name not in helps or (_is_reference(helps[name]) and not _is_reference(text)):
                helps[name] = text
    added: list[str] = []
    for function in functions:
        for name, parameter in inspect.signature(function).parameters.items():
            if name in skipped or name in added or parameter.default is inspect.Parameter.empty:
                continue
            kind = _flag_kind(str(parameter.annotation))
            if kind is None:
                continue
            default = (defaults or {}).get(name, parameter.default)
            _add_flag(parser, name, kind, default, helps.get(name, ""))
            for old in (old for old, new in RENAMED.items() if new == name):
                parser.add_argument(
                    "--" + old.replace("_", "-"),
                    dest=name,
                    action=_Renamed,
                    choices=_CHOICES.get(name),
                    default=argparse.SUPPRESS,
                    help=argparse.SUPPRESS,
                )
            added.append(name)
    return added


def _flag_kind(annotation: str) -> str | None:
    annotation = annotation.replace(" | None", "")
    if annotation in ("bool", "int", "float", "str"):
        return annotation
    if annotation == "Sequence[int]":
        return "int_list"
    if annotation == "PruneAmounts":
        return "float_list"
    return None


def _add_flag(
    parser: argparse.ArgumentParser, name: str, kind: str, default: Any, text: str
) -> None:
    flag = "--" + name.replace("_", "-")
    help_text = text.replace("%", "%%") or name.replace("_", " ")
    if kind == "bool":
        shown_bool = "on" if default else "off"
        parser.add_argument(
            flag,
            action=argparse.BooleanOptionalAction,
            default=default,
            help=f"{help_text} (default: {shown_bool})",
        )
        return
    converters: dict[str, Callable[[str], Any]] = {
        "int": int,
        "float": float,
        "str": str,
        "int_list": _int_list,
        "float_list": _float_list,
    }
    shown = ",".join(str(v) for v in default) if isinstance(default, (list, tuple)) else default
    parser.add_argument(
        flag,
        type=converters[kind],
        default=default,
        choices=_CHOICES.get(name),
        metavar="N,N,..." if kind.endswith("_list") else None,
        help=f"{help_text} (default: {'not set' if shown in (None, '') else shown})",
    )


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None


def _float_list(text: str) -> float | list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    return values[0] if len(values) == 1 else values


def config_arguments(path: Path, parser: argparse.ArgumentParser) -> list[str]:
    """The settings of a TOML file as command-line tokens for `parser`, to be placed before
    the user's own flags (which then win).

    Raises:
        ValueError: for a file that is not TOML, a setting the command does not have, or a
            value of a type the flag cannot take; the message names the file and setting.
    """
    try:
        settings = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"--config: no file {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"--config {path} is not valid TOML: {error}") from None
    actions = {
        action.dest: action
        for action in parser._actions
        if action.option_strings
        and action.dest not in ("help", "config")
        and not isinstance(action, _Renamed)
    }
    tokens: list[str] = []
    for key, value in settings.items():
        dest = key.replace("-", "_")
        if dest in RENAMED:
            log.warning("--config %s: %r is deprecated: it is now %r", path, key, RENAMED[dest])
            dest = RENAMED[dest]
        action = actions.get(dest)
        if action is None:
            known = ", ".join(sorted(actions))
            raise ValueError(f"--config {path}: unknown setting {key!r} (known: {known})")
        flag = action.option_strings[-1] if dest != "quiet" else "--quiet"
        tokens += _tokens(path, key, flag, action, value)
    return tokens


def _tokens(path: Path, key: str, flag: str, action: argparse.Action, value: Any) -> list[str]:
    wrong = ValueError(f"--config {path}: setting {key!r} cannot be {value!r}")
    if isinstance(action, argparse.BooleanOptionalAction):
        if not isinstance(value, bool):
            raise wrong
        positive = next(s for s in action.option_strings if not s.startswith("--no-"))
        return [positive if value else "--no-" + positive[2:]]
    if action.nargs == 0:  # a store_true flag such as --quiet
        if not isinstance(value, bool):
            raise wrong
        return [action.option_strings[-1]] if value else []
    if isinstance(value, (bool, dict)) or (isinstance(value, list) and not _is_number_list(value)):
        raise wrong
    text = ",".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return [flag, text]


def _is_number_list(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    )
