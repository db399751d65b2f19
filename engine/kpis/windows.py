"""Tumbling event-time windows in the reporting time zone: hour, day, ISO week, month.

A window is identified by its unit and its start instant (µs, UTC). Days, weeks and months
start at local midnight (weeks on Monday, months on the 1st), so a day is 23 or 25 hours long
on a DST change. An hour window starts at a local wall-clock hour (the later of two equal
wall hours on a fall-back has its own window) and lasts 3600 s.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from engine.calendar import _zone
from engine.instant import US_PER_S, from_us, to_us

UNITS = ("hour", "day", "week", "month")
UNIT_ORDER = {u: i for i, u in enumerate(UNITS)}
BACKLOG_UNITS = ("day", "week", "month")  # backlog is taken at the end of these only
HOUR_US = 3600 * US_PER_S
_BUCKET_US = 900 * US_PER_S  # every UTC offset in use is a multiple of 15 minutes

Window = tuple[str, int]  # (unit, start µs)


class Windows:
    """Window arithmetic for one reporting time zone and a set of units (cached)."""

    def __init__(self, tz: str, units: tuple[str, ...] = UNITS) -> None:
        for u in units:
            if u not in UNIT_ORDER:
                raise ValueError(f"unknown window unit {u!r}")
        self.tz = tz
        self.info = ZoneInfo(tz)
        self.zone = _zone(tz)
        self.units = tuple(u for u in UNITS if u in units)
        self._by_bucket: dict[int, tuple[Window, ...]] = {}
        self._ends: dict[Window, int] = {}
        self._texts: dict[Window, tuple[str, str, str]] = {}

    # ---------------------------------------------------------------- the window of an instant

    def start(self, unit: str, at: int) -> int:
        """Start of the `unit` window containing instant `at`."""
        zone = self.zone
        if unit == "hour":
            local = from_us(at).astimezone(self.info)
            return to_us(local.replace(minute=0, second=0, microsecond=0))
        ordinal = zone.local_ordinal(at)
        if unit == "day":
            return zone.day_start(ordinal)
        if unit == "week":
            return zone.day_start(ordinal - date.fromordinal(ordinal).weekday())
        if unit == "month":
            return zone.day_start(date.fromordinal(ordinal).replace(day=1).toordinal())
        raise ValueError(f"unknown window unit {unit!r}")

    def of(self, at: int) -> tuple[Window, ...]:
        """Every configured window containing `at` (cached per 15-minute bucket when the
        whole bucket lies in the same windows, which is always the case for real offsets)."""
        bucket = at // _BUCKET_US
        hit = self._by_bucket.get(bucket)
        if hit is not None:
            return hit
        out = tuple((u, self.start(u, at)) for u in self.units)
        lo, hi = bucket * _BUCKET_US, (bucket + 1) * _BUCKET_US - 1
        if all(self.start(u, lo) == s and self.start(u, hi) == s for u, s in out):
            self._by_bucket[bucket] = out
        return out

    def end(self, unit: str, start: int) -> int:
        """End (exclusive) of the window starting at `start`."""
        key = (unit, start)
        end = self._ends.get(key)
        if end is None:
            if unit == "hour":
                end = start + HOUR_US
            else:
                ordinal = self.zone.local_ordinal(start)
                if unit == "day":
                    end = self.zone.day_start(ordinal + 1)
                elif unit == "week":
                    end = self.zone.day_start(ordinal + 7)
                else:
                    d = date.fromordinal(ordinal)
                    nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
                    end = self.zone.day_start(nxt.toordinal())
            self._ends[key] = end
        return end

    def ends_between(self, lo: int, hi: int) -> list[tuple[str, int, int]]:
        """(unit, start, end) of the configured day/week/month windows with lo < end <= hi, in
        order of end then unit."""
        units = [u for u in BACKLOG_UNITS if u in self.units]
        if hi <= lo or not units:
            return []
        zone = self.zone
        out: list[tuple[str, int, int]] = []
        ordinal = zone.local_ordinal(lo)
        while True:
            end = zone.day_start(ordinal + 1)
            if end > hi:
                return out
            if end > lo:
                nxt = date.fromordinal(ordinal + 1)
                for u in units:
                    if u == "day":
                        out.append(("day", zone.day_start(ordinal), end))
                    elif u == "week" and nxt.weekday() == 0:
                        out.append(("week", zone.day_start(ordinal - 6), end))
                    elif u == "month" and nxt.day == 1:
                        first = date.fromordinal(ordinal).replace(day=1).toordinal()
                        out.append(("month", zone.day_start(first), end))
            ordinal += 1

    # ---------------------------------------------------------------- neighbours and labels

    def previous(self, unit: str, start: int) -> int:
        """Start of the window just before."""
        return self.start(unit, start - 1)

    def last_year(self, unit: str, start: int) -> int | None:
        """Start of the same period one year earlier: the same local hour, date, ISO week
        number or month; None when it does not exist (29 February, ISO week 53)."""
        local = from_us(start).astimezone(self.info)
        try:
            if unit == "week":
                year, week, _ = local.date().isocalendar()
                d = date.fromisocalendar(year - 1, week, 1)
                moment = datetime(d.year, d.month, d.day, tzinfo=self.info)
            else:
                moment = local.replace(year=local.year - 1, fold=0)
        except ValueError:
            return None
        candidate = to_us(moment)
        return candidate if self.start(unit, candidate) == candidate else None

    def next_year(self, unit: str, start: int) -> int | None:
        """The window whose same period last year is the one at `start` (if any)."""
        local = from_us(start).astimezone(self.info)
        try:
            if unit == "week":
                year, week, _ = local.date().isocalendar()
                d = date.fromisocalendar(year + 1, week, 1)
                moment = datetime(d.year, d.month, d.day, tzinfo=self.info)
            else:
                moment = local.replace(year=local.year + 1, fold=0)
        except ValueError:
            return None
        candidate = to_us(moment)
        return candidate if self.last_year(unit, candidate) == start else None

    def describe(self, unit: str, start: int) -> tuple[str, str, str]:
        """(start, end) in local ISO 8601 and the label of a window (cached)."""
        key = (unit, start)
        text = self._texts.get(key)
        if text is None:
            end = self.end(unit, start)
            text = (self.local_iso(start), self.local_iso(end), self.label(unit, start))
            self._texts[key] = text
        return text

    def local_iso(self, at: int) -> str:
        """An instant in ISO 8601 with the reporting zone's offset."""
        return from_us(at).astimezone(self.info).isoformat()

    def label(self, unit: str, start: int) -> str:
        """Human label: 2026-11-23T09, 2026-11-23, 2026-W48, 2026-11."""
        local = from_us(start).astimezone(self.info)
        if unit == "hour":
            return local.strftime("%Y-%m-%dT%H")
        if unit == "day":
            return local.strftime("%Y-%m-%d")
        if unit == "week":
            year, week, _ = local.date().isocalendar()
            return f"{year}-W{week:02d}"
        return local.strftime("%Y-%m")
