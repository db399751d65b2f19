"""Dead-letter records (`tickets.dlq`, `schemas.outputs.Reject`): the reason and the input as it
arrived, clipped so that the record itself always fits in a Kafka message."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from engine.instant import iso
from schemas.redact import redact

# Input records larger than this are dead-lettered unread: a real ticket event is well under
# 2 KB, and everything the engine emits for one event (alerts, state, KPI facts) must stay below
# the broker's ~1 MB message limit.
MAX_EVENT_BYTES = 256 * 1024
# The copy of a record's value (and key) in its dead-letter record is clipped to this; the
# record says the original size and whether it was clipped.
RAW_CLIP_BYTES = 64 * 1024


def _text(raw: bytes) -> tuple[str, str]:
    """`raw` as UTF-8 text, or base64 when it is not UTF-8 (a clipped trailing character is
    dropped, not counted as invalid)."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        if e.start >= len(raw) - 3 and e.reason == "unexpected end of data":
            return raw[: e.start].decode("utf-8"), "utf-8"
        return base64.b64encode(raw).decode(), "base64"


def clipped(raw: bytes | None) -> dict[str, Any]:
    """`raw`, `raw_encoding` (none: the record had no value at all, unlike an empty one),
    `raw_bytes` (the original size) and `raw_clipped`."""
    if raw is None:
        return {"raw": None, "raw_encoding": "none", "raw_bytes": 0, "raw_clipped": False}
    shown = redact(raw)  # tickets.dlq is an output topic: no customer name or contact
    text, encoding = _text(shown[:RAW_CLIP_BYTES])
    return {
        "raw": text,
        "raw_encoding": encoding,
        "raw_bytes": len(raw),
        "raw_clipped": len(shown) > RAW_CLIP_BYTES,
    }


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
    record: dict[str, Any] = {"reason": reason, **clipped(raw)}
    if key is not None:
        text, encoding = _text(key[:RAW_CLIP_BYTES])
        record["key"], record["key_encoding"] = text, encoding
    record.update(
        {"topic": topic, "partition": partition, "offset": offset, "detected_at": iso(detected_at)}
    )
    return orjson.dumps(record)
