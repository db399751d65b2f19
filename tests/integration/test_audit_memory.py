"""The audit's memory does not grow with the range (issue 18): one generated centre (300
tickets a day for 30 days) audited over its first 1, 10 and 30 days, `sla-engine audit` in a
child process each time, its peak RSS (`ru_maxrss` from `wait4`) compared. Measured, not timed.

30 days hold 30 times the events, tickets and alerts of one. The reader streams a chunk a
partition, idle tickets are parked on disk beyond a fixed number kept in memory, both sides'
alerts and the findings go to SQLite: what is in memory is capped, so the peak rises while the
caps fill (the first days) and then stays. Measured: 1 day 100 MiB, 10 days 136, 30 days 136;
the code before this change: 1 day 89 MiB, 30 days 250 (the whole range in memory)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.audit import audit_child, prepare
from tests.integration.conftest import BrokerHandle

# Apache Kafka only: the reader's memory is the client's, the same on either broker.
pytestmark = pytest.mark.brokers("kafka")

PER_DAY = 300
DAY_US = 86_400 * 1_000_000


@pytest.fixture(scope="module")
def peaks(broker: BrokerHandle) -> dict[int, dict[str, Any]]:
    prep = prepare(broker.bootstrap, PER_DAY * 30, 30, seed=3, drop_every=1000)
    assert prep.dropped > 10
    out = {}
    for days in (1, 10, 30):
        result = audit_child(broker.bootstrap, prep, until=prep.since + days * DAY_US)
        assert result["exit"] in (0, 1), result["stderr"]
        out[days] = result | {"dropped": prep.dropped}
    return out


def test_peak_rss_does_not_grow_with_the_range(peaks: dict[int, dict[str, Any]]) -> None:
    one, ten, thirty = (float(peaks[d]["peak_rss_mib"]) for d in (1, 10, 30))
    # the caps fill in the first days (the old code grew by 160 MiB from 1 to 30 days) ...
    assert thirty - one < 60, peaks
    # ... and then the peak stays: 20 more days, 3 times the records, no growth
    assert thirty - ten < 15, peaks


def test_the_month_long_audit_finds_exactly_what_was_withheld(
    peaks: dict[int, dict[str, Any]],
) -> None:
    out = peaks[30]["stdout"]
    assert f"DIFFER: {peaks[30]['dropped']} differences" in out
