"""A rejected input (`schemas.outputs.Reject`): the reason, the original bytes and where they
were read. The one model of the worker's dead letters (`tickets.dlq`) and of the replay's
`--rejects` file.

`Rejected` holds what is known of the input; it is written in two forms, both `Reject`
documents whose bytes are a public contract (they are kept exactly as they were):

- `dead_letter()`: a record of `tickets.dlq`: reason, `raw` clipped to `RAW_CLIP_BYTES` (so the
  record always fits in a Kafka message) with its encoding, original size and whether it was
  clipped, the key, topic, partition, offset and `detected_at`;
- `file_line()`: a line of the replay's `--rejects` file: where it was read (`line`, or
  `topic`, `partition`, `offset`), reason and the whole `raw` (its line ending dropped),
  `raw_encoding` only when base64.

Both redact customer name and contact first (`schemas.redact`): they are outputs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import orjson

from schemas.redact import redact

# The copy of a record's value (and key) in its dead-letter record is clipped to this; the
# record says the original size and whether it was clipped.
RAW_CLIP_BYTES = 64 * 1024


def _text(raw: bytes, cut: bool) -> tuple[str, str]:
    """`raw` as UTF-8 text, or base64 when it is not UTF-8. `cut`: the bytes may end inside a
    character (clipped), whose first bytes are then dropped rather than counted as invalid."""
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as e:
        if cut and e.start >= len(raw) - 3 and e.reason == "unexpected end of data":
            return raw[: e.start].decode("utf-8"), "utf-8"
        return base64.b64encode(raw).decode(), "base64"


def clipped(raw: bytes | None) -> dict[str, Any]:
    """`raw`, `raw_encoding` (none: the record had no value at all, unlike an empty one),
    `raw_bytes` (the original size) and `raw_clipped`: the dead-letter form of a value."""
    if raw is None:
        return {"raw": None, "raw_encoding": "none", "raw_bytes": 0, "raw_clipped": False}
    shown = redact(raw)  # tickets.dlq is an output topic: no customer name or contact
    text, encoding = _text(shown[:RAW_CLIP_BYTES], cut=True)
    return {
        "raw": text,
        "raw_encoding": encoding,
        "raw_bytes": len(raw),
        "raw_clipped": len(shown) > RAW_CLIP_BYTES,
    }


@dataclass(frozen=True, slots=True)
class Rejected:
    """An input that could not be used: why, its bytes (None: the record had no value) and
    where it was read (a file's `line`, or a topic record's topic, partition and offset)."""

    reason: str
    raw: bytes | None
    line: int | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: bytes | None = None
    detected_at: str | None = None  # ISO 8601 instant, when the engine rejected it

    def where(self) -> dict[str, Any]:
        """Where it was read: `{line}` or `{topic, partition, offset}`."""
        if self.line is not None:
            return {"line": self.line}
        return {"topic": self.topic, "partition": self.partition, "offset": self.offset}

    def dead_letter(self) -> bytes:
        """The JSON of its `tickets.dlq` record."""
        record: dict[str, Any] = {"reason": self.reason, **clipped(self.raw)}
        if self.key is not None:
            text, encoding = _text(self.key[:RAW_CLIP_BYTES], cut=True)
            record["key"], record["key_encoding"] = text, encoding
        record.update(
            {
                "topic": self.topic,
                "partition": self.partition,
                "offset": self.offset,
                "detected_at": self.detected_at,
            }
        )
        return orjson.dumps(record)

    def file_line(self) -> dict[str, Any]:
        """Its line of the replay's `--rejects` file (as a JSON object)."""
        text, encoding = _text(redact((self.raw or b"").rstrip(b"\r\n")), cut=False)
        out = {**self.where(), "reason": self.reason, "raw": text}
        if encoding != "utf-8":
            out["raw_encoding"] = encoding
        return out
