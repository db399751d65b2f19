"""Calendars as expressive as the ticketing suites': hours per weekday, special dates, breaks,
subtraction. Every expected instant is worked out by hand in the comments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from engine.calendar import (
    Calendar,
    add,
    add_us,
    blocks,
    day_hours,
    elapsed,
    elapsed_us,
    is_working_day,
    subtract,
    subtract_us,
)
from engine.instant import US_PER_S
from tests.engine.test_calendar import ALWAYS_BERLIN, BERLIN, BUSINESS_CN, berlin, cn, us, utc

H = 3600
WORKDAY = ((9 * H, 12 * H), (13 * H, 18 * H))
SATURDAY = ((9 * H, 12 * H),)
# Mon-Fri 09:00-12:00 + 13:00-18:00, Saturday 09:00-12:00, Sunday closed; Shanghai (+08:00).
SERVICE = Calendar("service", "Asia/Shanghai", hours=WORKDAY, week=(WORKDAY,) * 5 + (SATURDAY, ()))
# An evening desk: Mon-Fri 18:00-24:00 (a block ending at midnight).
EVENING = Calendar("evening", "Asia/Shanghai", hours=((18 * H, 24 * H),))
# The eve of Spring Festival 2027 (Friday 2027-02-05) is a half day; Wednesday 2026-12-02
# closes 14:00-16:00; Sunday 2026-12-06 opens 10:00-12:00 for a migration weekend.
SPECIAL = Calendar(
    "special",
    "Asia/Shanghai",
    hours=WORKDAY,
    dates=(
        (date(2027, 2, 5), ((9 * H, 12 * H),)),
        (date(2026, 12, 6), ((10 * H, 12 * H),)),
        (date(2026, 12, 7), ()),  # Monday: closed all day
    ),
    breaks=((date(2026, 12, 2), ((14 * H, 16 * H),)),),
)
# Berlin Mon-Fri 09:00-17:00 with Good Friday 2026-03-27 off; DST starts Sunday 2026-03-29.
BERLIN_EASTER = Calendar(
    "berlin-easter",
    "Europe/Berlin",
    hours=((9 * H, 17 * H),),
    extra_holidays=frozenset({date(2026, 3, 27)}),
)


def test_weekday_hours_saturday_morning() -> None:
    # Friday 2026-12-04 17:00 + 3 h: Fri 17-18 (1 h), Sat 09-11 (2 h) -> Sat 11:00.
    assert add(SERVICE, cn(2026, 12, 4, 17), timedelta(hours=3)) == cn(2026, 12, 5, 11)
    # Saturday 11:00 + 2 h: Sat 11-12 (1 h), Sunday closed, Mon 09-10 (1 h) -> Mon 10:00.
    assert add(SERVICE, cn(2026, 12, 5, 11), timedelta(hours=2)) == cn(2026, 12, 7, 10)
    # Friday 08:00 .. Monday 08:00: Fri 8 h + Sat 3 h = 11 h.
    assert elapsed(SERVICE, cn(2026, 12, 4, 8), cn(2026, 12, 7, 8)) == timedelta(hours=11)
    assert is_working_day(SERVICE, date(2026, 12, 5))
    assert not is_working_day(SERVICE, date(2026, 12, 6))
    assert SERVICE.weekdays == frozenset(range(6))


def test_block_ending_at_midnight() -> None:
    # Monday 2026-11-30 23:00 + 2 h: Mon 23-24 (1 h), Tue 18-19 (1 h) -> Tue 19:00.
    assert add(EVENING, cn(2026, 11, 30, 23), timedelta(hours=2)) == cn(2026, 12, 1, 19)
    # Landing exactly at 24:00 stays on Monday's end (the earliest instant).
    assert add(EVENING, cn(2026, 11, 30, 23), timedelta(hours=1)) == cn(2026, 12, 1, 0)
    assert blocks(EVENING, date(2026, 11, 30)) == (
        (us(cn(2026, 11, 30, 18)), us(cn(2026, 12, 1, 0))),
    )


def test_special_date_half_day_before_spring_festival() -> None:
    # Fri 2027-02-05 10:00 + 4 h: 10-12 (2 h; the afternoon is off), Sat/Sun closed,
    # Mon 2027-02-08 09-11 (2 h) -> Mon 11:00.
    assert add(SPECIAL, cn(2027, 2, 5, 10), timedelta(hours=4)) == cn(2027, 2, 8, 11)
    assert elapsed(SPECIAL, cn(2027, 2, 5), cn(2027, 2, 6)) == timedelta(hours=3)


def test_special_date_opens_a_sunday_and_closes_a_monday() -> None:
    # Sat 2026-12-05 .. Tue 2026-12-08 09:30: Sunday 10-12 (2 h), Monday closed, Tue 09-09:30.
    got = elapsed(SPECIAL, cn(2026, 12, 5), cn(2026, 12, 8, 9, 30))
    assert got == timedelta(hours=2, minutes=30)
    # Sunday 11:00 + 2 h: Sun 11-12 (1 h), Mon closed, Tue 09-10 -> Tue 10:00.
    assert add(SPECIAL, cn(2026, 12, 6, 11), timedelta(hours=2)) == cn(2026, 12, 8, 10)


def test_special_date_overrides_a_public_holiday() -> None:
    # National Day 2026-10-01 is off in CN; a special date opens it 10:00-12:00.
    open_day = Calendar(
        "cn-open",
        "Asia/Shanghai",
        hours=WORKDAY,
        country="CN",
        dates=((date(2026, 10, 1), ((10 * H, 12 * H),)),),
    )
    assert not is_working_day(BUSINESS_CN, date(2026, 10, 1))
    assert day_hours(open_day, date(2026, 10, 1)) == ((10 * H, 12 * H),)
    # Wed 2026-09-30 17:00 + 2 h: Sep 30 17-18 (1 h), Oct 1 10-11 (1 h) -> Oct 1 11:00.
    assert add(open_day, cn(2026, 9, 30, 17), timedelta(hours=2)) == cn(2026, 10, 1, 11)


def test_break_closes_part_of_a_day() -> None:
    # Wed 2026-12-02 13:00 + 3 h: 13-14 (1 h), break 14-16, 16-18 (2 h) -> 18:00.
    assert add(SPECIAL, cn(2026, 12, 2, 13), timedelta(hours=3)) == cn(2026, 12, 2, 18)
    # The whole day: 3 h + 1 h + 2 h = 6 h.
    assert elapsed(SPECIAL, cn(2026, 12, 2), cn(2026, 12, 3)) == timedelta(hours=6)
    # 13:30 + 1 h: 13:30-14:00 (30 min), then from 16:00 (30 min) -> 16:30.
    assert add(SPECIAL, cn(2026, 12, 2, 13, 30), timedelta(hours=1)) == cn(2026, 12, 2, 16, 30)
    assert day_hours(SPECIAL, date(2026, 12, 2)) == (
        (9 * H, 12 * H),
        (13 * H, 14 * H),
        (16 * H, 18 * H),
    )


def test_subtract_across_a_holiday_and_a_dst_change() -> None:
    # Monday 2026-03-30 11:00 CEST (09:00Z) - 4 business hours: Mon 09-11 (2 h), Sun/Sat
    # closed, the DST change on Sunday, Good Friday off, Thu 15:00-17:00 CET (2 h)
    # -> Thu 2026-03-26 15:00 CET = 14:00Z.
    end = berlin(2026, 3, 30, 11)
    assert end == utc(2026, 3, 30, 9)
    start = subtract(BERLIN_EASTER, end, timedelta(hours=4))
    assert start == utc(2026, 3, 26, 14)
    assert elapsed(BERLIN_EASTER, start, end) == timedelta(hours=4)
    # Without the holiday the 2 h left come from Friday 15:00-17:00 CET (14:00Z).
    assert subtract(BERLIN, end, timedelta(hours=4)) == utc(2026, 3, 27, 14)
    # 24x7 across the spring-forward night: 24 h before Mon 00:00 CEST (Sun 22:00Z) is
    # Sat 22:00Z = Sat 23:00 CET (the local day had 23 hours).
    assert subtract(ALWAYS_BERLIN, berlin(2026, 3, 30), timedelta(hours=24)) == utc(2026, 3, 28, 22)


def test_subtract_lands_on_block_starts_and_mirrors_add() -> None:
    # Tue 2026-12-01 13:00 - 1 h on the service calendar: 12:00-13:00 is lunch, so the hour
    # is 11:00-12:00 -> 11:00; exactly 3 h before 13:00 is the block start 09:00.
    assert subtract(SERVICE, cn(2026, 12, 1, 13), timedelta(hours=1)) == cn(2026, 12, 1, 11)
    assert subtract(SERVICE, cn(2026, 12, 1, 13), timedelta(hours=3)) == cn(2026, 12, 1, 9)
    # Monday 2026-12-07 10:00 - 2 h: Mon 09-10 (1 h), Sunday closed, Sat 11-12 -> Sat 11:00.
    assert subtract(SERVICE, cn(2026, 12, 7, 10), timedelta(hours=2)) == cn(2026, 12, 5, 11)
    # Break day: 16:30 - 1 h -> 16:00 (30 min), then back over the break to 13:30.
    assert subtract(SPECIAL, cn(2026, 12, 2, 16, 30), timedelta(hours=1)) == cn(2026, 12, 2, 13, 30)
    assert subtract(SERVICE, cn(2026, 12, 1, 13), timedelta(0)) == cn(2026, 12, 1, 13)
    with pytest.raises(ValueError, match="negative"):
        subtract_us(SERVICE, 0, -1)


def test_elapsed_of_a_reversed_interval_is_zero() -> None:
    later, earlier = cn(2026, 12, 1, 15), cn(2026, 12, 1, 10)
    assert elapsed(SERVICE, later, earlier) == timedelta(0)
    assert elapsed(SERVICE, earlier, later) == timedelta(hours=4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"week": (WORKDAY,) * 6}, "7 entries"),
        ({"dates": ((date(2026, 1, 5), ((10 * H, 9 * H),)),)}, "sorted, non-overlapping"),
        (
            {"dates": ((date(2026, 1, 5), ()), (date(2026, 1, 5), SATURDAY))},
            "given twice",
        ),
        ({"breaks": ((date(2026, 1, 5), ((9 * H, 11 * H), (10 * H, 12 * H))),)}, "overlapping"),
    ],
)
def test_bad_calendars_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Calendar("bad", "Asia/Shanghai", hours=WORKDAY, **kwargs)  # type: ignore[arg-type]


# --- properties --------------------------------------------------------------------------

NIGHT_DST = Calendar(
    "night-dst",
    "Europe/Berlin",
    hours=((1 * H, 2 * H + 1800),),
    week=(((1 * H, 2 * H + 1800), (3 * H, 4 * H)),) * 5 + (((0, 24 * H),), ()),
    breaks=((date(2026, 3, 29), ((0, 1 * H),)), (date(2026, 10, 25), ((2 * H, 3 * H),))),
    dates=((date(2026, 10, 24), ((22 * H, 24 * H),)),),
)
CALENDARS = [SERVICE, EVENING, SPECIAL, BERLIN_EASTER, ALWAYS_BERLIN, NIGHT_DST, BUSINESS_CN]
calendars = st.sampled_from(CALENDARS)
base = us(utc(2026, 1, 1))
instants = st.one_of(
    st.integers(base, us(utc(2027, 6, 1))),
    # quarter hours, often on block edges
    st.integers(0, 520 * 96).map(lambda q: base + q * 15 * 60 * US_PER_S),
)
durations = st.one_of(
    st.integers(0, 40 * 86_400 * US_PER_S),
    st.integers(0, 24 * 40).map(lambda q: q * 15 * 60 * US_PER_S),
    st.integers(0, 5),
)
PROPERTY = settings(max_examples=300, deadline=None)


def working(cal: Calendar, t: int) -> bool:
    """Whether instant t lies inside a working block."""
    return elapsed_us(cal, t, t + 1) == 1


@PROPERTY
@given(calendars, instants, durations)
def test_subtract_inverts_add_inside_working_time(cal: Calendar, t: int, d: int) -> None:
    assume(working(cal, t))
    assert subtract_us(cal, add_us(cal, t, d), d) == t


@PROPERTY
@given(calendars, instants, durations)
def test_elapsed_of_add_and_subtract(cal: Calendar, t: int, d: int) -> None:
    assert elapsed_us(cal, t, add_us(cal, t, d)) == d
    assert elapsed_us(cal, subtract_us(cal, t, d), t) == d


@PROPERTY
@given(calendars, instants, durations, durations)
def test_add_and_subtract_are_additive(cal: Calendar, t: int, a: int, b: int) -> None:
    assert add_us(cal, add_us(cal, t, a), b) == add_us(cal, t, a + b)
    assert subtract_us(cal, subtract_us(cal, t, a), b) == subtract_us(cal, t, a + b)


@PROPERTY
@given(calendars, instants, durations, durations)
def test_elapsed_is_additive(cal: Calendar, t: int, a: int, b: int) -> None:
    m, e = t + a, t + a + b
    assert elapsed_us(cal, t, e) == elapsed_us(cal, t, m) + elapsed_us(cal, m, e)


@PROPERTY
@given(calendars, instants, durations)
def test_subtract_is_the_latest_start(cal: Calendar, t: int, d: int) -> None:
    assume(d > 0)
    s = subtract_us(cal, t, d)
    assert elapsed_us(cal, s + 1, t) < d
