"""The charts of the HTML report: matplotlib SVGs with text drawn as paths (no font is fetched),
deterministic (a fixed SVG hash salt per chart, no dates in the SVG metadata)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from cli.report.model import (
    LEVELS,
    TREND_METRICS,
    FlagRule,
    TeamRow,
    TrendPoint,
    breaches_by_clock,
    clock_title,
    last_year_label,
    last_year_value,
    trend_points,
)
from cli.report.source import ReportData

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.container import BarContainer
    from matplotlib.figure import Figure


TREND_COLORS = {"resolution_rate": "#1f6fb4", "csat": "#e8710a", "sla.all.attainment": "#2a9d3c"}
LEVEL_COLORS = {"minor": "#f2c94c", "moderate": "#f2994a", "severe": "#c62828"}
TEAM_COLOR, FLAG_COLOR = "#5b8fc9", "#d64541"
NOW_COLOR, LAST_YEAR_COLOR = "#34495e", "#b0bec5"


# --------------------------------------------------------------------------------------------
# charts


@contextmanager
def _chart(salt: str, width: float, height: float) -> Iterator[tuple[Figure, list[str]]]:
    """A matplotlib figure drawn with fixed settings; the SVG lands in the yielded list."""
    import matplotlib
    from matplotlib.figure import Figure

    out: list[str] = []
    with matplotlib.rc_context(
        {
            "svg.hashsalt": f"sla-report-{salt}",  # stable ids (clip paths…), unique per chart
            "svg.fonttype": "path",  # text as outlines: no font needed by the viewer
            "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
        }
    ):
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        yield fig, out
        buf = io.StringIO()
        fig.savefig(
            buf,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    text = buf.getvalue()
    out.append(text[text.index("<svg") :])


def _percent_axis(axis: Axis) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0, decimals=0, symbol=" %"))


def _tick_label(p: TrendPoint, sub_unit: str) -> str:
    last = p.end - timedelta(microseconds=1)
    if sub_unit == "week":
        return f"{p.label[5:]}\n{p.start:%d %b}-{last:%d %b}"
    return f"{p.start:%a}\n{p.start:%d %b}"


def trend_chart(data: ReportData) -> str | None:
    """Resolution rate, CSAT and SLA attainment per week of the month (day of the week), with
    the targets as dashed lines; sub-windows reaching outside the period are shaded. The values
    are in the table under it (labels on three close lines would overlap)."""
    points = trend_points(data)
    if not points:
        return None
    targets = data.overall.targets
    sub = data.period.sub_unit
    with _chart("trend", 10, 4.2) as (fig, out):
        ax = fig.subplots()
        xs = list(range(len(points)))
        for i, p in enumerate(points):
            if p.partial:
                ax.axvspan(i - 0.5, i + 0.5, color="#dfe4e8", zorder=0, lw=0)
        for metric, title in TREND_METRICS:
            color = TREND_COLORS[metric]
            ys = [None if p.empty else p.values[metric] for p in points]  # no volume: no point
            ax.plot(
                xs,
                [float("nan") if y is None else y for y in ys],
                marker="o",
                color=color,
                lw=2,
                label=title,
                gid=f"trend-{metric}",
            )
            if metric in targets:
                ax.axhline(
                    targets[metric],
                    color=color,
                    ls="--",
                    lw=1,
                    label=f"{title} target {targets[metric] * 100:.0f} %",
                )
        ax.set_xticks(xs, [_tick_label(p, sub) for p in points])
        ax.set_xlim(-0.5, len(points) - 0.5)
        # resolved / accepted exceeds 100 % when a window resolves earlier windows' tickets
        top = max([1.0, *(v for p in points for v in p.values.values() if v is not None)])
        ax.set_ylim(0, top * 1.08)
        _percent_axis(ax.yaxis)
        ax.grid(axis="y", color="#e0e0e0", lw=0.8)
        ax.set_axisbelow(True)
        ax.set_title(f"Trend by {sub}, {data.period.label}")
        handles, labels = ax.get_legend_handles_labels()
        if any(p.partial for p in points):
            from matplotlib.patches import Patch

            handles.append(Patch(color="#dfe4e8"))
            labels.append(f"{sub} reaches outside {data.period.label}")
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
    return out[0]


def team_chart(data: ReportData, teams: Sequence[TeamRow], rule: FlagRule) -> str | None:
    """CSAT per team as bars; flagged teams (the snapshot's `csat_below_team_mean`) in red and
    hatched; the CSAT target, the teams' mean and the flag line as vertical lines."""
    if not teams:
        return None
    target = data.overall.targets.get("csat")
    mean = next((t.teams_mean for t in teams if t.teams_mean is not None), None)
    with _chart("teams", 10, max(2.8, 0.42 * len(teams) + 1.9)) as (fig, out):
        ax = fig.subplots()
        ys = list(range(len(teams)))
        for y, t in zip(ys, teams, strict=True):
            if t.csat is None:
                ax.text(0.005, y, "no counted surveys", va="center", fontsize=9, color="#757575")
                continue
            ax.barh(
                y,
                t.csat,
                gid=f"team-bar-{t.team}",
                height=0.62,
                color=FLAG_COLOR if t.flagged else TEAM_COLOR,
                hatch="//" if t.flagged else None,
                edgecolor="white",
            )
            n = "" if t.surveys is None else f"  n={t.surveys:,.0f}"
            ax.text(
                t.csat + 0.008,
                y,
                f"{t.csat * 100:.1f} %{n}" + ("   FLAGGED" if t.flagged else ""),
                va="center",
                fontsize=9,
                color=FLAG_COLOR if t.flagged else "#263238",
                fontweight="bold" if t.flagged else "normal",
            )
        if target is not None:
            ax.axvline(
                target,
                color="#2a9d3c",
                ls="--",
                lw=1.5,
                label=f"target {target * 100:.0f} %",
                gid="csat-target",
            )
        if mean is not None:
            ax.axvline(
                mean,
                color="#263238",
                lw=1.2,
                label=f"teams' mean {mean * 100:.1f} %",
                gid="teams-mean",
            )
            bar = rule.threshold(mean)
            ax.axvline(
                bar,
                color=FLAG_COLOR,
                ls=":",
                lw=1.8,
                label=f"flag line {bar * 100:.1f} % ({rule.describe()})",
                gid="flag-line",
            )
        ax.set_yticks(ys, [t.team for t in teams])
        ax.invert_yaxis()
        ax.set_xlim(0, 1.0)
        _percent_axis(ax.xaxis)
        ax.grid(axis="x", color="#e0e0e0", lw=0.8)
        ax.set_axisbelow(True)
        ax.set_title(f"CSAT by team, {data.period.label}")
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
    return out[0]


def _count_axis(axis: Axis) -> None:
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _bar_labels(ax: Axes, bars: BarContainer) -> None:
    ax.bar_label(bars, labels=[f"{b.get_height():,.0f}" for b in bars], padding=2, fontsize=9)


def level_chart(data: ReportData) -> str:
    """Breaches and escalations by level, this period next to the same period last year."""
    m = data.overall.metrics
    now = [float(m.get(f"breaches.{lv}") or 0) for lv in LEVELS]
    before = [last_year_value(data, f"breaches.{lv}") for lv in LEVELS]
    has_before = any(v is not None for v in before)
    with _chart("levels", 5.4, 4.0) as (fig, out):
        ax = fig.subplots()
        xs = list(range(len(LEVELS)))
        width = 0.38 if has_before else 0.6
        if has_before:
            old = ax.bar(
                [x - width / 2 for x in xs],
                [v or 0 for v in before],
                width,
                color=LAST_YEAR_COLOR,
                label=last_year_label(data),
            )
            _bar_labels(ax, old)
        cur = ax.bar(
            [x + width / 2 for x in xs] if has_before else xs,
            now,
            width,
            color=NOW_COLOR,
            label=data.period.label,
        )
        _bar_labels(ax, cur)
        ax.set_xticks(xs, ["minor\n(limit)", "moderate\n(150 %)", "severe\n(200 %)"])
        ax.set_ylabel("breaches and escalations")
        _count_axis(ax.yaxis)
        ax.margins(y=0.15)
        ax.grid(axis="y", color="#e0e0e0", lw=0.8)
        ax.set_axisbelow(True)
        ax.set_title("Breaches by level")
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return out[0]


def clock_chart(data: ReportData, clock_order: Sequence[str]) -> str | None:
    """Breaches and escalations per clock, stacked by level."""
    rows = breaches_by_clock(data.overall, clock_order)
    if not rows:
        return None
    with _chart("clocks", 5.4, max(4.0, 0.45 * len(rows) + 2.0)) as (fig, out):
        ax = fig.subplots()
        ys = list(range(len(rows)))
        left = [0.0] * len(rows)
        for lv in LEVELS:
            vals = [float(c[lv]) for _, c in rows]
            ax.barh(ys, vals, left=left, color=LEVEL_COLORS[lv], label=lv, height=0.62)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        for y, total in zip(ys, left, strict=True):
            ax.text(total, y, f" {total:,.0f}", va="center", fontsize=9)
        ax.set_yticks(ys, [clock_title(c) for c, _ in rows])
        ax.invert_yaxis()
        ax.margins(x=0.15)
        ax.set_xlabel("breaches and escalations")
        _count_axis(ax.xaxis)
        ax.grid(axis="x", color="#e0e0e0", lw=0.8)
        ax.set_axisbelow(True)
        ax.set_title("Breaches by clock")
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
    return out[0]


# --------------------------------------------------------------------------------------------
