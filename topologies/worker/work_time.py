"""The worker's own time, by kind of work (`sla_work_seconds_total`): what its batches, commit
hook and periodic jobs took, so the rest of a busy worker's time is known to be Faust's, the
Kafka clients' and the event loop's (README, "The pass-through budget")."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import ParamSpec, TypeVar

from topologies import metrics

P = ParamSpec("P")
R = TypeVar("R")


def timed(work: str, run: Callable[P, R]) -> Callable[P, R]:
    """`run`, each call's wall time (perf_counter) added to `sla_work_seconds_total{work}`,
    also when it raises. Per batch or per job, not per record (a call costs ~1 µs). The series
    exists, at zero, from the wrapping on: rate() has its first sample."""
    counter = metrics.WORK.labels(work)

    def timed_run(*args: P.args, **kwargs: P.kwargs) -> R:
        start = perf_counter()
        try:
            return run(*args, **kwargs)
        finally:
            counter.inc(perf_counter() - start)

    return timed_run
