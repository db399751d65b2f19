"""The pure arithmetic of the benchmarks' figures: percentiles, rates from counter samples,
metrics text, due schedules, timer lags and the `bench stream` report (unit-tested)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

S_US = 1_000_000
WARNING_AFTER_S = 60  # priority A first_response target in the default policy


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def lag_summary(lags_s: Sequence[float]) -> dict[str, float | int]:
    """Count, p50, p99 and max of latencies in seconds (rounded to ms)."""
    if not lags_s:
        return {"count": 0, "p50_s": math.nan, "p99_s": math.nan, "max_s": math.nan}
    return {
        "count": len(lags_s),
        "p50_s": round(percentile(lags_s, 50), 3),
        "p99_s": round(percentile(lags_s, 99), 3),
        "max_s": round(max(lags_s), 3),
    }


def rate_from_samples(samples: Sequence[tuple[float, float]], target: float) -> float | None:
    """Events/s of a counter that climbs from 0 to ``target``, from ``(time, count)`` samples.

    From the first sample with a count > 0 (the group join and start-up before it are left
    out) to the last sample below ``target``: both fall inside the run, so the time between the
    true end and the sample that saw it is left out too. With no sample between them, the
    first sample that reached ``target`` ends the interval. None if ``target`` was never seen."""
    start = next(((t, c) for t, c in samples if c > 0), None)
    reached = next(((t, c) for t, c in samples if c >= target), None)
    if start is None or reached is None:
        return None
    inner = [(t, c) for t, c in samples if start[0] < t < reached[0] and c < target]
    end = inner[-1] if inner else reached
    if end[0] <= start[0]:
        return None
    return (end[1] - start[1]) / (end[0] - start[0])


def metric_sum(text: str, name: str) -> float | None:
    """Sum of every sample of metric ``name`` in a Prometheus text exposition (None: absent)."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    """The samples of metric ``name`` in a Prometheus text exposition, summed by the value of
    their label ``label``."""
    out: dict[str, float] = {}
    head = f"{name}{{"
    for line in text.splitlines():
        if line.startswith(head):
            labels, value = line[len(head) :].rsplit("} ", 1)
            for pair in labels.split(","):
                key, _, quoted = pair.partition("=")
                if key == label:
                    out[quoted.strip('"')] = out.get(quoted.strip('"'), 0.0) + float(value)
    return out


def budget(
    faust: float | None, engine: float | None, work_s: dict[str, float], events: int
) -> dict[str, Any] | None:
    """The worker's time per event against the pass-through's: its own work by kind
    (`sla_work_seconds_total`) and the rest (Faust, the Kafka clients, the event loop), and the
    c/b it would have if its own work took no time, the most a faster engine could give."""
    if not faust or not engine or not events or not work_s:
        return None
    engine_us, work_us = S_US / engine, sum(work_s.values()) * S_US / events
    rest_us = engine_us - work_us
    return {
        "faust_us_per_event": round(S_US / faust, 1),
        "engine_us_per_event": round(engine_us, 1),
        "work_us_per_event": round(work_us, 1),
        "work_us_by_kind": {k: round(v * S_US / events, 1) for k, v in sorted(work_s.items())},
        "rest_us_per_event": round(rest_us, 1),
        "ratio_c_b_without_work": ratio(S_US / rest_us, faust) if rest_us > 0 else None,
    }


def gc_pauses(text: str) -> dict[str, dict[str, float]]:
    """``sla_gc_pause_seconds`` and ``sla_gc_collected_objects_total`` of a scrape: per
    generation, collections, seconds paused and cyclic garbage objects freed."""
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        for head, field in (
            ("sla_gc_pause_seconds_count{", "collections"),
            ("sla_gc_pause_seconds_sum{", "seconds"),
            ("sla_gc_collected_objects_total{", "freed"),
        ):
            if line.startswith(head):
                gen = line[len(head) :].split('"')[1]
                out.setdefault(gen, {})[field] = float(line.rsplit(" ", 1)[1])
    return out


def gc_delta(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """What the collector did between two `gc_pauses` readings."""
    out = {}
    for gen, now in sorted(after.items()):
        was = before.get(gen, {})
        out[gen] = {k: round(v - was.get(k, 0.0), 3) for k, v in now.items()}
    return out


def due_schedule(start_us: int, n: int, lead_s: float, window_s: float) -> list[int]:
    """``n`` deadlines (µs) spread evenly over ``[start + lead, start + lead + window)``."""
    first = start_us + int(lead_s * S_US)
    step = window_s * S_US / max(n, 1)
    return [first + int(i * step) for i in range(n)]


def lags_of(alerts: Iterable[dict[str, Any]], prefix: str) -> list[float]:
    """``detected_at - due_at`` (s) of the first-response warnings of tickets named ``prefix*``."""
    out = []
    for a in alerts:
        if (
            a.get("kind") == "warning"
            and a.get("clock") == "first_response"
            and str(a.get("ticket_id", "")).startswith(prefix)
        ):
            due = datetime.fromisoformat(a["due_at"])
            detected = datetime.fromisoformat(a["detected_at"])
            out.append((detected - due).total_seconds())
    return out


def per(value: float | None, n: float | None) -> float | None:
    """``value / n`` rounded, or None when either is missing or n is 0."""
    if value is None or not n:
        return None
    return round(value / n, 1)


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den:
        return None
    return round(num / den, 4)


def assemble(
    config: dict[str, Any],
    rates: dict[str, float | None],
    timers: dict[str, Any] | None,
) -> dict[str, Any]:
    """The report: events/s of raw (a), faust (b), engine (c), ratios c/a and c/b (and c/b of
    the `--role sla` worker when it ran), timers."""
    a, b, c = rates.get("raw"), rates.get("faust"), rates.get("engine")
    out: dict[str, Any] = {
        **config,
        "events_per_s": {k: None if v is None else round(v) for k, v in rates.items()},
        "ratio_c_a": ratio(c, a),
        "ratio_c_b": ratio(c, b),
        "goal_c_b": 0.5,
    }
    if "engine_sla" in rates:  # `--roles split`: the --role sla worker, the KPI role beside it
        out["ratio_c_b_sla"] = ratio(rates["engine_sla"], b)
    for key in ("engine", "engine_sla"):
        work = config.get(f"{key}_work_seconds")
        if work is not None:
            out[f"{key}_budget"] = budget(b, rates.get(key), work, config.get("events", 0))
    if timers is not None:
        out["timers"] = timers
    return out


def _fmt(v: Any, spec: str) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def summary_line(result: dict[str, Any]) -> str:
    """One human line for stderr."""
    r = result.get("events_per_s", {})
    parts = [
        f"{result.get('broker', 'broker')}, {result.get('events', 0):,} events: "
        f"raw {_fmt(r.get('raw'), ',')}/s",
        f"faust {_fmt(r.get('faust'), ',')}/s",
        f"engine {_fmt(r.get('engine'), ',')}/s",
        f"c/a {_fmt(result.get('ratio_c_a'), '.3f')}",
        f"c/b {_fmt(result.get('ratio_c_b'), '.3f')} (goal >= 0.5)",
    ]
    spent = result.get("engine_budget")
    if spent:
        parts.append(
            f"engine {_fmt(spent['engine_us_per_event'], '.0f')} µs/event, its own work "
            f"{_fmt(spent['work_us_per_event'], '.0f')}, the rest "
            f"{_fmt(spent['rest_us_per_event'], '.0f')} (c/b without its work "
            f"{_fmt(spent['ratio_c_b_without_work'], '.3f')})"
        )
    if "ratio_c_b_sla" in result:
        parts.append(
            f"engine --role sla {_fmt(r.get('engine_sla'), ',')}/s "
            f"c/b {_fmt(result.get('ratio_c_b_sla'), '.3f')}"
        )
    layouts = result.get("timers_by_roles") or {"": result.get("timers")}
    for name, t in layouts.items():
        if not t:
            continue
        lat = t.get("latency", {})
        parts.append(
            f"timers{f' ({name})' if name else ''} at {_fmt(t.get('open_tickets'), ',')} open: "
            f"p50 {_fmt(lat.get('p50_s'), '.3f')} s p99 {_fmt(lat.get('p99_s'), '.3f')} s "
            f"({lat.get('count', 0)}/{t.get('due_tickets')} warnings), "
            f"RSS {_fmt(t.get('rss_bytes_per_open_ticket'), ',')} B/ticket, "
            f"disk {_fmt(t.get('disk_bytes_per_open_ticket'), ',')} B/ticket"
        )
    return "; ".join(parts)
