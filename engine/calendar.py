"""Business calendars: which instants count towards an SLA, and arithmetic over them.

Instants are integer µs since the epoch (engine.instant). A calendar turns each local
date into UTC working blocks [start, end); add_us / subtract_us / elapsed_us walk those
blocks day by day, with per-date caches so the hot path is dict lookups and integer
arithmetic.

Which wall-clock hours each local date has (weekly hours, holidays, special dates, breaks)
is `engine.calendar_days`; `Calendar` and its day rules are re-exported here.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engine.calendar_days import DAY_S, Block, Blocks, Calendar, day_hours, is_working_day
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

_DAY_S = DAY_S
_DAY_US = _DAY_S * US_PER_S
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# add_us gives up after this many consecutive days without working time (a calendar
# with no working days at all would otherwise walk to date.max).
_MAX_IDLE_DAYS = 3_660
_ONE_US = timedelta(microseconds=1)


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
