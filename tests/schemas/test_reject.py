"""One reject model (`schemas.reject.Rejected`) for the worker's dead letters and the replay's
rejects file: both forms are `Reject` documents, redacted, with their bytes as before."""

from __future__ import annotations

import base64

import orjson

from schemas.outputs import Reject
from schemas.reject import Rejected

RAW = b'{"type":"created","customer":{"name":"Li Lei"}}\n'


def test_the_rejects_file_line_names_where_it_was_read() -> None:
    line = Rejected("not valid", RAW, line=3).file_line()
    assert orjson.dumps(line) == (
        b'{"line":3,"reason":"not valid",'
        b'"raw":"{\\"type\\":\\"created\\",\\"customer\\":{\\"name\\":\\"[redacted]\\"}}"}'
    )
    at = Rejected("bad", b"\xff\xfe", topic="t", partition=1, offset=9).file_line()
    assert list(at) == ["topic", "partition", "offset", "reason", "raw", "raw_encoding"]
    assert base64.b64decode(at["raw"]) == b"\xff\xfe"
    for doc in (line, at):
        Reject.model_validate(doc)


def test_the_dead_letter_has_every_field_of_the_model() -> None:
    rejected = Rejected("bad", RAW, topic="t", partition=0, offset=1, key=b"T-1")
    doc = orjson.loads(rejected.dead_letter())
    assert list(doc) == [
        "reason", "raw", "raw_encoding", "raw_bytes", "raw_clipped", "key", "key_encoding",
        "topic", "partition", "offset", "detected_at",
    ]  # fmt: skip
    assert "Li Lei" not in doc["raw"] and doc["raw_bytes"] == len(RAW)
    assert Reject.model_validate(doc).offset == 1
