"""`cli.main.COMMANDS` lists every command the full parser registers, in order, and a command
line that names one parses the same with only that command's module registered."""

from __future__ import annotations

import argparse

import pytest

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


def test_bench_audit_start_keeps_its_offset_and_refuses_a_naive_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bench.audit import START

    words = ["bench", "audit", "--start", "2026-07-01T00:00:00+08:00"]
    start = parser(words).parse_args(words).start
    assert start.isoformat() == "2026-07-01T00:00:00+08:00"
    assert parser(["bench", "audit"]).parse_args(["bench", "audit"]).start == START
    with pytest.raises(SystemExit) as stop:
        parser(words).parse_args(["bench", "audit", "--start", "2026-07-01"])
    assert stop.value.code == 2
    assert "has no UTC offset" in capsys.readouterr().err
