"""The process supervisor of `crm up`, with small real child processes."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from crm_cli.output import LinePrefixer
from crm_cli.supervisor import ChildSpec, Interrupted, RestartPolicy, StartupFailed, Supervisor, port_in_use
from crm_shared.broker import free_port


def python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def http_child(port: int, *, ignore_sigterm: bool = False) -> list[str]:
    return python(f"""
        import http.server, signal, sys
        {"signal.signal(signal.SIGTERM, signal.SIG_IGN)" if ignore_sigterm else ""}
        class Ready(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/readyz" else 404)
                self.end_headers()
            def log_message(self, *args):
                pass
        print("listening", flush=True)
        http.server.HTTPServer(("127.0.0.1", {port}), Ready).serve_forever()
    """)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def printer():
    return LinePrefixer(io.StringIO(), colour=False, names=["crm", "ok", "dies", "stubborn"])


def test_a_child_dying_during_start_up_reports_its_last_lines(printer):
    supervisor = Supervisor(printer)
    supervisor.start(
        ChildSpec(
            "dies",
            python("""
        import sys
        for i in range(50):
            print(f"step {i}")
        print("ImportError: cannot import name 'relay'", file=sys.stderr)
        sys.exit(3)
    """),
            {},
            "http://127.0.0.1:9/readyz",
        )
    )
    with pytest.raises(StartupFailed) as failure:
        supervisor.wait_ready(timeout_s=60)
    assert failure.value.name == "dies"
    assert "exited with code 3 during start-up" in failure.value.reason
    assert failure.value.last_lines[-1] == "ImportError: cannot import name 'relay'"
    assert "step 49" in failure.value.last_lines and "step 0" not in failure.value.last_lines
    assert "dies     | step 0" in printer.stream.getvalue().splitlines()


def test_ready_children_are_stopped_last_started_first(printer):
    supervisor = Supervisor(printer)
    first = supervisor.start(ChildSpec("ok", http_child(free_port()), {}, None))
    port = free_port()
    second = supervisor.start(
        ChildSpec("stubborn", http_child(port), {"CRM_EXAMPLE": "1"}, f"http://127.0.0.1:{port}/readyz")
    )
    supervisor.wait_ready(timeout_s=60)
    assert first.ready and second.ready
    codes = supervisor.stop_all()
    assert list(codes) == ["stubborn", "ok"]
    assert codes == {"stubborn": -15, "ok": -15}
    assert not alive(first.pid) and not alive(second.pid)


def test_a_child_that_ignores_sigterm_is_killed(printer):
    supervisor = Supervisor(printer)
    port = free_port()
    child = supervisor.start(
        ChildSpec("stubborn", http_child(port, ignore_sigterm=True), {}, f"http://127.0.0.1:{port}/readyz")
    )
    supervisor.wait_ready(timeout_s=60)
    assert supervisor.stop_all(grace_s=0.5) == {"stubborn": -9}
    assert not alive(child.pid)
    assert "stubborn did not stop in time; killing it" in printer.stream.getvalue()


def test_children_run_in_their_own_session_with_the_given_environment(printer):
    supervisor = Supervisor(printer)
    child = supervisor.start(
        ChildSpec(
            "ok",
            python("""
        import os
        print("session", os.getsid(0) == os.getpid(), os.environ["CRM_EXAMPLE"], os.environ["PYTHONUNBUFFERED"])
    """),
            {"CRM_EXAMPLE": "from-plan"},
            None,
        )
    )
    child.popen.wait()
    child.pump.join()
    assert printer.tail("ok") == ["session True from-plan 1"]


def test_a_stop_request_interrupts_the_wait(printer):
    supervisor = Supervisor(printer, stop_requested=lambda: True)
    supervisor.start(ChildSpec("ok", python("import time; time.sleep(30)"), {}, "http://127.0.0.1:9/readyz"))
    with pytest.raises(Interrupted):
        supervisor.wait_ready(timeout_s=60)
    assert supervisor.stop_all() == {"ok": -15}


def test_port_in_use_sees_a_listening_socket():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert port_in_use("127.0.0.1", sock.getsockname()[1])
    assert not port_in_use("127.0.0.1", free_port())


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="needs Linux /proc")
def test_children_die_with_crm_if_it_is_killed():
    """PR_SET_PDEATHSIG: even a SIGKILLed `crm` leaves no orphan service behind."""
    parent = subprocess.Popen(
        python("""
        import io, time
        from crm_cli.output import LinePrefixer
        from crm_cli.supervisor import ChildSpec, Supervisor
        supervisor = Supervisor(LinePrefixer(io.StringIO(), colour=False))
        child = supervisor.start(ChildSpec("sleeper", ["sleep", "60"], {}, None))
        print(child.pid, flush=True)
        time.sleep(60)
    """),
        stdout=subprocess.PIPE,
        text=True,
    )
    child_pid = int(parent.stdout.readline())
    assert alive(child_pid)
    parent.kill()
    parent.wait()
    while alive(child_pid):  # the kernel delivers SIGTERM to the orphan; pytest-timeout guards a hang
        time.sleep(0.05)


def runner_with(tmp_path, out: io.StringIO, policy: RestartPolicy | None = None):
    from crm_cli.plan import build_plan
    from crm_cli.up import SuiteRunner

    return SuiteRunner(
        build_plan(env={}, var_dir=tmp_path),
        seed=False,
        ready_timeout_s=60,
        printer=LinePrefixer(out, colour=False, names=["crm", "sales", "gateway"]),
        restart_policy=policy,
    )


def wait_for_line(out: io.StringIO, text: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in out.getvalue():
        assert time.monotonic() < deadline, f"no line with {text!r} in:\n{out.getvalue()}"
        time.sleep(0.05)


def test_a_process_killed_after_start_up_is_restarted_and_the_rest_keep_running(tmp_path):
    out = io.StringIO()
    runner = runner_with(tmp_path, out, RestartPolicy(backoff_initial_s=0.2))
    gateway_port, sales_port = free_port(), free_port()
    gateway = runner.supervisor.start(
        ChildSpec("gateway", http_child(gateway_port), {}, f"http://127.0.0.1:{gateway_port}/readyz")
    )
    sales = runner.supervisor.start(
        ChildSpec("sales", http_child(sales_port), {}, f"http://127.0.0.1:{sales_port}/readyz")
    )
    runner.supervisor.wait_ready(timeout_s=60)
    watching = threading.Thread(target=lambda: setattr(runner, "watch_result", runner.watch()), daemon=True)
    watching.start()
    try:
        os.kill(sales.pid, signal.SIGKILL)
        wait_for_line(out, "crm     | sales is ready again")
        text = out.getvalue()
        assert "crm     | sales was killed by SIGKILL after " in text
        assert "restarting it in 0.2s (exit 1 in a row, at most 5); the rest keep running." in text
        assert "crm     | restarted sales (pid " in text
        restarted = runner.supervisor.children[1]
        assert restarted.name == "sales" and restarted.pid != sales.pid and alive(restarted.pid)
        assert alive(gateway.pid) and runner.supervisor.children[0] is gateway  # untouched
    finally:
        runner.stop.requested = True
        watching.join(10)
    assert runner.watch_result == 0
    runner.shutdown()
    assert "crm     | stopped: sales (-15), gateway (-15)" in out.getvalue()


def test_a_process_that_keeps_failing_stops_the_suite(tmp_path):
    out = io.StringIO()
    runner = runner_with(tmp_path, out, RestartPolicy(backoff_initial_s=0.05, max_restarts=2))
    port = free_port()
    runner.supervisor.start(ChildSpec("gateway", http_child(port), {}, f"http://127.0.0.1:{port}/readyz"))
    runner.supervisor.start(
        ChildSpec(
            "sales",
            python("""
        import sys, time
        time.sleep(0.5)
        print("lost the database", flush=True)
        sys.exit(4)
    """),
            {},
            None,
        )
    )
    runner.supervisor.wait_ready(timeout_s=60)
    assert runner.watch() == 1
    runner.shutdown()
    text = out.getvalue()
    assert text.count("crm     | restarted sales (pid ") == 2
    assert "crm     | error: sales keeps failing: it exited with code 4, 3 exits in a row; stopping the suite." in text
    assert "crm     |   lost the database" in text
    assert "crm     | stopped: sales (4), gateway (-15)" in text
