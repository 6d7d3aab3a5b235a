"""The services registry: every process of the suite, described once.

`crm up`, `crm migrate`, `crm seed`, `crm serve` and the outbox commands (through
`crm_cli.services`), the gateway (routing, TM Forum prefixes, the merged OpenAPI document, API-key
scopes) and the deploy checks all read this table. Adding a service is one entry here, plus its
own blocks in deploy/, which tests/deploy/test_manifests.py cross-checks against this table.
It lives in the platform library so that the gateway can read it without depending on the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .settings import project_root

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    app_factory: str  # "module:function", run with `uvicorn --factory`
    settings_class: str  # "module:Class", a crm_shared.settings.ServiceSettings subclass
    migrations_dir: str  # relative to the repository root
    seed: str | None  # "module:function": async seed_demo(db, ...) or seed_demo(db, settings, ...)
    http_port: int
    grpc_port: int | None = None
    readiness_path: str = "/readyz"
    liveness_path: str = "/healthz"
    is_gateway: bool = False  # the public door; every other service is routed through it
    description: str = ""  # one line: what the service holds (shown in the public API document)
    # Public path prefixes the gateway also routes to this service, besides /api/v1/<name>/
    # (the TM Forum facades keep their standard paths), e.g. "/tmf-api/troubleTicket".
    public_prefixes: tuple[str, ...] = ()
    # The API-key scopes this service understands, each "<name>:<verb>" (e.g. "orders:fulfil"); an
    # administrator can give a key only these. Reads through the gateway need <name>:read, other
    # methods <name>:write or one of the service's narrower scopes.
    scopes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for scope in self.scopes:
            service, _, verb = scope.partition(":")
            if service != self.name or not verb:
                raise ValueError(f"{self.name}: scope {scope!r} must be {self.name}:<verb>")
        for prefix in self.public_prefixes:
            if not prefix.startswith("/") or prefix.endswith("/") or prefix.startswith(API_PREFIX + "/"):
                raise ValueError(
                    f"{self.name}: public prefix {prefix!r} must start with '/', not end with '/' "
                    f"and lie outside {API_PREFIX}/ (where every service has its own /{self.name}/)"
                )

    @property
    def env_prefix(self) -> str:
        return f"CRM_{self.name.upper()}_"

    def env_name(self, setting: str) -> str:
        """The environment variable of one of this service's settings, e.g. CRM_SALES_HTTP_PORT."""
        return self.env_prefix + setting.upper()

    @property
    def gateway_url_setting(self) -> str:
        """The gateway setting holding this service's base URL: <name>_url, in the environment
        CRM_GATEWAY_<NAME>_URL."""
        return f"{self.name}_url"

    @property
    def api_prefix(self) -> str:
        """Where the gateway routes this service's own API: /api/v1/<name>."""
        return f"{API_PREFIX}/{self.name}"

    @property
    def database_name(self) -> str:
        """Its own PostgreSQL database in production (deploy/ creates one per service)."""
        return f"crm_{self.name}"

    def readiness_url(self, host: str, port: int | None = None) -> str:
        return f"http://{host}:{port or self.http_port}{self.readiness_path}"

    def migrations_path(self, root: Path | None = None) -> Path:
        return (root or source_root()) / self.migrations_dir

    def uvicorn_argv(
        self, python: str, host: str, port: int, *options: str, forwarded_allow_ips: str = ""
    ) -> list[str]:
        """The command that serves this app. The HTTP parser is httptools (C): uvicorn's pure-Python
        h11 cost about a third of the gateway's CPU per forwarded request. The event loop stays
        asyncio's own, which grpc.aio (served in the same loop) supports.

        ``forwarded_allow_ips`` (the service's setting of that name): the proxies whose
        X-Forwarded-For is believed. Uvicorn's own default believes anyone on 127.0.0.1, which
        lets every local client choose its address; without proxies the headers are ignored."""
        if forwarded_allow_ips.strip():
            proxies = ["--proxy-headers", "--forwarded-allow-ips", forwarded_allow_ips.strip()]
        else:
            proxies = ["--no-proxy-headers"]
        return [
            python,
            "-m",
            "uvicorn",
            self.app_factory,
            "--factory",
            "--host",
            host,
            "--port",
            str(port),
            "--http",
            "httptools",
            "--loop",
            "asyncio",
            "--no-access-log",
            *proxies,
            *options,
        ]


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        name="sales",
        app_factory="crm_sales.main:create_app",
        settings_class="crm_sales.config:SalesSettings",
        migrations_dir="services/sales/migrations",
        seed="crm_sales.seed:seed_demo",
        http_port=8101,
        grpc_port=50101,
        description="customers, leads, opportunities and activities",
        public_prefixes=("/tmf-api/customerManagement", "/tmf-api/partyManagement"),
        scopes=("sales:read", "sales:write", "sales:activities"),
    ),
    ServiceSpec(
        name="orders",
        app_factory="crm_orders.main:create_app",
        settings_class="crm_orders.config:OrdersSettings",
        migrations_dir="services/orders/migrations",
        seed="crm_orders.seed:seed_demo",
        http_port=8105,
        grpc_port=50105,
        description="product catalogue, orders and their fulfilment, installed products, billing status",
        public_prefixes=(
            "/tmf-api/productOrderingManagement",
            "/tmf-api/productCatalogManagement",
            "/tmf-api/productInventory",
        ),
        scopes=("orders:read", "orders:write", "orders:fulfil", "orders:billing"),
    ),
    ServiceSpec(
        name="tickets",
        app_factory="crm_tickets.main:create_app",
        settings_class="crm_tickets.config:TicketsSettings",
        migrations_dir="services/tickets/migrations",
        seed="crm_tickets.seed:seed_demo",
        http_port=8103,
        grpc_port=50103,
        description="trouble tickets with SLAs, branch queues, mass incidents, call-centre interactions",
        public_prefixes=("/tmf-api/troubleTicket",),
        scopes=("tickets:read", "tickets:write", "tickets:incidents"),
    ),
    ServiceSpec(
        name="analytics",
        app_factory="crm_analytics.main:create_app",
        settings_class="crm_analytics.config:AnalyticsSettings",
        migrations_dir="services/analytics/migrations",
        seed="crm_analytics.seed:seed_demo",
        http_port=8106,
        grpc_port=50106,  # reserved: no gRPC API yet (the dashboards are REST)
        description="head-office analytics: every event in ClickHouse, pseudonymous; dashboards, CSV and monthly reports",
        scopes=("analytics:read", "analytics:write"),
    ),
    ServiceSpec(
        name="marketing",
        app_factory="crm_marketing.main:create_app",
        settings_class="crm_marketing.config:MarketingSettings",
        migrations_dir="services/marketing/migrations",
        seed="crm_marketing.seed:seed_demo",
        http_port=8102,
        grpc_port=50102,
        description="segments, campaigns over SMS and e-mail, responses and conversions, loyalty points and cards",
        scopes=("marketing:read", "marketing:write"),
    ),
    ServiceSpec(
        name="webhooks",
        app_factory="crm_webhooks.main:create_app",
        settings_class="crm_webhooks.config:WebhooksSettings",
        migrations_dir="services/webhooks/migrations",
        seed="crm_webhooks.seed:seed_demo",
        http_port=8107,
        description="event subscriptions of external systems: signed webhooks and TM Forum hubs",
        # The TM Forum hubs under the facades' prefixes (the gateway routes the longest prefix first).
        public_prefixes=(
            "/tmf-api/troubleTicket/v4/hub",
            "/tmf-api/productOrderingManagement/v4/hub",
            "/tmf-api/productInventory/v4/hub",
        ),
        scopes=("webhooks:read", "webhooks:write"),
    ),
    ServiceSpec(
        name="gateway",
        app_factory="crm_gateway.main:create_app",
        settings_class="crm_gateway.config:GatewaySettings",
        migrations_dir="gateway/migrations",
        seed="crm_gateway.seed:seed_demo",
        http_port=8000,
        is_gateway=True,
        description="the public door: sign-in, API keys, rate limits, routing, the web console",
    ),
)


class UnknownService(KeyError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(name)
        self.known = list(known)

    def __str__(self) -> str:
        return f"unknown service {self.args[0]!r}; known: {', '.join(self.known)}"


# Each lookup reads SERVICES, or the entries it is given (a gateway or a test with its own registry).


def _entries(services: Iterable[ServiceSpec] | None) -> tuple[ServiceSpec, ...]:
    return SERVICES if services is None else tuple(services)


def service_names(services: Iterable[ServiceSpec] | None = None) -> list[str]:
    return [spec.name for spec in _entries(services)]


def get_service(name: str, services: Iterable[ServiceSpec] | None = None) -> ServiceSpec:
    for spec in _entries(services):
        if spec.name == name:
            return spec
    raise UnknownService(name, service_names(services))


def gateway(services: Iterable[ServiceSpec] | None = None) -> ServiceSpec:
    return next(spec for spec in _entries(services) if spec.is_gateway)


def backend_services(services: Iterable[ServiceSpec] | None = None) -> list[ServiceSpec]:
    """Every service but the gateway: the ones it routes to."""
    return [spec for spec in _entries(services) if not spec.is_gateway]


def start_order(services: Iterable[ServiceSpec] | None = None) -> list[ServiceSpec]:
    """Services first, then the gateway (stopping goes the other way)."""
    return backend_services(services) + [gateway(services)]


def public_prefixes(services: Iterable[ServiceSpec] | None = None) -> dict[str, str]:
    """Public path prefix outside /api/v1/ -> the service that serves it."""
    return {prefix: spec.name for spec in backend_services(services) for prefix in spec.public_prefixes}


def source_root() -> Path:
    """Where the services' migrations/ folders are: the repository, or CRM_SOURCE_ROOT in an image."""
    override = os.environ.get("CRM_SOURCE_ROOT")
    return Path(override) if override else project_root()
