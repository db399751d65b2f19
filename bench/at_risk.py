"""`sla-engine bench at-risk`: latency of the at-risk list on N open tickets, answered from
the timer index (`topologies.at_risk`), against a scan of every ticket.

The tickets are real: created (and some answered, put on hold or sent on site) through
`Ticket.step` at instants spread over the working day before `now`, stored as the worker
stores them (one RocksDB table and one `TimerIndex` per partition, `topologies.state.codec`
format). The walk decodes the tickets it reads from the table (cold) or finds them decoded
(warm: the worker's ticket cache).
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from rocksdict import Options, Rdict

from config.loader import load
from engine.history import Ev
from engine.instant import to_us
from engine.retention import deadline
from engine.status import upcoming
from engine.ticket import Ticket
from topologies.at_risk import Filters, Loader, at_risk
from topologies.state import codec
from topologies.timers import TimerIndex

CST = timezone(timedelta(hours=8))
NOW = to_us(datetime(2026, 11, 24, 15, 0, tzinfo=CST))  # a Tuesday afternoon
CATEGORIES = ("simple", "simple", "simple", "complex", "urgent", "complaint")
QUERIES: dict[str, tuple[int, Filters, int]] = {
    "15m": (15 * 60_000_000, Filters(), 100),
    "15m_team": (15 * 60_000_000, Filters(team="team-3"), 100),
    "15m_priority_A_first_response": (
        15 * 60_000_000,
        Filters(priority="A", clock="first_response"),
        100,
    ),
    "1h_limit_1000": (3600_000_000, Filters(), 1000),
}


def _events(rng: random.Random, ticket_id: str) -> list[Ev]:
    """A ticket opened in the 8 hours before NOW, in one of a few states."""
    at = NOW - rng.randrange(8 * 3600_000_000)
    data = {
        "priority": rng.choice("ABC"),
        "category": rng.choice(CATEGORIES),
        "channel": rng.choice(("phone", "online", "email")),
        "team": f"team-{rng.randrange(1, 7)}",
        "agent": f"a-{rng.randrange(60)}",
        "supervisor": f"s-{rng.randrange(8)}",
        "department": "after-sales",
    }
    out = [Ev(at, f"{ticket_id}-1", "created", data)]
    roll = rng.random()
    later = at + rng.randrange(1, 600_000_000)
    if roll < 0.6 and later < NOW:
        out.append(Ev(later, f"{ticket_id}-2", "responded", {}))
    if 0.6 <= roll < 0.7 and later < NOW:
        out.append(Ev(later, f"{ticket_id}-2", "onsite_requested", {}))
    if 0.7 <= roll < 0.8 and later < NOW:
        status = {"status": "pending_customer"}
        out.append(Ev(later, f"{ticket_id}-2", "status_changed", status))
    return out


class Store:
    """N open tickets in per-partition tables and timer indexes, as a worker keeps them."""

    def __init__(self, root: Path, n_open: int, partitions: int, seed: int) -> None:
        policy = load(None)
        self.policy = policy
        rng = random.Random(seed)
        self.tables = {
            p: Rdict(str(root / f"table-{p}"), Options(raw_mode=True)) for p in range(partitions)
        }
        self.indexes = {
            p: TimerIndex(root / f"timers-{p}", durable=False) for p in range(partitions)
        }
        rows: dict[int, list[tuple[str, int | None]]] = {p: [] for p in range(partitions)}
        for i in range(n_open):
            ticket_id = f"B{i:07d}"
            p = i % partitions
            ticket = Ticket.new(ticket_id, policy)
            for ev in _events(rng, ticket_id):
                ticket.step(ev, ev.at, ev.at)
            ticket.tick(NOW, NOW)
            self.tables[p][ticket_id.encode()] = codec.encode(ticket, p, 35.0)
            rows[p].append((ticket_id, deadline(ticket, 35.0)))
        for p, items in rows.items():
            self.indexes[p].rebuild(items)
        self.cache: dict[str, Ticket] = {}

    def cold(self, ticket_id: str, partition: int) -> Ticket | None:
        raw = self.tables[partition].get(ticket_id.encode())
        return None if raw is None else codec.decode(raw, self.policy)

    def warm(self, ticket_id: str, partition: int) -> Ticket | None:
        ticket = self.cache.get(ticket_id)
        if ticket is None:
            ticket = self.cold(ticket_id, partition)
            if ticket is not None:
                self.cache[ticket_id] = ticket
        return ticket

    def scan(self, within: int, f: Filters, limit: int) -> int:
        """The baseline: every ticket of every table decoded and looked at."""
        found: list[tuple[int, dict[str, Any]]] = []
        for table in self.tables.values():
            for _key, raw in table.items():
                ticket = codec.decode(raw, self.policy)
                found.extend(e for e in upcoming(ticket, NOW, NOW + within) if f.keep(e[1]))
        found.sort(key=lambda e: (e[0], e[1]["ticket_id"], e[1]["clock"]))
        return len(found[:limit])

    def close(self) -> None:
        for idx in self.indexes.values():
            idx.close()
        for table in self.tables.values():
            table.close()


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, result


def _ms(times: list[float]) -> dict[str, float]:
    p99 = statistics.quantiles(times, n=100)[98] if len(times) > 1 else times[0]
    return {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(p99, 2)}


def run(
    n_open: int = 100_000, partitions: int = 4, repeat: int = 30, seed: int = 7
) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="at-risk-bench-"))
    try:
        t0 = time.perf_counter()
        store = Store(root, n_open, partitions, seed)
        out: dict[str, Any] = {
            "open_tickets": n_open,
            "partitions": partitions,
            "indexed": sum(len(i) for i in store.indexes.values()),
            "load_s": round(time.perf_counter() - t0, 1),
            "queries": {},
        }
        now: Callable[[int], int] = lambda _p: NOW  # noqa: E731
        for name, (within, f, limit) in QUERIES.items():
            row: dict[str, Any] = {}
            for mode, loader in (("cold", store.cold), ("warm", store.warm)):

                def query(
                    load_fn: Loader = loader, w: int = within, fl: Filters = f, n: int = limit
                ) -> Any:
                    return at_risk(store.indexes, load_fn, now, w, fl, n)

                if mode == "warm":
                    query()  # fill the cache first: warm = every ticket read already decoded
                times, walk = _timed(query, repeat)
                row[mode] = _ms(times)
                row["entries"] = len(walk.entries)
                row["tickets_read"] = walk.tickets_read
                row["truncated"] = walk.truncated
            t0 = time.perf_counter()
            scanned = store.scan(within, f, limit)
            scan_ms = (time.perf_counter() - t0) * 1000
            assert scanned == row["entries"], (name, scanned, row["entries"])
            row["full_scan_ms"] = round(scan_ms, 1)
            out["queries"][name] = row
        store.close()
        return out
    finally:
        shutil.rmtree(root, ignore_errors=True)


def summary(result: dict[str, Any]) -> str:
    q = result["queries"]["15m"]
    return (
        f"at-risk on {result['open_tickets']:,} open tickets, within=15m limit=100: "
        f"p50 {q['cold']['p50_ms']} ms cold / {q['warm']['p50_ms']} ms warm "
        f"({q['tickets_read']} tickets read); a scan of every ticket: {q['full_scan_ms']} ms"
    )
