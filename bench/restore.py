"""`sla-engine bench restore`: a worker that lost its data dir, serving again with N open tickets.

N open tickets are pre-loaded straight to a worker group's tickets changelog (`bench.preload`:
loading them through the events topic is what would take the time). Then, for each restore
mode (`--restore faust`: Faust's recovery record by record; `bulk`: `topologies.state.restore`),
a worker of that group starts on an empty data dir; the time until it serves is its own gauge
`sla_recovery_duration_seconds` (from its start to the end of the timer index rebuild, after
which it processes events and fires timers), scraped over HTTP. `sla_open_tickets` must then be
N: the restored state is the worker's. The worker's RSS and the bytes of its RocksDB table are
taken right then, per open ticket. The workers run one after the other on the same changelog.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.figures import per
from bench.preload import preload
from bench.procs import dir_bytes
from bench.worker import Worker

MODES = ("faust", "bulk")


def restore_once(
    bootstrap: str,
    tag: str,
    work: Path,
    partitions: int,
    mode: str,
    role: str,
    timeout: float,
    profile: Path | None = None,
) -> dict[str, Any]:
    """One worker of group `bench-{tag}` on an empty data dir, restoring with `mode`."""
    extra = ["--restore", mode, "--role", role, "--log-level", "INFO"]
    w = Worker(bootstrap, tag, work / mode, partitions, profile, extra=extra)
    t0 = time.monotonic()
    w.start()
    try:
        gauge = _wait_recovered(w, t0 + timeout)
        wall = time.monotonic() - t0
        open_now = w.sample("sla_open_tickets")
        rss = w.rss()
        table = dir_bytes(w.data_dir / "faust")
        timers = dir_bytes(w.data_dir / "timers")
        return {
            "mode": mode,
            "recovery_s": None if gauge is None else round(gauge, 2),
            "start_to_serving_s": round(wall, 2),
            "open_tickets": None if open_now is None else int(open_now),
            "worker_rss_bytes": rss,
            "rocksdb_table_bytes": table,
            "timer_index_bytes": timers,
            "rss_bytes_per_open_ticket": per(rss, open_now),
            "rocksdb_bytes_per_open_ticket": per(table, open_now),
            "log": str(w.work / f"worker-{tag}.log"),
        }
    finally:
        w.stop()


def _wait_recovered(w: Worker, deadline: float) -> float | None:
    """The worker's `sla_recovery_duration_seconds` once set (None: not by the deadline)."""
    while time.monotonic() < deadline:
        if w.child is None or not w.child.alive():
            raise RuntimeError(f"the worker exited: {w.child and w.child.log_tail()}")
        try:
            value = w.sample("sla_recovery_duration_seconds")
        except OSError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    return None


@contextlib.contextmanager
def _work_dir(keep: Path | None) -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="bench-restore-")) if keep is None else keep
    work.mkdir(parents=True, exist_ok=True)
    try:
        yield work
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run(
    open_tickets: int = 200_000,
    partitions: int = 4,
    modes: Sequence[str] = MODES,
    role: str = "sla",
    broker: str | None = None,
    kafka: bool = False,
    keep: Path | None = None,
    timeout: float = 900.0,
    profile_dir: Path | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """Pre-load, then one restore per mode; the report as a dict."""
    from bench.stream import bench_broker

    config: dict[str, Any] = {"open_tickets": open_tickets, "partitions": partitions, "role": role}
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    runs: list[dict[str, Any]] = []
    with _work_dir(keep) as work, bench_broker(work, broker, kafka, config) as bootstrap:
        tag = f"rs-{uuid.uuid4().hex[:6]}"
        Worker(bootstrap, tag, work, partitions).create_topics()
        log(f"pre-loading {open_tickets:,} open tickets into bench-{tag}'s changelog")
        config |= preload(bootstrap, f"bench-{tag}", open_tickets, partitions)
        for mode in modes:
            log(f"restore with --restore {mode} into an empty data dir")
            profile = profile_dir / f"restore-{mode}.txt" if profile_dir else None
            config["load_average_before_" + mode] = os.getloadavg()[0]
            one = restore_once(bootstrap, tag, work, partitions, mode, role, timeout, profile)
            runs.append(one)
            log(f"  {runs[-1]}")
    return {"config": config, "runs": runs}


def summary(result: dict[str, Any]) -> str:
    """One line per run for stderr."""
    n = result["config"]["open_tickets"]
    lines = [
        f"restore {n:,} open tickets ({r['mode']}): serving after {r['recovery_s']} s "
        f"(open {r['open_tickets']}), RSS {r['rss_bytes_per_open_ticket']} B/ticket, "
        f"RocksDB {r['rocksdb_bytes_per_open_ticket']} B/ticket"
        for r in result["runs"]
    ]
    return "\n".join(lines)
