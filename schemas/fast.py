"""The fast path of `schemas.parse.parse_fields`: the common valid event checked by hand.

`fields(raw)` is what the event's model (`schemas.events`) would hold as its declared fields
(`event.__dict__`: every declared field, defaults filled in, nested `customer` and `survey` as
plain dicts of their declared fields) when `raw` is certainly an event the model accepts, and
None whenever it cannot be sure: the caller then takes the full path (`parse_event`), which
gives the exact verdict and reject reason. So it answers only for a subset of what the model
accepts, and exactly as the model would; tests/schemas/test_fast.py holds it to that on the
schema's instances and on mutants of them.

Left to the full path: a backslash anywhere (escapes), anything orjson refuses, a type outside
the 18, a missing or out-of-bounds declared field, a float where an integer is declared (the
model's `3.0` rule), an extra field holding an object or array, a repeated key.

A repeated key (orjson, like most parsers, keeps one value silently): with no escapes in the
text, every `:` in it follows a key or lies inside a string, and orjson writes the decoded
document back with the strings as they were; so the text repeats a key exactly when it has
more colons than the document written back (the repeat's key and dropped value are only in
the text). Two counts in C, instead of a second decode with a pairs hook.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.bounds import (
    CYCLE_MAX,
    ID_MAX,
    INSTANT_RE,
    NAME_MAX,
    STATUS_MAX,
    STATUS_PATTERN,
    TEXT_MAX,
)
from schemas.events import ATTRIBUTE_KEY

_STATUS = re.compile(STATUS_PATTERN)
_ATTRIBUTE_KEY = re.compile(ATTRIBUTE_KEY)
_SCALARS = frozenset((str, int, float, bool, type(None)))
_REQUIRED = object()  # no default: the field must be there

# A string field: (name, default, may be null, least length, most length).
Spec = tuple[str, Any, bool, int, int]
_COMMON: tuple[Spec, ...] = (
    ("event_id", _REQUIRED, False, 1, ID_MAX),
    ("ticket_id", _REQUIRED, False, 1, ID_MAX),
    ("team", None, True, 0, NAME_MAX),
    ("agent", None, True, 0, NAME_MAX),
    ("supervisor", None, True, 0, NAME_MAX),
    ("department", None, True, 0, NAME_MAX),
)
_CLOCK: Spec = ("clock", _REQUIRED, False, 1, ID_MAX)
_REASON: Spec = ("reason", None, True, 0, TEXT_MAX)
_ALERT: Spec = ("alert_id", _REQUIRED, False, 1, ID_MAX)
# The string fields of each type beyond the common ones.
_STRINGS: dict[str, tuple[Spec, ...]] = {
    "created": (
        ("category", "simple", False, 1, ID_MAX),
        ("channel", None, True, 0, NAME_MAX),
        ("product_line", None, True, 0, NAME_MAX),
        ("request_type", None, True, 0, NAME_MAX),
    ),
    "assigned": (),
    "responded": (),
    "onsite_requested": (),
    "onsite_arrived": (),
    "updated": (),
    "status_changed": (("status", _REQUIRED, False, 1, STATUS_MAX),),
    "priority_changed": (),
    "resolved": (("solution", None, True, 0, TEXT_MAX),),
    "reopened": (),
    "closed": (),
    "survey_sent": (),
    "survey_submitted": (),
    "exemption_requested": (_CLOCK, _REASON),
    "exemption_granted": (_CLOCK, ("reason", _REQUIRED, False, 1, TEXT_MAX)),
    "exemption_rejected": (_CLOCK, _REASON),
    "appeal_filed": (_ALERT, _REASON),
    "appeal_decided": (_ALERT, ("reviewer", None, True, 0, NAME_MAX), _REASON),
}
# The other fields each type declares, checked one by one in `_other`.
_OTHER: dict[str, tuple[str, ...]] = {
    "created": ("priority", "customer"),
    "priority_changed": ("priority",),
    "closed": ("customer_confirmed",),
    "survey_submitted": ("survey",),
    "exemption_requested": ("cycle",),
    "exemption_granted": ("cycle",),
    "exemption_rejected": ("cycle",),
    "appeal_decided": ("outcome",),
}
_SPECS = {t: _COMMON + s for t, s in _STRINGS.items()}
_DECLARED = {
    t: frozenset(
        ("occurred_at", "type", "attributes", *(s[0] for s in _SPECS[t]), *_OTHER.get(t, ()))
    )
    for t in _STRINGS
}
_CUSTOMER: tuple[Spec, ...] = (
    ("id", None, True, 0, NAME_MAX),
    ("name", None, True, 0, NAME_MAX),
    ("phone", None, True, 0, 64),
    ("email", None, True, 0, 254),
)
_SCORES = (
    "responsiveness",
    "problem_solving",
    "professionalism",
    "patience",
    "proactive",
    "overall",
    "recommend",
)
_SURVEY_TEXT: tuple[Spec, ...] = (
    ("comment", None, True, 0, TEXT_MAX),
    ("invalid_reason", None, True, 0, NAME_MAX),
)
_SURVEY_DECLARED = frozenset((*_SCORES, *(s[0] for s in _SURVEY_TEXT)))
_CUSTOMER_DECLARED = frozenset(s[0] for s in _CUSTOMER)


class _Unsure(Exception):
    """The fast path cannot vouch for this input: take the full path."""


def _strings(d: dict[str, Any], specs: tuple[Spec, ...], out: dict[str, Any]) -> None:
    """Copy the string fields `specs` of `d` into `out`, checked."""
    get = d.get
    for name, default, nullable, least, most in specs:
        v = get(name, default)
        if v is None:
            if not nullable:
                raise _Unsure
        elif v is _REQUIRED or type(v) is not str or not least <= len(v) <= most:
            raise _Unsure
        out[name] = v


def _scalar_extras(d: dict[str, Any], declared: frozenset[str]) -> None:
    """Extra fields the model keeps and never reads: scalars only here."""
    if not declared.issuperset(d):
        for k, v in d.items():
            if k not in declared and type(v) not in _SCALARS:
                raise _Unsure


def _nested(d: Any, declared: frozenset[str]) -> dict[str, Any]:
    if type(d) is not dict:
        raise _Unsure
    _scalar_extras(d, declared)
    return d


def _customer(v: Any) -> dict[str, Any] | None:
    if v is None:
        return None
    out: dict[str, Any] = {}
    _strings(_nested(v, _CUSTOMER_DECLARED), _CUSTOMER, out)
    return out


def _survey(v: Any) -> dict[str, Any]:
    d = _nested(v, _SURVEY_DECLARED)
    out: dict[str, Any] = {}
    for name in _SCORES:
        score = d.get(name)
        if score is not None and (type(score) is not int or not 1 <= score <= 5):
            raise _Unsure
        out[name] = score
    _strings(d, _SURVEY_TEXT, out)
    return out


def _attributes(v: Any) -> dict[str, Any] | None:
    if v is None:
        return None
    if type(v) is not dict or len(v) > 32:
        raise _Unsure
    for k, value in v.items():
        if len(k) > 64 or _ATTRIBUTE_KEY.search(k) is None:
            raise _Unsure
        if type(value) is not str or len(value) > NAME_MAX:
            raise _Unsure
    return v


def _one_of(v: Any, allowed: tuple[str, ...]) -> str:
    if type(v) is not str or v not in allowed:
        raise _Unsure
    return v


def _other(d: dict[str, Any], name: str) -> Any:
    """A declared field that is not a plain string, checked."""
    v = d.get(name)
    if name == "priority":
        return _one_of(v, ("A", "B", "C"))
    if name == "customer":
        return _customer(v)
    if name == "survey":
        return _survey(v)
    if name == "outcome":
        return _one_of(v, ("upheld", "overturned"))
    if name == "cycle":
        if v is not None and (type(v) is not int or not 1 <= v <= CYCLE_MAX):
            raise _Unsure
        return v
    if v is not None and type(v) is not bool:  # customer_confirmed
        raise _Unsure
    return v


def _instant(v: Any) -> int:
    """The instant (µs) of an `occurred_at` text the model accepts (`INSTANT_RE`, a real date).

    The text is an hour (`2026-11-23T09`), `:MM:SS`, a fraction of 3 or 6 digits or none, and
    an offset: hour and offset are checked and converted once (`_HOURS`), minutes and seconds
    are a lookup, the fraction an `int`. The same verdict and µs as the pattern,
    `datetime.fromisoformat` and `to_us` (which were ~6 % of a replay); any other fraction
    takes that way."""
    if type(v) is not str:
        raise _Unsure
    into = _MMSS.get(v[13:19])
    if into is None:
        return _instant_text(v)
    tail = v[19:]
    if tail[:1] == ".":
        for digits in (6, 3):
            fraction = tail[1 : digits + 1]
            if tail[digits + 1 : digits + 2] in _OFFSET_START and fraction.isascii():
                break
        else:
            return _instant_text(v)
        if not fraction.isdigit():
            raise _Unsure
        into += int(fraction) * _FRACTION_US[digits]
        tail = tail[digits + 1 :]
    key = v[:13] + tail
    hour = _HOURS.get(key)
    if hour is None:
        hour = _instant_text(f"{v[:13]}:00:00{tail}")
        if len(_HOURS) >= 65_536:
            _HOURS.clear()
        _HOURS[key] = hour
    return hour + into


def _instant_text(v: str) -> int:
    if INSTANT_RE.search(v) is None:
        raise _Unsure
    try:
        moment = datetime.fromisoformat(v)
    except ValueError:  # e.g. 30 February: the model says why
        raise _Unsure from None
    return (moment - _EPOCH) // _US  # `engine.instant.to_us`, which schemas/ may not import


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


# `:MM:SS` of an instant text, as µs into its hour; the hour and offset already seen, as the µs
# of the hour's start (an instant of the model's: checked on first sight).
_MMSS = {f":{m:02d}:{s:02d}": (m * 60 + s) * 1_000_000 for m in range(60) for s in range(60)}
_HOURS: dict[str, int] = {}
_OFFSET_START = ("Z", "+", "-")
_FRACTION_US = {3: 1_000, 6: 1}


def fields(raw: bytes) -> dict[str, Any] | None:
    """The declared fields of a certainly valid event (`occurred_at` a datetime), or None."""
    found = timed(raw)
    if found is None:
        return None
    out, _ = found
    out["occurred_at"] = datetime.fromisoformat(out["occurred_at"])
    return out


def timed(raw: bytes) -> tuple[dict[str, Any], int] | None:
    """`fields`, with `occurred_at` left as its text, and the instant in µs; or None."""
    if b"\\" in raw:
        return None
    try:
        d = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if type(d) is not dict:
        return None
    kind = d.get("type")
    if type(kind) is not str or kind not in _SPECS:
        return None
    specs = _SPECS[kind]
    try:
        when = d.get("occurred_at")
        at = _instant(when)
        out: dict[str, Any] = {"occurred_at": when, "type": kind}
        _strings(d, specs, out)
        if kind == "status_changed" and _STATUS.search(out["status"]) is None:
            return None
        out["attributes"] = _attributes(d.get("attributes"))
        for name in _OTHER.get(kind, ()):
            out[name] = _other(d, name)
        _scalar_extras(d, _DECLARED[kind])
    except _Unsure:
        return None
    try:
        written = orjson.dumps(d)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits
        return None
    if raw.count(b":") != written.count(b":"):
        return None  # a repeated key: the full path says which
    return out, at
