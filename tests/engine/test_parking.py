"""Parking (issue 18): a replay that moves idle tickets out of memory (`Processor.parked`, their
stored form) announces exactly what one that keeps every ticket announces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson

import workload
from config.loader import load
from engine.history import from_model
from engine.processor import Processor
from schemas.parse import parse_event


def run(lines: list[bytes], proc: Processor) -> list[Any]:
    out: list[Any] = []
    for line in lines:
        event = parse_event(line)
        out += proc.ingest(event.ticket_id, from_model(event))
    out += proc.advance(proc.clock + 40 * 86_400_000_000)
    return out


def test_parking_every_idle_ticket_changes_no_alert() -> None:
    lines = [orjson.dumps(e) for e in workload.generate(300, seed=4, span=timedelta(days=4))]
    policy = load()
    parked: dict[str, bytes] = {}
    kept = run(lines, Processor(policy))
    moved = run(lines, Processor(policy, parked=parked, idle=0))
    assert moved == kept
    assert len(parked) > 200  # most tickets were parked (and unparked for their later events)
    assert Processor(policy, parked=parked).count() == len(parked)
