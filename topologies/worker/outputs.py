"""What a batch emits, encoded and checked against the largest message the broker takes: an
output that would not fit is refused (`OutputTooLarge`) before anything of its record is sent,
so the record is dead-lettered instead of failing the producer."""

from __future__ import annotations

from typing import Any

import orjson

from engine.ticket import Ticket
from topologies.state import codec

# librdkafka's message.max.bytes is 1,000,000 (the broker's default limit is about the same).
# The worker's limit is `--max-message-bytes` (this by default), for brokers configured lower.
MAX_OUTPUT_BYTES = 900_000


class OutputTooLarge(ValueError):
    """Something the engine would emit does not fit in a Kafka message."""


def encode_alerts(alerts: list[dict[str, Any]], limit: int = MAX_OUTPUT_BYTES) -> list[bytes]:
    """The alerts' JSON, or `OutputTooLarge` when one would not fit in a message."""
    payloads = [orjson.dumps(a) for a in alerts]
    for p in payloads:
        if len(p) > limit:
            raise OutputTooLarge(f"an alert of {len(p)} bytes (at most {limit})")
    return payloads


def encode_state(
    ticket: Ticket, partition: int, retention_days: float, limit: int = MAX_OUTPUT_BYTES
) -> bytes:
    """The ticket's stored form, or `OutputTooLarge` when its changelog message would not fit."""
    value = codec.encode(ticket, partition, retention_days)
    if len(value) > limit:
        raise OutputTooLarge(f"ticket state of {len(value)} bytes (at most {limit})")
    return value
