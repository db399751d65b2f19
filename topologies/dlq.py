"""Dead-letter records (`tickets.dlq`, `schemas.outputs.Reject`): the reason and the input as it
arrived, clipped so that the record itself always fits in a Kafka message (`schemas.reject`)."""

from __future__ import annotations

from engine.instant import iso
from schemas.reject import RAW_CLIP_BYTES, Rejected

# Input records larger than this are dead-lettered unread: a real ticket event is well under
# 2 KB, and everything the engine emits for one event (alerts, state, KPI facts) must stay below
# the broker's ~1 MB message limit.
MAX_EVENT_BYTES = 256 * 1024


def dlq_key(key: bytes | None) -> bytes | None:
    """The dead-letter message's own key: the input's key, unless too large to send."""
    return key if key is None or len(key) <= RAW_CLIP_BYTES else None


def dead_letter(
    reason: str,
    raw: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None = None,
    detected_at: int = 0,
) -> bytes:
    """The JSON of one dead-letter record (`detected_at`: µs since the epoch)."""
    rejected = Rejected(
        reason,
        raw,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        detected_at=iso(detected_at),
    )
    return rejected.dead_letter()
