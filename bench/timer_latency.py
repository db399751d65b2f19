"""`bench stream`'s timer phase: warning latency with many tickets open on a fresh worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.clients import produce, read_topic
from bench.events import created, now_us, responded
from bench.figures import (
    S_US,
    WARNING_AFTER_S,
    due_schedule,
    lag_summary,
    lags_of,
    per,
    rate_from_samples,
)
from bench.procs import dir_bytes
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


def load_background(
    w: Worker, background: int, partitions: int, preload: bool
) -> tuple[list[tuple[float, float]], float, int, int | None]:
    """Start the worker holding `background` open tickets: their events through the topic, or
    (`preload`) their state straight to its changelog first (`bench.preload`); the events
    counter's samples, the seconds it took, the events consumed, the RSS before the load."""
    t0 = time.monotonic()
    if preload:
        from bench.preload import preload as preload_state

        preload_state(w.bootstrap, f"bench-{w.tag}", background, partitions)
    w.start()
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
    preload: bool = False,
) -> dict[str, Any]:
    """Timer latency with ``open_tickets`` open, of which ``due_tickets`` fall due in the window
    (``preload``: the background tickets' state straight to the changelog, `bench.preload`)."""
    due_tickets = min(due_tickets, open_tickets)
    background = open_tickets - due_tickets
    w = Worker(
        bootstrap, f"timers-{uuid.uuid4().hex[:6]}", work, partitions, profile, launcher=launcher
    )
    w.create_topics()
    try:
        samples, load_s, consumed, rss0 = load_background(w, background, partitions, preload)
        background_rate = rate_from_samples(samples, consumed) if consumed else None
        # The due tickets: first-response warnings spread over [now + lead, now + lead + window).
        start = now_us()
        dues = due_schedule(start, due_tickets, lead_s, window_s)
        t1 = time.monotonic()
        produce(bootstrap, w.events_topic, due_events(dues))
        w.wait_events(consumed + due_tickets, timeout=lead_s + 600)
        due_load_s = time.monotonic() - t1
        # Before the first due ticket fires (a popped timer leaves the index until its tick).
        first_due_s = (dues[0] - now_us()) / S_US if dues else 0.0
        open_now = w.wait_gauge("sla_open_tickets", open_tickets, timeout=min(first_due_s, 10))
        rss = w.rss()
        disk_table, disk_timers = dir_bytes(w.data_dir / "faust"), dir_bytes(w.data_dir / "timers")
        disk = dir_bytes(w.data_dir)

        def all_warned(alerts: list[dict[str, Any]]) -> bool:
            return len(lags_of(alerts, "D")) >= due_tickets

        left_s = (start + int((lead_s + window_s) * S_US) - now_us()) / S_US
        alerts = read_topic(bootstrap, w.alerts_topic, all_warned, timeout=max(left_s, 0) + 60)
        lags = lags_of(alerts, "D")
        stray = sum(1 for a in alerts if str(a.get("ticket_id", "")).startswith("B"))
        return {
            "open_tickets": None if open_now is None else int(open_now),
            "background_tickets": background,
            "background_preloaded": preload,
            "due_tickets": due_tickets,
            "due_window_s": window_s,
            "due_lead_s": lead_s,
            "due_per_s": round(due_tickets / window_s, 1),
            "background_load_s": round(load_s, 1),
            "background_events_per_s": None if background_rate is None else round(background_rate),
            "due_load_s": round(due_load_s, 2),
            "latency": lag_summary(lags),
            "early_warnings": sum(1 for x in lags if x < 0),
            "background_alerts": stray,
            "worker_rss_bytes": rss,
            "data_dir_bytes": disk,
            "data_dir_bytes_table": disk_table,
            "data_dir_bytes_timers": disk_timers,
            "worker_rss_bytes_before_load": rss0,
            "rss_bytes_per_open_ticket": per(rss, open_now),
            "rss_growth_bytes_per_open_ticket": per(
                None if rss is None or rss0 is None else rss - rss0, open_now
            ),
            "disk_bytes_per_open_ticket": per(disk, open_now),
        }
    finally:
        w.stop()
