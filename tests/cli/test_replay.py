"""`sla-engine replay`: the worked example, rejects, determinism, stdin/stdout, --help, and a
late event retracting an alert already emitted (issue 3 §6)."""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli.main import main, parser
from config.loader import load
from schemas.outputs import Alert, Reject
from tests.worked_week import EXAMPLES, WEEK

UNTIL = "2026-12-05T00:00:00+08:00"
CST = timezone(timedelta(hours=8))


def cli_cmd() -> list[str]:
    script = Path(sys.executable).with_name("sla-engine")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def event(eid: str, ticket: str, type_: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": eid,
        "ticket_id": ticket,
        "type": type_,
        "occurred_at": at.isoformat(),
        **fields,
    }


def created(eid: str, ticket: str, at: datetime, priority: str = "A") -> dict[str, Any]:
    return event(
        eid,
        ticket,
        "created",
        at,
        priority=priority,
        category="simple",
        channel="phone",
        team="team-1",
        agent="a-1",
        supervisor="s-1",
        department="after-sales",
    )


def jsonl(*items: dict[str, Any] | bytes) -> bytes:
    return b"".join((i if isinstance(i, bytes) else orjson.dumps(i)) + b"\n" for i in items)


def run_replay(
    tmp_path: Path, data: bytes, *extra: str, name: str = "run"
) -> tuple[int, list[dict[str, Any]], Path]:
    src = tmp_path / f"{name}-in.jsonl"
    src.write_bytes(data)
    out = tmp_path / f"{name}-out.jsonl"
    code = main(["replay", "--input", str(src), "--output", str(out), *extra])
    alerts = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    return code, alerts, out


# --------------------------------------------------------------------------------------------
# the worked example


def test_worked_example_week(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "alerts.jsonl"
    code = main(["replay", "--input", str(WEEK), "--until", UNTIL, "--output", str(out)])
    assert code == 0
    assert "695 events of 120 tickets; 0 rejected" in capsys.readouterr().err
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "compare.py"), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 missing, 0 extra" in proc.stdout
    policy = load()
    for line in out.read_bytes().splitlines():
        alert = Alert.model_validate_json(line)
        assert alert.policy_version == policy.version


def test_worked_example_is_byte_identical_twice(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["replay", "--input", str(WEEK), "--until", UNTIL, "--output", str(a)]) == 0
    assert main(["replay", "--input", str(WEEK), "--until", UNTIL, "--output", str(b)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size > 0


def test_replay_is_byte_identical_under_another_hash_seed(tmp_path: Path) -> None:
    """Alerts, KPIs and statuses do not hang on the order of a set or dict of strings."""
    root = Path(__file__).resolve().parents[2]
    outputs = {}
    for seed in ("0", "4242"):
        out = tmp_path / seed
        out.mkdir()
        files = [out / "alerts.jsonl", out / "kpis.jsonl", out / "status.jsonl"]
        args = ["--output", str(files[0]), "--kpis", str(files[1]), "--status", str(files[2])]
        env = {**os.environ, "PYTHONHASHSEED": seed}
        cmd = [*cli_cmd(), "replay", "--input", str(WEEK), "--until", UNTIL, *args]
        subprocess.run(cmd, check=True, env=env, capture_output=True, cwd=root)
        outputs[seed] = [f.read_bytes() for f in files]
    assert all(len(b) > 0 for b in outputs["0"])
    assert outputs["0"] == outputs["4242"]


# --------------------------------------------------------------------------------------------
# rejects


def test_rejects_get_line_reason_raw_and_processing_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    good1 = created("e-1", "T-1", t0)
    naive = created("e-2", "T-2", t0) | {"occurred_at": "2026-11-23T10:00:00"}
    unknown_type = event("e-3", "T-1", "teleported", t0)
    unknown_priority = created("e-4", "T-3", t0, priority="P1")
    missing_time = {k: v for k, v in created("e-5", "T-4", t0).items() if k != "occurred_at"}
    good2 = created("e-6", "T-5", t0 + timedelta(minutes=1))
    lines: list[dict[str, Any] | bytes] = [
        good1,  # 1
        b"this is not json",  # 2
        b"[1, 2, 3]",  # 3
        naive,  # 4
        unknown_type,  # 5
        unknown_priority,  # 6
        missing_time,  # 7
        b'"just a string"',  # 8
        b"\xff\xfe not utf-8",  # 9
        good2,  # 10
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(jsonl(*lines) + b"\n")  # a trailing blank line is not a message
    out, rej = tmp_path / "out.jsonl", tmp_path / "rejects.jsonl"
    code = main(
        [
            "replay",
            "--input",
            str(src),
            "--output",
            str(out),
            "--rejects",
            str(rej),
            "--until",
            "2026-11-24T00:00:00+08:00",
        ]
    )
    assert code == 0
    assert "8 rejected" in capsys.readouterr().err
    records = [orjson.loads(x) for x in rej.read_bytes().splitlines()]
    assert [r["line"] for r in records] == [2, 3, 4, 5, 6, 7, 8, 9]
    for r in records:
        Reject.model_validate(r)
        assert {"line", "reason", "raw"} <= r.keys()
        assert r["reason"]
    by_line = {r["line"]: r for r in records}
    assert by_line[2]["raw"] == "this is not json"
    assert "JSON" in by_line[2]["reason"]
    assert by_line[3]["raw"] == "[1, 2, 3]"
    assert "object" in by_line[3]["reason"]
    assert "object" in by_line[8]["reason"]
    assert "occurred_at" in by_line[4]["reason"]
    assert orjson.loads(by_line[4]["raw"]) == naive  # the original text, as sent
    assert "teleported" in by_line[5]["reason"]
    assert "priority" in by_line[6]["reason"]
    assert "occurred_at" in by_line[7]["reason"]
    assert by_line[9]["raw_encoding"] == "base64"
    assert base64.b64decode(by_line[9]["raw"]) == b"\xff\xfe not utf-8"
    # processing went on: both valid tickets got their alerts
    alerts = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert {a["ticket_id"] for a in alerts} == {"T-1", "T-5"}
    assert any(a["ticket_id"] == "T-5" and a["kind"] == "breach" for a in alerts)


def test_absurd_instant_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    far = created("e-1", "T-1", t0) | {"occurred_at": "9999-12-31T20:00:00+08:00"}
    rej = tmp_path / "rejects.jsonl"
    code, alerts, _ = run_replay(
        tmp_path,
        jsonl(far, created("e-2", "T-2", t0)),
        "--rejects",
        str(rej),
        "--until",
        "2026-11-24T00:00:00+08:00",
    )
    assert code == 0
    assert [orjson.loads(x)["line"] for x in rej.read_bytes().splitlines()] == [1]
    assert {a["ticket_id"] for a in alerts} == {"T-2"}


def test_rejects_to_stdout_and_no_rejects_file(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"garbage\n")
    proc = subprocess.run(
        [*cli_cmd(), "replay", "--input", str(src), "--rejects", "-"],
        capture_output=True,
        timeout=60,
    )
    assert proc.returncode == 0
    record = orjson.loads(proc.stdout)
    assert (record["line"], record["raw"]) == (1, "garbage")
    assert "JSON" in record["reason"]
    assert b"1 rejected" in proc.stderr


# --------------------------------------------------------------------------------------------
# determinism, stdin/stdout


def _small_file() -> bytes:
    from workload import lines

    return b"".join(lines(40, seed=3))


def test_same_input_same_bytes(tmp_path: Path) -> None:
    data = _small_file()
    _, a, out_a = run_replay(tmp_path, data, "--until", UNTIL, name="a")
    _, _, out_b = run_replay(tmp_path, data, "--until", UNTIL, name="b")
    assert out_a.read_bytes() == out_b.read_bytes()
    assert len(a) > 20


def test_stdin_and_stdout(tmp_path: Path) -> None:
    data = _small_file()
    _, _, out_file = run_replay(tmp_path, data, "--until", UNTIL)
    proc = subprocess.run(
        [*cli_cmd(), "replay", "--input", "-", "--output", "-", "--until", UNTIL],
        input=data,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == out_file.read_bytes()
    assert b"replayed" in proc.stderr  # the summary goes to stderr, not into the alerts


def test_missing_input_file_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", "--input", str(tmp_path / "nope.jsonl")])
    assert code != 0
    assert "nope.jsonl" in capsys.readouterr().err


def test_until_needs_an_offset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["replay", "--input", "-", "--until", "2026-12-05T00:00:00"])
    assert info.value.code != 0
    assert "UTC offset" in capsys.readouterr().err


def _subcommands() -> list[str]:
    p = parser()
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    raise AssertionError("no subcommands")


def test_help_on_the_top_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for name in _subcommands():
        assert name in out
    assert "replay" in _subcommands()


@pytest.mark.parametrize("command", _subcommands())
def test_help_on_every_subcommand(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: sla-engine " + command in capsys.readouterr().out


def test_help_via_the_console_script() -> None:
    proc = subprocess.run([*cli_cmd(), "replay", "--help"], capture_output=True, timeout=60)
    assert proc.returncode == 0
    for opt in (b"--input", b"--policy", b"--until", b"--output", b"--rejects"):
        assert opt in proc.stdout


# --------------------------------------------------------------------------------------------
# issue §6: a response that arrives after a later event of another ticket retracts a breach
# already emitted


def test_late_response_retracts_an_emitted_breach(tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    data = jsonl(
        created("T-1-1", "T-1", t0, priority="A"),  # warning 10:01, breach 10:02, ...
        created("T-2-1", "T-2", t0 + timedelta(minutes=2, seconds=30), priority="C"),
        event("T-1-2", "T-1", "responded", t0 + timedelta(minutes=1, seconds=30)),
    )
    code, alerts, _ = run_replay(tmp_path, data)
    assert code == 0
    mine = [a for a in alerts if a["ticket_id"] == "T-1" and a["clock"] == "first_response"]
    assert [(a["kind"], a["level"]) for a in mine] == [
        ("warning", None),
        ("breach", "minor"),
        ("retraction", "minor"),
    ]
    warning, breach, retraction = mine
    assert datetime.fromisoformat(breach["due_at"]) == t0 + timedelta(minutes=2)
    assert retraction["retracts"] == breach["alert_id"]
    assert retraction["retracted_kind"] == "breach"
    assert retraction["reason"] == "late_event"
    assert retraction["caused_by"] == ["T-1-2"]
    # detected_at is the stream-time clock: the breach was seen at T-2's event (10:02:30)
    assert datetime.fromisoformat(breach["detected_at"]) == t0 + timedelta(minutes=2, seconds=30)
    # the same events in time order never emit the breach at all
    in_order = jsonl(
        created("T-1-1", "T-1", t0, priority="A"),
        event("T-1-2", "T-1", "responded", t0 + timedelta(minutes=1, seconds=30)),
        created("T-2-1", "T-2", t0 + timedelta(minutes=2, seconds=30), priority="C"),
    )
    _, ordered, _ = run_replay(tmp_path, in_order, name="ordered")
    mine2 = [a for a in ordered if a["ticket_id"] == "T-1" and a["clock"] == "first_response"]
    assert [(a["kind"], a["alert_id"]) for a in mine2] == [("warning", warning["alert_id"])]


def test_until_fires_pending_timers(tmp_path: Path) -> None:
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    data = jsonl(created("T-1-1", "T-1", t0, priority="A"))
    _, without, _ = run_replay(tmp_path, data, name="no-until")
    assert without == []  # stream time never passed 10:00
    _, with_until, _ = run_replay(
        tmp_path, data, "--until", "2026-11-23T10:03:00+08:00", name="until"
    )
    assert [(a["kind"], a["level"]) for a in with_until] == [
        ("warning", None),
        ("breach", "minor"),
        ("escalation", "moderate"),
    ]
    # detected_at is the --until instant for timers fired at the end
    assert {a["detected_at"] for a in with_until} == {"2026-11-23T02:03:00+00:00"}
