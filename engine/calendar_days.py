"""What a business calendar is and which wall-clock hours each local date has.

A local date's blocks (seconds from local midnight) come from, in order of precedence: its
entry in `dates` (special hours, overriding everything else; empty = closed), policy extra
workdays / holidays, the country's make-up days / holidays, then the weekly pattern (`week`
when given, else `hours` on `weekdays`). Make-up and extra working days use `hours`. `breaks`
of the date are then cut out of whatever blocks it has. `engine.calendar` does the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from holidays.registry import EntityLoader

Block = tuple[int, int]
Blocks = tuple[Block, ...]
DatedBlocks = tuple[tuple[date, Blocks], ...]

DAY_S = 86_400


@dataclass(frozen=True, slots=True)
class Calendar:
    """A named working-time calendar: zone, weekly hours, holidays, make-up days, special
    dates and breaks (wall-clock seconds from local midnight, end up to 86400).

    `week`, when given, holds the blocks of each weekday (Monday first; empty = closed) and
    decides `weekdays`; `hours` are then the blocks of make-up and extra working days.
    Hashable, so per-calendar caches can be keyed on it. Inputs are normalised
    (lists become tuples / frozensets) and validated at construction.
    """

    name: str
    tz: str
    always_open: bool = False
    hours: tuple[tuple[int, int], ...] = ()
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    country: str | None = None
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    week: tuple[Blocks, ...] = ()
    dates: DatedBlocks = ()
    breaks: DatedBlocks = ()

    def __post_init__(self) -> None:
        """Normalise container types and reject calendars that cannot be evaluated."""
        hours = _norm(self.hours)
        week = tuple(_norm(b) for b in self.week)
        dates = tuple(sorted((d, _norm(b)) for d, b in self.dates))
        breaks = tuple(sorted((d, _norm(b)) for d, b in self.breaks))
        object.__setattr__(self, "hours", hours)
        object.__setattr__(self, "week", week)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "breaks", breaks)
        if week:
            if len(week) != 7:
                raise ValueError(f"calendar {self.name!r}: week needs 7 entries, Monday first")
            object.__setattr__(self, "weekdays", frozenset(i for i, b in enumerate(week) if b))
        object.__setattr__(self, "weekdays", frozenset(self.weekdays))
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        object.__setattr__(self, "extra_workdays", frozenset(self.extra_workdays))
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"calendar {self.name!r}: unknown time zone {self.tz!r}") from exc
        if self.always_open:
            if (
                hours
                or self.country
                or self.extra_holidays
                or self.extra_workdays
                or week
                or dates
                or breaks
            ):
                raise ValueError(
                    f"calendar {self.name!r}: always_open takes no hours, country, "
                    "extra days, special dates or breaks"
                )
            return
        if not hours:
            raise ValueError(f"calendar {self.name!r}: working hours are required")
        for blocks_ in (hours, *week, *(b for _, b in dates), *(b for _, b in breaks)):
            _check_blocks(self.name, blocks_)
        for what, entries in (("dates", dates), ("breaks", breaks)):
            days = [d for d, _ in entries]
            if len(set(days)) != len(days):
                raise ValueError(f"calendar {self.name!r}: a date is given twice in {what}")
        if not self.weekdays <= frozenset(range(7)):
            raise ValueError(f"calendar {self.name!r}: weekdays must be 0..6")
        if both := self.extra_holidays & self.extra_workdays:
            raise ValueError(
                f"calendar {self.name!r}: days both extra holiday and extra workday: {sorted(both)}"
            )
        if self.country is not None and self.country not in supported_countries():
            raise ValueError(f"calendar {self.name!r}: unknown country {self.country!r}")


def _norm(blocks_: object) -> Blocks:
    """Blocks as a tuple of (int, int)."""
    return tuple((int(s), int(e)) for s, e in blocks_)  # type: ignore[attr-defined]


def _check_blocks(name: str, blocks_: Blocks) -> None:
    """Blocks must be sorted, non-overlapping (start, end) seconds within one day."""
    previous_end = 0
    for start, end in blocks_:
        if not 0 <= start < end <= DAY_S or start < previous_end:
            raise ValueError(
                f"calendar {name!r}: hours must be sorted, non-overlapping "
                f"(start, end) seconds within a day, got {blocks_!r}"
            )
        previous_end = end


def _cut(blocks_: Blocks, cuts: Blocks) -> Blocks:
    """`blocks_` minus the intervals in `cuts` (both sorted wall-clock seconds)."""
    out: list[Block] = []
    for start, end in blocks_:
        for c_start, c_end in cuts:
            if c_end <= start or c_start >= end:
                continue
            if c_start > start:
                out.append((start, c_start))
            start = max(start, c_end)
            if start >= end:
                break
        if start < end:
            out.append((start, end))
    return tuple(out)


@lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    """Country codes the holidays package knows (and their aliases), read from its registry:
    `holidays.list_supported_countries()` imports every country's module to list their
    subdivisions, ~45 ms of every command's start-up that loads a policy."""
    return frozenset(EntityLoader.get_country_codes(include_aliases=True))


@cache
def _country_days(country: str, year: int) -> tuple[frozenset[date], frozenset[date]]:
    """(public holidays, weekend make-up working days) of a country within one year."""
    table = holidays.country_holidays(country, years=year)
    days_off = frozenset(d for d in table if d.year == year)
    # weekend_workdays also carries cross-year make-up days from other years; keep ours.
    makeup = frozenset(d for d in table.weekend_workdays if d.year == year)
    return days_off, makeup


def _base_hours(cal: Calendar, day: date) -> Blocks:
    """A date's wall-clock blocks before breaks: special date, policy extras, the country,
    then the weekly pattern."""
    for d, special in cal.dates:
        if d == day:
            return special
    if day in cal.extra_workdays:
        return cal.hours
    if day in cal.extra_holidays:
        return ()
    if cal.country is not None:
        days_off, makeup = _country_days(cal.country, day.year)
        if day in makeup:
            return cal.hours
        if day in days_off:
            return ()
    weekday = day.weekday()
    if cal.week:
        return cal.week[weekday]
    return cal.hours if weekday in cal.weekdays else ()


def day_hours(cal: Calendar, day: date) -> Blocks:
    """Wall-clock working blocks (seconds from local midnight) of a local date; 24x7: the
    whole day."""
    if cal.always_open:
        return ((0, DAY_S),)
    base = _base_hours(cal, day)
    for d, cuts in cal.breaks:
        if d == day:
            return _cut(base, cuts)
    return base


def is_working_day(cal: Calendar, day: date) -> bool:
    """Whether a local date has working time: special dates first, then policy extras, the
    country, the weekly pattern, less its breaks (24x7 calendars work every day)."""
    return bool(day_hours(cal, day))
