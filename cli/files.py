"""A command's input and output files: a path, or '-' for stdin / stdout."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO


def open_in(stack: ExitStack, name: str) -> tuple[IO[bytes], int | None]:
    """The file to read and its size (None for stdin), closed with `stack`."""
    if name == "-":
        return sys.stdin.buffer, None
    path = Path(name)
    return stack.enter_context(path.open("rb")), path.stat().st_size


def open_out(stack: ExitStack, name: str) -> IO[bytes]:
    """The file to write (stdout for '-'), closed with `stack`."""
    if name == "-":
        return sys.stdout.buffer
    return stack.enter_context(Path(name).open("wb"))
