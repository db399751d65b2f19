"""`sla-engine explain` and `sla-engine accountability`: the commands around the pure engine
parts (`engine.explain`, `engine.accountability`), on the worked week and on small stories."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli.explain import replay_lines, show
from cli.main import main
from config.loader import load
from tests.worked_week import WEEK

UNTIL = "2026-12-05T00:00:00+08:00"
CST = timezone(timedelta(hours=8))


def cst(day: int, hour: int, minute: int = 0, sec: int = 0, us: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, sec, us, tzinfo=CST)


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def week_alerts(tmp_path: Path) -> list[dict[str, Any]]:
    out = tmp_path / "alerts.jsonl"
    assert main(["replay", "--input", str(WEEK), "--until", UNTIL, "--output", str(out)]) == 0
    return [orjson.loads(line) for line in out.read_bytes().splitlines()]


@pytest.mark.skipif(not WEEK.exists(), reason=f"worked example not found at {WEEK}")
def test_explain_the_worked_week_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The worked week's README works W0000002 by hand: created Tuesday 06:20:08, so resolution
    # counts from 09:00; paused at 09:49:42.148763 (2,982.148763 s counted); resumed that
    # night, so counting restarts Wednesday 09:00; the 4 bh warning falls 11,417.851237 s
    # later, across the lunch break, at 13:10:17.851237 (+08:00).
    alerts = week_alerts(tmp_path)
    warning = next(
        a
        for a in alerts
        if a["ticket_id"] == "W0000002" and a["clock"] == "resolution" and a["kind"] == "warning"
    )
    capsys.readouterr()
    code = main(["explain", warning["alert_id"], "--input", str(WEEK), "--until", UNTIL, "--json"])
    assert code == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["alert_id"] == warning["alert_id"]
    assert doc["due_at"] == utc(cst(25, 13, 10, 17, 851237))
    assert doc["counted_seconds"] == doc["elapsed_seconds"] == 14400
    assert [(b["start"], b["end"], b["seconds"]) for b in doc["blocks"]] == [
        (utc(cst(24, 9)), utc(cst(24, 9, 49, 42, 148763)), 2982.148763),
        (utc(cst(25, 9)), utc(cst(25, 12)), 10800.0),
        (utc(cst(25, 13)), utc(cst(25, 13, 10, 17, 851237)), 617.851237),
    ]
    assert [
        (i["state"], i["start"], i["end"]) for i in doc["intervals"] if i["clock"] == "resolution"
    ] == [
        ("running", utc(cst(24, 6, 20, 8)), utc(cst(24, 9, 49, 42, 148763))),
        ("paused", utc(cst(24, 9, 49, 42, 148763)), utc(cst(25, 1, 8, 29, 265008))),
        ("running", utc(cst(25, 1, 8, 29, 265008)), None),
    ]
    assert [e["event_id"] for e in doc["events"]] == [f"W0000002-{i}" for i in range(1, 5)]
    assert [e["caused_by"] for e in doc["events"]] == [True, False, True, True]
    assert doc["rule"]["rule"] == "clocks.resolution.targets[0]"
    assert doc["rule"]["when"] == {"category": ["simple"]}
    assert doc["rule"]["policy_version"] == load().version
    assert doc["responsible"] == {
        "agent": "a-9",
        "supervisor": "s-3",
        "team": "team-0",
        "department": "after-sales",
    }
    assert doc["notified"] == [{"role": "agent", "who": "a-9"}]
    assert doc["attribution"] == [{**doc["responsible"], "seconds": 14400.0}]
    assert doc["status"] == "standing"

    # the same evidence as text, instants in the reporting zone
    assert main(["explain", warning["alert_id"], "--input", str(WEEK), "--until", UNTIL]) == 0
    text = capsys.readouterr().out
    assert f"alert {warning['alert_id']}: warning of resolution (cycle 1)" in text
    assert "due_at     2026-11-25 13:10:17.851237+08:00" in text
    assert "2026-11-24 09:00:00+08:00 → 2026-11-24 09:49:42.148763+08:00  2982.148763 s" in text
    assert "rule       clocks.resolution.targets[0] (when category in simple)" in text
    assert "notified   agent a-9" in text
    assert "total 14400 s (4:00:00)" in text


def _story(tmp_path: Path) -> Path:
    rows = [
        {
            "event_id": "T-1-1",
            "ticket_id": "T-1",
            "type": "created",
            "occurred_at": cst(23, 10).isoformat(),
            "priority": "A",
            "category": "simple",
            "team": "team-1",
            "agent": "a-1",
            "supervisor": "s-1",
            "department": "after-sales",
        },
        {
            "event_id": "T-1-2",
            "ticket_id": "T-1",
            "type": "assigned",
            "occurred_at": cst(23, 10, 1, 30).isoformat(),
            "agent": "a-2",
            "team": "team-9",
            "department": "field",
        },
    ]
    src = tmp_path / "events.jsonl"
    src.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows) + b"not json\n")
    return src


def test_unknown_alert_id_exits_1_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _story(tmp_path)
    assert main(["explain", "deadbeef", "--input", str(src), "--until", UNTIL]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no alert 'deadbeef'" in captured.err
    assert f"sla-engine replay --input {src}" in captured.err


def test_explain_from_lines_of_any_source(tmp_path: Path) -> None:
    # A at 10:00 by a-1; a-2 of field from 10:01:30. Breach at 10:02: a-1 90 s, a-2 30 s.
    lines = _story(tmp_path).read_bytes().splitlines(keepends=True)
    replayed = replay_lines(iter(lines), load(), None)
    assert (replayed.events, replayed.rejected) == (2, 1)
    # stream time stops at the last event (10:01:30): only the 10:01 warning is out
    assert [a["kind"] for a in replayed.alerts] == ["warning"]
    until = int(cst(23, 11).timestamp() * 1_000_000)
    replayed = replay_lines(iter(lines), load(), until)
    breach = next(a for a in replayed.alerts if a["kind"] == "breach")
    out = io.StringIO()
    assert show(replayed, breach["alert_id"], True, out, source="x") == 0
    doc = orjson.loads(out.getvalue())
    assert doc["attribution"] == [
        {"agent": "a-1", "supervisor": "s-1", "team": "team-1", "department": "after-sales",
         "seconds": 90.0},
        {"agent": "a-2", "supervisor": "s-1", "team": "team-9", "department": "field",
         "seconds": 30.0},
    ]  # fmt: skip
    assert doc["responsible"]["department"] == "field"


def test_accountability_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The same story to Monday 11:00: breach 10:02, moderate 10:03, severe 10:04, all while
    # field (a-2) held it; the breach's 120 s are after-sales 90 s, field 30 s.
    src = _story(tmp_path)
    until = "2026-11-23T11:00:00+08:00"
    args = ["accountability", "--input", str(src), "--until", until, "--period", "2026-11"]
    assert main([*args, "--by", "department", "--json"]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert (doc["period"], doc["by"], doc["timezone"]) == ("2026-11", "department", "Asia/Shanghai")
    assert doc["start"] == utc(datetime(2026, 11, 1, tzinfo=CST))
    got = {r["key"]: r for r in doc["rows"]}
    assert got["field"]["standing"] == {"minor": 1, "moderate": 1, "severe": 1}
    assert got["field"]["breach_seconds"] == 30
    assert got["after-sales"]["standing"] == {"minor": 0, "moderate": 0, "severe": 0}
    assert got["after-sales"]["breach_seconds"] == 90
    assert main([*args]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1].split() == [
        "agent", "minor", "moderate", "severe", "total", "exempted", "overturned",
        "breach_seconds",
    ]  # fmt: skip
    assert table[2].split() == ["a-2", "1", "1", "1", "3", "0", "0", "30"]
    assert table[3].split() == ["a-1", "0", "0", "0", "0", "0", "0", "90"]
    assert table[-1].split() == ["all", "1", "1", "1", "3", "0", "0", "120"]
    assert main([*args[:-1], "2026-13"]) == 2
    assert "not a period" in capsys.readouterr().err
