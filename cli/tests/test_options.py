"""Option and environment handling of `crm`: --since values, ports, the plan of `crm up`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crm_cli.main import app
from crm_cli.plan import PlanError, build_plan
from crm_cli.timeparse import parse_since

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("30m", NOW - timedelta(minutes=30)),
        ("1d12h", NOW - timedelta(days=1, hours=12)),
        ("1w", NOW - timedelta(weeks=1)),
        ("45s", NOW - timedelta(seconds=45)),
        ("2026-11-01T00:00", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T05:00+05:00", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T00:00:00Z", datetime(2026, 11, 1, tzinfo=UTC)),
    ],
)
def test_since_accepts_iso_times_and_relative_ages(text, expected):
    assert parse_since(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2x", "h2", "-2h", "2026-13-01"])
def test_since_rejects_anything_else_with_the_accepted_forms(text):
    with pytest.raises(ValueError, match="ISO time .* relative age"):
        parse_since(text, now=NOW)


def test_plan_defaults_to_the_documented_ports_and_var_files(tmp_path: Path):
    plan = build_plan(env={}, var_dir=tmp_path, internal_token_secret="s3cret")
    assert plan.kafka_bootstrap == "127.0.0.1:9092" and plan.broker_port == 9092
    sales = next(p for p in plan.processes if p.name == "sales")
    assert (sales.http_port, sales.grpc_port) == (8101, 50101)
    assert sales.env["CRM_SALES_DATABASE_URL"] == f"sqlite+aiosqlite:///{tmp_path.resolve()}/sales.db"
    assert sales.env["CRM_SALES_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:9092"
    assert sales.env["CRM_SALES_TRACE_FILE"] == str(tmp_path.resolve() / "traces.jsonl")
    assert sales.ready_url == "http://127.0.0.1:8101/readyz"
    assert sales.argv[1:] == [
        "-m",
        "uvicorn",
        "crm_sales.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        "8101",
        "--http",
        "httptools",
        "--loop",
        "asyncio",
        "--no-access-log",
        "--no-proxy-headers",
    ]
    assert plan.gateway.http_port == 8000 and plan.gateway_url == "http://127.0.0.1:8000"
    assert plan.gateway.env["CRM_GATEWAY_SALES_URL"] == "http://127.0.0.1:8101"
    assert [p.name for p in plan.processes][-1] == "gateway"


def test_every_process_gets_the_same_signing_secrets_and_trace_file(tmp_path: Path):
    plan = build_plan(env={}, var_dir=tmp_path)
    for name in ("internal_token_secret", "jwt_secret"):
        secrets = {p.env[p.spec.env_name(name)] for p in plan.processes}
        assert len(secrets) == 1 and len(secrets.pop()) >= 32
    traces = {p.env[p.spec.env_name("trace_file")] for p in plan.processes}
    assert len(traces) == 1
    assert build_plan(env={}, var_dir=tmp_path).internal_token_secret != plan.internal_token_secret
    plan.set_secrets({"internal_token_secret": "i" * 40, "jwt_secret": "j" * 40})
    assert plan.gateway.env["CRM_GATEWAY_JWT_SECRET"] == "j" * 40
    assert {p.env[p.spec.env_name("internal_token_secret")] for p in plan.processes} == {"i" * 40}


def test_forwarded_headers_are_believed_only_from_the_configured_proxies(tmp_path: Path):
    plan = build_plan(env={"CRM_GATEWAY_FORWARDED_ALLOW_IPS": "10.42.0.0/16"}, var_dir=tmp_path)
    assert plan.gateway.argv[-3:] == ["--proxy-headers", "--forwarded-allow-ips", "10.42.0.0/16"]
    for process in plan.processes:
        if not process.spec.is_gateway:  # uvicorn's default would believe anyone on 127.0.0.1
            assert "--no-proxy-headers" in process.argv and "--proxy-headers" not in process.argv


def test_ports_from_the_environment_reach_the_process_and_the_gateway(tmp_path: Path):
    env = {
        "CRM_SALES_HTTP_PORT": "18101",
        "CRM_SALES_GRPC_PORT": "15101",
        "CRM_GATEWAY_HTTP_PORT": "18000",
        "CRM_BROKER_PORT": "19092",
    }
    plan = build_plan(env=env, var_dir=tmp_path)
    sales = next(p for p in plan.processes if p.name == "sales")
    assert sales.argv[sales.argv.index("--port") + 1] == "18101" and sales.env["CRM_SALES_GRPC_PORT"] == "15101"
    assert plan.gateway.http_port == 18000
    assert plan.gateway.env["CRM_GATEWAY_SALES_URL"] == "http://127.0.0.1:18101"
    assert plan.kafka_bootstrap == "127.0.0.1:19092"
    assert {c.port: c.owner for c in plan.port_claims()} == {
        19092: "broker (Kafka protocol)",
        18101: "sales HTTP",
        15101: "sales gRPC",
        18000: "gateway HTTP",
        8105: "orders HTTP",
        50105: "orders gRPC",
        8103: "tickets HTTP",
        50103: "tickets gRPC",
        8106: "analytics HTTP",
        50106: "analytics gRPC",
        8107: "webhooks HTTP",
        8104: "partners HTTP",
        50104: "partners gRPC",
        8102: "marketing HTTP",
        50102: "marketing gRPC",
        8025: "dev SMTP sink",
        2775: "dev SMPP sink",
        50100: "gateway gRPC edge",
    }


def test_options_beat_the_environment(tmp_path: Path):
    plan = build_plan(
        env={"CRM_GATEWAY_HTTP_PORT": "18000", "CRM_BROKER_PORT": "19092"},
        var_dir=tmp_path,
        gateway_port=28000,
        broker_port=29092,
    )
    assert plan.gateway.http_port == 28000 and plan.broker_port == 29092


def test_an_external_kafka_replaces_the_embedded_broker(tmp_path: Path):
    plan = build_plan(env={}, var_dir=tmp_path, external_kafka="kafka-1:9092,kafka-2:9092")
    assert plan.broker_port is None
    assert all(c.owner != "broker (Kafka protocol)" for c in plan.port_claims())
    assert {p.env[p.spec.env_name("kafka_bootstrap_servers")] for p in plan.processes} == {"kafka-1:9092,kafka-2:9092"}


def test_a_database_url_in_the_environment_is_kept(tmp_path: Path):
    url = "postgresql+asyncpg://postgres@127.0.0.1:5432/crm_sales"
    plan = build_plan(env={"CRM_SALES_DATABASE_URL": url}, var_dir=tmp_path)
    assert next(p for p in plan.processes if p.name == "sales").database_url == url
    assert plan.gateway.database_url.endswith("/gateway.db")


def test_listening_on_all_interfaces_still_connects_locally(tmp_path: Path):
    plan = build_plan(env={}, var_dir=tmp_path, host="0.0.0.0")
    assert plan.gateway.argv[plan.gateway.argv.index("--host") + 1] == "0.0.0.0"
    assert plan.gateway.env["CRM_GATEWAY_SALES_URL"] == "http://127.0.0.1:8101"
    assert plan.kafka_bootstrap == "127.0.0.1:9092"


@pytest.mark.parametrize(
    ("env", "kwargs", "message"),
    [
        ({"CRM_SALES_HTTP_PORT": "eighty"}, {}, "CRM_SALES_HTTP_PORT='eighty' is not a port number"),
        ({"CRM_SALES_GRPC_PORT": "70000"}, {}, "CRM_SALES_GRPC_PORT: 70000 is not a valid port"),
        ({}, {"gateway_port": 0}, "--gateway-port: 0 is not a valid port"),
        ({"CRM_SALES_HTTP_PORT": "8000"}, {}, "8000: sales HTTP, gateway HTTP"),
        ({}, {"broker_port": 8101}, "8101: broker (Kafka protocol), sales HTTP"),
    ],
)
def test_bad_ports_are_refused_naming_the_setting(tmp_path, env, kwargs, message):
    with pytest.raises(PlanError) as err:
        build_plan(env=env, var_dir=tmp_path, **kwargs)
    assert message in str(err.value)


runner = CliRunner()


def flat(result) -> str:
    """The output without the box drawing and line wrapping of typer's error panels."""
    return " ".join(result.output.replace("│", " ").split())


def test_cli_refuses_a_non_numeric_port_option():
    result = runner.invoke(app, ["up", "--gateway-port", "eighty"])
    assert result.exit_code == 2
    assert "--gateway-port" in flat(result)


def test_cli_reports_a_bad_port_in_the_environment(tmp_path):
    result = runner.invoke(app, ["up", "--var-dir", str(tmp_path)], env={"CRM_SALES_HTTP_PORT": "x"})
    assert result.exit_code == 2
    assert "CRM_SALES_HTTP_PORT='x' is not a port number" in flat(result)
    assert not any(tmp_path.iterdir())  # nothing was started or written


def test_cli_names_the_known_services():
    result = runner.invoke(app, ["migrate", "billing"])
    assert result.exit_code == 2
    assert (
        "unknown service 'billing'; known: sales, orders, tickets, analytics, marketing, webhooks, partners, gateway"
        in flat(result)
    )


def test_cli_replay_requires_service_and_a_readable_since():
    assert runner.invoke(app, ["outbox", "replay", "--since", "2h"]).exit_code == 2
    result = runner.invoke(app, ["outbox", "replay", "--service", "sales", "--since", "last tuesday"])
    assert result.exit_code == 2
    assert "--since" in flat(result) and "relative age (30m, 2h, 1d, 1d12h)" in flat(result)


def test_cli_lists_the_topic_catalogue():
    from crm_contracts.events import topics

    result = runner.invoke(app, ["topics"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    if not topics():
        assert "empty" in result.output
        return
    assert lines[0].split() == ["TOPIC", "OWNER", "KEY", "EVENTS"]
    for topic in topics():
        row = next(line for line in lines if line.startswith(topic["name"] + " "))
        assert topic["owner"] in row
        assert all(event["type"] in row for event in topic["events"])
