"""`sla.status`: each ticket's live SLA status (`engine.status`), compacted by ticket id.

One message per ticket per batch of events or ticks that changed it (not per event), on the
ticket's own partition, through the worker's one producer (so it is on the broker before the
batch's offsets are committed); a tombstone when the ticket leaves retention.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from engine.status import ticket_status
from engine.ticket import Ticket

Send = Callable[[str, bytes | None, bytes | None, int], None]  # topic, key, value, partition
Now = Callable[[int], int]  # partition -> that partition's clock (µs)


class StatusPublisher:
    """Publishes the statuses of the tickets a batch touched."""

    def __init__(self, topic: str, send: Send, now: Now) -> None:
        self.topic = topic
        self.send = send
        self.now = now
        self.published = 0

    def publish(self, touched: Mapping[str, tuple[Ticket, Any]]) -> None:
        """One status per ticket of the batch, taken at its partition's clock."""
        clocks: dict[int, int] = {}
        for ticket_id, (ticket, event) in touched.items():
            partition = event.message.partition
            now = clocks.get(partition)
            if now is None:
                now = clocks[partition] = self.now(partition)
            value = orjson.dumps(ticket_status(ticket, now))
            self.send(self.topic, ticket_id.encode(), value, partition)
        self.published += len(touched)

    def forget(self, ticket_id: str, partition: int) -> None:
        """The ticket's state was dropped (retention): a tombstone, so compaction removes it."""
        self.send(self.topic, ticket_id.encode(), None, partition)
