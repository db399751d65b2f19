"""The effective alert set: what a consumer that drops repeated alert ids and applies
retractions ends up with. One definition for what-if, the audit and the tests.

An alert is in the set when it was announced and no retraction names it; of an id announced more
than once (a worker restart re-emits, consumers drop repeats) the first announcement is kept.
A retraction removes its alert whether it is read before or after it, so the set does not depend
on the order the alerts are read in (only which announcement of a repeated id comes first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Alert = dict[str, Any]


@dataclass(slots=True)
class EffectiveSet:
    """The effective set, built one alert at a time (memory: the alerts standing, and the ids
    retracted so far)."""

    current: dict[str, Alert] = field(default_factory=dict)  # alert id -> first announcement
    retracted: set[str] = field(default_factory=set)  # ids some retraction named

    def add(self, alert: Alert) -> None:
        if alert["kind"] == "retraction":
            self.retracted.add(alert["retracts"])
            self.current.pop(alert["retracts"], None)
        elif alert["alert_id"] not in self.retracted:
            self.current.setdefault(alert["alert_id"], alert)

    def update(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            self.add(alert)


def effective(alerts: Iterable[Alert]) -> dict[str, Alert]:
    """Alert id -> alert for every alert announced and not retracted, in announcement order."""
    s = EffectiveSet()
    s.update(alerts)
    return s.current
