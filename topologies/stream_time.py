"""The live clock of one partition: wall-clock time once the worker has caught up, stream time
while it works through a backlog.

Catching up after an outage with the wall clock would fire every threshold of every replayed
ticket at once and retract most of them a moment later, when the events that stopped those
clocks are read. While a partition is behind, its clock is therefore the largest `occurred_at`
read from it (as in replay); an idle partition is never behind, so its timers keep firing on
wall-clock time when no event arrives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

IDLE_S = 1.0  # no message for this long: the partition has no backlog


class Clock(Protocol):
    """The worker's only source of time: the wall clock and a monotonic one (tests pass a fake)."""

    def wall_us(self) -> int:
        """The wall clock, µs since the epoch."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds (idle detection, durations)."""
        ...


class SystemClock:
    """The process's clocks."""

    def wall_us(self) -> int:
        """`time.time_ns()` in µs."""
        return now_us()

    def monotonic(self) -> float:
        """`time.monotonic()`."""
        return time.monotonic()


def now_us() -> int:
    """The wall clock, µs since the epoch."""
    return time.time_ns() // 1000


@dataclass(slots=True)
class PartitionClock:
    stream_us: int = -(2**62)
    behind: bool = False
    last_read: float = float("-inf")  # monotonic seconds
    lag: int = 0  # messages behind the high-water mark after the last one read

    def observe(self, occurred_us: int, offset: int, highwater: int | None, mono: float) -> None:
        """Note one message read: its event time and whether more are waiting behind it."""
        self.stream_us = max(self.stream_us, occurred_us)
        self.lag = max(highwater - offset - 1, 0) if highwater is not None else 0
        self.behind = self.lag > 0
        self.last_read = mono

    def in_backlog(self, mono: float) -> bool:
        """Whether the partition is reading a backlog: messages wait behind the last one read,
        and it was read less than `IDLE_S` ago (its clock is then the stream time)."""
        return self.behind and mono - self.last_read < IDLE_S

    def now(self, wall_us: int, mono: float) -> int:
        if self.in_backlog(mono):
            return min(wall_us, self.stream_us)
        return wall_us
