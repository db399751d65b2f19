"""The `sla-engine` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import accountability, audit, bench, demo, explain, live, replay, report, whatif
from config import kafka_client
from config.loader import PolicyError


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
    live.add_parsers(sub)
    whatif.add_parser(sub)
    report.add_parser(sub)
    explain.add_parser(sub)
    accountability.add_parser(sub)
    for command in sub.choices.values():  # every command's Kafka clients connect alike
        kafka_client.add_arguments(command)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        kafka_client.set_current(kafka_client.resolve(args))
    except kafka_client.ClientConfigError as e:
        print(f"sla-engine {args.command}: {e}", file=sys.stderr)
        return 2
    try:
        code: int = args.func(args)
    except PolicyError as e:
        print(f"sla-engine: the policy cannot be used:\n{e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
