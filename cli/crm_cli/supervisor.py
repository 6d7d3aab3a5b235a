"""Child processes of `crm up`: start them, copy their output, wait until they answer
their readiness URL, start one again in its place when it died (``restart``, by the policy
``RestartPolicy`` that `crm up` applies), and stop them (last started, first stopped)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from .output import LinePrefixer

PR_SET_PDEATHSIG = 1


class StartupFailed(RuntimeError):
    def __init__(self, name: str, reason: str, last_lines: list[str]) -> None:
        super().__init__(f"{name} {reason}")
        self.name = name
        self.reason = reason
        self.last_lines = last_lines


class Interrupted(RuntimeError):
    """A stop was requested (Ctrl-C, SIGTERM) while waiting."""


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str | None = None


@dataclass
class Child:
    spec: ChildSpec
    popen: subprocess.Popen
    pump: threading.Thread
    ready: bool = False
    last_readiness: str = field(default="no answer yet")
    started_at: float = field(default_factory=time.monotonic)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.popen.pid

    def exited(self) -> int | None:
        return self.popen.poll()


def _load_prctl():
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


_prctl = _load_prctl()


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if `crm` itself dies without cleaning up (Linux)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_in_use(host: str, port: int) -> bool:
    """True when ``port`` cannot be bound on ``host`` (something listens there already)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


@dataclass(frozen=True)
class RestartPolicy:
    """What `crm up` does when a process dies after start-up: it starts it again after
    ``backoff_initial_s``, doubled at each exit in a row up to ``backoff_max_s``. A process that
    ran ``stable_after_s`` before dying starts a new row. More than ``max_restarts`` exits in a row
    is a process that keeps failing: the suite stops."""

    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    max_restarts: int = 5
    stable_after_s: float = 60.0

    def delay(self, exits_in_a_row: int) -> float:
        return min(self.backoff_max_s, self.backoff_initial_s * 2 ** max(exits_in_a_row - 1, 0))


def describe_exit(code: int) -> str:
    """ "exited with code 3", "was killed by SIGKILL" (a negative returncode is the signal)."""
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


class Supervisor:
    def __init__(
        self, printer: LinePrefixer, *, stop_requested: Callable[[], bool] = lambda: False, cwd: str | None = None
    ) -> None:
        self.printer = printer
        self.stop_requested = stop_requested
        self.cwd = cwd
        self.children: list[Child] = []

    def start(self, spec: ChildSpec) -> Child:
        child = self._spawn(spec)
        self.children.append(child)
        return child

    def restart(self, child: Child) -> Child:
        """Start ``child``'s process again (it has exited), in its place in the stop order."""
        if child.exited() is None:
            raise RuntimeError(f"{child.name} is still running")
        child.pump.join(timeout=2)
        fresh = self._spawn(child.spec)
        self.children[self.children.index(child)] = fresh
        return fresh

    def _spawn(self, spec: ChildSpec) -> Child:
        env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1"}
        popen = subprocess.Popen(
            spec.argv,
            env=env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own session: a terminal's Ctrl-C reaches only `crm`, which then stops children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent if _prctl is not None else None,
        )
        pump = threading.Thread(
            target=self.printer.pump, args=(spec.name, popen.stdout), name=f"output-{spec.name}", daemon=True
        )
        pump.start()
        return Child(spec=spec, popen=popen, pump=pump)

    def first_exited(self) -> Child | None:
        for child in self.children:
            if child.exited() is not None:
                return child
        return None

    def _failure(self, child: Child, reason: str) -> StartupFailed:
        child.pump.join(timeout=2)  # let the last lines arrive
        return StartupFailed(child.name, reason, self.printer.tail(child.name))

    def wait_ready(self, timeout_s: float, poll_s: float = 0.25) -> None:
        """Until every child's readiness URL answers 200; StartupFailed if one exits or time runs out."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.stop_requested():
                    raise Interrupted()
                waiting = [c for c in self.children if not c.ready]
                if not waiting:
                    return
                for child in waiting:
                    code = child.exited()
                    if code is not None:
                        raise self._failure(child, f"exited with code {code} during start-up")
                    if child.spec.ready_url is None:
                        child.ready = True
                        continue
                    try:
                        response = client.get(child.spec.ready_url)
                    except httpx.HTTPError as exc:
                        child.last_readiness = exc.__class__.__name__
                        continue
                    child.ready = response.status_code == 200
                    child.last_readiness = f"{response.status_code} {response.text[:300]}"
                if time.monotonic() > deadline:
                    slow = next(c for c in self.children if not c.ready)
                    raise self._failure(
                        slow, f"was not ready after {timeout_s:.0f}s ({slow.spec.ready_url}: {slow.last_readiness})"
                    )
                time.sleep(poll_s)

    def stop_all(self, grace_s: float = 20.0, force: Callable[[], bool] = lambda: False) -> dict[str, int]:
        """SIGTERM the children, last started first, each given ``grace_s`` before SIGKILL."""
        codes: dict[str, int] = {}
        for child in reversed(self.children):
            if child.exited() is None:
                child.popen.send_signal(signal.SIGTERM)
                deadline = time.monotonic() + grace_s
                while child.exited() is None and time.monotonic() < deadline and not force():
                    time.sleep(0.05)
                if child.exited() is None:
                    self.printer.emit("crm", f"{child.name} did not stop in time; killing it")
                    child.popen.kill()
            codes[child.name] = child.popen.wait()
            child.pump.join(timeout=5)
        return codes
