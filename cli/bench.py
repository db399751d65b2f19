"""`sla-engine bench`: throughput figures, measured side by side against a baseline in one run."""

from __future__ import annotations

import argparse
import io
import json
import resource
import time
from typing import Any

import orjson

from cli import workload
from cli.replay import replay
from config.loader import load


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


def _best(fn: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench_core(tickets: int, seed: int = 7, repeat: int = 3) -> dict[str, Any]:
    lines = workload.lines(tickets, seed)
    blob = b"".join(lines)
    policy = load(None)
    n = len(lines)

    def decode() -> None:
        for line in io.BytesIO(blob):
            orjson.loads(line)

    def run_replay() -> None:
        replay(io.BytesIO(blob), policy, None, io.BytesIO(), None)

    t_decode = _best(decode, repeat)
    t_replay = _best(run_replay, repeat)
    from engine.history import from_model
    from engine.processor import Processor
    from schemas.parse import parse_event

    proc = Processor(policy)
    for line in lines:
        ev = parse_event(line)
        proc.ingest(ev.ticket_id, from_model(ev))
    open_tickets = [t for t in proc.tickets.values() if not t.is_closed()]
    sizes = [len(t.to_bytes()) for t in open_tickets] or [0]
    return {
        "tickets": tickets,
        "events": n,
        "events_per_s": round(n / t_replay),
        "json_decode_per_s": round(n / t_decode),
        "ratio": round(t_decode / t_replay, 4),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "open_tickets": len(open_tickets),
        "state_bytes_per_open_ticket": round(sum(sizes) / len(sizes)),
    }


def run_core(args: argparse.Namespace) -> int:
    print(json.dumps(bench_core(args.tickets, args.seed, args.repeat), indent=2))
    return 0
