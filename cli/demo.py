"""`sla-engine demo`: replay the bundled demo week and print what the engine decided."""

from __future__ import annotations

import argparse
import io
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from config.loader import load
from offline.file import replay

DEMO_FILE = Path(__file__).with_name("data") / "demo-events.jsonl"


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="replay the bundled demo week and print a summary",
        description="Replay the bundled demo week of ticket events with the "
        "default policy and print the alerts it gives.",
    )
    p.add_argument("--policy", help="policy YAML (default: the bundled default policy)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from cli.time_args import iso_instant

    policy = load(args.policy)
    out = io.BytesIO()
    with DEMO_FILE.open("rb") as src:
        result = replay(src, policy, iso_instant("2026-12-05T00:00:00+08:00"), out, None)
    alerts = [orjson.loads(line) for line in out.getvalue().splitlines()]
    console = Console()
    console.print(
        f"[bold]Replayed {result.events} events of {result.tickets} tickets[/] "
        f"from {DEMO_FILE.name} with policy {policy.version}"
    )
    table = Table(title="alerts by clock and grade")
    table.add_column("clock")
    for col in ("warning", "minor", "moderate", "severe", "retraction"):
        table.add_column(col, justify="right")
    counts: Counter[tuple[str, str]] = Counter(
        (a["clock"], "retraction" if a["kind"] == "retraction" else a["level"] or "warning")
        for a in alerts
    )
    for clock in sorted({c for c, _ in counts}):
        table.add_row(
            clock,
            *(
                str(counts[(clock, g)])
                for g in ("warning", "minor", "moderate", "severe", "retraction")
            ),
        )
    console.print(table)
    worst = [a for a in alerts if a["level"] == "severe" and a["kind"] != "retraction"][:5]
    for a in worst:
        console.print(
            f"  severe: ticket {a['ticket_id']} {a['clock']} due {a['due_at']} "
            f"→ notify {', '.join(a['notify'])}"
        )
    console.print("Next: `sla-engine replay --help`, and the README for the live worker.")
    return 0
