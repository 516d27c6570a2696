"""udl.app.options: flags from signatures and docstrings, --config files as flags."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pytest

import udl
from udl.app.options import add_parameters, config_arguments, docstring_arguments


def _example(
    data: object,
    *,
    rate: float = 0.5,
    count: int = 3,
    name: str = "mse",
    flag: bool = True,
    epochs: tuple = (),
    workers: int | None = None,
    callback: object = None,
) -> None:
    """Does nothing.

    Args:
        data: ignored.
        rate: how fast, in (0, 1); runs over
            two lines.
        count, name,
        flag: three names sharing one help.
        workers: as in `elsewhere`.

    Returns:
        None.
    """


_example.__annotations__.update(epochs="Sequence[int]")


def test_docstring_arguments_reads_continued_and_grouped_entries() -> None:
    helps = docstring_arguments(_example)
    assert helps["rate"] == "how fast, in (0, 1); runs over two lines."
    assert helps["count"] == helps["name"] == helps["flag"] == "three names sharing one help."
    assert "Returns" not in " ".join(helps)


def _parser() -> tuple[argparse.ArgumentParser, list[str]]:
    parser = argparse.ArgumentParser(prog="x")

    def workers_documented(*, workers: int | None = None) -> None:
        """.

        Args:
            workers: LibTorch workers.
        """

    names = add_parameters(parser, [_example, workers_documented], defaults={"count": 7})
    return parser, names


def test_add_parameters_types_defaults_and_help() -> None:
    parser, names = _parser()
    assert names == ["rate", "count", "name", "flag", "epochs", "workers"]  # not callback
    args = parser.parse_args([])
    assert (args.rate, args.count, args.flag, args.epochs, args.workers) == (0.5, 7, True, (), None)
    args = parser.parse_args(["--rate", "0.1", "--no-flag", "--epochs", "1,5"])
    assert (args.rate, args.flag, args.epochs) == (0.1, False, [1, 5])
    text = " ".join(parser.format_help().split())
    assert "--workers WORKERS LibTorch workers. (default: not set)" in text  # not "as in"


def test_loop_settings_take_their_help_from_their_declaration() -> None:
    parser = argparse.ArgumentParser(prog="x")

    def train(*, lr: float = 1e-3, patience: int = 5) -> None:
        """.

        Args:
            lr: a docstring's own words, which the declaration overrides.
        """

    add_parameters(parser, [train])
    text = " ".join(parser.format_help().split())
    for name in ("lr", "patience"):
        assert udl.settings.LOOP_SETTINGS[name][1].help in text


def test_list_flags_reject_bad_items(capsys: pytest.CaptureFixture[str]) -> None:
    parser, _ = _parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--epochs", "1,x"])
    assert "expected comma-separated integers, got '1,x'" in capsys.readouterr().err


def test_config_settings_become_tokens(tmp_path: Path) -> None:
    parser, _ = _parser()
    config = tmp_path / "c.toml"
    config.write_text('rate = 0.25\nflag = false\nepochs = [2, 4]\nname = "bce"\n')
    tokens = config_arguments(config, parser)
    assert tokens == ["--rate", "0.25", "--no-flag", "--epochs", "2,4", "--name", "bce"]
    args = parser.parse_args([*tokens, "--rate", "0.5"])
    assert (args.rate, args.flag, args.epochs, args.name) == (0.5, False, [2, 4], "bce")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("speed = 1\n", "unknown setting 'speed'"),
        ("flag = 'yes'\n", "setting 'flag' cannot be 'yes'"),
        ("rate = true\n", "setting 'rate' cannot be True"),
        ("[section]\nrate = 1\n", "unknown setting 'section'"),
        ("rate = 1\nrate = 2\n", "is not valid TOML"),
    ],
)
def test_config_errors_name_file_and_setting(tmp_path: Path, content: str, message: str) -> None:
    parser, _ = _parser()
    config = tmp_path / "c.toml"
    config.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        config_arguments(config, parser)
    assert str(config) in str(info.value)


def test_a_renamed_flag_and_config_key_still_work_and_warn(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parser = argparse.ArgumentParser(prog="x")

    def train(*, loss: str = "mse") -> None:
        """.

        Args:
            loss: the reconstruction's.
        """

    add_parameters(parser, [train])
    with caplog.at_level(logging.WARNING, logger="udl"):
        assert parser.parse_args(["--reconstruction", "bce"]).loss == "bce"
    assert "--reconstruction is deprecated: it is now --loss" in caplog.text
    assert "--reconstruction" not in parser.format_help()
    config = tmp_path / "old.toml"
    config.write_text('reconstruction = "bce"\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="udl"):
        assert config_arguments(config, parser) == ["--loss", "bce"]
    assert "'reconstruction' is deprecated: it is now 'loss'" in caplog.text
