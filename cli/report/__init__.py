"""`sla-engine report`: the monitoring regulation's periodic KPI table from a replay's snapshots.

Reads the JSONL written by `sla-engine replay --kpis` and prints, for one month (or ISO week),
each KPI's current value, the same period last year, the target, the gap and a status; then
the teams (CSAT and the 15 % flag), the weekly trend and breaches by clock. `--html` writes
the same as one self-contained HTML file with charts (`cli.report.html`).

Exit codes: 0 report written; 1 the file has no overall snapshot of that period; 2 the input
cannot be read or is not KPI snapshots, or the HTML file cannot be written.

The parts: `source` reads the snapshots of a period, `model` makes the rows, `text` and `html`
(with `charts`) render them; nothing imports this command module back.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli.report.model import FlagRule
from cli.report.source import ReportError, load_report, parse_period
from cli.report.text import print_report
from config.loader import load


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="the monthly KPI report (terminal table, optional HTML with charts)",
        description="Read the KPI snapshots written by `sla-engine replay --kpis` and print the "
        "period's KPIs: current value, same period last year, target, gap and status; teams "
        "with the CSAT flag; the weekly trend; breaches by clock. Exit 1 when the file has no "
        "snapshot of the period, 2 when it cannot be read or is not KPI snapshots.",
    )
    p.add_argument("--input", required=True, metavar="KPIS.jsonl", help="KPI snapshots (JSONL)")
    p.add_argument(
        "--period",
        required=True,
        type=parse_period,
        help="a month (2026-11) or an ISO week (2026-W48), in the reporting time zone",
    )
    p.add_argument(
        "--html",
        metavar="OUT.html",
        help="also write one self-contained HTML file with the tables and charts",
    )
    p.add_argument(
        "--policy",
        help="policy YAML for the clock order and the team flag line on the chart "
        "(default: the bundled default policy; the flags themselves come from the snapshots)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    try:
        data = load_report(args.input, args.period)
    except ReportError as e:
        print(f"sla-engine report: {e}", file=sys.stderr)
        return e.code
    policy = load(args.policy)
    clock_order = [c.name for c in policy.clocks]
    rule = FlagRule(
        below=policy.kpis.team_csat_below,
        mode=policy.kpis.team_csat_mode,
        policy_version=policy.version,
        min_surveys=policy.kpis.team_csat_min_surveys,
    )
    if args.html:  # first: a reader closing the terminal output early still gets the file
        from cli.report.html import render_html

        try:
            Path(args.html).write_bytes(render_html(data, clock_order, rule))
        except OSError as e:
            print(f"sla-engine report: {args.html}: cannot write: {e.strerror}", file=sys.stderr)
            return 2
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    print_report(data, clock_order, out, rule)
    if args.html:
        print(f"wrote {args.html}", file=sys.stderr)
    return 0
