"""Instants as integer microseconds since the Unix epoch (UTC): exact and cheap to compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_S = 1_000_000
_US = timedelta(microseconds=1)
_HOUR_US = 3_600 * US_PER_S
_TWO = tuple(f"{n:02d}" for n in range(60))


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch for a timezone-aware datetime."""
    try:
        return (moment - _EPOCH) // _US  # one exact C division; naive - aware is a TypeError
    except TypeError:
        raise ValueError(f"naive datetime {moment.isoformat()}: a time zone is required") from None


def from_us(us: int) -> datetime:
    """The UTC datetime of an instant."""
    return _EPOCH + timedelta(microseconds=us)


def iso(us: int) -> str:
    """ISO 8601 in UTC with a `+00:00` offset; microseconds only when non-zero (the text of
    `from_us(us).isoformat()`, made from the hour's prefix, cached: two per alert emitted)."""
    hour = us // _HOUR_US  # floor division and remainders, not `divmod`: native when compiled
    rest = us - hour * _HOUR_US
    micro = rest % US_PER_S
    minute, second = rest // 60_000_000, rest // US_PER_S % 60
    prefix = _HOURS.get(hour)
    if prefix is None:
        prefix = _hour(hour)
    if micro:  # `str` of 1_micro, not `:06d`: a format spec is a generic call in compiled code
        fraction = str(micro + US_PER_S)[1:]
        return f"{prefix}{_TWO[minute]}:{_TWO[second]}.{fraction}+00:00"
    return f"{prefix}{_TWO[minute]}:{_TWO[second]}+00:00"


def _hour(hour: int) -> str:
    """`YYYY-MM-DDTHH:` of an hour since the epoch (OverflowError outside datetime's range),
    kept in `_HOURS` (a dict: cheaper to read from compiled code than an `lru_cache`)."""
    if len(_HOURS) >= 65_536:
        _HOURS.clear()
    prefix = _HOURS[hour] = (_EPOCH + timedelta(hours=hour)).isoformat()[:14]
    return prefix


_HOURS: dict[int, str] = {}


def seconds(us: int) -> float:
    """A duration in microseconds as seconds (for output fields)."""
    return us / US_PER_S
