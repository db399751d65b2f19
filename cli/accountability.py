"""`sla-engine accountability`: breach and escalation counts per person or team for a period
(`engine.accountability`), from a replay of the events."""

from __future__ import annotations

import argparse
import sys
from typing import IO, Any

import orjson

from cli.explain import Replayed, num, replay_lines
from cli.time_args import iso_instant
from config.loader import load
from engine.accountability import BY, LEVELS, Report, period, tally
from offline.records import file_lines


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "accountability",
        help="breach and escalation counts by level per agent, team or department for a period",
        description="Replay the events (as `sla-engine replay` does) and count the breaches "
        "(minor) and escalations (moderate, severe) whose due_at falls in the period (in the "
        "policy's reporting time zone), per holder at due_at. Exempted and overturned ones are "
        "counted separately, never as standing. breach_seconds: the clock time of the standing "
        "breaches attributed to each key (time while another team held the ticket is theirs).",
    )
    p.add_argument("--input", required=True, help="events, one JSON object a line ('-' = stdin)")
    p.add_argument(
        "--period",
        required=True,
        help="2026 (year), 2026-11 (month), 2026-W48 (ISO week) or 2026-11-23 (day)",
    )
    p.add_argument("--by", choices=BY, default="agent", help="count per (default: agent)")
    p.add_argument("--policy", help="policy YAML (default: the bundled default policy)")
    p.add_argument("--until", type=iso_instant, help="advance the clock to this instant at the end")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    policy = load(args.policy)
    try:
        span = period(args.period, policy.kpis.timezone)
    except ValueError as e:
        print(f"sla-engine accountability: {e}", file=sys.stderr)
        return 2
    try:
        replayed = replay_lines(file_lines(args.input), policy, args.until)
    except OSError as e:
        print(f"sla-engine accountability: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    report = report_of(replayed, span.label, args.by)
    if args.json:
        sys.stdout.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        render(report, sys.stdout)
    return 0


def report_of(replayed: Replayed, period_text: str, by: str) -> Report:
    """The report of a replay (events from any source)."""
    run = replayed.run
    span = period(period_text, run.policy.kpis.timezone)
    return tally(run.tickets.values(), span, by, run.clock, run.policy.version)


def render(report: Report, out: IO[str]) -> None:
    """A plain table: standing counts by level, then exempted and overturned."""
    d = report.to_dict()
    out.write(
        f"breaches and escalations due in {d['period']} ({d['start']} - {d['end']}, "
        f"{d['timezone']}), by {d['by']}, as of {d['as_of']}; policy {d['policy_version']}\n"
    )
    head = [report.by, *LEVELS, "total", "exempted", "overturned", "breach_seconds"]
    rows = [[r["key"], *(str(r["standing"][lv]) for lv in LEVELS), str(r["total"]),
             str(sum(r["exempted"].values())), str(sum(r["overturned"].values())),
             num(r["breach_seconds"])] for r in [*d["rows"], d["totals"]]]  # fmt: skip
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    for i, cells in enumerate([head, *rows]):
        if i == len(rows):
            out.write("  ".join("-" * w for w in widths) + "\n")
        out.write(
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w)
                for j, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + "\n"
        )
