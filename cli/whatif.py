"""`sla-engine whatif`: the same history under a baseline and a new policy; what changes.

The evaluation is `engine.whatif.compare` (pure); this module reads and validates the input
once (invalid lines are counted and skipped, as `replay` does), loads both policies and prints
the report as a table or as JSON.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from cli.time_args import iso_instant
from config.loader import load
from engine.history import Ev
from engine.whatif import CHANGES, compare
from offline.records import Record, ReplayResult, decode, line_records

SHOWN_REJECTS = 5  # rejected lines named on stderr (all are counted)


@dataclass
class Parsed:
    events: list[tuple[str, Ev]] = field(default_factory=list)
    rejected: int = 0
    rejects: list[tuple[int, str]] = field(default_factory=list)  # the first few: line, reason


def read_events(lines: Iterable[bytes]) -> Parsed:
    """Decode every line as `replay` does (`offline.records.decode`; blank lines are skipped);
    keep the valid events in file order."""
    out = Parsed()

    def reject(rec: Record, reason: str) -> None:
        if len(out.rejects) < SHOWN_REJECTS:
            out.rejects.append((rec.where["line"], reason))

    counts = ReplayResult()
    out.events = [(tid, ev) for tid, ev, _ in decode(line_records(lines), counts, reject)]
    out.rejected = counts.rejected
    return out


def _examples(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number ≥ 0")
    return n


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "whatif",
        help="evaluate the same events under a new policy and report what changes",
        description="Replay the same ticket events under a baseline policy and a new one (the "
        "stream-time clock of `replay`, then --until) and report, per clock and priority, the "
        "warnings, breaches and escalations that appear, disappear or move, with examples, and "
        "the KPI changes (SLA attainment, breaches by level). Only decisions that stand at the "
        "end count: an alert retracted later is not one. Deterministic: the same input and "
        "policies give the same output.",
    )
    p.add_argument("--input", required=True, help="events, one JSON object a line ('-' = stdin)")
    p.add_argument("--policy", required=True, metavar="NEW.yaml", help="the policy to try")
    p.add_argument(
        "--baseline",
        metavar="OLD.yaml",
        help="the policy to compare with (default: the bundled default policy)",
    )
    p.add_argument("--until", type=iso_instant, help="advance the clock to this instant at the end")
    p.add_argument(
        "--examples",
        type=_examples,
        default=3,
        metavar="N",
        help="examples of each change per clock, priority and grade (default 3)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON (sorted keys) instead of tables",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    new = load(args.policy)
    baseline = load(args.baseline)
    with ExitStack() as stack:
        try:
            source: IO[bytes] = (
                sys.stdin.buffer
                if args.input == "-"
                else stack.enter_context(Path(args.input).open("rb"))
            )
            parsed = read_events(source)
        except OSError as e:
            print(
                f"sla-engine whatif: cannot read the input: {e.filename or args.input}: "
                f"{e.strerror}",
                file=sys.stderr,
            )
            return 2
    report = compare(parsed.events, baseline, new, args.until, args.examples)
    report["input"]["rejected"] = parsed.rejected
    if args.json or parsed.rejected:
        print(
            f"whatif: {len(parsed.events)} events of {report['input']['tickets']} tickets; "
            f"{parsed.rejected} rejected",
            file=sys.stderr,
        )
    for line, reason in parsed.rejects:
        print(f"  rejected line {line}: {reason}", file=sys.stderr)
    if parsed.rejected > len(parsed.rejects):
        print(f"  … and {parsed.rejected - len(parsed.rejects)} more", file=sys.stderr)
    if args.json:
        out = sys.stdout.buffer
        out.write(orjson.dumps(report, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
        out.write(b"\n")
        out.flush()
    else:
        render(report)
    return 0


# ------------------------------------------------------------------------------ tables


def _num(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _delta(value: float | int | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:+.4f}"
    return f"{value:+d}"


def _seconds(value: float) -> str:
    return f"{value:+g} s"


def _shift(shift: dict[str, float] | None) -> str:
    if shift is None:
        return ""
    lo, hi = shift["min"], shift["max"]
    return _seconds(lo) if lo == hi else f"{_seconds(lo)} … {_seconds(hi)}"


def render(report: dict[str, Any], file: IO[str] | None = None) -> None:
    """The report as rich tables (plain text when not on a terminal)."""
    from rich.console import Console
    from rich.table import Table

    out = file or sys.stdout
    # Not a terminal (a file, a pipe): wide enough that no cell is cut.
    # No markup: ticket ids and clock names are data, not rich tags.
    console = Console(file=out, highlight=False, markup=False, width=None if out.isatty() else 120)
    b, n = report["baseline"], report["new"]
    console.print(
        f"what-if: {report['input']['events']} events of "
        f"{report['input']['tickets']} tickets ({report['input'].get('rejected', 0)} rejected); "
        f"clock at {report['clock'] or '–'}",
        soft_wrap=True,
    )
    console.print(f"baseline {b['policy_version']} → new {n['policy_version']}", soft_wrap=True)

    summary = Table(title="standing decisions")
    summary.add_column("kind")
    for col in ("baseline", "new", *CHANGES, "unchanged"):
        summary.add_column(col, justify="right")
    for kind, counts in report["summary"].items():
        summary.add_row(
            kind,
            str(b["standing"].get(kind, 0)),
            str(n["standing"].get(kind, 0)),
            *(str(counts[c]) for c in (*CHANGES, "unchanged")),
        )
    console.print(summary)
    _changes(console, report["changes"])
    _kpis(console, report["kpis"]["all"])


def _changes(console: Any, changes: list[dict[str, Any]]) -> None:
    """The changes table, then the examples."""
    from rich.table import Table

    if not changes:
        console.print("no differences: every warning, breach and escalation stands as before")
    else:
        table = Table(title="changes by clock, priority and grade")
        for col in ("clock", "prio", "kind", "level"):
            table.add_column(col)
        for col in ("appeared", "disappeared", "moved", "shift"):
            table.add_column(col, justify="right")
        for g in changes:
            table.add_row(
                g["clock"],
                g["priority"] or "–",
                g["kind"],
                g["level"] or "–",
                str(g["appeared"]),
                str(g["disappeared"]),
                str(g["moved"]),
                _shift(g["shift_seconds"]),
            )
        console.print(table)
        lines = []
        for g in changes:
            grade = g["kind"] if g["level"] is None else f"{g['kind']} {g['level']}"
            head = f"{g['clock']} {g['priority'] or '–'} {grade}"
            for change, items in g["examples"].items():
                for x in items:
                    if change == "moved":
                        what = (
                            f"{x['due_before']} → {x['due_after']} ({_seconds(x['shift_seconds'])})"
                        )
                    else:
                        what = f"due {x['due_after'] or x['due_before']}"
                    lines.append(f"  {head}: {change} {x['ticket_id']} (cycle {x['cycle']}) {what}")
        if lines:
            console.print("examples:")
            for line in lines:
                console.print(line, soft_wrap=True)


def _kpis(console: Any, metrics: dict[str, dict[str, Any]]) -> None:
    """The KPI table of the whole range: attainment with met/due, breaches, deltas."""
    from rich.table import Table

    kpis = Table(title="KPIs, whole range")
    kpis.add_column("metric")
    for col in ("before", "after", "delta"):
        kpis.add_column(col, justify="right")
    for name, row in metrics.items():
        if name.endswith((".due", ".met")):
            continue  # shown with the attainment
        before, after = _num(row["before"]), _num(row["after"])
        if name.endswith(".attainment"):
            prefix = name.removesuffix(".attainment")
            m = metrics
            before += f" ({m[prefix + '.met']['before']}/{m[prefix + '.due']['before']})"
            after += f" ({m[prefix + '.met']['after']}/{m[prefix + '.due']['after']})"
        kpis.add_row(name, before, after, _delta(row["delta"]))
    console.print(kpis)
