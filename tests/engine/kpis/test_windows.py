"""Window arithmetic in the reporting zone: edges at local midnight, ISO weeks, month and
year ends, DST days, neighbours and labels (hand-computed instants)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.instant import to_us
from engine.kpis.windows import Windows

from .support import cst

SH = Windows("Asia/Shanghai")


def utc(*args: int) -> int:
    return to_us(datetime(*args, tzinfo=UTC))  # type: ignore[misc]


def test_an_instant_just_before_and_at_midnight_shanghai() -> None:
    last = to_us(cst(11, 30, 23, 59, 59, us=999_999))  # Monday 30 Nov, last µs
    first = last + 1  # Tuesday 1 Dec 00:00 +08:00 = 30 Nov 16:00 UTC
    assert first == utc(2026, 11, 30, 16)
    assert dict(SH.of(last)) == {
        "hour": utc(2026, 11, 30, 15),
        "day": utc(2026, 11, 29, 16),
        "week": utc(2026, 11, 29, 16),  # Monday 30 Nov starts ISO week 49
        "month": utc(2026, 10, 31, 16),
    }
    assert dict(SH.of(first)) == {
        "hour": utc(2026, 11, 30, 16),
        "day": utc(2026, 11, 30, 16),
        "week": utc(2026, 11, 29, 16),
        "month": utc(2026, 11, 30, 16),
    }


@pytest.mark.parametrize(
    ("unit", "start", "end", "label"),
    [
        ("hour", cst(11, 24, 9), cst(11, 24, 10), "2026-11-24T09"),
        ("day", cst(11, 24), cst(11, 25), "2026-11-24"),
        ("week", cst(11, 23), cst(11, 30), "2026-W48"),
        ("month", cst(11, 1), cst(12, 1), "2026-11"),
        ("month", cst(12, 1), cst(1, 1, year=2027), "2026-12"),
        ("month", cst(2, 1, year=2028), cst(3, 1, year=2028), "2028-02"),
        ("week", cst(12, 28), cst(1, 4, year=2027), "2026-W53"),  # 2026 has 53 ISO weeks
        ("day", cst(12, 31), cst(1, 1, year=2027), "2026-12-31"),
    ],
)
def test_window_bounds_and_labels(unit: str, start: datetime, end: datetime, label: str) -> None:
    s = to_us(start)
    assert SH.start(unit, s) == s
    assert SH.start(unit, to_us(end) - 1) == s
    assert SH.end(unit, s) == to_us(end)
    assert SH.label(unit, s) == label
    assert SH.describe(unit, s) == (start.isoformat(), end.isoformat(), label)


def test_ends_between_lists_day_week_and_month_ends() -> None:
    # From Sunday 29 Nov 12:00 to Tuesday 1 Dec 00:00 (inclusive): ends of Sunday (also of
    # week 48), of Monday (also of November).
    ends = SH.ends_between(to_us(cst(11, 29, 12)), to_us(cst(12, 1)))
    assert ends == [
        ("day", to_us(cst(11, 29)), to_us(cst(11, 30))),
        ("week", to_us(cst(11, 23)), to_us(cst(11, 30))),
        ("day", to_us(cst(11, 30)), to_us(cst(12, 1))),
        ("month", to_us(cst(11, 1)), to_us(cst(12, 1))),
    ]
    # The lower bound is exclusive, the upper inclusive.
    assert SH.ends_between(to_us(cst(11, 30)), to_us(cst(11, 30, 23))) == []
    assert SH.ends_between(to_us(cst(11, 30)), to_us(cst(11, 30))) == []
    only_days = Windows("Asia/Shanghai", ("hour", "day"))
    assert [u for u, _, _ in only_days.ends_between(to_us(cst(11, 29)), to_us(cst(12, 2)))] == [
        "day",
        "day",
        "day",
    ]


def test_previous_and_last_year() -> None:
    day = to_us(cst(11, 24))
    assert SH.previous("day", day) == to_us(cst(11, 23))
    assert SH.last_year("day", day) == to_us(cst(11, 24, year=2025))
    assert SH.next_year("day", to_us(cst(11, 24, year=2025))) == day
    assert SH.previous("month", to_us(cst(1, 1, year=2027))) == to_us(cst(12, 1))
    assert SH.last_year("week", to_us(cst(11, 23))) == to_us(cst(11, 24, year=2025))  # W48
    assert SH.last_year("week", to_us(cst(12, 28))) is None  # 2025 has no week 53
    assert SH.last_year("day", to_us(cst(2, 29, year=2028))) is None
    assert SH.last_year("hour", to_us(cst(11, 24, 9))) == to_us(cst(11, 24, 9, year=2025))


def test_a_dst_day_in_another_reporting_zone() -> None:
    berlin = Windows("Europe/Berlin")
    cet = timezone(timedelta(hours=1))
    start = to_us(datetime(2026, 10, 25, tzinfo=timezone(timedelta(hours=2))))  # CEST midnight
    assert berlin.start("day", start + 1) == start
    assert berlin.end("day", start) == to_us(datetime(2026, 10, 26, tzinfo=cet))
    assert berlin.end("day", start) - start == 25 * 3600 * 1_000_000
    # The two 02:00 wall hours of the fall-back are two hour windows.
    first = to_us(datetime(2026, 10, 25, 0, tzinfo=UTC))  # 02:00 CEST
    second = to_us(datetime(2026, 10, 25, 1, tzinfo=UTC))  # 02:00 CET
    assert berlin.start("hour", first + 5) == first
    assert berlin.start("hour", second + 5) == second
    assert berlin.label("hour", first) == berlin.label("hour", second) == "2026-10-25T02"
    assert dict(berlin.of(first + 5))["hour"] == first
    assert dict(berlin.of(second + 5))["hour"] == second
    assert dict(berlin.of(second + 5))["day"] == start


def test_unknown_unit() -> None:
    with pytest.raises(ValueError, match="unknown window unit"):
        Windows("Asia/Shanghai", ("fortnight",))
