"""`bench stream`'s timer phase: warning latency with many tickets open on a fresh worker.

Layouts (`--roles`): `all`, one `sla-engine run --role all` worker (the demo's); `split`, the
production layout: one `--role sla` worker (tickets, ticks, timer scan) and one `--role kpis`
worker (the KPI aggregator) on the same topics, the latency measured on the `sla` one.
"""

from __future__ import annotations

import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.clients import produce, read_topic
from bench.events import created, now_us, responded, updated
from bench.figures import (
    S_US,
    WARNING_AFTER_S,
    due_schedule,
    gc_delta,
    gc_pauses,
    lag_summary,
    lags_of,
    per,
    rate_from_samples,
)
from bench.procs import attach_profile, dir_bytes
from bench.worker import Worker


def background_events(n: int) -> Iterable[tuple[bytes, bytes]]:
    """Open tickets that hold the index: created 20 s ago, answered 15 s ago, so their next
    deadline is the resolution target, hours away. Stamped when produced."""
    for i in range(n):
        tid = f"B{i:07d}"
        now = now_us()
        yield tid.encode(), orjson.dumps(created(tid, now - 20 * S_US))
        yield tid.encode(), orjson.dumps(responded(tid, now - 15 * S_US))


def due_events(dues: Iterable[int]) -> Iterable[tuple[bytes, bytes]]:
    """Tickets `D…` created so that their first-response warning falls due at each of `dues`."""
    for i, due in enumerate(dues):
        tid = f"D{i:07d}"
        yield tid.encode(), orjson.dumps(created(tid, due - WARNING_AFTER_S * S_US))


LAYOUTS = ("all", "split")


def paced_updates(
    background: int, rate: float, stop: threading.Event
) -> Iterator[tuple[bytes, bytes]]:
    """`updated` events of the background tickets at ``rate`` per second until ``stop``: the
    background event load during the due window (their deadlines stay hours away)."""
    t0, n = time.monotonic(), 0
    while not stop.is_set() and background:
        ahead = n / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(min(ahead, 0.05))
            continue
        tid = f"B{n % background:07d}"
        yield tid.encode(), orjson.dumps(updated(tid, now_us(), n))
        n += 1


def start_workers(
    bootstrap: str,
    work: Path,
    partitions: int,
    roles: str,
    launcher: Sequence[str],
    preload: int = 0,
) -> list[Worker]:
    """The layout's workers on one fresh tag, started; the first one runs the tickets
    (``preload``: that many background tickets' state straight to the changelog first)."""
    if roles not in LAYOUTS:
        raise ValueError(f"unknown layout {roles!r} (one of {', '.join(LAYOUTS)})")
    tag = f"timers-{uuid.uuid4().hex[:6]}"
    names = ["all"] if roles == "all" else ["sla", "kpis"]
    workers = [
        Worker(bootstrap, tag, work, partitions, launcher=launcher, role=role) for role in names
    ]  # fmt: skip
    workers[0].create_topics()
    if preload:
        from bench.preload import preload as preload_state

        preload_state(bootstrap, f"bench-{tag}", preload, partitions)
    try:
        for w in workers:
            w.start()
    except BaseException:
        for w in workers:
            w.stop()
        raise
    return workers


def open_window(
    w: Worker,
    background: int,
    rate: float,
    stop: threading.Event,
    profile: Path | None,
    seconds: float,
) -> subprocess.Popen[bytes] | None:
    """As the due tickets are produced: the background load starts (until `stop`) and py-spy
    attaches to the worker for the due window; the profiler's process."""
    if rate > 0:
        updates = paced_updates(background, rate, stop)
        threading.Thread(
            target=produce, args=(w.bootstrap, w.events_topic, updates), daemon=True
        ).start()
    return attach_profile(w.pid(), profile, seconds) if profile is not None else None


def footprint(w: Worker, open_now: float | None, rss0: int | None) -> dict[str, Any]:
    """The worker's RSS and data directory, in all and per open ticket."""
    rss = w.rss()
    disk = dir_bytes(w.data_dir)
    return {
        "worker_rss_bytes": rss,
        "data_dir_bytes": disk,
        "data_dir_bytes_table": dir_bytes(w.data_dir / "faust"),
        "data_dir_bytes_timers": dir_bytes(w.data_dir / "timers"),
        "worker_rss_bytes_before_load": rss0,
        "rss_bytes_per_open_ticket": per(rss, open_now),
        "rss_growth_bytes_per_open_ticket": per(
            None if rss is None or rss0 is None else rss - rss0, open_now
        ),
        "disk_bytes_per_open_ticket": per(disk, open_now),
    }


def load_background(
    w: Worker, background: int, preload: bool, t0: float
) -> tuple[list[tuple[float, float]], float, int, int | None]:
    """The started worker holding `background` open tickets: their events through the topic, or
    (`preload`) their state already on its changelog, recovered; the events counter's samples,
    the seconds it took (from `t0` for a pre-load), the events consumed, the RSS before."""
    w.wait_events(0, timeout=10)
    rss0 = w.rss()
    if preload:
        w.wait_gauge("sla_open_tickets", background, timeout=600)
    else:
        t0 = time.monotonic()
        produce(w.bootstrap, w.events_topic, background_events(background))
    consumed = 0 if preload else 2 * background
    samples = w.wait_events(consumed, timeout=600 + background / 100)
    return samples, time.monotonic() - t0, consumed, rss0


def bench_timers(
    bootstrap: str,
    work: Path,
    open_tickets: int,
    due_tickets: int,
    lead_s: float,
    window_s: float,
    partitions: int,
    profile: Path | None = None,
    launcher: Sequence[str] = (),
    roles: str = "all",
    background_rate: float = 0.0,
    preload: bool = False,
) -> dict[str, Any]:
    """Timer latency with ``open_tickets`` open, of which ``due_tickets`` fall due in the window,
    in the layout ``roles``, with ``background_rate`` events/s of other tickets meanwhile;
    ``profile``: py-spy on the (ticket) worker through the due window; ``preload``: the
    background tickets' state straight to the changelog (`bench.preload`), not their events."""
    due_tickets = min(due_tickets, open_tickets)
    background = open_tickets - due_tickets
    t0 = time.monotonic()
    workers = start_workers(
        bootstrap, work, partitions, roles, launcher, background if preload else 0
    )
    w = workers[0]
    stop = threading.Event()
    spy: subprocess.Popen[bytes] | None = None
    try:
        samples, load_s, consumed, rss0 = load_background(w, background, preload, t0)
        load_rate = rate_from_samples(samples, consumed) if consumed else None
        # The due tickets: first-response warnings spread over [now + lead, now + lead + window).
        start = now_us()
        dues = due_schedule(start, due_tickets, lead_s, window_s)
        t1 = time.monotonic()
        gc0 = gc_pauses(w.scrape())
        spy = open_window(w, background, background_rate, stop, profile, lead_s + window_s + 5)
        produce(bootstrap, w.events_topic, due_events(dues))
        w.wait_events(consumed + due_tickets, timeout=lead_s + 600)
        due_load_s = time.monotonic() - t1
        # Before the first due ticket fires (a popped timer leaves the index until its tick).
        first_due_s = (dues[0] - now_us()) / S_US if dues else 0.0
        open_now = w.wait_gauge("sla_open_tickets", open_tickets, timeout=min(first_due_s, 10))
        sizes = footprint(w, open_now, rss0)

        def all_warned(alerts: list[dict[str, Any]]) -> bool:
            return len(lags_of(alerts, "D")) >= due_tickets

        left_s = (start + int((lead_s + window_s) * S_US) - now_us()) / S_US
        alerts = read_topic(bootstrap, w.alerts_topic, all_warned, timeout=max(left_s, 0) + 60)
        lags = lags_of(alerts, "D")
        stray = sum(1 for a in alerts if str(a.get("ticket_id", "")).startswith("B"))
        stop.set()
        gc_window = gc_delta(gc0, gc_pauses(w.scrape()))
        if spy is not None:
            spy.wait(30)
        return {
            "roles": roles,
            "background_events_per_s_in_window": background_rate,
            "open_tickets": None if open_now is None else int(open_now),
            "background_tickets": background,
            "background_preloaded": preload,
            "due_tickets": due_tickets,
            "due_window_s": window_s,
            "due_lead_s": lead_s,
            "due_per_s": round(due_tickets / window_s, 1),
            "background_load_s": round(load_s, 1),
            "background_events_per_s": None if load_rate is None else round(load_rate),
            "due_load_s": round(due_load_s, 2),
            "latency": lag_summary(lags),
            "early_warnings": sum(1 for x in lags if x < 0),
            "background_alerts": stray,
            **sizes,
            "other_workers_rss_bytes": [x.rss() for x in workers[1:]],
            "gc_in_due_window": gc_window,
        }
    finally:
        stop.set()
        for x in workers:
            x.stop()
