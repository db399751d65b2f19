"""Benchmark child processes: one in its own process group (optionally under py-spy), its RSS
and the bytes of its data directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def dir_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    total = 0
    for entry in path.rglob("*"):
        with contextlib.suppress(OSError):
            if entry.is_file():
                total += entry.stat().st_size
    return total


def rss_bytes(pid: int) -> int | None:
    """VmRSS of process ``pid`` in bytes (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@dataclass
class Child:
    """A subprocess in its own process group, optionally under ``py-spy record``."""

    cmd: list[str]
    log_path: Path
    profile: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    stdout: bool = False
    _log: Any = field(default=None, repr=False)

    def start(self) -> Child:
        cmd = self.cmd
        if self.profile is not None:
            cmd = [
                *_py_spy(),
                "record",
                "--rate",
                "100",
                "--format",
                "raw",
                "--nonblocking",
                "-o",
                str(self.profile),
                "--",
                *cmd,
            ]
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE if self.stdout else self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        """The pid of the Python process (py-spy's child when profiled)."""
        assert self.proc is not None
        if self.profile is None:
            return self.proc.pid
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            return int(kids.split()[0])
        except (OSError, IndexError, ValueError):
            return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # SIGINT: Faust shuts down cleanly and py-spy writes its profile.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _py_spy() -> list[str]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        raise SystemExit("bench stream --profile-dir needs py-spy (pip install py-spy)")
    return [exe]


def attach_profile(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes]:
    """``py-spy record`` attached to a running ``pid`` for ``seconds`` (a phase of a run, not
    its start-up), raw collapsed stacks to ``out``; wait on the returned process."""
    cmd = [*_py_spy(), "record", "--pid", str(pid), "--rate", "100", "--format", "raw",
           "--nonblocking", "--duration", str(max(1, round(seconds))), "-o", str(out)]  # fmt: skip
    log = out.with_suffix(out.suffix + ".log").open("ab")
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    finally:
        log.close()
