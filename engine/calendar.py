"""Business calendars: which instants count towards an SLA, and arithmetic over them.

Instants are integer µs since the epoch (engine.instant). A calendar turns each local
date into UTC working blocks [start, end); add_us / subtract_us / elapsed_us walk those
blocks day by day, with per-date caches so the hot path is dict lookups and integer
arithmetic.

A local date's wall-clock blocks come from, in order of precedence: its entry in `dates`
(special hours, overriding everything else; empty = closed), policy extra workdays /
holidays, the country's make-up days / holidays, then the weekly pattern (`week` when given,
else `hours` on `weekdays`). Make-up and extra working days use `hours`. `breaks` of the date
are then cut out of whatever blocks it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from engine.instant import US_PER_S, from_us, to_us

__all__ = [
    "Calendar",
    "add",
    "add_us",
    "blocks",
    "day_hours",
    "elapsed",
    "elapsed_us",
    "is_working_day",
    "subtract",
    "subtract_us",
]

Block = tuple[int, int]
Blocks = tuple[Block, ...]
DatedBlocks = tuple[tuple[date, Blocks], ...]

_DAY_S = 86_400
_DAY_US = _DAY_S * US_PER_S
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# add_us gives up after this many consecutive days without working time (a calendar
# with no working days at all would otherwise walk to date.max).
_MAX_IDLE_DAYS = 3_660
_ONE_US = timedelta(microseconds=1)


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
        if self.country is not None and self.country not in _supported_countries():
            raise ValueError(f"calendar {self.name!r}: unknown country {self.country!r}")


def _norm(blocks_: object) -> Blocks:
    """Blocks as a tuple of (int, int)."""
    return tuple((int(s), int(e)) for s, e in blocks_)  # type: ignore[attr-defined]


def _check_blocks(name: str, blocks_: Blocks) -> None:
    """Blocks must be sorted, non-overlapping (start, end) seconds within one day."""
    previous_end = 0
    for start, end in blocks_:
        if not 0 <= start < end <= _DAY_S or start < previous_end:
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
def _supported_countries() -> frozenset[str]:
    """Country codes the holidays package knows."""
    return frozenset(holidays.list_supported_countries())


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
        return ((0, _DAY_S),)
    base = _base_hours(cal, day)
    for d, cuts in cal.breaks:
        if d == day:
            return _cut(base, cuts)
    return base


def is_working_day(cal: Calendar, day: date) -> bool:
    """Whether a local date has working time: special dates first, then policy extras, the
    country, the weekly pattern, less its breaks (24x7 calendars work every day)."""
    return bool(day_hours(cal, day))


class _Zone:
    """A time zone plus a cache of local-midnight instants by date ordinal."""

    __slots__ = ("info", "starts")

    def __init__(self, key: str) -> None:
        self.info = ZoneInfo(key)
        self.starts: dict[int, int] = {}

    def day_start(self, ordinal: int) -> int:
        """UTC µs of local midnight (fold=0) starting the date with this ordinal."""
        start = self.starts.get(ordinal)
        if start is None:
            start = self.wall_to_us(ordinal, 0)
            self.starts[ordinal] = start
        return start

    def wall_to_us(self, ordinal: int, second: int) -> int:
        """UTC µs of a local wall time (seconds from midnight, fold=0) on a date."""
        d = date.fromordinal(ordinal)
        wall = datetime(
            d.year,
            d.month,
            d.day,
            second // 3600,
            second // 60 % 60,
            second % 60,
            tzinfo=self.info,
        )
        return to_us(wall)

    def local_ordinal(self, us: int) -> int:
        """Ordinal of the local date containing an instant (UTC offsets are within ±24 h)."""
        guess = us // _DAY_US + _EPOCH_ORDINAL
        starts = self.starts
        start = starts.get(guess)
        if start is None:
            start = self.day_start(guess)
        if us < start:
            return guess - 1
        following = starts.get(guess + 1)
        if following is None:
            following = self.day_start(guess + 1)
        return guess + 1 if us >= following else guess


_zones: dict[str, _Zone] = {}


def _zone(key: str) -> _Zone:
    """The shared cache for one IANA zone."""
    zone = _zones.get(key)
    if zone is None:
        zone = _zones[key] = _Zone(key)
    return zone


class _Plan:
    """Per-calendar cache: (blocks, total working µs) for each local date ordinal."""

    __slots__ = ("always_open", "cal", "days", "zone")

    def __init__(self, cal: Calendar) -> None:
        self.cal = cal
        self.always_open = cal.always_open
        self.zone = _zone(cal.tz)
        self.days: dict[int, tuple[Blocks, int]] = {}

    def day(self, ordinal: int) -> tuple[Blocks, int]:
        """Blocks and their total length for a local date, computed once."""
        entry = self.days.get(ordinal)
        if entry is None:
            entry = self.days[ordinal] = self._compute(ordinal)
        return entry

    def _compute(self, ordinal: int) -> tuple[Blocks, int]:
        """Convert the day's wall-clock hours to UTC, clamped monotonic inside the day."""
        zone = self.zone
        low = zone.day_start(ordinal)
        high = zone.day_start(ordinal + 1)
        if self.always_open:
            return ((low, high),), high - low
        wall = day_hours(self.cal, date.fromordinal(ordinal))
        if not wall:
            return (), 0
        out: list[Block] = []
        previous = low
        for start_s, end_s in wall:
            start = high if start_s >= _DAY_S else zone.wall_to_us(ordinal, start_s)
            end = high if end_s >= _DAY_S else zone.wall_to_us(ordinal, end_s)
            # A wall time in a DST gap maps (fold=0) past later wall times: clamp.
            start = min(max(start, previous), high)
            end = min(max(end, start), high)
            if end > start:
                out.append((start, end))
            previous = end
        return tuple(out), sum(e - s for s, e in out)


_plans: dict[Calendar, _Plan] = {}
# The last calendar looked up, as one tuple (read atomically): hashing a Calendar costs
# ~0.3 µs, an identity check almost nothing, and callers mostly reuse one object.
_last: tuple[Calendar | None, _Plan | None] = (None, None)


def _plan(cal: Calendar) -> _Plan:
    """The cache for a calendar (equal calendars share one)."""
    global _last
    last_cal, last_plan = _last
    if last_cal is cal and last_plan is not None:
        return last_plan
    plan = _plans.get(cal)
    if plan is None:
        plan = _plans[cal] = _Plan(cal)
    _last = (cal, plan)
    return plan


def blocks(cal: Calendar, day: date) -> Blocks:
    """UTC µs intervals [start, end) of working time on a local date; empty if none.

    24x7: one block from local midnight to the next (23 h or 25 h on DST days).
    """
    return _plan(cal).day(day.toordinal())[0]


def add_us(cal: Calendar, start_us: int, duration_us: int) -> int:
    """The earliest instant at which the working time elapsed since start_us equals
    duration_us (so a result can be a block end, and add_us(c, x, 0) == x)."""
    if duration_us < 0:
        raise ValueError(f"negative duration {duration_us} µs")
    if duration_us == 0:
        return start_us
    plan = _plan(cal)
    if plan.always_open:
        return start_us + duration_us
    days = plan.days
    ordinal = plan.zone.local_ordinal(start_us)
    remaining = duration_us
    entry = days.get(ordinal)
    if entry is None:
        entry = plan.day(ordinal)
    for start, end in entry[0]:
        if end <= start_us:
            continue
        if start < start_us:
            start = start_us
        available = end - start
        if remaining <= available:
            return start + remaining
        remaining -= available
    idle = 0
    while True:
        ordinal += 1
        entry = days.get(ordinal)
        if entry is None:
            entry = plan.day(ordinal)
        day_blocks, total = entry
        if remaining > total:
            remaining -= total
            if total:
                idle = 0
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise ValueError(
                        f"calendar {cal.name!r}: no working time in {_MAX_IDLE_DAYS} days"
                    )
            continue
        for start, end in day_blocks:
            available = end - start
            if remaining <= available:
                return start + remaining
            remaining -= available


def subtract_us(cal: Calendar, end_us: int, duration_us: int) -> int:
    """The latest instant s with exactly duration_us of working time in [s, end_us): the
    mirror of add_us (so a result can be a block start, and subtract_us(c, x, 0) == x).
    For t in working time, subtract_us(c, add_us(c, t, d), d) == t."""
    if duration_us < 0:
        raise ValueError(f"negative duration {duration_us} µs")
    if duration_us == 0:
        return end_us
    plan = _plan(cal)
    if plan.always_open:
        return end_us - duration_us
    ordinal = plan.zone.local_ordinal(end_us)
    remaining = duration_us
    for start, end in reversed(plan.day(ordinal)[0]):
        if start >= end_us:
            continue
        if end > end_us:
            end = end_us
        available = end - start
        if remaining <= available:
            return end - remaining
        remaining -= available
    idle = 0
    while True:
        ordinal -= 1
        day_blocks, total = plan.day(ordinal)
        if remaining > total:
            remaining -= total
            idle = 0 if total else idle + 1
            if idle > _MAX_IDLE_DAYS:
                raise ValueError(f"calendar {cal.name!r}: no working time in {_MAX_IDLE_DAYS} days")
            continue
        for start, end in reversed(day_blocks):
            available = end - start
            if remaining <= available:
                return end - remaining
            remaining -= available


def elapsed_us(cal: Calendar, a_us: int, b_us: int) -> int:
    """Working µs in [a_us, b_us); 0 when b_us <= a_us (a reversed interval counts nothing:
    it is not a negative duration; use elapsed_us(c, b, a) for the time between them)."""
    if b_us <= a_us:
        return 0
    plan = _plan(cal)
    if plan.always_open:
        return b_us - a_us
    zone = plan.zone
    days = plan.days
    first = zone.local_ordinal(a_us)
    last = zone.local_ordinal(b_us)
    entry = days.get(first)
    if entry is None:
        entry = plan.day(first)
    if first == last:
        total = 0
        for start, end in entry[0]:
            if end > b_us:
                end = b_us
            if start < a_us:
                start = a_us
            if end > start:
                total += end - start
        return total
    total = 0
    for start, end in entry[0]:
        if end > a_us:
            total += end - (start if start > a_us else a_us)
    for ordinal in range(first + 1, last):
        entry = days.get(ordinal)
        if entry is None:
            entry = plan.day(ordinal)
        total += entry[1]
    entry = days.get(last)
    if entry is None:
        entry = plan.day(last)
    for start, end in entry[0]:
        if start >= b_us:
            break
        total += (end if end < b_us else b_us) - start
    return total


def _aware_us(moment: datetime) -> int:
    """µs of an aware datetime; naive ones are refused (their instant is unknown)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: a time zone is required")
    return to_us(moment)


def add(cal: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The earliest UTC datetime by which `duration` of working time has elapsed."""
    return from_us(add_us(cal, _aware_us(start), duration // _ONE_US))


def subtract(cal: Calendar, end: datetime, duration: timedelta) -> datetime:
    """The latest UTC datetime from which `duration` of working time elapses by `end`."""
    return from_us(subtract_us(cal, _aware_us(end), duration // _ONE_US))


def elapsed(cal: Calendar, a: datetime, b: datetime) -> timedelta:
    """Working time in [a, b); zero when b <= a."""
    return timedelta(microseconds=elapsed_us(cal, _aware_us(a), _aware_us(b)))
