"""The `udl` command: its parser, logging and exit codes. What each subcommand does is in
`udl.app.commands`; the flags of the training parameters come from the library's own
signatures (`udl.app.options`), so they always match the Python API.

Exit codes: 0 success, 1 failure (bad data, divergence, a crash), 2 usage error (a bad flag,
setting or path; the message says which), 130 interrupted (the message says how to go on).

Building the parser imports the library's modules for their signatures, but neither torch
(the native core loads on a function's first call) nor Optuna, matplotlib, pandas or
scikit-learn: `udl --help` stays quick. Keep it so: a subcommand imports what it needs when
it runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["main"]

log = logging.getLogger("udl")

DATASETS = ("fashion-mnist", "mnist")

_EPILOG = (
    "Every setting can also come from --config FILE (TOML, the flags' names with _ or -); "
    "flags given on the command line win. Each run writes its folder (--out, default "
    "runs/NAME-TIMESTAMP): config.toml (the resolved settings, which --config reads back), "
    "history.csv, metrics.json, model files, figures/*.png and run.log."
)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def _command_parser(
    commands: argparse._SubParsersAction,
    name: str,
    help_text: str,
    description: str,
    *,
    run_folder: bool = True,
) -> argparse.ArgumentParser:
    parser = commands.add_parser(
        name,
        help=help_text,
        description=description,
        epilog=_EPILOG,
        formatter_class=_Formatter,
    )
    common = parser.add_argument_group("run")
    if run_folder:
        common.add_argument("--config", type=Path, metavar="FILE", help="TOML file of settings")
        common.add_argument(
            "--out", type=Path, metavar="DIR", help="run folder (default: runs/NAME-TIMESTAMP)"
        )
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no progress, only warnings and errors"
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def _data_flags(parser: argparse.ArgumentParser, *, dataset: bool = True) -> None:
    data = parser.add_argument_group("data")
    if dataset:  # `udl reproduce` runs each report on its own dataset
        data.add_argument("--dataset", default="fashion-mnist", choices=DATASETS, help="dataset")
    data.add_argument(
        "--data-dir", help="folder of the IDX files (default: $UDL_DATA_DIR, then the cache)"
    )
    data.add_argument(
        "--subset",
        type=int,
        metavar="N",
        help="train on the first N training images only (a quick look; default: all)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The whole `udl` parser (importing the library's signatures, not torch's kernels)."""
    from udl.app import commands as c

    parser = argparse.ArgumentParser(
        prog="udl",
        description=(
            "Unsupervised deep learning, compiled: autoencoders, VAEs, GANs and classifiers "
            "trained by a LibTorch core.\n\n"
            "  udl reproduce --budget quick      the five reports' studies, as report.html\n"
            "  udl train cae --epochs 5          one model, with its run folder\n"
            "  udl tune --search report000       an Optuna study (resumable)\n"
            "  udl COMMAND --help                every flag of a command, with its default"
        ),
        formatter_class=_Formatter,
    )
    from udl import __version__

    parser.add_argument("--version", action="version", version=f"udl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", help="train one model (cae, dae, vae, gan, classifier)", formatter_class=_Formatter
    )
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for model, (help_text, description, add_flags) in c.TRAIN_COMMANDS.items():
        sub = _command_parser(models, model, help_text, description)
        _data_flags(sub)
        add_flags(sub)

    for name, (help_text, description, add_flags, needs_data) in c.COMMANDS.items():
        sub = _command_parser(commands, name, help_text, description, run_folder=needs_data)
        if needs_data:
            _data_flags(sub, dataset=name != "reproduce")
        add_flags(sub)
    return parser


def _subparser(parser: argparse.ArgumentParser, path: Sequence[str]) -> argparse.ArgumentParser:
    for word in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parses argv; with --config, parses again with the file's settings placed before the
    user's flags, so that the command line wins."""
    from udl.app.options import config_arguments

    parser = build_parser()
    args = parser.parse_args(argv)
    resume = getattr(args, "resume", None)
    if getattr(args, "config", None) is None and resume is None:
        return args
    path = [args.command] + ([args.model] if args.command == "train" else [])
    sub = _subparser(parser, path)
    if resume is not None and (args.config is not None or args.out not in (None, resume)):
        sub.error("--resume RUN_DIR takes the run's own config.toml and folder")
    config = args.config if resume is None else resume / "config.toml"
    try:
        tokens = config_arguments(config, sub)
    except (ValueError, FileNotFoundError) as error:
        sub.error(str(error) if resume is None else f"--resume {resume}: {error}")
    args = parser.parse_args(path + tokens + argv[len(path) :])
    if resume is not None:
        args.out = resume
    return args


def _configure_logging(args: argparse.Namespace) -> None:
    from udl.app.progress import TqdmLogHandler, default_mode

    handler = TqdmLogHandler(bar=default_mode(args.quiet) == "bar")
    handler.setFormatter(logging.Formatter("%(message)s"))
    _close_handlers()
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO)
    if args.command in ("tune", "reproduce"):  # the commands that run Optuna studies
        import optuna

        # udl's own progress reports the trials; Optuna's lines would repeat them.
        optuna.logging.set_verbosity(logging.DEBUG if args.verbose else logging.WARNING)


def _close_handlers() -> None:
    """Removes the handlers an earlier `main` in this process added (its run.log too)."""
    for handler in log.handlers[:]:
        log.removeHandler(handler)
        handler.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Runs `udl` with `argv` (default: sys.argv[1:]) and returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parse(argv)
    except SystemExit as exit_:  # argparse: --help, --version (0) or a usage error (2)
        return int(exit_.code or 0)
    _configure_logging(args)
    from udl.app import commands

    run: Callable[[argparse.Namespace], int] = commands.handler(args)
    try:
        return _run(run, args)
    finally:
        _close_handlers()
        log.propagate = True


class _NeverRaised(Exception):
    """Stands in for udl.DataFormatError while the native core is not loaded: then nothing
    can have raised one, and `_run` need not load torch to find out."""


def _data_format_error() -> type[Exception]:
    core = sys.modules.get("udl._C")
    return _NeverRaised if core is None else core.DataFormatError


def _run(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Runs a subcommand and turns its exceptions into messages and exit codes."""
    from udl.app.commands import Failure, discard_if_unused

    try:
        return run(args)
    except KeyboardInterrupt:
        # The handlers say what was kept and how to go on before re-raising.
        return 130
    except Failure as error:
        log.error("udl: failed: %s", error)
        return 1
    except (_data_format_error(), RuntimeError, OSError, MemoryError) as error:
        if isinstance(error, (FileNotFoundError, FileExistsError, IsADirectoryError)):
            log.error("udl: error: %s", error)
            discard_if_unused(args)
            return 2
        log.debug("traceback", exc_info=True)
        log.error("udl: failed: %s", error)
        return 1
    except (ValueError, TypeError) as error:
        log.debug("traceback", exc_info=True)
        log.error("udl: error: %s", error)
        discard_if_unused(args)
        return 2


if __name__ == "__main__":
    sys.exit(main())
