"""The console script's exit, without freeing object by object what a command built.

A replay holds every ticket it read until it returns; freeing 20,000 tickets one by one took
0.24 s of a 2.7 s `sla-engine replay` (README, performance). A command hands such state to
`hold`; under the console script (`cli.main.entry`) it stays alive until the process leaves
with `os._exit` after stdout, stderr and logging are flushed, and the OS takes the memory back
at once (mypy's `--fast-exit` does the same). Called in-process (`main()`, the tests), `hold`
keeps nothing and every object is freed as usual.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import NoReturn

_held: list[object] = []
_enabled = False


def enable() -> None:
    """From here on `hold` keeps what it is given until `leave` (the console script only)."""
    global _enabled
    _enabled = True


def hold(state: object) -> None:
    """Keep `state` alive until the process leaves, when enabled; else let it go."""
    if _enabled:
        _held.append(state)


def leave(code: int) -> NoReturn:
    """Exit with `code`: at once when something is held (flushed first), else normally."""
    if not _held:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed or broken: nothing more to say
            stream.flush()
    os._exit(code)
