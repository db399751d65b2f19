"""`sla-engine replay --status`: every ticket's final status, valid against the published
schema, equal to `engine.status` on the replayed tickets, deterministic, without personal data."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import jsonschema
import orjson
import pytest

from cli.main import main
from config.loader import load
from engine.instant import to_us
from engine.status import ticket_status
from offline.records import Record, evaluate
from schemas.generate import JSON_DIR
from schemas.status import TicketStatus
from tests.worked_week import WEEK

UNTIL = "2026-12-05T00:00:00+08:00"


def _run(tmp_path: Path, name: str) -> list[bytes]:
    out = tmp_path / name
    code = main(
        [
            "replay",
            "--input",
            str(WEEK),
            "--until",
            UNTIL,
            "--output",
            str(tmp_path / "a.jsonl"),
            "--status",
            str(out),
        ]
    )
    assert code == 0
    return out.read_bytes().splitlines()


def test_replay_writes_the_final_status_of_every_ticket(tmp_path: Path) -> None:
    lines = _run(tmp_path, "status.jsonl")
    assert len(lines) == 120
    assert lines == _run(tmp_path, "again.jsonl")  # same input, same bytes
    schema = json.loads((JSON_DIR / "ticket-status.schema.json").read_text())
    records = (Record(raw, {"line": n}) for n, raw in enumerate(WEEK.read_bytes().splitlines()))
    until = to_us(datetime.fromisoformat(UNTIL))
    _, proc = evaluate(records, load(None), until, lambda a, _: True)
    ids = []
    for line in lines:
        doc = orjson.loads(line)
        jsonschema.validate(doc, schema)
        TicketStatus.model_validate(doc)
        ids.append(doc["ticket_id"])
        assert b'"c-' not in line  # no customer reference leaks
        assert line == orjson.dumps(ticket_status(proc.tickets[doc["ticket_id"]], until))
    assert ids == sorted(proc.tickets)
    # the replay's clock is advanced to --until: statuses are taken there
    assert orjson.loads(lines[0])["as_of"] == "2026-12-04T16:00:00+00:00"


def test_status_needs_a_file_replay(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "replay",
            "--topic",
            "tickets.events",
            "--broker",
            "127.0.0.1:1",
            "--status",
            "x.jsonl",
            "--from",
            "2026-11-23T00:00:00+08:00",
            "--to",
            "2026-11-24T00:00:00+08:00",
        ]
    )
    assert code == 2
    assert "--status needs a file replay" in capsys.readouterr().err
