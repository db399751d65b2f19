"""The audit's reading of one ticket's live records: one record an id (the first detected), and
the distinct ids counted ticket by ticket (no set of every id of the range is kept)."""

from __future__ import annotations

from typing import Any

from cli.audit import _first_of_each_id


def rec(alert_id: str, detected: str, side: int) -> tuple[dict[str, Any], int]:
    return {"alert_id": alert_id, "detected_at": f"2026-03-02T{detected}+08:00"}, side


def test_one_record_an_id_the_first_detected_and_the_distinct_ids() -> None:
    records = [
        rec("a", "10:00:05", 1),
        rec("a", "10:00:01", 1),  # the same id again, detected earlier: this one is kept
        rec("b", "10:00:02", 1),
        rec("c", "09:00:00", 2),  # due outside the window: counted, not compared
        rec("b", "10:00:09", 1),
    ]
    live, distinct = _first_of_each_id(records)
    assert distinct == 3
    assert [(a["alert_id"], a["detected_at"][11:19]) for a in live] == [
        ("a", "10:00:01"),
        ("b", "10:00:02"),
    ]
    assert _first_of_each_id([]) == ([], 0)
