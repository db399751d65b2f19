"""How a person runs this same `sla-engine`, as typed: what the commands print must run as is."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

# Set by `scripts/run` to the directory it was started from (it changes to the repository).
CALLER_DIR_ENV = "SLA_ENGINE_CALLER_DIR"
DEFAULT_BROKER_ENV = "SLA_BROKER"  # the broker of every command that takes --broker


def self_command() -> str:
    """`sla-engine` when that name on PATH is this program, else its path relative to the
    caller's directory (`.venv/bin/sla-engine` from a fresh clone), else `python -m cli.main`."""
    exe = Path(sys.argv[0])
    if exe.name != "sla-engine" or not exe.is_file():
        return f"{sys.executable} -m cli.main"
    on_path = shutil.which("sla-engine")
    if on_path is not None and Path(on_path).resolve() == exe.resolve():
        return "sla-engine"
    here = os.environ.get(CALLER_DIR_ENV) or os.getcwd()
    relative = os.path.relpath(exe.absolute(), here)
    return relative if os.sep in relative else f".{os.sep}{relative}"


def need_broker(value: str | None, command: str) -> str:
    """The broker address a command was given, or exit 2 saying how to give one."""
    if not value:
        print(
            f"sla-engine {command}: no broker: pass --broker HOST:PORT or set SLA_BROKER "
            f"(`{self_command()} run` starts an embedded one and prints its address)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return value


def add_broker_topic_options(parser: argparse.ArgumentParser) -> None:
    """`--broker` and `--topic` (the events topic), as the commands that publish take them."""
    parser.add_argument(
        "--broker",
        default=os.environ.get(DEFAULT_BROKER_ENV),
        help="Kafka bootstrap HOST:PORT (env SLA_BROKER)",
    )
    parser.add_argument(
        "--topic",
        default=os.environ.get("SLA_EVENTS_TOPIC", "tickets.events"),
        help="topic to publish to (env SLA_EVENTS_TOPIC; default tickets.events)",
    )
