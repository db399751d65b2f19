"""Decode one raw input message into a validated event, or say exactly why not."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from schemas import fast
from schemas.events import EVENT_ADAPTER, TicketEvent


class InvalidEvent(ValueError):
    """A message that is not a valid ticket event; `reason` is for the dead-letter record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(err: ValidationError) -> str:
    parts = []
    for e in err.errors()[:3]:
        loc = ".".join(str(p) for p in e["loc"] if not (isinstance(p, str) and p in _TAGS))
        if e["type"] == "union_tag_invalid":
            parts.append(
                f"type: unknown event type {e['input'].get('type')!r}"
                if isinstance(e["input"], dict)
                else f"type: {e['msg']}"
            )
        elif e["type"] == "union_tag_not_found":
            parts.append("type: missing")
        elif e["type"] == "json_invalid":
            parts.append(f"not JSON: {e['ctx'].get('error', e['msg'])}")
        elif e["type"] == "model_attributes_type":
            parts.append("not a JSON object")
        else:
            parts.append(f"{loc or '(message)'}: {e['msg']}")
    more = len(err.errors()) - 3
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def parse_event(raw: bytes | str) -> TicketEvent:
    """Validate one JSON message; raise InvalidEvent with a one-line reason."""
    try:
        event = EVENT_ADAPTER.validate_json(raw)
    except ValidationError as e:
        raise InvalidEvent(_reason(e)) from None
    _unique_keys(raw)
    return event


def parse_fields(raw: bytes | str) -> dict[str, Any]:
    """Validate one JSON message as `parse_event` does; its declared fields (`event.__dict__`:
    nested models as they are, or plain dicts from the fast path, `schemas.fast`, which answers
    for the common valid event at a fraction of the cost). Same verdicts, same reasons."""
    if isinstance(raw, bytes):
        found = fast.fields(raw)
        if found is not None:
            return found
    return parse_event(raw).__dict__


class _Duplicate(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _Duplicate(k)
            seen.add(k)
    return d


_DECODER = json.JSONDecoder(object_pairs_hook=_pairs)


def _unique_keys(raw: bytes | str) -> None:
    """Refuse an object with a repeated key: which value counts would be the parser's choice
    (RFC 8259 §4), and a JSON Schema validator sees only one of them."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw  # valid: validate_json passed
    try:
        _DECODER.decode(text)
    except _Duplicate as e:
        raise InvalidEvent(f"duplicate key {e.args[0]!r}: every key must appear once") from None
    except ValueError as e:  # the two decoders disagree on what is JSON: refuse, say why
        raise InvalidEvent(f"not JSON: {e}") from None


def _tags() -> frozenset[str]:
    from schemas.events import EVENT_TYPES

    return frozenset(EVENT_TYPES)


_TAGS = _tags()
