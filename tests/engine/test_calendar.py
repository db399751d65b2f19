"""Business-calendar arithmetic: hand-computed cases and hypothesis properties.

Every expected instant below is worked out by hand from the calendar rules (the
comments show the sums); none was copied from the code's output.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import (
    Calendar,
    add,
    add_us,
    blocks,
    elapsed,
    elapsed_us,
    is_working_day,
)
from engine.instant import US_PER_S, from_us, to_us

H = 3600
HOUR = 3600 * US_PER_S
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN_TZ = ZoneInfo("Europe/Berlin")

BUSINESS_CN = Calendar(
    "business-cn", "Asia/Shanghai", hours=((9 * H, 12 * H), (13 * H, 18 * H)), country="CN"
)
ALWAYS_CN = Calendar("24x7", "Asia/Shanghai", always_open=True)
BERLIN = Calendar("berlin", "Europe/Berlin", hours=((9 * H, 17 * H),))
ALWAYS_BERLIN = Calendar("24x7-berlin", "Europe/Berlin", always_open=True)
# Block boundaries inside the DST gap (02:00-03:00 on 2026-03-29) and overlap
# (02:00-03:00 twice on 2026-10-25), every day of the week.
NIGHT_BERLIN = Calendar(
    "night-berlin",
    "Europe/Berlin",
    hours=((1 * H, 2 * H + 1800), (3 * H, 4 * H)),
    weekdays=frozenset(range(7)),
)

# A negative UTC offset with evening blocks up to midnight (DST 2026-03-08 / 2026-11-01).
EVENING_NY = Calendar(
    "evening-ny",
    "America/New_York",
    hours=((8 * H, 12 * H), (18 * H, 24 * H)),
    weekdays=frozenset({0, 1, 2, 3, 4, 5}),
)


def cn(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0, micro: int = 0
) -> datetime:
    """A wall time in Shanghai (+08:00 all year)."""
    return datetime(year, month, day, hour, minute, sec, micro, tzinfo=SHANGHAI)


def berlin(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0, micro: int = 0
) -> datetime:
    """A wall time in Berlin (fold=0)."""
    return datetime(year, month, day, hour, minute, sec, micro, tzinfo=BERLIN_TZ)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0, micro: int = 0
) -> datetime:
    """A UTC time."""
    return datetime(year, month, day, hour, minute, sec, micro, tzinfo=UTC)


def us(moment: datetime) -> int:
    """µs of an aware datetime."""
    return to_us(moment)


def secs(text: str) -> timedelta:
    """An exact duration from a decimal seconds string ("2982.148763")."""
    whole, _, frac = text.partition(".")
    return timedelta(seconds=int(whole), microseconds=int(frac.ljust(6, "0")))


# --- the worked example (shared/examples/README.md, ticket W0000002) -------------------


def test_worked_example_counts_from_nine_and_pauses() -> None:
    created = cn(2026, 11, 24, 6, 20, 8)  # Tuesday, before opening: counts from 09:00
    paused = cn(2026, 11, 24, 9, 49, 42, 148763)  # 49 min 42.148763 s after 09:00
    assert elapsed(BUSINESS_CN, created, paused) == secs("2982.148763")
    assert add(BUSINESS_CN, created, secs("2982.148763")) == paused


def test_worked_example_resumes_next_morning_across_lunch() -> None:
    resumed = cn(2026, 11, 25, 1, 8, 29, 265008)  # Wednesday night: counts from 09:00
    # 4 h target - 2,982.148763 s = 11,417.851237 s = 09:00-12:00 (10,800 s)
    # + 617.851237 s after 13:00 -> 13:10:17.851237 local = 05:10:17.851237Z.
    warning = add(BUSINESS_CN, resumed, secs("11417.851237"))
    assert warning == cn(2026, 11, 25, 13, 10, 17, 851237)
    assert warning == utc(2026, 11, 25, 5, 10, 17, 851237)
    assert warning.tzinfo is not None and warning.utcoffset() == timedelta(0)
    assert elapsed(BUSINESS_CN, resumed, warning) == secs("11417.851237")
    # Further 4 h steps (breach / escalations of the expected file):
    # 13:10:17.851237 + 4 h -> 17:10:17.851237 Wed (09:10:17.851237Z)
    assert add(BUSINESS_CN, warning, timedelta(hours=4)) == utc(2026, 11, 25, 9, 10, 17, 851237)
    # + 4 h more: 49:42.148763 to 18:00 Wed, 3 h Thu morning, 10:17.851237 after 13:00
    # -> Thu 13:10:17.851237 (05:10:17.851237Z); + 4 h -> Thu 17:10:17.851237.
    assert add(BUSINESS_CN, warning, timedelta(hours=8)) == utc(2026, 11, 26, 5, 10, 17, 851237)
    assert add(BUSINESS_CN, warning, timedelta(hours=12)) == utc(2026, 11, 26, 9, 10, 17, 851237)


# --- the block-end rule -----------------------------------------------------------------


def test_landing_on_a_block_end_returns_that_end_not_the_next_start() -> None:
    # Wed 2026-11-25 09:00 + 3 h = exactly the end of the morning block.
    assert add(BUSINESS_CN, cn(2026, 11, 25, 9), timedelta(hours=3)) == cn(2026, 11, 25, 12)
    # One µs more has to wait for the afternoon block.
    assert add(BUSINESS_CN, cn(2026, 11, 25, 9), timedelta(hours=3, microseconds=1)) == cn(
        2026, 11, 25, 13, 0, 0, 1
    )
    # End of the day: 18:00, not 09:00 next morning.
    assert add(BUSINESS_CN, cn(2026, 11, 25, 13), timedelta(hours=5)) == cn(2026, 11, 25, 18)


def test_zero_duration_is_the_start_even_off_hours() -> None:
    for moment in (cn(2026, 11, 25, 12, 30), cn(2026, 11, 28, 3), cn(2026, 11, 25, 12)):
        assert add(BUSINESS_CN, moment, timedelta(0)) == moment
        assert add_us(BUSINESS_CN, us(moment), 0) == us(moment)


def test_start_inside_a_block_and_in_the_lunch_break() -> None:
    # 11:30 + 1 h: 30 min to 12:00, 30 min after 13:00.
    assert add(BUSINESS_CN, cn(2026, 11, 25, 11, 30), timedelta(hours=1)) == cn(
        2026, 11, 25, 13, 30
    )
    # From the lunch break, counting starts at 13:00.
    assert add(BUSINESS_CN, cn(2026, 11, 25, 12, 15), timedelta(minutes=5)) == cn(
        2026, 11, 25, 13, 5
    )
    assert elapsed(BUSINESS_CN, cn(2026, 11, 25, 12), cn(2026, 11, 25, 13)) == timedelta(0)
    assert elapsed(BUSINESS_CN, cn(2026, 11, 25, 11), cn(2026, 11, 25, 14)) == timedelta(hours=2)


def test_elapsed_at_block_edges_to_the_microsecond() -> None:
    one = timedelta(microseconds=1)
    wed_noon, thu_ten = cn(2026, 11, 25, 12), cn(2026, 11, 26, 10)
    # 1 µs of the morning block + 13:00-18:00 Wed + 09:00-10:00 Thu.
    assert elapsed(BUSINESS_CN, wed_noon - one, thu_ten) == timedelta(hours=6, microseconds=1)
    assert elapsed(BUSINESS_CN, wed_noon, thu_ten) == timedelta(hours=6)
    assert elapsed(BUSINESS_CN, wed_noon - one, wed_noon) == one
    assert elapsed(BUSINESS_CN, cn(2026, 11, 25, 10), wed_noon + one) == timedelta(hours=2)
    assert elapsed(BUSINESS_CN, cn(2026, 11, 25, 8), cn(2026, 11, 25, 9) + one) == one
    # 10:00-12:00 + 13:00-18:00 Wed + 1 µs Thu.
    assert elapsed(BUSINESS_CN, cn(2026, 11, 25, 10), cn(2026, 11, 26, 9) + one) == timedelta(
        hours=7, microseconds=1
    )
    # 10:00-12:00 + 13:00-18:00 Wed + 09:00-12:00 Thu; the µs after 12:00 is lunch.
    assert elapsed(BUSINESS_CN, cn(2026, 11, 25, 10), cn(2026, 11, 26, 12) + one) == timedelta(
        hours=10
    )


def test_whole_day_and_week() -> None:
    # A working day has 3 h + 5 h = 8 h; Mon 2026-11-23 .. Sun 29 has five of them.
    assert elapsed(BUSINESS_CN, cn(2026, 11, 25), cn(2026, 11, 26)) == timedelta(hours=8)
    assert elapsed(BUSINESS_CN, cn(2026, 11, 23), cn(2026, 11, 30)) == timedelta(hours=40)
    assert elapsed(BUSINESS_CN, cn(2026, 11, 28), cn(2026, 11, 30)) == timedelta(0)


# --- China: holidays and make-up days (holidays 0.109, 2026 schedule) ------------------


def test_2026_national_day_and_make_up_days() -> None:
    # 2026 schedule: Mid-Autumn Fri Sep 25; National Day Oct 1-7 (Thu-Wed) off; the
    # weekend days Sun Sep 20 and Sat Oct 10 are worked in exchange.
    assert is_working_day(BUSINESS_CN, date(2026, 9, 20))  # Sunday, make-up
    assert is_working_day(BUSINESS_CN, date(2026, 10, 10))  # Saturday, make-up
    assert not is_working_day(BUSINESS_CN, date(2026, 9, 19))  # ordinary Saturday
    assert not is_working_day(BUSINESS_CN, date(2026, 9, 25))  # Mid-Autumn Festival
    for day in range(1, 8):
        assert not is_working_day(BUSINESS_CN, date(2026, 10, day)), day
    assert is_working_day(BUSINESS_CN, date(2026, 10, 8))  # Thursday, back at work
    assert is_working_day(BUSINESS_CN, date(2026, 9, 30))
    assert not is_working_day(BUSINESS_CN, date(2026, 10, 11))  # ordinary Sunday
    assert blocks(BUSINESS_CN, date(2026, 10, 1)) == ()
    assert blocks(BUSINESS_CN, date(2026, 10, 10)) == (
        (us(utc(2026, 10, 10, 1)), us(utc(2026, 10, 10, 4))),
        (us(utc(2026, 10, 10, 5)), us(utc(2026, 10, 10, 10))),
    )


def test_holiday_week_lands_on_the_block_end() -> None:
    # Wed Sep 30 17:00 + 4 h: 17:00-18:00 Sep 30 = 1 h; Oct 1-7 off (Oct 1-3 National
    # Day, Oct 4 Sunday, Oct 5 observed, Oct 6-7 swapped for Sep 20 / Oct 10);
    # Thu Oct 8 09:00-12:00 = 3 h -> exactly 12:00, the end of the morning block.
    start = cn(2026, 9, 30, 17)
    assert add(BUSINESS_CN, start, timedelta(hours=4)) == cn(2026, 10, 8, 12)
    assert add(BUSINESS_CN, start, timedelta(hours=4, microseconds=1)) == cn(
        2026, 10, 8, 13, 0, 0, 1
    )
    # Sep 30 (8 h) + Oct 8 (8 h); Oct 1-7 contribute nothing.
    assert elapsed(BUSINESS_CN, cn(2026, 9, 30), cn(2026, 10, 9)) == timedelta(hours=16)


def test_make_up_days_count() -> None:
    # Sat Sep 19 10:00 + 2 h: Saturday is off, Sunday Sep 20 is a make-up day -> 11:00.
    assert add(BUSINESS_CN, cn(2026, 9, 19, 10), timedelta(hours=2)) == cn(2026, 9, 20, 11)
    # Fri Oct 9 17:30 + 1 h: 30 min Friday, 30 min on make-up Saturday Oct 10 -> 09:30.
    assert add(BUSINESS_CN, cn(2026, 10, 9, 17, 30), timedelta(hours=1)) == cn(2026, 10, 10, 9, 30)


def test_year_end_2025_into_the_jan_4_make_up_day() -> None:
    # Wed 2025-12-31 17:00 + 4 h: 1 h on Dec 31; Jan 1 (New Year) and Jan 2 (swapped for
    # Jan 4) off, Sat Jan 3 off; Sun Jan 4 is a make-up day: 09:00-12:00 = 3 h -> 12:00.
    assert not is_working_day(BUSINESS_CN, date(2026, 1, 2))
    assert is_working_day(BUSINESS_CN, date(2026, 1, 4))
    assert add(BUSINESS_CN, cn(2025, 12, 31, 17), timedelta(hours=4)) == cn(2026, 1, 4, 12)
    assert elapsed(BUSINESS_CN, cn(2025, 12, 31, 18), cn(2026, 1, 4, 9)) == timedelta(0)


def test_year_end_2026_into_an_unpublished_year() -> None:
    # 2027's schedule is not published: no make-up days, Jan 1 (Fri) off by rule.
    # Thu 2026-12-31 17:00 + 4 h: 1 h Thu, Fri Jan 1 off, weekend, Mon Jan 4 09-12 -> 12:00.
    assert add(BUSINESS_CN, cn(2026, 12, 31, 17), timedelta(hours=4)) == cn(2027, 1, 4, 12)


def test_policy_extra_days() -> None:
    extra = Calendar(
        "business-cn-policy",
        "Asia/Shanghai",
        hours=((9 * H, 12 * H), (13 * H, 18 * H)),
        country="CN",
        extra_holidays=frozenset({date(2026, 11, 25), date(2026, 10, 10)}),
        extra_workdays=frozenset({date(2027, 1, 2), date(2026, 10, 7)}),
    )
    # Worked example with Wed Nov 25 a company holiday: the 11,417.851237 s run on Thu.
    resumed = cn(2026, 11, 25, 1, 8, 29, 265008)
    assert add(extra, resumed, secs("11417.851237")) == cn(2026, 11, 26, 13, 10, 17, 851237)
    # Sat 2027-01-02 worked by policy: Thu Dec 31 17:00 + 4 h -> 1 h + 3 h Sat -> 12:00.
    assert add(extra, cn(2026, 12, 31, 17), timedelta(hours=4)) == cn(2027, 1, 2, 12)
    # Policy workday beats the country holiday: Wed Oct 7 worked -> 12:00 Oct 7.
    assert add(extra, cn(2026, 9, 30, 17), timedelta(hours=4)) == cn(2026, 10, 7, 12)
    # Policy holiday beats the country make-up day: Oct 10 off, Sun 11 off -> Mon 12 09:30.
    assert add(extra, cn(2026, 10, 9, 17, 30), timedelta(hours=1)) == cn(2026, 10, 12, 9, 30)
    assert not is_working_day(extra, date(2026, 10, 10))
    assert is_working_day(extra, date(2026, 10, 7))


# --- DST (Europe/Berlin: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00) ---------


def test_business_hours_unaffected_by_dst() -> None:
    # Fri 09:00 CET .. Mon 17:00 CEST: two full 8 h days, although the wall span is 1 h short.
    assert elapsed(BERLIN, berlin(2026, 3, 27, 9), berlin(2026, 3, 30, 17)) == timedelta(hours=16)
    assert elapsed(BERLIN, berlin(2026, 10, 23, 9), berlin(2026, 10, 26, 17)) == timedelta(hours=16)
    # Fri 16:00 CET + 2 h: 1 h Friday, Mon 09:00-10:00 CEST = 08:00Z.
    assert add(BERLIN, berlin(2026, 3, 27, 16), timedelta(hours=2)) == utc(2026, 3, 30, 8)
    # Fri 16:00 CEST + 2 h: Mon 09:00-10:00 CET = 09:00Z.
    assert add(BERLIN, berlin(2026, 10, 23, 16), timedelta(hours=2)) == utc(2026, 10, 26, 9)
    assert blocks(BERLIN, date(2026, 3, 27)) == (
        (us(utc(2026, 3, 27, 8)), us(utc(2026, 3, 27, 16))),
    )
    assert blocks(BERLIN, date(2026, 3, 30)) == (
        (us(utc(2026, 3, 30, 7)), us(utc(2026, 3, 30, 15))),
    )


def test_always_open_dst_days_are_23_and_25_hours() -> None:
    assert blocks(ALWAYS_BERLIN, date(2026, 3, 29)) == (
        (us(utc(2026, 3, 28, 23)), us(utc(2026, 3, 29, 22))),
    )
    assert blocks(ALWAYS_BERLIN, date(2026, 10, 25)) == (
        (us(utc(2026, 10, 24, 22)), us(utc(2026, 10, 25, 23))),
    )
    assert elapsed(ALWAYS_BERLIN, berlin(2026, 3, 29), berlin(2026, 3, 30)) == timedelta(hours=23)
    assert elapsed(ALWAYS_BERLIN, berlin(2026, 10, 25), berlin(2026, 10, 26)) == timedelta(hours=25)
    # Sat 12:00 CET + 24 h = Sun 13:00 CEST (the wall clock skips an hour).
    assert add(ALWAYS_BERLIN, berlin(2026, 3, 28, 12), timedelta(hours=24)) == berlin(
        2026, 3, 29, 13
    )


def test_block_boundaries_in_a_dst_gap_are_clamped() -> None:
    # 2026-03-29: 01:00 CET = 00:00Z; 02:30 does not exist and reads (fold=0) as
    # 02:30+01:00 = 01:30Z; 03:00 CEST = 01:00Z would go backwards, so the second block
    # starts at 01:30Z; 04:00 CEST = 02:00Z. The union 00:00Z-02:00Z is exactly the real
    # working time (01:00-02:00 CET and 03:00-04:00 CEST).
    assert blocks(NIGHT_BERLIN, date(2026, 3, 29)) == (
        (us(utc(2026, 3, 29, 0)), us(utc(2026, 3, 29, 1, 30))),
        (us(utc(2026, 3, 29, 1, 30)), us(utc(2026, 3, 29, 2))),
    )
    # 2026-10-25: 02:30 happens twice, fold=0 takes the first (CEST): 01:00 CEST = 23:00Z,
    # 02:30 CEST = 00:30Z; 03:00 CET = 02:00Z, 04:00 CET = 03:00Z.
    assert blocks(NIGHT_BERLIN, date(2026, 10, 25)) == (
        (us(utc(2026, 10, 24, 23)), us(utc(2026, 10, 25, 0, 30))),
        (us(utc(2026, 10, 25, 2)), us(utc(2026, 10, 25, 3))),
    )


def test_always_open_day_whose_midnight_does_not_exist() -> None:
    # America/Santiago: 2026-09-06 00:00 -04 jumps to 01:00 -03 (04:00Z). The day starts
    # at 04:00Z and ends at Sep 7 00:00 -03 = 03:00Z: 23 h.
    santiago = Calendar("24x7-scl", "America/Santiago", always_open=True)
    assert blocks(santiago, date(2026, 9, 6)) == ((us(utc(2026, 9, 6, 4)), us(utc(2026, 9, 7, 3))),)
    assert blocks(santiago, date(2026, 9, 5)) == ((us(utc(2026, 9, 5, 4)), us(utc(2026, 9, 6, 4))),)


# --- 24x7 and edge cases ---------------------------------------------------------------


def test_always_open_counts_every_instant() -> None:
    start = cn(2026, 10, 1, 3)  # a holiday at night still counts
    assert add(ALWAYS_CN, start, timedelta(hours=5)) == cn(2026, 10, 1, 8)
    assert elapsed(ALWAYS_CN, start, cn(2026, 10, 3, 3)) == timedelta(days=2)
    assert is_working_day(ALWAYS_CN, date(2026, 10, 1))
    assert blocks(ALWAYS_CN, date(2026, 10, 1)) == (
        (us(utc(2026, 9, 30, 16)), us(utc(2026, 10, 1, 16))),
    )


def test_reversed_interval_is_zero() -> None:
    a, b = us(cn(2026, 11, 25, 10)), us(cn(2026, 11, 25, 11))
    for cal in (BUSINESS_CN, ALWAYS_CN):
        assert elapsed_us(cal, b, a) == 0
        assert elapsed_us(cal, a, a) == 0


def test_negative_duration_and_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        add_us(BUSINESS_CN, 0, -1)
    with pytest.raises(ValueError):
        add_us(ALWAYS_CN, 0, -1)
    with pytest.raises(ValueError):
        add(BUSINESS_CN, cn(2026, 11, 25, 10), timedelta(microseconds=-1))
    with pytest.raises(ValueError):
        add(BUSINESS_CN, datetime(2026, 11, 25, 10), timedelta(hours=1))
    with pytest.raises(ValueError):
        elapsed(BUSINESS_CN, datetime(2026, 11, 25, 10), cn(2026, 11, 25, 11))
    with pytest.raises(ValueError):
        elapsed(BUSINESS_CN, cn(2026, 11, 25, 10), datetime(2026, 11, 25, 11))


def test_other_offsets_are_accepted() -> None:
    # 02:00Z = 10:00 Shanghai; +1 h -> 11:00 Shanghai = 03:00Z.
    start = datetime(2026, 11, 24, 21, tzinfo=timezone(timedelta(hours=-5)))
    assert add(BUSINESS_CN, start, timedelta(hours=1)) == utc(2026, 11, 25, 3)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tz": "Mars/Olympus"},
        {"hours": ()},
        {"hours": ((13 * H, 18 * H), (9 * H, 12 * H))},
        {"hours": ((9 * H, 13 * H), (12 * H, 18 * H))},
        {"hours": ((9 * H, 9 * H),)},
        {"hours": ((20 * H, 25 * H),)},
        {"weekdays": frozenset({7})},
        {"country": "XX"},
        {
            "extra_holidays": frozenset({date(2026, 1, 5)}),
            "extra_workdays": frozenset({date(2026, 1, 5)}),
        },
        {"always_open": True},
    ],
)
def test_invalid_calendars_are_refused(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "name": "bad",
        "tz": "Asia/Shanghai",
        "hours": ((9 * H, 18 * H),),
    }
    args.update(kwargs)
    with pytest.raises(ValueError):
        Calendar(**args)  # type: ignore[arg-type]


def test_calendar_without_working_days_fails_instead_of_looping() -> None:
    never = Calendar("never", "UTC", hours=((9 * H, 17 * H),), weekdays=frozenset())
    with pytest.raises(ValueError):
        add_us(never, 0, 1)
    assert elapsed_us(never, 0, 10 * 86_400 * US_PER_S) == 0


def test_calendars_are_hashable_and_normalised() -> None:
    a = Calendar("b", "Asia/Shanghai", hours=[[9 * H, 18 * H]], weekdays={0, 1})  # type: ignore[arg-type]
    b = Calendar("b", "Asia/Shanghai", hours=((9 * H, 18 * H),), weekdays=frozenset({0, 1}))
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1


def test_hours_to_midnight_end_at_next_local_midnight() -> None:
    late = Calendar(
        "late", "Europe/Berlin", hours=((20 * H, 24 * H),), weekdays=frozenset(range(7))
    )
    # Sat 2026-03-28 20:00 CET = 19:00Z .. Sun 00:00 CET = 23:00Z.
    assert blocks(late, date(2026, 3, 28)) == (
        (us(utc(2026, 3, 28, 19)), us(utc(2026, 3, 28, 23))),
    )
    # Sun 20:00 CEST = 18:00Z .. Mon 00:00 CEST = 22:00Z. Landing at 24:00 stays there.
    assert add(late, berlin(2026, 3, 29, 20), timedelta(hours=4)) == utc(2026, 3, 29, 22)


# --- properties --------------------------------------------------------------------------

CALENDARS = [BUSINESS_CN, ALWAYS_CN, BERLIN, ALWAYS_BERLIN, NIGHT_BERLIN, EVENING_NY]
calendars = st.sampled_from(CALENDARS)
instants = st.integers(us(utc(2025, 1, 1)), us(utc(2028, 1, 1)))
durations = st.integers(0, 60 * 86_400 * US_PER_S)
# Durations near the interesting scale (minutes .. days), often hitting block edges.
round_durations = st.integers(0, 24 * 40).map(lambda q: q * 15 * 60 * US_PER_S)
any_durations = st.one_of(durations, round_durations, st.integers(0, 10))
round_instants = st.integers(0, 3 * 365 * 96).map(
    lambda q: us(utc(2025, 1, 1)) + q * 15 * 60 * US_PER_S
)
edge_instants = st.builds(lambda q, jitter: q + jitter, round_instants, st.integers(-1, 1))
any_instants = st.one_of(instants, round_instants, edge_instants)
PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(calendars, any_instants, any_durations)
def test_elapsed_inverts_add(cal: Calendar, a: int, s: int) -> None:
    r = add_us(cal, a, s)
    assert r >= a + s
    assert elapsed_us(cal, a, r) == s
    if s > 0:  # earliest instant: one µs earlier is one µs short
        assert elapsed_us(cal, a, r - 1) == s - 1


@PROPERTY
@given(calendars, any_instants, any_durations, any_durations)
def test_add_is_strictly_monotone_in_duration(cal: Calendar, a: int, s1: int, s2: int) -> None:
    if s1 == s2:
        assert add_us(cal, a, s1) == add_us(cal, a, s2)
    else:
        lo, hi = sorted((s1, s2))
        assert add_us(cal, a, lo) < add_us(cal, a, hi)


@PROPERTY
@given(calendars, any_instants, any_instants, any_instants)
def test_elapsed_is_additive_and_bounded(cal: Calendar, x: int, y: int, z: int) -> None:
    a, b, c = sorted((x, y, z))
    assert elapsed_us(cal, a, c) == elapsed_us(cal, a, b) + elapsed_us(cal, b, c)
    assert 0 <= elapsed_us(cal, a, c) <= c - a
    if cal.always_open:
        assert elapsed_us(cal, a, c) == c - a


@PROPERTY
@given(calendars, any_instants, any_durations, any_durations)
def test_add_composes(cal: Calendar, a: int, s1: int, s2: int) -> None:
    # Holds for every s1, s2 >= 0: add(a, s1) is the first instant with s1 counted, so
    # the first instant with s1 + s2 counted comes no earlier and is s2 further on.
    assert add_us(cal, a, s1 + s2) == add_us(cal, add_us(cal, a, s1), s2)


def _local_date(cal: Calendar, instant: int) -> date:
    return from_us(instant).astimezone(ZoneInfo(cal.tz)).date()


@PROPERTY
@given(calendars, any_instants, any_durations)
def test_add_lands_in_a_block_or_on_its_end(cal: Calendar, a: int, s: int) -> None:
    r = add_us(cal, a, s)
    if s == 0:
        assert r == a
        return
    day = _local_date(cal, r)
    candidates = blocks(cal, day - timedelta(days=1)) + blocks(cal, day)
    assert any(start < r <= end for start, end in candidates)


@PROPERTY
@given(calendars, st.dates(date(2025, 1, 1), date(2027, 12, 31)))
def test_blocks_are_ordered_and_inside_their_day(cal: Calendar, day: date) -> None:
    tz = ZoneInfo(cal.tz)
    low = us(datetime(day.year, day.month, day.day, tzinfo=tz))
    nxt = day + timedelta(days=1)
    high = us(datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz))
    previous = low
    for start, end in blocks(cal, day):
        assert previous <= start < end <= high
        previous = end
    if not is_working_day(cal, day):
        assert blocks(cal, day) == ()


# --- independent oracles ------------------------------------------------------------------

_CN_HOLIDAYS = holidays.country_holidays("CN", years=range(2024, 2030))
_PLUS8 = timezone(timedelta(hours=8))


def _overlap(a: int, b: int, start: datetime, end: datetime) -> int:
    lo, hi = max(a, us(start)), min(b, us(end))
    return max(0, hi - lo)


def _oracle_cn(a: int, b: int) -> int:
    """Business-cn working µs in [a, b): fixed +08:00 and the package's is_working_day."""
    total = 0
    day = from_us(a).astimezone(_PLUS8).date()
    last = from_us(b).astimezone(_PLUS8).date()
    while day <= last:
        if _CN_HOLIDAYS.is_working_day(day):
            base = datetime(day.year, day.month, day.day, tzinfo=_PLUS8)
            total += _overlap(a, b, base + timedelta(hours=9), base + timedelta(hours=12))
            total += _overlap(a, b, base + timedelta(hours=13), base + timedelta(hours=18))
        day += timedelta(days=1)
    return total


def _oracle_berlin(a: int, b: int) -> int:
    """Berlin 09-17 Mon-Fri working µs in [a, b), one zoneinfo conversion per boundary."""
    total = 0
    day = from_us(a).astimezone(BERLIN_TZ).date()
    last = from_us(b).astimezone(BERLIN_TZ).date()
    while day <= last:
        if day.weekday() < 5:
            total += _overlap(
                a,
                b,
                berlin(day.year, day.month, day.day, 9),
                berlin(day.year, day.month, day.day, 17),
            )
        day += timedelta(days=1)
    return total


spans = st.integers(0, 40 * 86_400 * US_PER_S)


@PROPERTY
@given(any_instants, spans)
def test_business_cn_matches_oracle(a: int, span: int) -> None:
    assert elapsed_us(BUSINESS_CN, a, a + span) == _oracle_cn(a, a + span)


@PROPERTY
@given(any_instants, spans)
def test_berlin_matches_oracle(a: int, span: int) -> None:
    assert elapsed_us(BERLIN, a, a + span) == _oracle_berlin(a, a + span)


def _oracle_blocks(cal: Calendar, a: int, b: int) -> int:
    """Working µs in [a, b) from blocks() of every local date around [a, b]."""
    day = _local_date(cal, a) - timedelta(days=1)
    last = _local_date(cal, b) + timedelta(days=1)
    total = 0
    while day <= last:
        for start, end in blocks(cal, day):
            total += max(0, min(b, end) - max(a, start))
        day += timedelta(days=1)
    return total


@PROPERTY
@given(calendars, any_instants, spans)
def test_elapsed_matches_a_sum_over_blocks(cal: Calendar, a: int, span: int) -> None:
    assert elapsed_us(cal, a, a + span) == _oracle_blocks(cal, a, a + span)


def test_evening_blocks_west_of_utc() -> None:
    # Fri 2026-11-27 21:00 EST = Sat 02:00Z: 3 h left of Friday's 18:00-24:00 block.
    start = datetime(2026, 11, 27, 21, tzinfo=ZoneInfo("America/New_York"))
    assert add(EVENING_NY, start, timedelta(hours=3)) == utc(2026, 11, 28, 5)
    # + 1 h more: Saturday 08:00-09:00 EST -> 14:00Z.
    assert add(EVENING_NY, start, timedelta(hours=4)) == utc(2026, 11, 28, 14)
    assert elapsed(EVENING_NY, start, start + timedelta(hours=12)) == timedelta(hours=4)


def test_business_cn_working_days_match_the_package_2025_2026() -> None:
    day = date(2025, 1, 1)
    while day <= date(2026, 12, 31):
        assert is_working_day(BUSINESS_CN, day) == _CN_HOLIDAYS.is_working_day(day), day
        assert bool(blocks(BUSINESS_CN, day)) == is_working_day(BUSINESS_CN, day), day
        day += timedelta(days=1)
