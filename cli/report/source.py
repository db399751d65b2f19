"""The input of `sla-engine report`: the period asked for and the KPI snapshots of it, read and
validated from the JSONL that `sla-engine replay --kpis` writes."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from schemas.outputs import KpiSnapshot

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


class ReportError(Exception):
    """A report that cannot be made; `code` is the process exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------
# the period


@dataclass(frozen=True)
class Period:
    """The reported window (the engine's window label) and where its comparisons live."""

    unit: Literal["month", "week"]
    label: str
    last_year_label: str

    @property
    def sub_unit(self) -> Literal["week", "day"]:
        """The windows of the trend chart: weeks of a month, days of a week."""
        return "week" if self.unit == "month" else "day"

    @property
    def noun(self) -> str:
        return "month" if self.unit == "month" else "ISO week"


def parse_period(text: str) -> Period:
    """`2026-11` (a month) or `2026-W48` (an ISO week); argparse type."""
    if m := _MONTH.fullmatch(text):
        year, month = int(m[1]), m[2]
        return Period("month", text, f"{year - 1:04d}-{month}")
    if m := _WEEK.fullmatch(text):
        year, week = int(m[1]), int(m[2])
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: {year} has no ISO week {week}") from None
        return Period("week", text, f"{year - 1:04d}-W{week:02d}")
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a period; use a month (2026-11) or an ISO week (2026-W48)"
    )


# --------------------------------------------------------------------------------------------
# reading the snapshots


@dataclass
class ReportData:
    """The snapshots one report needs, validated."""

    period: Period
    source: str
    overall: KpiSnapshot
    teams: list[KpiSnapshot]
    last_year: KpiSnapshot | None  # the overall snapshot of last year's window, if in the file
    trend: list[KpiSnapshot]  # overall snapshots of the sub-windows overlapping the period
    snapshots_read: int = 0


_REQUIRED = (("window", dict), ("dimension", str), ("key", str), ("metrics", dict))


def _shape_problem(obj: Any) -> str | None:
    """Why a decoded line is not a KPI snapshot (cheap check run on every line), or None."""
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not an object"
    missing = [name for name, kind in _REQUIRED if not isinstance(obj.get(name), kind)]
    if missing:
        hint = " (an alerts file?)" if "alert_id" in obj else ""
        return f"no {', '.join(missing)}{hint}"
    window = obj["window"]
    if not isinstance(window.get("unit"), str) or not isinstance(window.get("label"), str):
        return "window has no unit or label"
    return None


def _validate(obj: dict[str, Any], where: str) -> KpiSnapshot:
    try:
        return KpiSnapshot.model_validate(obj)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(line)"
        raise ReportError(f"{where}: not a valid KPI snapshot: {loc}: {first['msg']}") from None


def _as_of(obj: dict[str, Any]) -> datetime:
    """A snapshot's stream-time clock (the earliest instant when missing or unreadable)."""
    try:
        return datetime.fromisoformat(obj["as_of"])
    except (KeyError, TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


@dataclass
class _Pick:
    """The newest snapshot seen per (unit, label, dimension, key): a file holding two replays
    of the same window reports the later `as_of` (the later line on a tie)."""

    chosen: dict[tuple[str, str, str, str], tuple[str, dict[str, Any]]] = field(
        default_factory=dict
    )

    def offer(self, where: str, obj: dict[str, Any]) -> None:
        w = obj["window"]
        key = (w["unit"], w["label"], obj["dimension"], obj["key"])
        old = self.chosen.get(key)
        if old is None or _as_of(obj) >= _as_of(old[1]):
            self.chosen[key] = (where, obj)

    def validated(self) -> dict[tuple[str, str, str, str], KpiSnapshot]:
        return {k: _validate(obj, where) for k, (where, obj) in sorted(self.chosen.items())}


def load_report(path: str, period: Period) -> ReportData:
    """Read a KPI snapshot file and keep the snapshots of `period`'s report. Every line is
    checked to be a snapshot; only the kept ones are fully validated (a replay of a year
    writes hundreds of thousands of hour and agent snapshots)."""
    name = Path(path).name
    wanted = {(period.unit, period.label), (period.unit, period.last_year_label)}
    pick = _Pick()
    labels: set[str] = set()
    count = 0
    try:
        with Path(path).open("rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                where = f"{path}:{n}"
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as e:
                    raise ReportError(f"{where}: not JSON ({e})") from None
                problem = _shape_problem(obj)
                if problem is not None:
                    raise ReportError(f"{where}: not a KPI snapshot: {problem}")
                count += 1
                unit, label = obj["window"]["unit"], obj["window"]["label"]
                dim = obj["dimension"]
                if dim not in ("overall", "team"):
                    continue
                if unit == period.unit and dim == "overall":
                    labels.add(label)
                if (unit, label) in wanted or (unit == period.sub_unit and dim == "overall"):
                    pick.offer(where, obj)
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror}") from None
    if count == 0:
        raise ReportError(f"{path}: no KPI snapshots in the file")
    snaps = pick.validated()
    overall = snaps.get((period.unit, period.label, "overall", "all"))
    if overall is None:
        have = sorted(labels)
        listed = ", ".join(have[-24:]) if have else "none"
        raise ReportError(
            f"{name} has no overall snapshot of {period.noun} {period.label} "
            f"({period.noun}s in the file: {listed})",
            code=1,
        )
    teams = [
        s
        for (u, lab, dim, _), s in snaps.items()
        if (u, lab, dim) == (period.unit, period.label, "team")
    ]
    start, end = overall.window.start, overall.window.end
    trend = sorted(
        (
            s
            for (u, _, dim, _), s in snaps.items()
            if u == period.sub_unit
            and dim == "overall"
            and s.window.start < end
            and s.window.end > start
        ),
        key=lambda s: s.window.start,
    )
    return ReportData(
        period=period,
        source=name,
        overall=overall,
        teams=teams,
        last_year=snaps.get((period.unit, period.last_year_label, "overall", "all")),
        trend=trend,
        snapshots_read=count,
    )
