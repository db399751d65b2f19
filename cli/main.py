"""The `sla-engine` command."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from cli import process_exit
from cli.invocation import DEFAULT_BROKER_ENV
from cli.kafka_client import broker_hint
from config.loader import PolicyError
from kafka_io import client as kafka_client
from kafka_io.range_locate import set_unreachable_hint

# Each command's module and the commands it registers, in `--help` order. A command line that
# names one imports only its module (the others' imports were ~0.15 s of every `sla-engine
# replay`); anything else (`--help`, a typo) registers them all, as before.
COMMANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("replay", ("replay",)),
    ("audit", ("audit",)),
    ("demo", ("demo",)),
    ("bench", ("bench",)),
    ("run", ("run",)),
    ("broker", ("broker",)),
    ("produce", ("produce",)),
    ("demo_stream", ("demo-stream",)),
    ("tail", ("tail",)),
    ("whatif", ("whatif",)),
    ("report", ("report",)),
    ("explain", ("explain",)),
    ("accountability", ("accountability",)),
    ("status", ("status", "at-risk")),
)


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command's parser; with `argv` naming a command, only that command is registered."""
    p = argparse.ArgumentParser(
        prog="sla-engine",
        description="Stream-processing SLA engine for after-sales customer service.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    named = argv[0] if argv else None
    modules = [m for m, names in COMMANDS if named in names] or [m for m, _ in COMMANDS]
    for name in modules:
        _register(sub, name)
    for command in sub.choices.values():  # every command's Kafka clients connect alike
        kafka_client.add_arguments(command)
    return p


def _register(sub: Any, module: str) -> None:
    mod = importlib.import_module(f"cli.{module}")
    if module == "tail":
        mod.add_parser(sub, os.environ.get(DEFAULT_BROKER_ENV))
    elif module == "status":
        mod.add_parsers(sub)
    else:
        mod.add_parser(sub)


# Exit status after the reader of stdout went away (`| head`): 128 + SIGPIPE, as a shell reports
# a command killed by it; nothing is printed.
EXIT_BROKEN_PIPE = 141


def _quiet_broken_pipe() -> int:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser(words).parse_args(words)
    set_unreachable_hint(broker_hint)  # an unreachable broker's message names our commands
    try:
        kafka_client.set_current(kafka_client.resolve(args))
    except kafka_client.ClientConfigError as e:
        print(f"sla-engine {args.command}: {e}", file=sys.stderr)
        return 2
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except PolicyError as e:
        print(f"sla-engine: the policy cannot be used:\n{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


def entry() -> NoReturn:
    """The console script: `main`, then leave without freeing the state a command held
    (`cli.process_exit`)."""
    process_exit.enable()
    process_exit.leave(main())


if __name__ == "__main__":
    entry()
