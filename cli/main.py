"""The `sla-engine` command."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cli import (
    accountability,
    audit,
    bench,
    broker,
    demo,
    demo_stream,
    explain,
    produce,
    replay,
    report,
    run,
    status,
    tail,
    whatif,
)
from cli.invocation import DEFAULT_BROKER_ENV
from cli.kafka_client import broker_hint
from config.loader import PolicyError
from kafka_io import client as kafka_client
from kafka_io.range_locate import set_unreachable_hint


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sla-engine",
        description="Stream-processing SLA engine for after-sales customer service.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    replay.add_parser(sub)
    audit.add_parser(sub)
    demo.add_parser(sub)
    bench.add_parser(sub)
    run.add_parser(sub)
    broker.add_parser(sub)
    produce.add_parser(sub)
    demo_stream.add_parser(sub)
    tail.add_parser(sub, os.environ.get(DEFAULT_BROKER_ENV))
    whatif.add_parser(sub)
    report.add_parser(sub)
    explain.add_parser(sub)
    accountability.add_parser(sub)
    status.add_parsers(sub)
    for command in sub.choices.values():  # every command's Kafka clients connect alike
        kafka_client.add_arguments(command)
    return p


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
    args = parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
