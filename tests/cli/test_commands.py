"""`cli.main.COMMANDS` lists every command the full parser registers, in order, and a command
line that names one parses the same with only that command's module registered."""

from __future__ import annotations

import argparse

from cli.main import COMMANDS, parser


def _choices(p: argparse.ArgumentParser) -> list[str]:
    (sub,) = (a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_the_table_is_every_command_in_help_order() -> None:
    assert _choices(parser()) == [name for _, names in COMMANDS for name in names]


def test_a_named_command_registers_only_its_module() -> None:
    assert _choices(parser(["at-risk"])) == ["status", "at-risk"]
    assert _choices(parser(["replay", "--input", "x"])) == ["replay"]
    assert len(_choices(parser(["--help"]))) == len(_choices(parser()))


def test_a_named_command_parses_as_with_every_command() -> None:
    for words in (
        ["replay", "--input", "events.jsonl", "--output", "-", "--kpis", "k.jsonl"],
        ["explain", "--input", "events.jsonl", "T1"],
        ["bench", "core", "--tickets", "10"],
        ["at-risk", "--within", "4h"],
    ):
        full = parser().parse_known_args(words)
        assert parser(words).parse_known_args(words) == full, words
