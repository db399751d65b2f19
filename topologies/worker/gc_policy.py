"""The worker's cyclic garbage collector: its pauses measured, the long-lived state held off.

A decoded ticket is ~30 tracked objects and holds no reference cycles; reference counting frees
it when it leaves the cache. A full collection still walks every tracked object: at a
50,000-ticket cache (~1.5 million objects) each took ~1 s of CPU, 5-11 s of event loop on this
shared machine (docs/streaming-notes.md), stalling every timer behind it. So what survived is frozen
every `FREEZE_INTERVAL_S` (`gc.freeze`: O(1), the objects move to the permanent generation, which
no collection walks): full collections then walk only what survived since the last freeze. The
price: a reference cycle alive at a freeze is never collected once it dies (the worker's young
collections found none: `sla_gc_collected_objects_total`).
"""

from __future__ import annotations

import gc
import time
from typing import Any

from topologies import metrics

FREEZE_INTERVAL_S = 5.0
YOUNG = 10_000  # allocations between young collections (default 700: each one rescans)

_started = [0.0]
_tuned = [False]
# (generation, seconds paused, objects freed) of the collections not yet in the metrics: the
# callback runs wherever an allocation triggers a collection, possibly while this very thread
# holds a metric's lock (prometheus_client's locks are not reentrant), so it only appends here
# and `publish` moves them into the metrics from the event loop.
_pauses: list[tuple[int, float, int]] = []


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _pauses.append((info["generation"], time.perf_counter() - _started[0], info["collected"]))


def publish() -> None:
    """The collections recorded since the last call, into `sla_gc_pause_seconds` and
    `sla_gc_collected_objects_total`."""
    while _pauses:
        generation, pause, freed = _pauses.pop(0)
        metrics.GC_PAUSE.labels(str(generation)).observe(pause)
        metrics.GC_COLLECTED.labels(str(generation)).inc(freed)


def tune() -> None:
    """Once per process, when the worker first has its partitions: what exists so far
    (modules, Faust's services, the policy, the recovered state) is frozen, young objects are
    collected every 10,000 allocations, and every collection is timed from now on."""
    if _tuned[0]:
        return
    _tuned[0] = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, 20, 20)
    gc.callbacks.append(_on_gc)


def hold_off() -> None:
    """Freeze what survived since the last call (after a young collection, so the garbage of
    the moment is not frozen with it); nothing before `tune`."""
    if not _tuned[0]:
        return
    gc.collect(0)
    gc.freeze()  # (`gc.get_freeze_count` would walk the whole frozen heap: no gauge of it)
    publish()
