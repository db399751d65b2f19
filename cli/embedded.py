"""The embedded demo's run: one folder for everything it keeps, removed on exit, and a silent
immediate stop (the in-memory broker keeps nothing, so there is nothing to flush or commit)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Any

# The embedded demo keeps everything of a run (worker state, broker log) in one folder,
# `<--data-dir>/embedded-<pid>/`, removed when the run ends; folders of runs that were killed
# are removed by the next one.
EMBEDDED_PREFIX = "embedded-"


def embedded_run_dir(data_dir: Path) -> Path:
    """This run's folder under `data_dir`, after removing those of dead runs."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for old in data_dir.glob(EMBEDDED_PREFIX + "*"):
        pid = old.name[len(EMBEDDED_PREFIX) :]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    run_dir = data_dir / f"{EMBEDDED_PREFIX}{os.getpid()}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir()
    return run_dir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Embedded:
    """What the embedded demo must tear down; `exit_now` ends the process at once, silently:
    the broker keeps nothing, so there is nothing to flush or commit."""

    def __init__(self, broker: Any, run_dir: Path, stop: threading.Event) -> None:
        self.broker = broker
        self.run_dir = run_dir
        self.stop = stop

    def exit_now(self, code: int) -> None:
        self.stop.set()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        # Client threads may still log the broker going away: nobody needs to read that.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        pid = self.broker.pid
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        os._exit(code)
