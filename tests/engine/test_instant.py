"""`engine.instant`: the cached ISO text and the one-division µs count say exactly what
`datetime` says (they replaced `from_us(us).isoformat()` and the timedelta arithmetic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.instant import _EPOCH, from_us, iso, to_us

LOW = to_us(datetime(1, 1, 1, tzinfo=UTC))
HIGH = to_us(datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC))
OFFSETS = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.integers(LOW, HIGH), st.integers(0, 4_000_000_000).map(lambda s: s * 10**6)))
def test_iso_is_the_datetime_text(us: int) -> None:
    assert iso(us) == from_us(us).isoformat()


def test_iso_edges() -> None:
    assert iso(0) == "1970-01-01T00:00:00+00:00"
    assert iso(-1) == "1969-12-31T23:59:59.999999+00:00"
    assert iso(LOW) == "0001-01-01T00:00:00+00:00"
    assert iso(HIGH) == "9999-12-31T23:59:59.999999+00:00"
    with pytest.raises(OverflowError):
        iso(HIGH + 3_600 * 10**6)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(timezones=OFFSETS))
def test_to_us_counts_from_the_epoch(moment: datetime) -> None:
    delta = moment - _EPOCH
    assert to_us(moment) == (delta.days * 86_400 + delta.seconds) * 10**6 + delta.microseconds
    assert from_us(to_us(moment)) == moment


def test_to_us_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="a time zone is required"):
        to_us(datetime(2026, 1, 1))
