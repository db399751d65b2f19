"""Customer name and contact are redacted from rejected messages (`schemas.redact`): on the
replay rejects file here; on `tickets.dlq` in tests/integration/test_worker.py."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import orjson
import pytest

from config.loader import load
from offline.file import replay
from schemas.outputs import Reject
from schemas.redact import REDACTED, redact

SECRETS = (b"Li Lei", b"139 0000 0000", b"li.lei@example.cn")
CUSTOMER = {
    "id": "c-9",
    "name": "Li Lei",
    "phone": "+86 139 0000 0000",
    "email": "li.lei@example.cn",
}
BAD_CREATED = {
    "event_id": "e-1",
    "ticket_id": "T-1",
    "type": "created",
    "occurred_at": "2026-11-23T09:00:00+0800",  # not RFC 3339: rejected
    "priority": "A",
    "customer": CUSTOMER,
}


def test_parsed_json_keeps_everything_but_the_personal_values() -> None:
    out = json.loads(redact(orjson.dumps(BAD_CREATED)))
    assert out["customer"] == {"id": "c-9", "name": REDACTED, "phone": REDACTED, "email": REDACTED}
    assert {k: v for k, v in out.items() if k != "customer"} == {
        k: v for k, v in BAD_CREATED.items() if k != "customer"
    }


def test_nothing_personal_leaves_the_bytes_unchanged() -> None:
    raw = b'{"event_id": "e", "customer": {"id": "c-1"}, "x": 1.50}'
    assert redact(raw) is raw


@pytest.mark.parametrize(
    "raw",
    [
        # a repeated key: the redacted text keeps both (the reason names the repeat)
        b'{"customer":{"name":"Li Lei"},"customer":{"phone":"+86 139 0000 0000"}}',
        # customer as a bare string, and customers nested in a batch sent as one array
        b'{"customer":"Li Lei"}',
        b'[{"customer":{"email":"li.lei@example.cn"}},{"x":{"customer":{"name":"Li Lei"}}}]',
        # escapes that spell the key
        b'{"\\u0063ustomer":{"n\\u0061me":"Li Lei"}}',
    ],
)
def test_every_customer_object_is_redacted(raw: bytes) -> None:
    out = redact(raw)
    json.loads(out)
    for secret in SECRETS:
        assert secret not in out
    assert REDACTED.encode() in out


def test_repeated_keys_survive_redaction() -> None:
    out = redact(b'{"a":1,"customer":{"name":"Li Lei"},"a":2}')
    assert out == b'{"a":1,"customer":{"name":"[redacted]"},"a":2}'


@pytest.mark.parametrize(
    "raw",
    [
        orjson.dumps(BAD_CREATED)[:-20],  # truncated inside the customer
        orjson.dumps(BAD_CREATED)[:-5],
        b"\xff\xfe" + orjson.dumps(BAD_CREATED),  # not UTF-8
        b'{"event_id":"e-1","customer": {"name": "Li Lei", "phone": "+86 139 0000 0000",}}',
    ],
)
def test_unparsable_bytes_have_quoted_personal_values_scrubbed(raw: bytes) -> None:
    out = redact(raw)
    for secret in SECRETS:
        assert secret not in out
    assert b'"event_id":"e-1"' in out  # the rest is kept as it came


def _replay_rejects(lines: list[bytes]) -> list[dict[str, Any]]:
    out, rejects = io.BytesIO(), io.BytesIO()
    result = replay(io.BytesIO(b"\n".join(lines) + b"\n"), load(), None, out, rejects)
    records = [orjson.loads(line) for line in rejects.getvalue().splitlines()]
    assert result.rejected == len(records)
    for r in records:
        Reject.model_validate(r)
    return records


def test_replay_rejects_file_carries_no_customer_name_or_contact() -> None:
    lines = [
        orjson.dumps(BAD_CREATED),
        orjson.dumps({**BAD_CREATED, "priority": "urgent"}),
        orjson.dumps(BAD_CREATED)[:-20],
        b"\xff" + orjson.dumps(BAD_CREATED),
    ]
    records = _replay_rejects(lines)
    assert len(records) == 4
    text = b"\n".join(orjson.dumps(r) for r in records)
    for r in records:
        if r.get("raw_encoding") == "base64":
            text += base64.b64decode(r["raw"])
    for secret in SECRETS:
        assert secret not in text
    assert [r["line"] for r in records] == [1, 2, 3, 4]
    assert "occurred_at" in records[0]["reason"] and "priority" in records[1]["reason"]
    assert json.loads(records[0]["raw"])["event_id"] == "e-1"
