"""`sla-engine bench`: throughput figures, measured side by side against a baseline in one run."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import bench.audit
import bench.core
import bench.figures
from bench.audit import START
from bench.figures import WARNING_AFTER_S
from cli.time_args import iso_instant
from topologies.settings import Settings


def add_parser(sub: Any) -> None:
    p = sub.add_parser("bench", help="benchmarks that print numbers (events/s, memory)")
    bsub = p.add_subparsers(dest="bench", metavar="BENCH", required=True)
    core = bsub.add_parser(
        "core",
        help="in-process replay throughput vs plain JSON decoding",
        description="Generate a realistic workload, replay it in-process, "
        "and print JSON: events_per_s, json_decode_per_s, their ratio, "
        "peak RSS and state bytes per open ticket.",
    )
    core.add_argument("--tickets", type=int, default=20_000, help="tickets to generate")
    core.add_argument("--seed", type=int, default=7)
    core.add_argument("--repeat", type=int, default=3, help="runs of each; the best is reported")
    core.set_defaults(func=run_core)
    _add_stream(bsub)
    _add_soak(bsub)
    _add_at_risk(bsub)
    _add_audit(bsub)
    _add_restore(bsub)


def _add_stream(bsub: Any) -> None:
    stream = bsub.add_parser(
        "stream",
        help="live path on the embedded broker: raw consumer vs Faust vs the engine, timers",
        description="On one embedded broker and the same pre-loaded events: (a) a raw "
        "confluent-kafka consumer that decodes JSON, (b) a Faust pass-through agent, (c) the "
        "worker (`sla-engine run`), one at a time; then timer latency, RSS and RocksDB bytes "
        "per open ticket on a fresh worker. Prints JSON on stdout, a summary on stderr.",
    )
    stream.add_argument("--events", type=int, default=200_000, help="pre-loaded events")
    stream.add_argument(
        "--open-tickets", type=int, default=100_000, help="open tickets in the timer phase"
    )
    stream.add_argument(
        "--due-tickets",
        type=int,
        default=10_000,
        help="of the open tickets, how many fall due in the window (the rest: hours away)",
    )
    stream.add_argument(
        "--due-window", type=float, default=20.0, help="seconds over which they fall due"
    )
    stream.add_argument(
        "--due-lead", type=float, default=15.0, help="seconds from their load to the first due"
    )
    stream.add_argument("--partitions", type=int, default=4)
    stream.add_argument("--seed", type=int, default=7)
    stream.add_argument(
        "--roles",
        choices=("all", "split", "both"),
        default="all",
        help="layout of the engine and timer phases: all (one --role all worker), split (a "
        "--role sla and a --role kpis worker, measured on the sla one), both (all, then split, "
        "in the same run)",
    )
    stream.add_argument(
        "--background-rate",
        type=float,
        default=0.0,
        help="events/s to the other open tickets while the due tickets are produced and fall "
        "due (default 0: none)",
    )
    stream.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 20,000 events, 5,000 open tickets of which 1,000 due",
    )
    stream.add_argument(
        "--phases",
        default="raw,faust,engine,timers",
        help="comma-separated subset of raw,faust,engine,timers",
    )
    stream.add_argument(
        "--profile-dir",
        type=Path,
        default=None,
        help="run (b) and (c) under `py-spy record --format raw`, and attach it to the timer "
        "phase's (ticket) worker from the due load to the end of the due window; the "
        "profiles go here",
    )
    stream.add_argument(
        "--keep-dir", type=Path, default=None, help="work here and keep logs and state"
    )
    stream.add_argument(
        "--preload",
        action="store_true",
        help="timer phase: produce the background open tickets' state straight to the "
        "worker's tickets changelog (bench.preload) instead of their events through the topic",
    )
    where = stream.add_mutually_exclusive_group()
    where.add_argument(
        "--broker", default=None, help="measure on this Kafka broker HOST:PORT instead"
    )
    where.add_argument(
        "--kafka", action="store_true", help="measure on a fresh Apache Kafka (the launcher)"
    )
    stream.set_defaults(func=run_stream)


def _add_soak(bsub: Any) -> None:
    soak = bsub.add_parser(
        "soak",
        help="steady demo traffic through the worker with kills and broker pauses",
        description="On a fresh embedded broker: new tickets every second, a fault every "
        "--fault-every seconds (SIGKILL of the worker; broker paused while the worker is "
        "killed), RSS and timer lag sampled; at the end every decision of a replay must be on "
        "the alerts topic. Prints JSON; exit 1 when a decision was lost or announced twice.",
    )
    soak.add_argument("--minutes", type=float, default=1.0, help="how long the traffic runs")
    soak.add_argument("--rate", type=int, default=5, help="new tickets per second")
    soak.add_argument("--fault-every", type=float, default=60.0, help="seconds between faults")
    soak.add_argument("--seed", type=int, default=7)
    soak.set_defaults(func=run_soak)


def _add_at_risk(bsub: Any) -> None:
    risk = bsub.add_parser(
        "at-risk",
        help="at-risk list latency on N open tickets: from the timer index vs a full scan",
        description="Store N real open tickets as a worker does (RocksDB table and timer "
        "index per partition), then time `GET /at-risk`'s walk (topologies.at_risk) for a few "
        "windows and filters, cold (tickets decoded from RocksDB) and warm (decoded-ticket "
        "cache), against a scan of every ticket. Prints JSON, a summary on stderr.",
    )
    risk.add_argument("--open-tickets", type=int, default=100_000)
    risk.add_argument("--partitions", type=int, default=4)
    risk.add_argument("--repeat", type=int, default=30, help="runs of each query")
    risk.add_argument("--seed", type=int, default=7)
    risk.set_defaults(func=run_at_risk)


def _add_audit(bsub: Any) -> None:
    p = bsub.add_parser(
        "audit",
        help="audit of a long range of a generated large centre: time and peak RSS",
        description="Publish a seeded workload (--tickets over --days) and the alerts a live "
        "engine would have published (one standing decision in --drop-every withheld), then run "
        "`sla-engine audit` over the whole range in a child process: prints JSON with its time "
        "and peak RSS, and checks it reports exactly the withheld decisions as missing.",
    )
    p.add_argument("--tickets", type=int, default=20_000)
    p.add_argument("--days", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--drop-every", type=int, default=10_000)
    p.add_argument(
        "--start",
        type=_start_instant,
        default=START,
        metavar="INSTANT",
        help="when the centre's first ticket is created, an ISO instant with its offset "
        "(default 2026-09-01T00:00:00+08:00; its last days meet the Mid-Autumn and National Day "
        "holidays, which hold business-time thresholds pending: a larger working set)",
    )
    p.add_argument(
        "--audit-days",
        type=float,
        action="append",
        default=[],
        metavar="D",
        help="also audit the first D days of the same topics (repeatable, at the same time as "
        "the whole range, each in its own process): the peak RSS of a shorter range of the "
        "same centre, to compare",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes the preparing replay is split over, by ticket (0: in this process)",
    )
    p.add_argument(
        "--broker",
        default=None,
        help="Kafka bootstrap HOST:PORT (e.g. Apache Kafka); default: an embedded broker",
    )
    p.set_defaults(func=run_audit)


def _start_instant(text: str) -> datetime:
    """`--start`: an ISO instant with its UTC offset (argparse type; the offset is kept)."""
    iso_instant(text)  # the same checks and messages as --from
    return datetime.fromisoformat(text)


def _add_restore(bsub: Any) -> None:
    p = bsub.add_parser(
        "restore",
        help="a worker on an empty data dir: seconds until it serves N open tickets again",
        description="Pre-load N open tickets' state straight to a worker group's tickets "
        "changelog (as a worker would have stored them), then start a worker of that group on "
        "an empty data dir with each --restore mode in turn (faust: Faust's recovery; bulk: "
        "the bulk restore) and read its sla_recovery_duration_seconds, sla_open_tickets, RSS "
        "and RocksDB bytes. Prints JSON on stdout, a summary on stderr.",
    )
    p.add_argument("--open-tickets", type=int, default=200_000)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--modes", default="faust,bulk", help="comma-separated subset of faust,bulk")
    p.add_argument("--role", default="sla", help="the restoring worker's --role (sla or all)")
    p.add_argument("--timeout", type=float, default=900.0, help="seconds to wait per restore")
    p.add_argument("--keep-dir", type=Path, default=None, help="work here and keep logs")
    p.add_argument("--profile-dir", type=Path, default=None, help="py-spy raw profiles here")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--broker", default=None, help="measure on this Kafka broker HOST:PORT")
    where.add_argument("--kafka", action="store_true", help="on a fresh Apache Kafka")
    p.set_defaults(func=run_restore)


def run_restore(args: argparse.Namespace) -> int:
    import bench.restore

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - set(bench.restore.MODES) or args.role not in ("sla", "all"):
        print("sla-engine bench restore: --modes faust,bulk; --role sla or all", file=sys.stderr)
        return 2
    result = bench.restore.run(
        args.open_tickets,
        args.partitions,
        modes,
        args.role,
        args.broker,
        args.kafka,
        args.keep_dir,
        args.timeout,
        args.profile_dir,
        log=lambda s: print(f"bench restore: {s}", file=sys.stderr, flush=True),
    )
    print(json.dumps(result, indent=2))
    print(bench.restore.summary(result), file=sys.stderr)
    return 0


def run_core(args: argparse.Namespace) -> int:
    print(json.dumps(bench.core.bench_core(args.tickets, args.seed, args.repeat), indent=2))
    return 0


def run_soak(args: argparse.Namespace) -> int:
    import bench.soak  # lazily, as before the move: `sla-engine` starts without them

    result = bench.soak.run(
        args.minutes,
        args.rate,
        args.fault_every,
        args.seed,
        log=lambda s: print(f"bench soak: {s}", file=sys.stderr, flush=True),
    )
    print(json.dumps(result, indent=2))
    bad = result["lost"] or result["two_ids"] or result["two_contents"]
    return 1 if bad else 0


MAX_SKEW_S = Settings.max_skew  # the workers the benchmark starts run with the default


def run_stream(args: argparse.Namespace) -> int:
    events, open_tickets, due = args.events, args.open_tickets, args.due_tickets
    if args.quick:
        events, open_tickets, due = 20_000, 5_000, 1_000
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    unknown = set(phases) - {"raw", "faust", "engine", "timers"}
    if unknown:
        print(f"sla-engine bench stream: unknown phase(s) {sorted(unknown)}", file=sys.stderr)
        return 2
    ahead = args.due_lead + args.due_window - WARNING_AFTER_S
    if "timers" in phases and ahead > MAX_SKEW_S:
        print(
            f"sla-engine bench stream: --due-lead + --due-window must be at most "
            f"{MAX_SKEW_S + WARNING_AFTER_S:g} s: a due ticket is created "
            f"{WARNING_AFTER_S} s before its warning, and the last ones would be "
            f"created {ahead:g} s in the future, past the worker's --max-skew "
            f"({MAX_SKEW_S:g} s): their events would go to the dead-letter topic",
            file=sys.stderr,
        )
        return 2
    import bench.stream

    result = bench.stream.run(
        events=events,
        open_tickets=open_tickets,
        due_tickets=due,
        due_window_s=args.due_window,
        due_lead_s=args.due_lead,
        partitions=args.partitions,
        seed=args.seed,
        phases=phases,
        profile_dir=args.profile_dir,
        keep=args.keep_dir,
        log=lambda s: print(f"bench stream: {s}", file=sys.stderr, flush=True),
        broker=args.broker,
        kafka=args.kafka,
        preload_state=args.preload,
        roles=("all", "split") if args.roles == "both" else (args.roles,),
        background_rate=args.background_rate,
    )
    print(json.dumps(result, indent=2))
    print(bench.figures.summary_line(result), file=sys.stderr)
    return 0


def run_at_risk(args: argparse.Namespace) -> int:
    import bench.at_risk

    result = bench.at_risk.run(args.open_tickets, args.partitions, args.repeat, args.seed)
    print(json.dumps(result, indent=2))
    print(bench.at_risk.summary(result), file=sys.stderr)
    return 0


def run_audit(args: argparse.Namespace) -> int:
    return bench.audit.run(args)
