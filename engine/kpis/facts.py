"""What one ticket contributes to the KPIs: `contributions(ticket) -> tuple[Fact, ...]`.

A fact is window-independent: a metric, the event-time instant it belongs to, the ticket's
dimension values at that instant, and an integer value. The store (`engine.kpis.store`) puts
each fact in every window containing its instant, for every dimension. Facts are a pure
function of the ticket's history, SLA state and ledger; when a ticket changes, the caller
retracts its previous facts and adds the new ones, so late events, reopens, replaced surveys,
exemptions and overturned appeals change exactly the windows they belong to.

Dimension values are the ticket's at the fact's instant (after the events up to then): the
holder at that moment, so a hand-off sends later facts to the new team and agent; breach facts
name the holder and priority recorded with the decision. Unset values count under "unknown".

Definitions (each fact is counted in the window of the instant named):

- `accepted` — the ticket's first `created` event.
- `resolved` — the ticket's *standing* resolution: its last `resolved` event when no
  `reopened` follows it (a reopen withdraws the earlier resolution; the next one counts).
  The value carries two flags: **first-contact resolution** (no reopen before it and no
  hand-off, i.e. the agent or team never changed to another one after first being set) and
  *reopened* (at least one reopen before it). Resolution rate = resolved / accepted;
  FCR rate = first-contact resolved / resolved; reopen rate = reopened-then-resolved /
  resolved. `reopen` counts every `reopened` event at its instant.
- `ttfr_wall`, `ttfr_business` — created → the first `responded` (at the response), in wall
  µs and in business µs on the policy's business calendar (the same interval measured on the
  calendar: nights, weekends and holidays do not count; pauses do). `ttr_*` likewise created
  → the standing resolution.
- `sla.<clock>` — one per decided clock cycle: value 1 (met) when the cycle stopped without a
  breach (at the stop; cycles with no target are not counted), value 0 (missed) when it
  breached (at the breach instant, even if still running). A running cycle that has not
  breached is undecided and absent. A breached cycle whose breach was **exempted** or
  **overturned** on appeal leaves attainment (neither met nor due) and is counted as
  `sla.<clock>.exempted` / `sla.<clock>.overturned` at the breach instant instead.
- `breach.<clock>.<level>` — every standing breach (minor) and escalation (moderate, severe)
  at its threshold instant; exempted and overturned ones are left out (an appeal against an
  escalation withdraws that grade and those above it; the breach below stands, and so does
  the cycle's "missed").
- `exemptions`, `appeals_overturned` — each `exemption_granted` / overturning
  `appeal_decided` event that withdrew at least one breach or escalation, at its own instant.
- `complaint` — a ticket whose category is the policy's complaint category: value 1 when the
  first `responded` came within `complaint_within` (wall time) of creation, at the response;
  value 0 when not, at creation + `complaint_within` (the instant it was missed; the store
  holds facts later than its horizon until the horizon reaches them).
- `open` — an interval [at, until) in which the ticket is unresolved (created or reopened, not
  yet resolved or closed), split where its dimension values change; `value` is the creation
  instant (for the age band). The store turns it into backlog at the end of every day, week
  and month window within the interval.
- `records` — a closed ticket (status closed now), at its last `closed` event; the value is a
  bit mask of the missing record fields (`RECORD_FIELDS`): customer reference, request type,
  product, handler, solution, customer confirmation. 0 = complete.
- `surveys.sent` — the ticket's latest `survey_sent`.
- `survey` — the ticket's counted survey: the latest valid `survey_submitted`; the value packs
  the seven scores as decimal digits in `SURVEY_ITEMS` order (0 = not scored). Earlier valid
  ones are `surveys.replaced`; invalid ones are `surveys.invalid.<reason>` at their instants:
  the producer's `invalid_reason` when it is one the policy names, else `other`;
  `unknown_ticket` (no `created` event); `no_overall` (no overall score).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, NamedTuple

from engine.alerts import suppressed
from engine.calendar import elapsed_us
from engine.evaluate import ATTRS
from engine.history import Ev
from engine.rules import ClockRule, Target, any_fires
from engine.ticket import Ticket
from schemas.attributes import DIMENSIONS, SURVEY_ITEMS

DIMENSION_ATTRS: tuple[str, ...] = DIMENSIONS
Dims = tuple[str | None, str | None, str | None, str | None, str | None, str | None]
NO_DIMS: Dims = (None, None, None, None, None, None)
RECORD_FIELDS = (
    "customer_ref",
    "request_type",
    "product",
    "handler",
    "solution",
    "customer_confirmed",
)
RESOLVED_FCR = 2  # flag bits of the `resolved` value (bit 0 is always set)
RESOLVED_REOPENED = 4
DISTRIBUTIONS = ("ttfr_wall", "ttfr_business", "ttr_wall", "ttr_business")
DIST_OFFSET = 1 << 60  # in a cell, distribution i's entries are the ints [i·2^60, (i+1)·2^60)
_ATTR_SET = frozenset(ATTRS)
_RECORD_KEYS = frozenset({"request_type", "solution", "customer_confirmed", "customer_ref"})


class Fact(NamedTuple):
    """One contribution of one ticket; see the module docstring for the metrics."""

    metric: str
    at: int  # event-time instant (µs)
    dims: Dims  # team, agent, priority, channel, category, product_line at `at`
    value: int = 1
    until: int | None = None  # `open` intervals only: end (None = still open)


class _Timeline:
    """The ticket's dimension values over time: after all events at or before an instant."""

    __slots__ = ("dims", "points")

    def __init__(self) -> None:
        self.points: list[int] = []
        self.dims: list[Dims] = []

    def push(self, at: int, dims: Dims) -> None:
        if self.dims and self.dims[-1] == dims:
            return
        if self.points and self.points[-1] == at:
            self.dims[-1] = dims
        else:
            self.points.append(at)
            self.dims.append(dims)

    def at(self, t: int) -> Dims:
        i = bisect_right(self.points, t) - 1
        return self.dims[i] if i >= 0 else (self.dims[0] if self.dims else NO_DIMS)


class _Cycles:
    """A clock's cycle boundaries, replayed from the history with the same start / stop /
    resume rules as `engine.evaluate` (no calendar arithmetic: only when cycles end)."""

    __slots__ = ("active", "cycle", "rule", "stops")

    def __init__(self, rule: ClockRule) -> None:
        self.cycle = 0
        self.active = False
        self.rule = rule  # the current cycle's rule (policy versions: the one it started under)
        self.stops: dict[int, tuple[int, Dims, bool]] = {}  # cycle -> (stop at, dims, targeted)


def _tracked(target: Target | None) -> bool:
    """A cycle with a target to meet (not unmatched, not an `untracked` entry)."""
    return target is not None and bool(target.thresholds)


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _survey_code(scores: dict[str, Any]) -> int:
    code = 0
    for item in SURVEY_ITEMS:
        s = scores.get(item)
        code = code * 10 + (s if isinstance(s, int) and 1 <= s <= 5 else 0)
    return code


def decode_survey(code: int) -> tuple[int, ...]:
    """The seven scores of a packed survey value (0 = not scored)."""
    return tuple(int(c) for c in str(code).zfill(len(SURVEY_ITEMS)))


def contributions(ticket: Ticket) -> tuple[Fact, ...]:
    """Every KPI fact of one ticket as of its current state (history, SLA state and ledger;
    the rules are `ticket.state.policy.kpis`). Deterministic order; pure."""
    history: Sequence[Ev] = ticket.history
    state = ticket.state
    policy = state.policy
    rules = policy.kpis
    cal = rules.business_calendar
    out: list[Fact] = []
    add = out.append

    attrs: dict[str, Any] = {}
    timeline = _Timeline()
    versioned = bool(policy.later)
    first: dict[str, ClockRule] = {}
    for version in reversed(policy.versions()):
        first.update((rule.name, rule) for rule in version.clocks)
    cycles = {name: _Cycles(first[name]) for name in policy.clock_names()}

    created: int | None = None
    first_response: int | None = None
    resolved_at: int | None = None  # standing resolution
    resolved_dims: Dims = NO_DIMS
    reopens = 0
    handoff = False
    handoff_at_resolution = False
    reopens_at_resolution = 0
    holder: dict[str, str] = {}
    open_since: int | None = None
    open_dims: Dims = NO_DIMS
    closed: tuple[int, Dims] | None = None
    survey_sent: tuple[int, Dims] | None = None
    submissions: list[tuple[int, Dims, dict[str, Any]]] = []
    fields: dict[str, Any] = {}

    def close_open(t: int) -> None:
        nonlocal open_since
        if open_since is not None and created is not None and t > open_since:
            add(Fact("open", open_since, open_dims, created, t))
        open_since = None

    states = list(cycles.items())
    g = attrs.get
    dims: Dims = NO_DIMS
    for ev in history:
        data, etype, t = ev.data, ev.type, ev.at
        touched = False
        for name, value in data.items():
            if name in _ATTR_SET:
                attrs[name] = value
                touched = True
            elif name in _RECORD_KEYS:
                fields[name] = value
        current = policy.at(t) if versioned else policy
        status_now = current.status_on.get(etype)
        if status_now is not None and etype != "status_changed":
            attrs["status"] = status_now
        if touched:
            dims = (g("team"), g("agent"), g("priority"), g("channel"), g("category"),
                    g("product_line"))  # fmt: skip
            for role in ("agent", "team"):
                v = data.get(role)
                if v is not None:
                    if role in holder and holder[role] != v:
                        handoff = True
                    holder[role] = v
        timeline.push(t, dims)

        if open_since is not None and dims != open_dims:
            since = open_since
            close_open(t)
            open_since = t if t > since else since
            open_dims = dims

        if etype == "created":
            if created is None:
                created = t
                add(Fact("accepted", t, dims))
                if resolved_at is None and open_since is None:
                    open_since, open_dims = t, dims
        elif etype == "responded":
            if first_response is None and created is not None and t >= created:
                first_response = t
                add(Fact("ttfr_wall", t, dims, t - created))
                if cal is not None:
                    add(Fact("ttfr_business", t, dims, elapsed_us(cal, created, t)))
        elif etype == "resolved":
            resolved_at, resolved_dims = t, dims
            handoff_at_resolution, reopens_at_resolution = handoff, reopens
            close_open(t)
        elif etype == "reopened":
            reopens += 1
            add(Fact("reopen", t, dims))
            resolved_at = None
            if created is not None and open_since is None:
                open_since, open_dims = t, dims
        elif etype == "closed":
            closed = (t, dims)
            close_open(t)
        elif etype == "survey_sent":
            survey_sent = (t, dims)
        elif etype == "survey_submitted":
            submissions.append((t, dims, dict(data.get("survey") or {})))

        # Clock cycles (the same start / stop / resume precedence as engine.evaluate).
        stop_all = etype in current.stop_all_on
        for name, c in states:
            rule = c.rule
            if c.active:
                if stop_all or (etype in rule.event_types and any_fires(rule.stop, etype, attrs)):
                    c.active = False
                    c.stops[c.cycle] = (t, dims, _tracked(rule.target_for(attrs)))
                continue
            if c.cycle and etype in rule.event_types and any_fires(rule.resume, etype, attrs):
                c.active = True
                c.stops.pop(c.cycle, None)
                continue
            start = current.find_clock(name) if versioned else rule
            if (
                start is not None
                and etype in start.event_types
                and any_fires(start.start, etype, attrs)
            ):
                c.rule = start
                c.cycle += 1
                c.active = True

    if open_since is not None and created is not None:
        add(Fact("open", open_since, open_dims, created, None))

    # Resolution.
    if resolved_at is not None and created is not None:
        flags = 1
        if reopens_at_resolution == 0 and not handoff_at_resolution:
            flags |= RESOLVED_FCR
        if reopens_at_resolution:
            flags |= RESOLVED_REOPENED
        add(Fact("resolved", resolved_at, resolved_dims, flags))
        add(Fact("ttr_wall", resolved_at, resolved_dims, resolved_at - created))
        if cal is not None:
            add(
                Fact(
                    "ttr_business",
                    resolved_at,
                    resolved_dims,
                    elapsed_us(cal, created, resolved_at),
                )
            )

    # SLA attainment and breaches.
    withdrawn = suppressed(ticket.ticket_id, state, ticket.ledger)
    if withdrawn:
        effective: dict[str, str] = {}  # exemption / appeal event id -> reason
        for why_withdrawn, event_id in withdrawn.values():
            effective[event_id] = why_withdrawn
        instants = {ev.id: ev.at for ev in history if ev.id in effective}
        for event_id, why_withdrawn in sorted(effective.items()):
            at = instants.get(event_id)
            if at is not None:
                name = "exemptions" if why_withdrawn == "exempted" else "appeals_overturned"
                add(Fact(name, at, timeline.at(at)))
    breached: dict[tuple[str, int], tuple[int, Dims, str | None]] = {}
    for d in state.decisions:
        if d.kind not in ("breach", "escalation"):
            continue
        base = timeline.at(d.due)
        agent, _sup, team, _dept = d.responsible
        dims = (team, agent, d.priority, base[3], base[4], base[5])
        why = withdrawn.get(d.key)
        if d.kind == "breach":
            breached[(d.clock, d.cycle)] = (d.due, dims, why[0] if why else None)
        if why is None:
            add(Fact(f"breach.{d.clock}.{d.level}", d.due, dims))
    for clock, c in states:
        for cycle in range(1, c.cycle + 1):
            hit = breached.get((clock, cycle))
            if hit is not None:
                due, dims, reason = hit
                if reason is None:
                    add(Fact(f"sla.{clock}", due, dims, 0))
                elif reason == "exempted":
                    add(Fact(f"sla.{clock}.exempted", due, dims))
                else:
                    add(Fact(f"sla.{clock}.overturned", due, dims))
                continue
            stop = c.stops.get(cycle)
            if stop is not None and stop[2]:
                add(Fact(f"sla.{clock}", stop[0], stop[1], 1))

    # Complaints answered within the limit.
    if created is not None and attrs.get("category") == rules.complaint_category:
        deadline = created + rules.complaint_within_us
        if first_response is not None and first_response <= deadline:
            add(Fact("complaint", first_response, timeline.at(first_response), 1))
        else:
            add(Fact("complaint", deadline, timeline.at(deadline), 0))

    # Record completeness of a closed ticket.
    if closed is not None and attrs.get("status") == "closed":
        close_at, close_dims = closed
        present = (
            fields.get("customer_ref") is True,
            _text(fields.get("request_type")),
            _text(close_dims[5]),
            _text(close_dims[1]),
            _text(fields.get("solution")),
            fields.get("customer_confirmed") is True,
        )
        missing = 0
        for bit, ok in enumerate(present):
            if not ok:
                missing |= 1 << bit
        add(Fact("records", close_at, close_dims, missing))

    # Surveys.
    if survey_sent is not None:
        add(Fact("surveys.sent", survey_sent[0], survey_sent[1]))
    counted: tuple[int, Dims, int] | None = None
    for t, dims, scores in submissions:
        invalid = _invalid(scores, created is not None, rules.invalid_reasons)
        if invalid is not None:
            add(Fact(f"surveys.invalid.{invalid}", t, dims))
            continue
        if counted is not None:
            add(Fact("surveys.replaced", counted[0], counted[1]))
        counted = (t, dims, _survey_code(scores))
    if counted is not None:
        add(Fact("survey", counted[0], counted[1], counted[2]))
    return tuple(out)


def _invalid(scores: dict[str, Any], known: bool, reasons: frozenset[str]) -> str | None:
    """Why a submitted survey is not counted, or None when it is valid."""
    if not known:
        return "unknown_ticket"
    marked = scores.get("invalid_reason")
    if marked is not None and str(marked).strip():
        name = str(marked).strip().lower()
        return name if name in reasons else "other"
    overall = scores.get("overall")
    if not isinstance(overall, int) or not 1 <= overall <= 5:
        return "no_overall"
    return None
