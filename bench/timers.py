"""The timer index alone (`topologies.timers.TimerIndex`), in process: bulk load, rebuild, moves,
due lookups per tick, idle ticks, reopen; `python -m bench.timers [n_open] [--no-wal]`."""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.procs import rss_bytes
from topologies.timers import TimerIndex

TICK_US = 1_000_000
START_US = 1_800_000_000_000_000


def _dir_bytes(path: Path) -> dict[str, int]:
    """Bytes under ``path`` by kind: SST files, write-ahead log, the rest."""
    sizes = {"sst": 0, "wal": 0, "other": 0}
    for entry in path.rglob("*"):
        if entry.is_file():
            kind = "sst" if entry.suffix == ".sst" else "wal" if entry.suffix == ".log" else "other"
            sizes[kind] += entry.stat().st_size
    return sizes


def _rss_mib() -> float:
    rss = rss_bytes(os.getpid())
    return float("nan") if rss is None else rss / 1024 / 1024


def _load(
    index: TimerIndex, db_path: Path, tickets: list[str], deadlines: list[int]
) -> dict[str, float]:
    """Load with a lookup of each ticket's old deadline (set_many on a live index), then rebuild
    from scratch (clear + load without lookups + flush); bytes per key."""
    n_open = len(tickets)
    t0 = time.perf_counter()
    index.set_many(zip(tickets, deadlines, strict=True))
    load_s = time.perf_counter() - t0
    result = {"load_keys_per_s": n_open / load_s}
    t0 = time.perf_counter()
    index.rebuild(zip(tickets, deadlines, strict=True))
    rebuild_s = time.perf_counter() - t0
    result["rebuild_keys_per_s"] = n_open / rebuild_s
    result["rebuild_s"] = rebuild_s
    sizes = _dir_bytes(db_path)
    result["bytes_per_key_sst"] = sizes["sst"] / n_open
    result["bytes_per_key_dir"] = sum(sizes.values()) / n_open
    assert len(index) == n_open
    return result


def _moves(
    index: TimerIndex,
    rng: random.Random,
    tickets: list[str],
    deadlines: list[int],
    moves: int,
    span_us: int,
) -> dict[str, float]:
    """A random ticket's deadline moves later or earlier (event processing): singly, in 1000s."""
    n_open = len(tickets)
    t0 = time.perf_counter()
    for _ in range(moves):
        i = rng.randrange(n_open)
        deadlines[i] = START_US + rng.randrange(span_us)
        index.set(tickets[i], deadlines[i])
    result = {"set_move_us": (time.perf_counter() - t0) / max(1, moves) * 1e6}
    t0 = time.perf_counter()
    for _ in range(0, moves, 1000):
        batch = []
        for _ in range(1000):
            i = rng.randrange(n_open)
            deadlines[i] = START_US + rng.randrange(span_us)
            batch.append((tickets[i], deadlines[i]))
        index.set_many(batch)
    result["set_many_move_us"] = (time.perf_counter() - t0) / max(1, moves) * 1e6
    return result


def _ticks(index: TimerIndex, total_due: int) -> tuple[dict[str, float], int]:
    """Pop everything due tick by tick (cost per due key), then due() + pop(ticket), then idle
    ticks; the figures and the simulated instant reached."""
    per_key: list[float] = []
    popped = 0
    now = START_US
    ticks = 0
    t_all = time.perf_counter()
    while popped < total_due and len(index):
        now += TICK_US
        t0 = time.perf_counter()
        got = index.pop_due(now, limit=100_000)
        dt = time.perf_counter() - t0
        ticks += 1
        if got:
            per_key.append(dt / len(got) * 1e6)
            popped += len(got)
    result = {"pop_due_total_s": time.perf_counter() - t_all}
    result["ticks"] = float(ticks)
    result["popped"] = float(popped)
    result["pop_due_per_key_us_p50"] = statistics.median(per_key)
    result["pop_due_per_key_us_p99"] = statistics.quantiles(per_key, n=100)[98]
    per_key = []
    for _ in range(50):
        now += TICK_US
        t0 = time.perf_counter()
        got = index.due(now, limit=100_000)
        for _due, ticket in got:
            index.pop(ticket)
        dt = time.perf_counter() - t0
        if got:
            per_key.append(dt / len(got) * 1e6)
    result["due_then_pop_per_key_us_p50"] = statistics.median(per_key)
    t0 = time.perf_counter()
    for _ in range(1000):
        index.due(now)
    result["idle_tick_us"] = (time.perf_counter() - t0) / 1000 * 1e6
    return result, now


def bench_timers(
    n_open: int = 1_000_000,
    *,
    path: str | os.PathLike[str] | None = None,
    due_per_tick: int = 500,
    total_due: int = 300_000,
    moves: int = 100_000,
    id_len: int = 12,
    seed: int = 1,
    durable: bool = True,
) -> dict[str, float]:
    """Measure the index: bulk load, due lookup + removal per tick, moves, bytes per key.

    Deadlines are spread so that about ``due_per_tick`` entries fall due per
    simulated tick; ``total_due`` entries are popped in all. Returns a dict of
    numbers (no assertions: times depend on the machine).
    """
    rng = random.Random(seed)
    own_dir = path is None
    root = Path(tempfile.mkdtemp(prefix="timer-bench-")) if path is None else Path(path)
    db_path = root / "timers"
    if db_path.exists():
        shutil.rmtree(db_path)
    span_us = max(1, n_open // due_per_tick) * TICK_US
    tickets = [f"T-{i:0{id_len - 2}d}" for i in range(n_open)]
    deadlines = [START_US + rng.randrange(span_us) for _ in range(n_open)]
    result: dict[str, float] = {"n_open": float(n_open)}
    try:
        index = TimerIndex(db_path, durable=durable)
        result |= _load(index, db_path, tickets, deadlines)
        result |= _moves(index, rng, tickets, deadlines, moves, span_us)
        ticked, now = _ticks(index, total_due)
        result |= ticked
        index.close()
        t0 = time.perf_counter()
        index = TimerIndex(db_path, durable=durable)
        result["reopen_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.due(now)
        result["first_tick_after_reopen_ms"] = (time.perf_counter() - t0) * 1e3
        result["rss_mib"] = _rss_mib()
        index.close()
    finally:
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)
    return result


if __name__ == "__main__":  # python -m bench.timers [n_open] [--no-wal]
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    durable = "--no-wal" not in sys.argv
    numbers = bench_timers(n, durable=durable)
    print(json.dumps({k: round(v, 2) for k, v in numbers.items()}, indent=2))
