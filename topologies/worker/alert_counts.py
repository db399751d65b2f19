"""`sla_alerts_total` and `sla_timer_lag_seconds` from the alerts a batch emitted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from topologies import metrics
from topologies.labels import TEAMS

_ALERT_SERIES: dict[tuple[str, ...], Any] = {}  # labels -> the ALERTS child (labels() locks)


def count_alerts(alerts: list[dict[str, Any]], from_timer: bool, detected: int) -> None:
    """Count each alert by its labels; a timer's alert also by how late it fired (µs clock)."""
    for a in alerts:
        team = TEAMS((a.get("responsible") or {}).get("team") or "")
        labels = (a["clock"], a["kind"], a["level"] or "", a["priority"] or "", team)
        series = _ALERT_SERIES.get(labels)
        if series is None:
            series = _ALERT_SERIES[labels] = metrics.ALERTS.labels(*labels)
        series.inc()
        if from_timer and a["kind"] != "retraction":
            lag = detected / 1e6 - _epoch_s(a["due_at"])
            metrics.TIMER_LAG.observe(max(lag, 0.0))


def _epoch_s(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text).timestamp()
