"""The cyclic garbage collector held off long-lived ticket state while a replay runs.

Tickets, their histories and ledgers hold no reference cycles, so a full collection scans
millions of tracked objects and frees nothing (21-34 % of a replay's time in the profiles);
reference counting frees them. `held` lets the young generations collect what cycles are
made per event and never starts a full collection.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG = 50_000  # allocations between young collections (default 700: each one rescans)
MIDDLE = 20  # young collections between middle-generation collections
NEVER = 2**31 - 1  # middle collections between full ones: none while held


@contextmanager
def held() -> Iterator[None]:
    """Within: no full collection, young ones rarer; what exists on entry is frozen (never
    scanned again). On exit the previous thresholds are back and the state built within is
    frozen too, so the collector does not walk it once at the end."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, NEVER)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.freeze()
