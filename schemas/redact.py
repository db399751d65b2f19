"""Personal data out of a rejected message before it is written anywhere (`tickets.dlq`, the
replay rejects file): the one redaction both use.

When the bytes parse as JSON, the values of `name`, `phone` and `email` in every `customer`
object, at any depth (or the whole `customer` when it is not an object), become `"[redacted]"`
and the message is re-serialised: keys in their order, repeated keys kept. When they do not
parse (truncated, not UTF-8, not JSON), every `"name"`, `"phone"` or `"email"` string value
found in the bytes is replaced the same way, up to its closing quote or the end of the bytes;
the rest is kept as it came (a contact under another key, unquoted, or in an encoding other
than UTF-8 stays: the DLQ is an operator's topic). Nothing to redact: the bytes are unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "[redacted]"
PERSONAL = ("name", "phone", "email")
_PERSONAL = frozenset(PERSONAL)
# A quoted personal key, then its string value up to the closing quote or the end of the bytes.
_TEXTUAL = re.compile(rb'("(?:name|phone|email)"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)', re.DOTALL)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs: order and repeated keys survive."""


def _redact(value: Any) -> bool:
    """Redact every `customer` object in place, at any depth; True when something changed."""
    if isinstance(value, list) and not isinstance(value, _Pairs):
        return any([_redact(v) for v in value])
    if not isinstance(value, _Pairs):
        return False
    changed = False
    for i, (key, inner) in enumerate(value):
        if key != "customer":
            changed = _redact(inner) or changed
        elif inner is None or inner == REDACTED:
            continue
        elif not isinstance(inner, _Pairs):
            value[i] = (key, REDACTED)
            changed = True
        else:
            for j, (field, v) in enumerate(inner):
                if field in _PERSONAL and v is not None and v != REDACTED:
                    inner[j] = (field, REDACTED)
                    changed = True
    return changed


def _dumps(value: Any) -> str:
    if isinstance(value, _Pairs):
        inner = ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_dumps(v)}" for k, v in value)
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def redact(raw: bytes) -> bytes:
    """`raw` with the customer's name, phone and email replaced (see the module docstring)."""
    try:
        doc = json.loads(raw.decode("utf-8"), object_pairs_hook=_Pairs)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _TEXTUAL.sub(rb'\1"' + REDACTED.encode() + rb'"', raw)
    if not _redact(doc):
        return raw
    try:
        return _dumps(doc).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate escape (\ud800): keep the text escaped
        return _dumps_ascii(doc).encode()


def _dumps_ascii(value: Any) -> str:
    if isinstance(value, _Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{_dumps_ascii(v)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dumps_ascii(v) for v in value) + "]"
    return json.dumps(value)
