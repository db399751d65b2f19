"""Instants as integer microseconds since the Unix epoch (UTC): exact and cheap to compare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US_PER_S = 1_000_000


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch for a timezone-aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: a time zone is required")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US_PER_S + delta.microseconds


def from_us(us: int) -> datetime:
    """The UTC datetime of an instant."""
    return _EPOCH + timedelta(microseconds=us)


def iso(us: int) -> str:
    """ISO 8601 in UTC with a `+00:00` offset; microseconds only when non-zero."""
    return from_us(us).isoformat()


def seconds(us: int) -> float:
    """A duration in microseconds as seconds (for output fields)."""
    return us / US_PER_S
