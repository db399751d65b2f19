"""The cyclic garbage collector's pauses in the worker, measured (`sla_gc_pause_seconds`): a
full collection walks every tracked object of the decoded-ticket cache, on the event loop."""

from __future__ import annotations

import gc
import time
from typing import Any

from topologies import metrics

_started = [0.0]


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        pause = time.perf_counter() - _started[0]
        generation = str(info["generation"])
        metrics.GC_PAUSE.labels(generation).observe(pause)
        metrics.GC_COLLECTED.labels(generation).inc(info["collected"])


def watch() -> None:
    """Time every collection from now on (once per process)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)
