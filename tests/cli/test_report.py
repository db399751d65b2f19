"""`sla-engine report`: the monthly table from hand-written KPI snapshots (expected numbers worked
out by hand), period filtering, the last-year column, the team flag, errors with exit codes and
line numbers, the self-contained and deterministic HTML, and one run on a real replay."""

from __future__ import annotations

import argparse
import base64
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli.main import main
from cli.report.charts import FLAG_COLOR, TEAM_COLOR
from cli.report.html import render_html
from cli.report.model import FlagRule, Row, kpi_rows, team_rows, trend_points
from cli.report.source import load_report, parse_period
from cli.report.text import fmt_change, fmt_gap, fmt_seconds

POLICY = "sha256:test0000000000"
TARGETS = {"complaint_24h_rate": 0.9, "csat": 0.85, "resolution_rate": 0.9}

# window bounds in the reporting zone (+08:00)
MONTHS = {
    "2026-11": ("2026-11-01", "2026-12-01"),
    "2026-10": ("2026-10-01", "2026-11-01"),
    "2025-11": ("2025-11-01", "2025-12-01"),
}
WEEKS = {  # ISO weeks: W44 starts in October, W49 ends in December
    "2026-W40": ("2026-09-28", "2026-10-05"),
    "2026-W44": ("2026-10-26", "2026-11-02"),
    "2026-W45": ("2026-11-02", "2026-11-09"),
    "2026-W48": ("2026-11-23", "2026-11-30"),
    "2026-W49": ("2026-11-30", "2026-12-07"),
    "2026-W50": ("2026-12-07", "2026-12-14"),
}


def snap(
    label: str,
    metrics: dict[str, Any],
    *,
    dimension: str = "overall",
    key: str = "all",
    flags: tuple[str, ...] = (),
    last_year: dict[str, Any] | None = None,
    final: bool = True,
    bounds: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A KPI snapshot as `replay --kpis` writes it; gaps from the default targets."""
    unit = "week" if "-W" in label else "day" if len(label) == 10 else "month"
    start, end = bounds or (WEEKS if unit == "week" else MONTHS)[label]
    gaps = {
        name: round(metrics[name] - t, 6) if isinstance(metrics.get(name), float) else None
        for name, t in TARGETS.items()
    }
    window = {
        "unit": unit,
        "start": f"{start}T00:00:00+08:00",
        "end": f"{end}T00:00:00+08:00",
        "label": label,
    }
    return {
        "window": window,
        "dimension": dimension,
        "key": key,
        "metrics": metrics,
        "targets": TARGETS,
        "gaps": gaps,
        "flags": sorted(flags),
        "previous": None,
        "last_year": None
        if last_year is None
        else {"label": last_year["label"], "start": last_year["start"], "metrics": last_year["m"]},
        "final": final,
        "as_of": "2026-12-10T00:00:00+08:00",
        "policy_version": POLICY,
    }


NOV = {
    "accepted": 200,
    "resolved": 160,
    "resolution_rate": 0.8,
    "fcr_rate": 0.75,
    "reopen_rate": 0.05,
    "csat": 0.9,
    "complaint_24h_rate": 0.95,
    "records.completeness": 0.98,
    "surveys.participation": 0.5,
    "surveys.counted": 40,
    "complaints": 20,
    "sla.all.attainment": 0.7,
    "sla.first_response.attainment": 0.6,
    "sla.resolution.attainment": 0.8,
    "ttfr_wall_mean_s": 90.0,
    "ttfr_wall_p90_s": 300.0,
    "ttr_business_mean_s": 7200.0,
    "ttr_business_p90_s": 18000.0,
    "ttr_wall_mean_s": 86400.0,
    "ttr_wall_p90_s": 259200.0,
    "breaches.minor": 12,
    "breaches.moderate": 5,
    "breaches.severe": 2,
    "breaches.first_response.minor": 10,
    "breaches.first_response.moderate": 5,
    "breaches.resolution.minor": 2,
    "breaches.resolution.severe": 2,
    "exemptions": 1,
    "appeals_overturned": 0,
    "backlog": 30,
}
NOV_LAST_YEAR = {
    "label": "2025-11",
    "start": "2025-11-01T00:00:00+08:00",
    "m": {"resolution_rate": 0.75, "csat": 0.8, "accepted": 160, "breaches.minor": 16},
}
OCT = {**NOV, "resolution_rate": 0.11, "csat": 0.22, "accepted": 999}


def team(name: str, csat: float, counted: int, flagged: bool = False) -> dict[str, Any]:
    metrics = {
        "accepted": 50,
        "resolution_rate": 0.8,
        "csat": csat,
        "surveys.counted": counted,
        "sla.all.attainment": 0.7,
        "csat_teams_mean": 0.8,
    }
    flags = ("csat_below_team_mean",) if flagged else ()
    return snap("2026-11", metrics, dimension="team", key=name, flags=flags)


def standard() -> list[dict[str, Any]]:
    """Nov 2026 with last year's comparison, two teams (team-b flagged), the weeks around it,
    and October 2026 (with a flagged team) that must not leak into the report."""
    return [
        snap("2026-W40", {"accepted": 7, "resolution_rate": 0.01}),
        snap("2026-10", OCT),
        snap("2026-10", OCT, dimension="team", key="team-z", flags=("csat_below_team_mean",)),
        snap("2026-W44", {"accepted": 10, "resolution_rate": 0.5, "csat": 0.6}),
        snap("2026-W45", {"accepted": 50, "resolution_rate": 0.85, "sla.all.attainment": 0.72}),
        snap("2026-W49", {"accepted": 20, "resolution_rate": 1.2, "csat": None}),
        snap("2026-W50", {"accepted": 8, "resolution_rate": 0.02}),
        snap("2026-11", NOV, last_year=NOV_LAST_YEAR),
        team("team-a", 0.95, 20),
        team("team-b", 0.65, 20, flagged=True),
        snap("2026-11", {"accepted": 5}, dimension="agent", key="a-1"),
    ]


def write(path: Path, snaps: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in snaps))
    return path


@pytest.fixture
def kpis(tmp_path: Path) -> Path:
    return write(tmp_path / "kpis.jsonl", standard())


def rows_by_metric(path: Path, period: str = "2026-11") -> dict[str, Row]:
    return {r.metric: r for r in kpi_rows(load_report(str(path), parse_period(period)))}


def line_of(text: str, start: str) -> str:
    """The table line whose first cell starts with `start`."""
    found = [ln for ln in text.splitlines() if re.match(rf"\W*\s*{re.escape(start)}", ln)]
    assert found, f"no line for {start!r} in:\n{text}"
    return found[0]


# --------------------------------------------------------------------------------------------
# the table


def test_rows_value_last_year_target_gap_status(kpis: Path) -> None:
    rows = rows_by_metric(kpis)
    rr = rows["resolution_rate"]
    assert (rr.value, rr.last_year, rr.target) == (0.8, 0.75, 0.9)
    assert rr.gap == pytest.approx(-0.1)  # 0.8 - 0.9
    assert rr.status == "below target"
    assert rr.change == pytest.approx(0.05)  # +5 points on last year
    csat = rows["csat"]
    assert csat.gap == pytest.approx(0.05) and csat.status == "met"
    assert rows["fcr_rate"].target is None and rows["fcr_rate"].status == ""
    assert rows["breaches.minor"].change == pytest.approx(12 / 16 - 1)  # -25 %
    # the clocks with data in the snapshot, policy order given
    clocks = [m for m in rows if m.startswith("sla.") and m != "sla.all.attainment"]
    assert clocks == ["sla.first_response.attainment", "sla.resolution.attainment"]


def test_terminal_table(kpis: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--input", str(kpis), "--period", "2026-11"]) == 0
    out = capsys.readouterr().out
    rr = line_of(out, "Resolution rate")
    for cell in ("80.0 %", "75.0 %", ">= 90.0 %", "-10.0 pp", "+5.0 pp", "below target"):
        assert cell in rr, rr
    csat = line_of(out, "CSAT")
    for cell in ("90.0 %", "80.0 %", ">= 85.0 %", "+5.0 pp", "+10.0 pp", "met"):
        assert cell in csat, csat
    assert "1.5 min" in line_of(out, "First response, mean")  # 90 s
    assert "2.0 h" in line_of(out, "Resolution, mean (business")  # 7200 business seconds
    assert "3.0 d" in line_of(out, "Resolution, p90 (wall")  # 259200 s
    assert "-25 %" in line_of(out, "Minor")  # 12 vs 16 last year
    assert "2025-11" in out
    by_clock = line_of(out.split("by clock")[1], "First response")
    assert re.search(r"10\s+│\s+5\s+│\s+0\s+│\s+15", by_clock), by_clock


def test_last_year_comes_from_the_file_when_the_comparison_lacks_it(tmp_path: Path) -> None:
    snaps = [
        snap("2025-11", {"ttfr_wall_p90_s": 120.0, "resolution_rate": 0.5, "csat": 0.5}),
        snap("2026-11", NOV, last_year=NOV_LAST_YEAR),
    ]
    rows = rows_by_metric(write(tmp_path / "k.jsonl", snaps))
    assert rows["ttfr_wall_p90_s"].last_year == 120.0  # not in the comparison: the file's
    assert rows["resolution_rate"].last_year == 0.75  # the comparison wins where it has it
    # without a comparison at all, the file's snapshot of last year is used
    snaps[1] = snap("2026-11", NOV)
    rows = rows_by_metric(write(tmp_path / "k.jsonl", snaps))
    assert rows["resolution_rate"].last_year == 0.5
    assert rows["csat"].change == pytest.approx(0.4)


def test_no_last_year_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "k.jsonl", [snap("2026-11", NOV)])
    assert rows_by_metric(path)["csat"].last_year is None
    assert main(["report", "--input", str(path), "--period", "2026-11"]) == 0
    assert "No data for the same period last year (2025-11)" in capsys.readouterr().out


def test_other_periods_are_not_used(kpis: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = load_report(str(kpis), parse_period("2026-11"))
    assert data.overall.metrics["accepted"] == 200
    assert [t.key for t in data.teams] == ["team-a", "team-b"]  # not October's team-z
    points = trend_points(data)
    assert [p.label for p in points] == ["2026-W44", "2026-W45", "2026-W49"]  # not W40, W50
    assert [p.partial for p in points] == [True, False, True]
    assert main(["report", "--input", str(kpis), "--period", "2026-11"]) == 0
    out = capsys.readouterr().out
    assert "team-z" not in out and "999" not in out and "11.0 %" not in out
    assert "2026-W40" not in out and "2026-W50" not in out
    assert "2026-W44 *" in out and "reaches outside the period" in out


def test_a_later_snapshot_of_the_same_window_wins(tmp_path: Path) -> None:
    old = snap("2026-11", {**NOV, "accepted": 1})
    old["as_of"] = "2026-12-10T00:00:00+09:00"  # later as text, an hour earlier as an instant
    new = snap("2026-11", NOV)  # as_of 2026-12-10
    for order in ([old, new], [new, old]):
        data = load_report(str(write(tmp_path / "k.jsonl", order)), parse_period("2026-11"))
        assert data.overall.metrics["accepted"] == 200


def test_flagged_team(kpis: Path, capsys: pytest.CaptureFixture[str]) -> None:
    teams = {t.team: t for t in team_rows(load_report(str(kpis), parse_period("2026-11")))}
    assert teams["team-b"].flagged and not teams["team-a"].flagged
    assert teams["team-b"].vs_mean == pytest.approx(0.65 / 0.8 - 1)  # -18.75 %
    assert main(["report", "--input", str(kpis), "--period", "2026-11"]) == 0
    out = capsys.readouterr().out
    assert "FLAGGED" in line_of(out, "team-b") and "-18.8 %" in line_of(out, "team-b")
    assert "FLAGGED" not in line_of(out, "team-a")
    assert "15 % or more below the teams' mean" in out


def test_provisional_window_is_said(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "k.jsonl", [snap("2026-11", NOV, final=False)])
    assert main(["report", "--input", str(path), "--period", "2026-11"]) == 0
    assert "Provisional" in capsys.readouterr().out


def test_iso_week_period(kpis: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    days = [
        snap(d, {"accepted": 3, "resolution_rate": 1.0}, bounds=(d, e))
        for d, e in (
            ("2026-11-22", "2026-11-23"),
            ("2026-11-23", "2026-11-24"),
            ("2026-11-29", "2026-11-30"),
        )
    ]
    path = write(tmp_path / "w.jsonl", [snap("2026-W48", NOV), *days])
    data = load_report(str(path), parse_period("2026-W48"))
    assert [p.label for p in trend_points(data)] == ["2026-11-23", "2026-11-29"]
    assert main(["report", "--input", str(path), "--period", "2026-W48"]) == 0
    out = capsys.readouterr().out
    assert "ISO week report 2026-W48" in out and "2025-W48" in out


def test_parse_period() -> None:
    assert parse_period("2026-11").last_year_label == "2025-11"
    assert parse_period("2026-W48").last_year_label == "2025-W48"
    assert parse_period("2026-W48").sub_unit == "day"
    for bad in ("2026-13", "2026-1", "2026-11-01", "2025-W53", "nov"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_period(bad)
    assert parse_period("2026-W53").unit == "week"  # 2026 has 53 ISO weeks


def test_formats() -> None:
    assert fmt_seconds(45) == "45 s"
    assert fmt_seconds(600) == "10.0 min"
    assert fmt_seconds(3 * 86400) == "3.0 d"
    assert fmt_seconds(3 * 86400, business=True) == "72.0 h"
    row = Row("s", "x", "x", "rate", 0.9, 0.90004, 0.9, -0.00001)
    assert fmt_gap(row) == "+0.0 pp" and fmt_change(row) == "+0.0 pp"  # never "-0.0"


# --------------------------------------------------------------------------------------------
# errors


def run_report(
    path: Path, capsys: pytest.CaptureFixture[str], period: str = "2026-11"
) -> tuple[int, str]:
    code = main(["report", "--input", str(path), "--period", period])
    return code, capsys.readouterr().err


def test_period_not_in_file(kpis: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_report(kpis, capsys, "2024-05")
    assert code == 1
    assert "no overall snapshot of month 2024-05" in err
    assert "2026-10, 2026-11" in err  # what the file has


def test_not_json_names_the_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "k.jsonl"
    path.write_bytes(orjson.dumps(snap("2026-11", NOV)) + b"\n\n{oops\n")
    code, err = run_report(path, capsys)
    assert code == 2 and f"{path}:3: not JSON" in err


def test_alerts_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_bytes(orjson.dumps({"alert_id": "x", "ticket_id": "T1", "kind": "breach"}) + b"\n")
    code, err = run_report(path, capsys)
    assert code == 2
    assert f"{path}:1: not a KPI snapshot: no window, dimension, key, metrics" in err
    assert "alerts file" in err


def test_invalid_snapshot_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = snap("2026-11", {**NOV, "csat": "high"})
    path = write(tmp_path / "k.jsonl", [snap("2026-10", OCT), bad])
    code, err = run_report(path, capsys)
    assert code == 2 and f"{path}:2: not a valid KPI snapshot: metrics.csat" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), (b"", "no KPI snapshots"), (b"[1, 2]\n", "not a KPI snapshot")],
)
def test_unusable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    path = tmp_path / "k.jsonl"
    if content is not None:
        path.write_bytes(content)
    code, err = run_report(path, capsys)
    assert code == 2 and message in err


def test_html_not_writable(kpis: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "missing-dir" / "r.html"
    args = ["report", "--input", str(kpis), "--period", "2026-11", "--html", str(out)]
    assert main(args) == 2
    assert "cannot write" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------
# HTML


def charts(page: str) -> dict[str, str]:
    """alt text -> decoded SVG of every inline chart."""
    pattern = r'<img alt="([^"]+)" src="data:image/svg\+xml;base64,([^"]+)"'
    return {alt: base64.b64decode(data).decode() for alt, data in re.findall(pattern, page)}


def test_html_self_contained_with_charts(kpis: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    args = ["report", "--input", str(kpis), "--period", "2026-11", "--html", str(out)]
    assert main(args) == 0
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import|<script|<link", page, re.I)
    found = charts(page)
    assert sorted(found) == [
        "Bar chart: CSAT by team, flagged teams highlighted",
        "Bar chart: breaches by clock and level",
        "Bar chart: breaches by level",
        "Line chart: resolution rate, CSAT and SLA attainment by week",
    ]
    for svg in found.values():
        assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
        assert "http://www.w3.org/2000/svg" in svg  # a namespace, never fetched
    trend = found["Line chart: resolution rate, CSAT and SLA attainment by week"]
    for metric in ("resolution_rate", "csat", "sla.all.attainment"):
        assert f'id="trend-{metric}"' in trend
    # the table, as in the terminal
    rr = re.search(r'<tr data-metric="resolution_rate">(.*?)</tr>', page)
    assert rr is not None
    cells = re.findall(r"<td[^>]*>(.*?)</td>", rr[1])
    expected = ["Resolution rate", "80.0 %", "75.0 %", "≥ 90.0 %", "-10.0 pp", "+5.0 pp"]
    assert cells == [*expected, "below target"]
    assert "team-z" not in page


def svg_group(svg: str, gid: str) -> str:
    m = re.search(rf'<g id="{re.escape(gid)}">(.*?)</g>', svg, re.S)
    assert m is not None, f"no element {gid}"
    return m[1]


def bar_fill(svg: str, gid: str) -> str:
    """The fill of a bar: its colour, or the hatch pattern's definition (it holds the colour)."""
    bar = svg_group(svg, gid)
    hatch = re.search(r"fill: url\(#(\w+)\)", bar)
    if hatch is None:
        return bar
    m = re.search(rf'<pattern id="{hatch[1]}".*?</pattern>', svg, re.S)
    assert m is not None
    return m[0]


def test_html_flags_teams(kpis: Path) -> None:
    data = load_report(str(kpis), parse_period("2026-11"))
    page = render_html(data, (), FlagRule(0.15, "relative", POLICY)).decode()
    assert re.search(r'<tr class="flagged" data-team="team-b">', page)
    assert '<tr data-team="team-a">' in page
    svg = charts(page)["Bar chart: CSAT by team, flagged teams highlighted"]
    assert FLAG_COLOR in bar_fill(svg, "team-bar-team-b")
    assert TEAM_COLOR in bar_fill(svg, "team-bar-team-a")
    assert FLAG_COLOR not in bar_fill(svg, "team-bar-team-a")
    for gid in ("csat-target", "teams-mean", "flag-line"):
        svg_group(svg, gid)
    # a flag line from another policy than the snapshots' is said
    other = render_html(data, (), FlagRule(0.15, "relative", "sha256:other")).decode()
    assert "The team flag line is drawn from policy sha256:other" in other
    assert "The team flag line" not in page


def test_html_is_deterministic(kpis: Path, tmp_path: Path) -> None:
    data = load_report(str(kpis), parse_period("2026-11"))
    assert render_html(data, ("resolution",)) == render_html(data, ("resolution",))
    # and across processes (another hash seed)
    first, second = tmp_path / "1.html", tmp_path / "2.html"
    args = ["report", "--input", str(kpis), "--period", "2026-11", "--html"]
    assert main([*args, str(first)]) == 0
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "cli.main", *args, str(second)]
    subprocess.run(cmd, check=True, env=env, capture_output=True, cwd=root)
    assert first.read_bytes() == second.read_bytes()


# --------------------------------------------------------------------------------------------
# on a real replay


def test_on_a_replay_of_the_demo_week(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    demo = Path(__file__).resolve().parents[2] / "cli" / "data" / "demo-events.jsonl"
    kpis = tmp_path / "k.jsonl"
    args = ["replay", "--input", str(demo), "--until", "2026-12-10T00:00:00+08:00"]
    assert main([*args, "--output", str(tmp_path / "a.jsonl"), "--kpis", str(kpis)]) == 0
    capsys.readouterr()
    month = next(
        s
        for s in map(orjson.loads, kpis.read_bytes().splitlines())
        if s["window"]["label"] == "2026-11" and s["dimension"] == "overall"
    )
    html = tmp_path / "r.html"
    assert main(["report", "--input", str(kpis), "--period", "2026-11", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    rate = month["metrics"]["resolution_rate"]
    assert f"{rate * 100:.1f} %" in line_of(out, "Resolution rate")
    assert f"{month['metrics']['accepted']:,}" in line_of(out, "Accepted")
    assert len(charts(html.read_text(encoding="utf-8"))) == 4
