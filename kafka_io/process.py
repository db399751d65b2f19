"""The broker launchers' child processes: a free loopback port, dying with the parent, stopping
the whole process group, and what both launchers do with theirs (`BrokerProcess`)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import IO, Self

from kafka_io.admin import BrokerError

__all__ = ["BrokerProcess", "free_port", "kill_group", "pdeathsig_preexec", "stop_group"]


def pdeathsig_preexec() -> Callable[[], None] | None:
    """A pre-exec hook that makes the child receive SIGTERM when its parent dies (Linux).

    libc is resolved here, in the parent: between fork and exec the child may
    only make the one call (no imports, no dlopen while other threads existed).
    """
    if sys.platform != "linux":
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    sigterm = int(signal.SIGTERM)

    def hook() -> None:
        prctl(pr_set_pdeathsig, sigterm)

    return hook


# Ports handed out below the kernel's ephemeral range: a port picked with bind(0) comes from that
# range, where any outgoing connection of this machine (a Kafka client's, say) may take it before
# the server it was picked for binds it. Seen once in CI: a worker's status-API port taken between
# `free_port()` and the bind, the worker gone at start (`tests/integration/harness.py`).
_LOWEST = 10_000
_handed: set[int] = set()


def _ephemeral_low() -> int:
    """The lowest port the kernel hands to outgoing connections (Linux; else IANA's 49152)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 49152


def _bindable(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now, outside the ephemeral range (so no outgoing
    connection takes it before it is bound) and not handed out before by this process."""
    top = _ephemeral_low()
    if top - _LOWEST >= 1000:
        for _ in range(200):
            port = random.randrange(_LOWEST, top)
            if port not in _handed and _bindable(host, port):
                _handed.add(port)
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # no room below: the kernel's
        sock.bind((host, 0))
        found: int = sock.getsockname()[1]
        return found


def stop_group(
    proc: subprocess.Popen[bytes], timeout: float, sig: signal.Signals = signal.SIGTERM
) -> None:
    """Signal the child's process group (`sig`, SIGKILL if it outlives `timeout`) and reap it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
    else:
        proc.wait()


def kill_group(proc: subprocess.Popen[bytes] | None) -> None:
    """Last resort (a launcher's `__del__`): SIGKILL a still-running child's process group."""
    if proc is not None and proc.poll() is None:
        with contextlib.suppress(Exception):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(1)


class BrokerProcess:
    """What both broker launchers share about their child: running, stopping, `with`."""

    _proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _stop_child(self, timeout: float, sig: signal.Signals = signal.SIGTERM) -> None:
        """Stop the child's process group, reap it and close its console log. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_group(proc, timeout, sig)
        if self._log is not None:
            self._log.close()
            self._log = None

    def start(self) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def log_tail(self, lines: int = 8) -> str:
        raise NotImplementedError

    def serve(self, banner: Callable[[], str], error_prefix: str) -> int:
        """Start, print `banner()`, run in the foreground until Ctrl-C or SIGTERM; the exit code."""
        stop = False

        def _on_signal(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        previous = signal.signal(signal.SIGTERM, _on_signal)
        try:
            self.start()
            print(banner(), flush=True)
            while not stop:
                if not self.running():
                    print(f"the broker exited: {self.log_tail()}", file=sys.stderr)
                    return 1
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        except BrokerError as exc:
            print(f"{error_prefix}{exc}", file=sys.stderr)
            return 1
        finally:
            self.close()
            signal.signal(signal.SIGTERM, previous)
        return 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # last resort: never leave a broker behind
        kill_group(getattr(self, "_proc", None))
