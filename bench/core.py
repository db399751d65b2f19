"""`sla-engine bench core`: in-process replay throughput against plain JSON decoding."""

from __future__ import annotations

import io
import resource
import time
from typing import Any

import orjson

import workload
from config.loader import load
from offline.file import replay


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
    from engine.replay import Replay
    from schemas.parse import parse_event

    run = Replay.start(policy)
    for line in lines:
        ev = parse_event(line)
        run.feed(ev.ticket_id, from_model(ev))
    open_tickets = [t for t in run.tickets.values() if not t.is_closed()]
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
