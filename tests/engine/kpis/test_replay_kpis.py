"""`sla-engine replay --kpis`: every window's snapshot, valid against the published schema,
in a deterministic order and byte for byte the same on every run; and the policy's `kpis:`
section (defaults, errors with file and line)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from cli.main import main
from config.loader import DEFAULT_POLICY, PolicyError, compile_policy, load, parse
from engine.kpis.cells import DIMENSION_ORDER
from engine.kpis.windows import UNIT_ORDER
from schemas.outputs import KpiSnapshot
from tests.worked_week import WEEK

UNTIL = "2026-12-05T00:00:00+08:00"


def _replay(tmp_path: Path, name: str) -> bytes:
    out = tmp_path / f"{name}.jsonl"
    code = main(
        [
            "replay",
            "--input",
            str(WEEK),
            "--until",
            UNTIL,
            "--output",
            str(tmp_path / "a"),
            "--kpis",
            str(out),
        ]
    )
    assert code == 0
    return out.read_bytes()


def test_replay_writes_every_window_deterministically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _replay(tmp_path, "one")
    assert first == _replay(tmp_path, "two")
    lines = first.splitlines()
    snaps = [orjson.loads(line) for line in lines]
    for line in lines:
        KpiSnapshot.model_validate_json(line)
        assert line == orjson.dumps(orjson.loads(line), option=orjson.OPT_SORT_KEYS)
    order = [
        (
            UNIT_ORDER[s["window"]["unit"]],
            s["window"]["start"],
            DIMENSION_ORDER[s["dimension"]],
            s["key"],
        )
        for s in snaps
    ]
    assert order == sorted(order)
    assert len(set(order)) == len(order)
    units = {s["window"]["unit"] for s in snaps}
    assert units == {"hour", "day", "week", "month"}
    assert {s["dimension"] for s in snaps} == set(DIMENSION_ORDER)
    week = next(
        s for s in snaps if s["window"]["label"] == "2026-W48" and s["dimension"] == "overall"
    )
    # The worked example: 120 tickets created in week 48, every one answered.
    assert week["metrics"]["accepted"] == 120
    assert week["metrics"]["ttfr_count"] == 120
    assert week["final"] is True
    assert week["policy_version"] == load().version
    err = capsys.readouterr().err
    assert f"kpis: {len(snaps)} snapshots" in err


def test_the_default_policy_has_the_regulation_targets() -> None:
    k = load().kpis
    assert dict(k.targets) == {"resolution_rate": 0.9, "csat": 0.85, "complaint_24h_rate": 0.9}
    assert k.timezone == "Asia/Shanghai"
    assert k.units == ("hour", "day", "week", "month")
    assert k.grace_us == 86_400 * 1_000_000
    assert k.business_calendar is not None and k.business_calendar.name == "business-cn"
    assert k.complaint_within_us == 86_400 * 1_000_000
    assert (k.team_csat_below, k.team_csat_mode) == (0.15, "relative")


def _with_kpis(text: str) -> str:
    base = DEFAULT_POLICY.read_text(encoding="utf-8")
    return base[: base.index("\nkpis:")] + "\n" + text


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("kpis:\n  targets:\n    backlog: 0.5\n", "no target can be set for 'backlog'"),
        ("kpis:\n  targets:\n    csat: 1.5\n", "a target is a share in (0, 1]"),
        ("kpis:\n  business_calendar: nope\n", "unknown calendar 'nope'"),
        ("kpis:\n  backlog_age_bands: [3d, 1d]\n", "strictly increasing"),
        ("kpis:\n  windows: [day, day]\n", "each entry at most once"),
        ("kpis:\n  windows: [fortnight]\n", "kpis.windows[0]"),
        ("kpis:\n  team_csat_flag: {mode: ratio}\n", "kpis.team_csat_flag.mode"),
    ],
)
def test_bad_kpi_sections_name_the_line(section: str, message: str) -> None:
    text = _with_kpis(section)
    with pytest.raises(PolicyError) as err:
        parse(text, "p.yaml")
    line = text[: text.index("\nkpis:")].count("\n") + 2
    assert message in str(err.value)
    assert str(err.value).startswith("p.yaml:")
    assert int(str(err.value).split(":")[1]) >= line


def test_a_kpi_target_for_any_clock_attainment() -> None:
    text = _with_kpis("kpis:\n  targets:\n    sla.first_response.attainment: 0.95\n")
    policy = compile_policy(parse(text))
    assert dict(policy.kpis.targets) == {"sla.first_response.attainment": 0.95}
