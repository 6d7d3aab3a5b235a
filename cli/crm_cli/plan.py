"""What `crm up` will start, worked out before anything starts: ports, URLs, and the
environment each process gets. Pure (reads only the environment mapping it is given)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from crm_shared import registry
from crm_shared.registry import ServiceSpec
from crm_shared.settings import new_secret

from .installation import SECRET_FILES

DEFAULT_HOST = "127.0.0.1"
DEFAULT_BROKER_PORT = 9092
BROKER_PORT_ENV = "CRM_BROKER_PORT"
TRACE_FILE = "traces.jsonl"
# The dev profile's capturing relays (crm_shared.outbound.sinks): one process, two ports, one outbox.
SMTP_SINK_PORT_ENV, DEFAULT_SMTP_SINK_PORT = "CRM_DEV_SMTP_PORT", 8025
# The gateway's authenticated gRPC edge for external systems (crm_gateway.grpc_edge), on in every run.
GRPC_EDGE_PORT_ENV, DEFAULT_GRPC_EDGE_PORT = "CRM_GATEWAY_GRPC_EDGE_PORT", 50100
SMPP_SINK_PORT_ENV, DEFAULT_SMPP_SINK_PORT = "CRM_DEV_SMPP_PORT", 2775
DEV_OUTBOX = "dev-outbox.jsonl"
SINKS = "outbound-sinks"
BROKER_LOG = "broker.log"
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


class PlanError(ValueError):
    pass


@dataclass(frozen=True)
class PortClaim:
    port: int
    owner: str  # e.g. "sales HTTP", "broker"


@dataclass
class ProcessPlan:
    spec: ServiceSpec
    http_port: int
    grpc_port: int | None
    database_url: str
    argv: list[str]
    env: dict[str, str]
    ready_url: str

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class SuitePlan:
    host: str
    var_dir: Path
    kafka_bootstrap: str
    broker_port: int | None  # None: an external Kafka is used, no embedded broker
    # Setting name -> value of each signing secret (internal_token_secret, jwt_secret), given to
    # every process as CRM_<SERVICE>_<NAME>.
    secrets: dict[str, str]
    processes: list[ProcessPlan] = field(default_factory=list)
    smtp_sink_port: int = DEFAULT_SMTP_SINK_PORT
    smpp_sink_port: int = DEFAULT_SMPP_SINK_PORT
    grpc_edge_port: int = DEFAULT_GRPC_EDGE_PORT

    @property
    def dev_outbox(self) -> Path:
        return self.var_dir / DEV_OUTBOX

    def sinks_argv(self, python: str = sys.executable) -> list[str]:
        """The dev capturing SMTP and SMPP servers (real protocols on loopback)."""
        return [
            python,
            "-m",
            "crm_shared.outbound.sinks",
            "--host",
            self.connect_host,
            "--smtp-port",
            str(self.smtp_sink_port),
            "--smpp-port",
            str(self.smpp_sink_port),
            "--outbox",
            str(self.dev_outbox),
        ]

    @property
    def internal_token_secret(self) -> str:
        return self.secrets["internal_token_secret"]

    def set_secrets(self, secrets: Mapping[str, str]) -> None:
        """Every process gets every signing secret (a setting a process does not declare is
        ignored; its user can read the installation's secret files anyway)."""
        self.secrets = dict(secrets)
        for process in self.processes:
            process.env.update({process.spec.env_name(name): value for name, value in self.secrets.items()})

    @property
    def connect_host(self) -> str:
        return connect_host(self.host)

    @property
    def gateway(self) -> ProcessPlan:
        return next(p for p in self.processes if p.spec.is_gateway)

    @property
    def gateway_url(self) -> str:
        return f"http://{self.connect_host}:{self.gateway.http_port}"

    @property
    def trace_file(self) -> Path:
        return self.var_dir / TRACE_FILE

    @property
    def broker_log(self) -> Path:
        return self.var_dir / BROKER_LOG

    def port_claims(self) -> list[PortClaim]:
        claims = []
        if self.broker_port is not None:
            claims.append(PortClaim(self.broker_port, "broker (Kafka protocol)"))
        claims.append(PortClaim(self.smtp_sink_port, "dev SMTP sink"))
        claims.append(PortClaim(self.smpp_sink_port, "dev SMPP sink"))
        claims.append(PortClaim(self.grpc_edge_port, "gateway gRPC edge"))
        for process in self.processes:
            claims.append(PortClaim(process.http_port, f"{process.name} HTTP"))
            if process.grpc_port is not None:
                claims.append(PortClaim(process.grpc_port, f"{process.name} gRPC"))
        return claims


def connect_host(bind_host: str) -> str:
    """Where to reach a process bound to ``bind_host`` from this machine."""
    return DEFAULT_HOST if bind_host in WILDCARD_HOSTS else bind_host


def _port_from_env(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        port = int(raw)
    except ValueError:
        raise PlanError(f"{name}={raw!r} is not a port number") from None
    check_port(port, name)
    return port


def check_port(port: int, label: str) -> int:
    if not 1 <= port <= 65535:
        raise PlanError(f"{label}: {port} is not a valid port (1-65535)")
    return port


def database_url(spec: ServiceSpec, var_dir: Path, env: Mapping[str, str]) -> str:
    """CRM_<SVC>_DATABASE_URL when set, else the service's own on-disk SQLite file in var_dir."""
    return env.get(spec.env_name("database_url")) or f"sqlite+aiosqlite:///{var_dir.resolve() / (spec.name + '.db')}"


def build_plan(
    *,
    env: Mapping[str, str],
    var_dir: Path,
    host: str = DEFAULT_HOST,
    gateway_port: int | None = None,
    broker_port: int | None = None,
    external_kafka: str | None = None,
    internal_token_secret: str | None = None,
    python: str = sys.executable,
) -> SuitePlan:
    """Ports come from the options, else CRM_<SVC>_HTTP_PORT / CRM_<SVC>_GRPC_PORT /
    CRM_BROKER_PORT, else the registry's defaults. The signing secrets are new ones for this plan
    (a test, a benchmark); `crm up` puts the installation's in their place (``set_secrets``)."""
    var_dir = var_dir.resolve()
    if external_kafka:
        bootstrap, embedded_broker_port = external_kafka, None
    else:
        embedded_broker_port = (
            broker_port if broker_port is not None else _port_from_env(env, BROKER_PORT_ENV, DEFAULT_BROKER_PORT)
        )
        check_port(embedded_broker_port, "--broker-port")
        bootstrap = f"{connect_host(host)}:{embedded_broker_port}"
    signing = {name: new_secret() for name in SECRET_FILES}
    if internal_token_secret:
        signing["internal_token_secret"] = internal_token_secret
    plan = SuitePlan(
        host=host,
        var_dir=var_dir,
        kafka_bootstrap=bootstrap,
        broker_port=embedded_broker_port,
        secrets=signing,
        smtp_sink_port=_port_from_env(env, SMTP_SINK_PORT_ENV, DEFAULT_SMTP_SINK_PORT),
        smpp_sink_port=_port_from_env(env, SMPP_SINK_PORT_ENV, DEFAULT_SMPP_SINK_PORT),
        grpc_edge_port=_port_from_env(env, GRPC_EDGE_PORT_ENV, DEFAULT_GRPC_EDGE_PORT),
    )

    ports: dict[str, tuple[int, int | None]] = {}
    for spec in registry.SERVICES:
        http = _port_from_env(env, spec.env_name("http_port"), spec.http_port)
        if spec.is_gateway and gateway_port is not None:
            http = check_port(gateway_port, "--gateway-port")
        grpc = _port_from_env(env, spec.env_name("grpc_port"), spec.grpc_port) if spec.grpc_port else None
        ports[spec.name] = (http, grpc)

    for spec in registry.start_order():
        http, grpc = ports[spec.name]
        child_env = {
            spec.env_name("database_url"): database_url(spec, var_dir, env),
            spec.env_name("kafka_bootstrap_servers"): bootstrap,
            spec.env_name("trace_file"): str(plan.trace_file),
            spec.env_name("http_host"): host,
            spec.env_name("http_port"): str(http),
            # every process that sends (crm_shared.outbound) sends to the dev sinks; the gateway reads their outbox
            spec.env_name("smtp_host"): connect_host(host),
            spec.env_name("smtp_port"): str(plan.smtp_sink_port),
            spec.env_name("smpp_host"): connect_host(host),
            spec.env_name("smpp_port"): str(plan.smpp_sink_port),
            spec.env_name("dev_outbox_file"): str(plan.dev_outbox),
            # the run's own files (e.g. the analytics service's embedded ClickHouse); a service that
            # keeps none does not declare the setting and ignores it
            spec.env_name("var_dir"): str(var_dir),
        }
        if grpc is not None:
            child_env[spec.env_name("grpc_host")] = host
            child_env[spec.env_name("grpc_port")] = str(grpc)
        if not spec.is_gateway:
            # Every service finds the others' gRPC servers (e.g. CRM_ORDERS_SALES_GRPC_TARGET);
            # settings it does not declare are ignored.
            for other in registry.backend_services():
                if other.name != spec.name and ports[other.name][1] is not None:
                    child_env[spec.env_name(f"{other.name}_grpc_target")] = (
                        f"{connect_host(host)}:{ports[other.name][1]}"
                    )
            # ... and their HTTP APIs (e.g. CRM_PARTNERS_SALES_URL, where partners creates records)
            for other in registry.backend_services():
                if other.name != spec.name:
                    child_env[spec.env_name(f"{other.name}_url")] = (
                        f"http://{connect_host(host)}:{ports[other.name][0]}"
                    )
        if spec.is_gateway:
            child_env[spec.env_name("grpc_edge_host")] = host
            child_env[spec.env_name("grpc_edge_port")] = str(plan.grpc_edge_port)
            for other in registry.backend_services():
                child_env[spec.env_name(other.gateway_url_setting)] = (
                    f"http://{connect_host(host)}:{ports[other.name][0]}"
                )
        argv = spec.uvicorn_argv(
            python, host, http, forwarded_allow_ips=env.get(spec.env_name("forwarded_allow_ips"), "")
        )
        plan.processes.append(
            ProcessPlan(
                spec=spec,
                http_port=http,
                grpc_port=grpc,
                database_url=child_env[spec.env_name("database_url")],
                argv=argv,
                env=child_env,
                ready_url=spec.readiness_url(connect_host(host), http),
            )
        )

    plan.set_secrets(signing)
    duplicates = _duplicate_ports(plan.port_claims())
    if duplicates:
        raise PlanError("the same port is given to several processes: " + "; ".join(duplicates))
    return plan


def _duplicate_ports(claims: list[PortClaim]) -> list[str]:
    by_port: dict[int, list[str]] = {}
    for claim in claims:
        by_port.setdefault(claim.port, []).append(claim.owner)
    return [f"{port}: {', '.join(owners)}" for port, owners in by_port.items() if len(owners) > 1]
