"""The worker's periodic status line on the terminal: events/s, open tickets, alerts emitted,
consumer lag; partitions as they are assigned; a progress bar while state is restored."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

from prometheus_client import CollectorRegistry


def _total(registry: CollectorRegistry, metric: str) -> float:
    """Sum of every sample of `metric` (all label values) in `registry`."""
    total = 0.0
    for family in registry.collect():
        for sample in family.samples:
            if sample.name == metric:
                total += sample.value
    return total


def bar(done: int, total: int, width: int = 24) -> str:
    """`[#########...............]  37 %` for a restore `done` of `total` records."""
    share = done / total if total > 0 else 1.0
    filled = round(share * width)
    return f"[{'#' * filled}{'.' * (width - filled)}] {share * 100:3.0f} %"


class StatusLine:
    """Prints a status line every `interval` seconds (a thread) until stopped."""

    def __init__(
        self, registry: CollectorRegistry, interval: float, out: IO[str] | None = None
    ) -> None:
        self.registry = registry
        self.interval = interval
        self.out = out if out is not None else sys.stderr
        self.recovery: Any = None  # faust's Recovery service, once the app exists
        self._stop = threading.Event()
        self._restore_total = 0
        self._assigned = threading.Event()  # no status line before the first assignment

    def say(self, text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=self.out, flush=True)

    def on_assigned(self, topic: str, partitions: list[int]) -> None:
        shown = ",".join(str(p) for p in sorted(partitions)) or "none"
        self.say(f"partitions of {topic} assigned: {shown}")
        self._assigned.set()

    def _restore_left(self) -> int | None:
        """Changelog records still to restore, None when not recovering."""
        rec = self.recovery
        try:
            bulk = int(getattr(rec, "bulk_remaining", lambda: 0)())  # the bulk restore first
            if bulk > 0:
                return bulk
            if rec is None or not rec.in_recovery:
                return None
            return int(rec.active_remaining_total())
        except (RuntimeError, TypeError, AttributeError):  # read while the loop mutates it
            return None

    def _recovered(self) -> bool:
        """Whether the tables of the current assignment are restored (no status line before:
        the restore bar comes first)."""
        rec = self.recovery
        try:
            return rec is None or (not rec.in_recovery and rec.completed.is_set())
        except (RuntimeError, TypeError, AttributeError):
            return True

    def line(self, events_per_s: float) -> str:
        r = self.registry
        return (
            f"{events_per_s:,.1f} events/s · {_total(r, 'sla_open_tickets'):,.0f} open tickets"
            f" · {_total(r, 'sla_alerts_total'):,.0f} alerts emitted"
            f" · consumer lag {_total(r, 'sla_consumer_lag'):,.0f}"
        )

    def _restoring(self, left: int) -> None:
        done = self._restore_total - left
        self.say(
            f"restoring state {bar(done, self._restore_total)} "
            f"({done:,} of {self._restore_total:,} changelog records)"
        )

    def _run(self) -> None:
        """Sample every 0.1 s, so a restore shorter than a second is still seen (its bar is
        printed at most once a second, and at 100 % when it ends); status lines every
        `interval`."""
        last_events = _total(self.registry, "sla_events_consumed_total")
        last_at = time.monotonic()
        next_line = last_at + self.interval
        last_bar = 0.0
        while not self._stop.wait(0.1):
            left = self._restore_left()
            now = time.monotonic()
            if left is not None and left > 0:
                self._restore_total = max(self._restore_total, left)
                if now - last_bar >= 1.0:
                    self._restoring(left)
                    last_bar = now
                continue
            if self._restore_total:  # a restore was seen and has ended
                self._restoring(0)
                self._restore_total, last_bar = 0, 0.0
            if now < next_line or not self._assigned.is_set() or not self._recovered():
                continue
            events = _total(self.registry, "sla_events_consumed_total")
            self.say(self.line((events - last_events) / max(now - last_at, 1e-9)))
            last_events, last_at, next_line = events, now, now + self.interval

    def start(self) -> StatusLine:
        threading.Thread(target=self._run, name="sla-status", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
