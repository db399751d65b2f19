"""Windowed KPIs (spec §2 quality targets, §6), pure: per-ticket facts aggregated into
tumbling event-time windows (hour, day, ISO week, month in the reporting zone) × dimensions
(overall, team, agent, priority, channel, category, product line).

One module per KPI family, each owning its facts, their aggregation and its snapshot fields
(and documenting its definitions): `resolution`, `attainment` (SLA attainment, read from the
clock state machine's finished cycles and decisions), `complaints`, `records`, `surveys`,
`backlog`. Shared machinery:

- `facts`: what a fact is (`Fact`, dimensions) and what the families read about a ticket;
- `contributions.contributions(ticket)`: a ticket's facts, from one walk over its history;
- `aggregate.KpiAggregate`: the aggregation, order-independent by construction;
- `cells`: cells and their keys; `snapshot`: what is published per (window, dimension, key)
  (`schemas.outputs.KpiSnapshot`); `sketch`: exact and sketched (1 %) percentiles;
  `windows`: the window arithmetic; `codec`: the compact form of a ticket's facts.

The live worker and the replay tool use it the same way:

    kpis = KpiAggregate(policy, exact=False)     # replay: exact=True
    kpis.advance(clock)                          # stream time / the worker's clock, often
    new = contributions(ticket)                  # after Ticket.step / Ticket.tick
    kpis.replace(previous_facts, new)            # keep `new` with the ticket (encode_facts)
    for snap in kpis.snapshots(changed_only=True):  # debounced
        publish(snapshot_key(snap), snap)
    for key in kpis.take_removed():
        publish(key, None)                       # tombstone

A replay (or a worker rebuilding after a rebalance) adds everything at once:
`kpis.add(all facts)` takes a bulk path with the same result.
"""

from engine.kpis.aggregate import KpiAggregate
from engine.kpis.cells import snapshot_key
from engine.kpis.codec import decode_facts, encode_facts
from engine.kpis.contributions import contributions
from engine.kpis.facts import Fact
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
