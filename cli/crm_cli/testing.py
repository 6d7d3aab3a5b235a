"""For end-to-end tests: run `crm up` in a subprocess on free ports and a temporary var
directory, the way a user starts the suite, and stop it with SIGTERM.

    with RunningSuite(tmp_path, seed=True) as suite:
        httpx.get(suite.gateway_url + "/healthz")
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from crm_shared.broker import free_port

from . import services as registry
from .plan import BROKER_PORT_ENV, GRPC_EDGE_PORT_ENV, SMPP_SINK_PORT_ENV, SMTP_SINK_PORT_ENV
from .up import READY_LINE


def crm_command() -> list[str]:
    """The installed `crm` script beside this Python, else the module."""
    script = Path(sys.executable).parent / "crm"
    return [str(script)] if script.exists() else [sys.executable, "-m", "crm_cli.main"]


def suite_ports() -> dict[str, str]:
    """Free ports for every process of the suite, as the environment `crm up` reads."""
    env = {
        BROKER_PORT_ENV: str(free_port()),
        SMTP_SINK_PORT_ENV: str(free_port()),
        SMPP_SINK_PORT_ENV: str(free_port()),
        GRPC_EDGE_PORT_ENV: str(free_port()),
    }
    for spec in registry.SERVICES:
        env[spec.env_name("http_port")] = str(free_port())
        if spec.grpc_port is not None:
            env[spec.env_name("grpc_port")] = str(free_port())
    return env


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) from /proc (Linux)."""
    table = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    after_name = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(entry.name)] = (int(after_name[1]), after_name[0])
    return table


def descendants(pid: int) -> set[int]:
    table = process_table()
    found, frontier = set(), {pid}
    while frontier:
        children = {child for child, (parent, _) in table.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def running(pid: int) -> bool:
    state = process_table().get(pid)
    return state is not None and state[1] != "Z"


def processes_with_env(name: str, value: str) -> set[int]:
    """Live processes whose environment has name=value (finds orphans, whoever their parent is)."""
    needle = f"{name}={value}".encode()
    found = set()
    for pid, (_, state) in process_table().items():
        if state == "Z" or pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    found.add(pid)
        except OSError:
            continue
    return found


class SuiteFailed(RuntimeError):
    pass


class RunningSuite:
    """`crm up` in a subprocess. The var directory goes in CRM_VAR_DIR, so every process the
    suite starts carries it in its environment (see processes_with_env)."""

    def __init__(
        self, var_dir: Path, *, seed: bool = False, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> None:
        self.var_dir = Path(var_dir)
        self.ports = suite_ports()
        # Every request traced (the default records a tenth of new traces): tests follow one trace.
        every_trace = {spec.env_name("trace_sample_ratio"): "1" for spec in registry.SERVICES}
        self.env = {
            **os.environ,
            **self.ports,
            "CRM_VAR_DIR": str(self.var_dir),
            "NO_COLOR": "1",
            **every_trace,
            **(env or {}),
        }
        self.argv = [*crm_command(), "up", *(["--seed"] if seed else []), *args]
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.proc: subprocess.Popen | None = None
        self._output_ended = False

    def port(self, service: str, kind: str = "http") -> int:
        return int(self.env[registry.get_service(service).env_name(f"{kind}_port")])

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.port(registry.gateway().name)}"

    @property
    def broker_port(self) -> int:
        return int(self.env[BROKER_PORT_ENV])

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def start(self) -> RunningSuite:
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.proc and self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            self._lines.put(line)
        self._lines.put(None)

    def wait_until_up(self) -> None:
        """Returns at the line "Qazaq CRM is up"; SuiteFailed with the output if `crm up` ends first
        (`crm up` bounds its own wait with --ready-timeout)."""
        while True:
            line = self._lines.get()
            if line is None:
                self._output_ended = True
                code = self.proc.wait() if self.proc else None
                raise SuiteFailed(f"`crm up` exited with {code} before it was up:\n{self.output}")
            if READY_LINE in line:
                return

    def wait_exit(self) -> int:
        assert self.proc is not None
        code = self.proc.wait()
        while not self._output_ended:  # the rest of the output, up to its end
            self._output_ended = self._lines.get() is None
        return code

    def stop(self) -> int:
        """SIGTERM, as a service manager or a CI runner would send; returns `crm up`'s exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def __enter__(self) -> RunningSuite:
        self.start()
        try:
            self.wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.stop()


async def sign_in(client, username: str, password: str = "demo") -> dict[str, str]:
    """Bearer headers of a demo user, signed in through the gateway (``client``: an httpx.AsyncClient
    whose base_url is the gateway)."""
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def api_key(key) -> dict[str, str]:
    """Headers of a demo API key (crm_gateway.seed's DEMO_* keys)."""
    return {"X-API-Key": key.key}
