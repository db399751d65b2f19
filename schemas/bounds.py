"""The limits every input event respects: what a service centre sends, and what the engine can
carry (a 64-bit integer, an alert well under Kafka's 1 MB message limit) without failing."""

from __future__ import annotations

import re

ID_MAX = 128  # event_id, ticket_id, alert_id
NAME_MAX = 128  # team, agent, supervisor, department, clock, channel, category, customer id ...
STATUS_MAX = 64  # a workflow status code
TEXT_MAX = 4000  # free text: solution, reasons, survey comment (read for presence only)
CYCLE_MAX = 10_000  # runs of one clock of one ticket (a reopen or a new resolution adds one)
# Clock arithmetic walks a ticket's calendar day by day (engine.calendar.elapsed_us), so the
# span of one ticket's events bounds the work of one event: a century costs 0.5 s and 64 MB;
# the years 1900-8999 allowed before let two events (created 1900, assigned 8999) cost 72 s
# and 1.3 GB (found by tests/cli/test_fuzz_replay.py); a service centre's tickets fit a century.
YEAR_MIN, YEAR_MAX = 2000, 2099

# `$(?!\n)`: the end of the text in both ECMA-262 and Python (whose `$` also matches before a
# final newline); JSON Schema patterns are ECMA-262, and `jsonschema` evaluates them with `re`.
_END = r"$(?!\n)"
INSTANT_PATTERN = (
    r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"  # the years YEAR_MIN-YEAR_MAX
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])" + _END
)
INSTANT_RE = re.compile(INSTANT_PATTERN)
STATUS_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*" + _END  # a code: no spaces, digits first or `@`
