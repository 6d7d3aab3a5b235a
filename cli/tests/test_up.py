"""`crm up` as a user runs it: a subprocess on free ports and a temporary var directory."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from crm_cli import services as registry
from crm_cli.installation import SECRET_FILES
from crm_cli.plan import SINKS
from crm_cli.testing import RunningSuite, SuiteFailed, descendants, processes_with_env, running
from crm_cli.up import READY_LINE

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

NOT_THERE_YET = {spec.name: registry.missing_parts(spec, need_seed=True) for spec in registry.SERVICES}
needs_every_service = pytest.mark.skipif(
    any(NOT_THERE_YET.values()),
    reason="not every service is there yet: "
    + "; ".join(f"{k}: {', '.join(v)}" for k, v in NOT_THERE_YET.items() if v),
)


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_taken_port_fails_fast_and_starts_nothing(tmp_path: Path):
    suite = RunningSuite(tmp_path / "var", seed=True)
    taken = suite.port("sales", "grpc")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        suite.start()
        code = suite.wait_exit()
    assert code == 1
    assert f"error: port {taken} (sales gRPC) on 127.0.0.1 is already in use" in suite.output
    assert "Stop what holds it, or choose other ports" in suite.output
    assert "starting" not in suite.output
    assert not (tmp_path / "var").exists()  # no database, no secret, no broker
    assert port_free(suite.broker_port)


@needs_every_service
def test_a_process_dying_at_start_up_stops_the_rest_and_shows_why(tmp_path: Path):
    var = tmp_path / "var"
    # A setting out of its range: the gateway exits at start-up.
    suite = RunningSuite(var, env={"CRM_GATEWAY_UPSTREAM_TIMEOUT_S": "-1"}).start()
    with pytest.raises(SuiteFailed):
        suite.wait_until_up()
    assert suite.wait_exit() == 1
    assert "error: gateway exited with code" in suite.output
    assert "its last lines:" in suite.output and "upstream_timeout_s" in suite.output.split("its last lines:")[1]
    assert not processes_with_env("CRM_VAR_DIR", str(var))
    for port in (suite.broker_port, suite.port("sales"), suite.port("sales", "grpc")):
        assert port_free(port)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    if any(NOT_THERE_YET.values()):
        pytest.skip("not every service is there yet")
    running_suite = RunningSuite(tmp_path_factory.mktemp("crm-up") / "var", seed=True)
    with running_suite:
        yield running_suite


@needs_every_service
def test_the_suite_comes_up_seeded_on_the_given_ports(suite: RunningSuite):
    lines = suite.output.splitlines()
    assert lines[-1].endswith(READY_LINE)
    assert f"http://127.0.0.1:{suite.port('gateway')}/docs" in suite.output
    assert 'Demo users (password "demo")' in suite.output
    assert any(line.startswith("sales ") and " | " in line for line in lines)  # prefixed child output
    for spec in registry.SERVICES:
        assert (suite.var_dir / f"{spec.name}.db").is_file()


@needs_every_service
def test_the_var_directory_and_its_files_are_the_users_alone(suite: RunningSuite):
    assert suite.var_dir.stat().st_mode & 0o777 == 0o700
    files = [path for path in suite.var_dir.iterdir() if path.is_file()]
    assert {SECRET_FILES["jwt_secret"], SECRET_FILES["internal_token_secret"], "sales.db"} <= {f.name for f in files}
    assert {f.name: oct(f.stat().st_mode & 0o777) for f in files} == {f.name: "0o600" for f in files}
    secrets = {(suite.var_dir / name).read_text().strip() for name in SECRET_FILES.values()}
    assert len(secrets) == 2 and all(len(secret) >= 32 for secret in secrets)


@needs_every_service
def test_the_gateway_reports_itself_and_the_services_healthy(suite: RunningSuite):
    response = httpx.get(f"{suite.gateway_url}/healthz", timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["services"] == {spec.name: "ok" for spec in registry.backend_services()}


def signed_in(suite: RunningSuite, username: str = "almaty.agent") -> dict[str, str]:
    token = httpx.post(
        f"{suite.gateway_url}/api/v1/auth/token", data={"username": username, "password": "demo"}, timeout=10
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@needs_every_service
def test_a_demo_user_finds_a_demo_customer_through_the_gateway(suite: RunningSuite):
    headers = signed_in(suite)
    found = httpx.get(
        f"{suite.gateway_url}/api/v1/sales/customers", params={"phone": "+77011234567"}, headers=headers, timeout=10
    )
    assert found.status_code == 200, found.text
    assert any("Seitkali" in json.dumps(item, ensure_ascii=False) for item in found.json()["items"])


@needs_every_service
def test_sigterm_stops_every_process_cleanly(suite: RunningSuite):
    """Last in this module: it stops the module's suite."""
    routed = httpx.get(
        f"{suite.gateway_url}/api/v1/sales/customers", params={"limit": 1}, headers=signed_in(suite), timeout=10
    )
    assert routed.status_code == 200, routed.text  # a request whose trace crosses two processes
    children = descendants(suite.proc.pid)
    names = {open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode() for pid in children}
    assert len(children) >= len(registry.SERVICES) + 1, names  # every service, the gateway, the broker
    assert any("tansu" in name for name in names)

    code = suite.stop()

    assert code == 0, suite.output
    assert not [pid for pid in children if running(pid)]
    assert not processes_with_env("CRM_VAR_DIR", str(suite.var_dir))
    for port in (suite.broker_port, *(suite.port(s.name) for s in registry.SERVICES)):
        assert port_free(port)
    own_lines = [line.split("| ", 1)[1] for line in suite.output.splitlines() if line.startswith("crm ")]
    # the gateway first, then the services; the dev outbound sinks (started before them) last
    stop_order = ", ".join([*(spec.name for spec in reversed(registry.start_order())), SINKS])
    after_up = own_lines[own_lines.index(READY_LINE) + 1 :]
    assert after_up[0] == f"stopping {stop_order}"
    assert after_up[1].startswith(f"stopped: {registry.gateway().name} (")
    assert after_up[-1] == "broker stopped"
    # One trace followed across processes: a request through the gateway, and the sales span under it.
    spans = [json.loads(line) for line in (suite.var_dir / "traces.jsonl").read_text().splitlines()]
    services_by_trace: dict[str, set[str]] = {}
    for span in spans:
        services_by_trace.setdefault(span["trace_id"], set()).add(span["service"])
    assert any({"gateway", "sales"} <= services for services in services_by_trace.values())
