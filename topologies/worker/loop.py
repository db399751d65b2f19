"""The one loop every agent of the worker runs: take a batch, keep the events it may process,
hand them to its task, ack them, serve the producer's delivery reports."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, cast

import faust

log = logging.getLogger("sla.worker")

# An agent processes a batch once it holds BATCH events or `within` seconds after the previous
# one (the events and KPI facts agents wait longer, for bigger batches under a backlog; the
# ticks agent less, for timer latency).
BATCH = 1000


def mine(batch: Sequence[Any], ready: bool, generation: int) -> list[Any]:
    """The events of a batch the worker may process now: as Faust's own stream iterator
    does, none read before the last rebalance (another generation), and none before the
    agent's table is recovered (`ready`). Those are left unacked: whoever owns their
    partition now reads them again from the committed offset."""
    if not ready:
        return []
    return [e for e in batch if e.message.generation_id == generation]


def held_back(batch: Sequence[Any], todo: Sequence[Any], ready: bool) -> None:
    """Log (debug) the records of a batch `mine` left unprocessed, by partition: why, the
    offsets, their generation (the post-recovery seek reads them again)."""
    if not log.isEnabledFor(logging.DEBUG):
        return
    kept = {id(e) for e in todo}
    spans: dict[tuple[str, int], list[int]] = {}
    for e in batch:
        if id(e) not in kept:
            m = e.message
            span = spans.setdefault((m.topic, m.partition), [m.offset, m.offset, m.generation_id])
            span[0], span[1] = min(span[0], m.offset), max(span[1], m.offset)
    log.debug(
        "held back %d of %d records (%s): %s",
        len(batch) - len(todo),
        len(batch),
        "another generation" if ready else "table not recovered",
        {f"{t}[{p}]": f"{lo}-{hi} gen {g}" for (t, p), (lo, hi, g) in spans.items()},
    )


async def run_batches(
    app: faust.App,
    stream: faust.StreamT[bytes],
    within: float,
    ready: Callable[[], bool],
    handle: Callable[[Sequence[Any]], None],
    poll: Callable[[], None],
) -> None:
    """Feed the stream's events to `handle` in batches (no await inside it: a batch never
    interleaves with another), acking each batch's events once it was handled. The batches
    are `Stream.noack_take`'s: its events (not values: its annotation says otherwise)."""
    batches = cast("faust.Stream[bytes]", stream).noack_take(BATCH, within=within)
    async for batch in batches:
        recovered = ready()
        todo = mine(batch, recovered, app.consumer_generation_id if recovered else 0)
        if len(todo) != len(batch):
            held_back(batch, todo, recovered)
        handle(todo)
        for event in todo:
            await stream.ack(event)
        poll()
