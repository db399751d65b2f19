"""`sla-engine whatif` (issue 7): the worked week under a policy that shortens B's first
response, JSON and table output, determinism, rejects and errors.

`data/policy-b-fast.yaml` is the default policy with B's first response at warning 60 s /
limit 120 s instead of 180 s / 300 s (escalations at 150 % and 200 % of the limit: moderate
450 s → 180 s, severe 600 s → 240 s).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli.main import main
from config.loader import DEFAULT_POLICY, parse
from engine.kpis.attainment import LEVELS
from tests.worked_week import WEEK

DATA = Path(__file__).with_name("data")
B_FAST = DATA / "policy-b-fast.yaml"

UNTIL = "2026-12-05T00:00:00+08:00"
CST = timezone(timedelta(hours=8))
# (kind, level) -> (default threshold, B-fast threshold), clock seconds on 24x7.
B_THRESHOLDS = {
    ("warning", None): (180, 60),
    ("breach", "minor"): (300, 120),
    ("escalation", "moderate"): (450, 180),
    ("escalation", "severe"): (600, 240),
}


def whatif_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["whatif", *args, "--json"])
    out, err = capsys.readouterr()
    return code, orjson.loads(out), err


def event(eid: str, ticket: str, type_: str, at: datetime, **fields: Any) -> dict[str, Any]:
    base = {"event_id": eid, "ticket_id": ticket, "type": type_, "occurred_at": at.isoformat()}
    return base | fields


def created(ticket: str, priority: str, at: datetime) -> dict[str, Any]:
    return event(
        f"{ticket}-1",
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


def small_history(tmp_path: Path, *extra: bytes) -> Path:
    """T-B1 (B) answered after 150 s, T-A1 (A) after 90 s; Monday 2026-11-23 10:00 +08:00."""
    t0 = datetime(2026, 11, 23, 10, 0, tzinfo=CST)
    items: list[dict[str, Any] | bytes] = [
        created("T-B1", "B", t0),
        created("T-A1", "A", t0),
        *extra,
        event("T-A1-2", "T-A1", "responded", t0 + timedelta(seconds=90)),
        event("T-B1-2", "T-B1", "responded", t0 + timedelta(seconds=150)),
    ]
    path = tmp_path / "events.jsonl"
    path.write_bytes(
        b"".join((i if isinstance(i, bytes) else orjson.dumps(i)) + b"\n" for i in items)
    )
    return path


# --------------------------------------------------------------------------------------------
# the fixture


def test_fixture_differs_from_the_default_only_in_b_first_response() -> None:
    default = parse(DEFAULT_POLICY.read_text(encoding="utf-8")).model_dump(mode="json")
    fast = parse(B_FAST.read_text(encoding="utf-8")).model_dump(mode="json")
    fr_default = default["clocks"]["first_response"]["targets"]
    fr_fast = fast["clocks"]["first_response"]["targets"]
    assert fr_default[1]["when"] == fr_fast[1]["when"] == {"priority": ["B"]}
    assert (fr_default[1]["target"], fr_default[1]["limit"]) == (180_000_000, 300_000_000)
    assert (fr_fast[1]["target"], fr_fast[1]["limit"]) == (60_000_000, 120_000_000)
    for d in (default, fast):
        del d["name"]
        del d["clocks"]["first_response"]["targets"][1]
    assert default == fast


# --------------------------------------------------------------------------------------------
# the worked week


def _read_week() -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in WEEK.read_bytes().splitlines() if line.strip()]


def _b_all_along(events: list[dict[str, Any]]) -> set[str]:
    """Tickets created B whose priority never changes."""
    changed = {e["ticket_id"] for e in events if e["type"] == "priority_changed"}
    return {
        e["ticket_id"]
        for e in events
        if e["type"] == "created" and e["priority"] == "B" and e["ticket_id"] not in changed
    }


def _first_response_seconds(events: list[dict[str, Any]], tickets: set[str]) -> dict[str, float]:
    """Clock time of each ticket's first response cycle: created → first responded or closed
    (closed stops every clock), or --until; 24x7, no pause."""
    start: dict[str, datetime] = {}
    stop: dict[str, datetime] = {}
    for e in events:
        t = e["ticket_id"]
        if t not in tickets:
            continue
        when = datetime.fromisoformat(e["occurred_at"])
        if e["type"] == "created":
            start[t] = when
        elif e["type"] in ("responded", "closed") and t in start:
            stop[t] = min(stop.get(t, when), when)
    end = datetime.fromisoformat(UNTIL)
    return {t: (stop.get(t, end) - start[t]).total_seconds() for t in start}


def test_week_b_fast_changes_only_b_first_response(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report, err = whatif_json(
        capsys, "--input", str(WEEK), "--policy", str(B_FAST), "--until", UNTIL
    )
    assert code == 0
    assert "695 events of 120 tickets; 0 rejected" in err
    assert report["input"] == {"events": 695, "tickets": 120, "rejected": 0}
    changes = report["changes"]
    assert changes, "a shorter B target must change something in the week"
    for g in changes:
        # Only B's first response differs between the policies, so nothing else may change,
        # and a shorter target never withdraws a decision nor moves one later.
        assert (g["clock"], g["priority"]) == ("first_response", "B"), g
        assert g["disappeared"] == 0 and g["moved_later"] == 0, g
        old, new = B_THRESHOLDS[(g["kind"], g["level"])]
        if g["moved"]:
            assert g["shift_seconds"] == {"min": new - old, "max": new - old}, g
        for items in g["examples"].values():
            assert len(items) <= 3
            ids = [x["ticket_id"] for x in items]
            assert ids == sorted(ids)
    # Per kind, the summary is the sum of the groups.
    for kind, counts in report["summary"].items():
        for change in ("appeared", "disappeared", "moved"):
            assert counts[change] == sum(g[change] for g in changes if g["kind"] == kind)
    # The baseline side is the worked example's expected set: 323 decisions.
    assert sum(report["baseline"]["standing"].values()) == 323
    # KPIs: every other clock is unchanged; first response only gets worse.
    may_change = {"sla.all.met", "sla.all.attainment", *(f"breaches.{lvl}" for lvl in LEVELS)}
    for name, row in report["kpis"]["all"].items():
        if (
            name in may_change
            or name.startswith("breaches.first_response.")
            or name
            in (
                "sla.first_response.met",
                "sla.first_response.attainment",
            )
        ):
            continue
        assert row["delta"] == 0, (name, row)
    fr = report["kpis"]["all"]["sla.first_response.attainment"]
    assert fr["delta"] < 0
    assert report["kpis"]["all"]["sla.first_response.due"]["delta"] == 0


def test_week_b_tickets_match_an_independent_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The week's tickets that are B all along, alone: every appeared and moved decision is
    counted from the response times in the file (no threshold ties with a stop in it)."""
    events = _read_week()
    tickets = _b_all_along(events)
    assert len(tickets) >= 10
    src = tmp_path / "b.jsonl"
    src.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events if e["ticket_id"] in tickets))
    elapsed = _first_response_seconds(events, tickets)
    code, report, _ = whatif_json(
        capsys, "--input", str(src), "--policy", str(B_FAST), "--until", UNTIL
    )
    assert code == 0
    got = {(g["kind"], g["level"]): g for g in report["changes"]}
    for grade, (old, new) in B_THRESHOLDS.items():
        appeared = sorted(t for t, s in elapsed.items() if new < s <= old)
        moved = sorted(t for t, s in elapsed.items() if s > old)
        g = got.get(grade, {"appeared": 0, "moved": 0, "examples": {}})
        assert (g["appeared"], g["moved"]) == (len(appeared), len(moved)), grade
        examples = g["examples"]
        assert [x["ticket_id"] for x in examples.get("appeared", [])] == appeared[:3]
        assert [x["ticket_id"] for x in examples.get("moved", [])] == moved[:3]
    assert sum(g["appeared"] for g in report["changes"]) > 0
    assert sum(g["moved"] for g in report["changes"]) > 0
    # Attainment of first response: met = no breach (under 300 s / under 120 s) of all cycles.
    due = len(elapsed)
    met_before = sum(1 for s in elapsed.values() if s < 300)
    met_after = sum(1 for s in elapsed.values() if s < 120)
    row = report["kpis"]["all"]["sla.first_response.attainment"]
    assert row["before"] == round(met_before / due, 6)
    assert row["after"] == round(met_after / due, 6)
    assert row["delta"] == round(met_after / due - met_before / due, 6)


def test_json_is_byte_identical_twice(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    runs = []
    for _ in range(2):
        assert (
            main(
                [
                    "whatif",
                    "--input",
                    str(WEEK),
                    "--policy",
                    str(B_FAST),
                    "--until",
                    UNTIL,
                    "--json",
                ]
            )
            == 0
        )
        runs.append(capsysbinary.readouterr().out)
    assert runs[0] == runs[1]
    assert len(runs[0]) > 1000
    # Keys are sorted at every level.
    top = list(orjson.loads(runs[0]))
    assert top == sorted(top)


# --------------------------------------------------------------------------------------------
# output, baseline, identical policies


def test_table_output_names_the_changes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = small_history(tmp_path)
    until = "2026-11-23T10:30:00+08:00"
    assert main(["whatif", "--input", str(src), "--policy", str(B_FAST), "--until", until]) == 0
    out = capsys.readouterr().out
    # T-B1 answered after 150 s: new warning at 60 s (10:01:00 = 02:01:00Z), breach at 120 s.
    assert "changes by clock, priority and grade" in out
    assert (
        "first_response B breach minor: appeared T-B1 (cycle 1) due 2026-11-23T02:02:00+00:00"
        in out
    )
    assert "first_response B warning: appeared T-B1 (cycle 1) due 2026-11-23T02:01:00+00:00" in out
    # first response attainment: T-A1 and T-B1 met (2/2) → T-A1 only (1/2).
    assert "sla.first_response.attainment" in out
    assert "1.0000 (2/2)" in out and "0.5000 (1/2)" in out and "-0.5000" in out


def test_identical_policies_report_no_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = small_history(tmp_path)
    args = ["--input", str(src), "--until", "2026-11-23T10:30:00+08:00"]
    code, report, _ = whatif_json(capsys, *args, "--policy", str(B_FAST), "--baseline", str(B_FAST))
    assert code == 0 and report["changes"] == []
    assert report["baseline"]["policy_version"] == report["new"]["policy_version"]
    assert main(["whatif", *args, "--policy", str(DEFAULT_POLICY)]) == 0
    assert "no differences" in capsys.readouterr().out


def test_baseline_option_swaps_the_direction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = small_history(tmp_path)
    code, report, _ = whatif_json(
        capsys,
        "--input",
        str(src),
        "--baseline",
        str(B_FAST),
        "--policy",
        str(DEFAULT_POLICY),
        "--until",
        "2026-11-23T10:30:00+08:00",
    )
    assert code == 0
    # Under the default policy T-B1's warning (60 s) and breach (120 s) are gone.
    assert [(g["kind"], g["disappeared"], g["appeared"]) for g in report["changes"]] == [
        ("warning", 1, 0),
        ("breach", 1, 0),
    ]


# --------------------------------------------------------------------------------------------
# rejects and errors


def test_rejected_lines_are_counted_and_not_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = small_history(tmp_path, b"not json", b'{"type": "created"}', b"")
    code, report, err = whatif_json(
        capsys, "--input", str(src), "--policy", str(B_FAST), "--until", "2026-11-23T10:30:00+08:00"
    )
    assert code == 0
    assert report["input"] == {"events": 4, "tickets": 2, "rejected": 2}
    assert "2 rejected" in err
    assert "rejected line 3: not JSON" in err
    assert "rejected line 4:" in err
    # The valid events were still evaluated: T-B1's breach appears.
    assert report["summary"]["breach"]["appeared"] == 1


def test_bad_policy_exits_2_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = small_history(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        B_FAST.read_text(encoding="utf-8").replace("calendar: 24x7", "calendar: 24x5", 1),
        encoding="utf-8",
    )
    assert main(["whatif", "--input", str(src), "--policy", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "the policy cannot be used" in err
    assert f"{bad}:" in err and "unknown calendar '24x5'" in err
    missing = tmp_path / "nope.yaml"
    assert (
        main(["whatif", "--input", str(src), "--policy", str(B_FAST), "--baseline", str(missing)])
        == 2
    )
    assert "cannot read the policy file" in capsys.readouterr().err


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.jsonl"
    assert main(["whatif", "--input", str(missing), "--policy", str(B_FAST)]) == 2
    err = capsys.readouterr().err
    assert "sla-engine whatif: cannot read the input" in err and "missing.jsonl" in err
    assert main(["whatif", "--input", str(tmp_path), "--policy", str(B_FAST)]) == 2
    assert "cannot read the input" in capsys.readouterr().err


def test_bad_arguments_are_usage_errors(tmp_path: Path) -> None:
    src = small_history(tmp_path)
    for extra in (["--examples", "-1"], ["--examples", "x"], ["--until", "2026-11-23T10:30:00"]):
        with pytest.raises(SystemExit) as exc:
            main(["whatif", "--input", str(src), "--policy", str(B_FAST), *extra])
        assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["whatif", "--input", str(src)])  # --policy is required
    assert exc.value.code == 2


def test_input_from_stdin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = small_history(tmp_path).read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, report, _ = whatif_json(
        capsys, "--input", "-", "--policy", str(B_FAST), "--until", "2026-11-23T10:30:00+08:00"
    )
    assert code == 0
    assert report["input"] == {"events": 4, "tickets": 2, "rejected": 0}
    assert report["summary"]["breach"]["appeared"] == 1
