"""Windowed KPIs (spec §2 quality targets, §6), pure: per-ticket facts aggregated into
tumbling event-time windows (hour, day, ISO week, month in the reporting zone) × dimensions
(overall, team, agent, priority, channel, category, product line).

- `facts.contributions(ticket)`: a ticket's facts (definitions in `engine.kpis.facts`);
- `aggregate.KpiAggregate`: the aggregation, order-independent by construction;
- `snapshot`: what is published per (window, dimension, key) (`schemas.outputs.KpiSnapshot`);
- `sketch`: exact and sketched (1 %) percentiles; `windows`: the window arithmetic.

The live worker and the replay tool use it the same way:

    store = KpiAggregate(policy, exact=False)        # replay: exact=True
    store.advance(clock)                         # stream time / the worker's clock, often
    new = contributions(ticket)                  # after Ticket.step / Ticket.tick
    store.replace(previous_facts, new)           # keep `new` with the ticket (encode_facts)
    for snap in store.snapshots(changed_only=True):  # debounced
        publish(snapshot_key(snap), snap)
    for key in store.take_removed():
        publish(key, None)                       # tombstone

A replay (or a worker rebuilding after a rebalance) adds everything at once:
`store.add(all facts)` takes a bulk path with the same result.
"""

from engine.kpis.aggregate import KpiAggregate, snapshot_key
from engine.kpis.codec import decode_facts, encode_facts
from engine.kpis.facts import Fact, contributions
from engine.kpis.sketch import LogMapping, LogSketch
from engine.kpis.windows import Windows

__all__ = [
    "Fact",
    "KpiAggregate",
    "LogMapping",
    "LogSketch",
    "Windows",
    "contributions",
    "decode_facts",
    "encode_facts",
    "snapshot_key",
]
