"""Dead-letter records always fit in a message and say what arrived (issue 11, 4)."""

from __future__ import annotations

import base64

import orjson

from schemas.outputs import Reject
from schemas.reject import RAW_CLIP_BYTES, clipped
from topologies.dlq import dead_letter, dlq_key


def test_a_null_value_is_not_an_empty_one() -> None:
    assert clipped(None)["raw"] is None and clipped(None)["raw_encoding"] == "none"
    assert clipped(b"") == {
        "raw": "",
        "raw_encoding": "utf-8",
        "raw_bytes": 0,
        "raw_clipped": False,
    }


def test_a_large_value_is_clipped_without_breaking_a_character() -> None:
    raw = b"a" * (RAW_CLIP_BYTES - 1) + "é".encode() * 10  # 'é' straddles the clip
    out = clipped(raw)
    assert out["raw_encoding"] == "utf-8" and out["raw"] == "a" * (RAW_CLIP_BYTES - 1)
    assert out["raw_bytes"] == len(raw) and out["raw_clipped"]


def test_binary_is_base64_and_the_key_is_kept() -> None:
    record = orjson.loads(dead_letter("not JSON", b"\xff\x00", "t", 1, 7, b"T-1", 0))
    assert base64.b64decode(record["raw"]) == b"\xff\x00" and record["raw_encoding"] == "base64"
    assert record["key"] == "T-1" and record["key_encoding"] == "utf-8"
    Reject.model_validate(record)
    assert dlq_key(b"k") == b"k" and dlq_key(b"k" * (RAW_CLIP_BYTES + 1)) is None
