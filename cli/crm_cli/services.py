"""The services registry: every process of the suite, described once.

`crm up`, `crm migrate`, `crm seed`, `crm serve`, the outbox commands and the deploy checks all
read this table. Adding a service is one entry here (plus its own blocks in deploy/, which
tests/deploy/test_manifests.py cross-checks against this table).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crm_shared.settings import project_root


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

    @property
    def env_prefix(self) -> str:
        return f"CRM_{self.name.upper()}_"

    def env_name(self, setting: str) -> str:
        """The environment variable of one of this service's settings, e.g. CRM_SALES_HTTP_PORT."""
        return self.env_prefix + setting.upper()

    @property
    def gateway_url_setting(self) -> str:
        """The gateway setting holding this service's base URL (GatewaySettings.<name>_url)."""
        return f"{self.name}_url"

    @property
    def database_name(self) -> str:
        """Its own PostgreSQL database in production (deploy/ creates one per service)."""
        return f"crm_{self.name}"

    def readiness_url(self, host: str, port: int | None = None) -> str:
        return f"http://{host}:{port or self.http_port}{self.readiness_path}"

    def migrations_path(self, root: Path | None = None) -> Path:
        return (root or source_root()) / self.migrations_dir

    def uvicorn_argv(self, python: str, host: str, port: int, *options: str) -> list[str]:
        """The command that serves this app. The HTTP parser is httptools (C): uvicorn's pure-Python
        h11 cost about a third of the gateway's CPU per forwarded request. The event loop stays
        asyncio's own, which grpc.aio (served in the same loop) supports."""
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
    ),
    ServiceSpec(
        name="orders",
        app_factory="crm_orders.main:create_app",
        settings_class="crm_orders.config:OrdersSettings",
        migrations_dir="services/orders/migrations",
        seed="crm_orders.seed:seed_demo",
        http_port=8105,
        grpc_port=50105,
    ),
    ServiceSpec(
        name="tickets",
        app_factory="crm_tickets.main:create_app",
        settings_class="crm_tickets.config:TicketsSettings",
        migrations_dir="services/tickets/migrations",
        seed="crm_tickets.seed:seed_demo",
        http_port=8103,
        grpc_port=50103,
    ),
    ServiceSpec(
        name="gateway",
        app_factory="crm_gateway.main:create_app",
        settings_class="crm_gateway.config:GatewaySettings",
        migrations_dir="gateway/migrations",
        seed="crm_gateway.seed:seed_demo",
        http_port=8000,
        is_gateway=True,
    ),
)


class UnknownService(KeyError):
    def __str__(self) -> str:
        return f"unknown service {self.args[0]!r}; known: {', '.join(service_names())}"


class NotAvailable(RuntimeError):
    """A registry entry points at code that is not there (yet)."""


def service_names() -> list[str]:
    return [spec.name for spec in SERVICES]


def get_service(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise UnknownService(name)


def gateway() -> ServiceSpec:
    return next(spec for spec in SERVICES if spec.is_gateway)


def backend_services() -> list[ServiceSpec]:
    return [spec for spec in SERVICES if not spec.is_gateway]


def start_order() -> list[ServiceSpec]:
    """Services first, then the gateway (stopping goes the other way)."""
    return backend_services() + [gateway()]


def source_root() -> Path:
    """Where the services' migrations/ folders are: the repository, or CRM_SOURCE_ROOT in an image."""
    override = os.environ.get("CRM_SOURCE_ROOT")
    return Path(override) if override else project_root()


def module_available(import_path: str) -> bool:
    module = import_path.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def load(import_path: str) -> Any:
    """Import "module:attribute"; NotAvailable names what is missing."""
    module_name, _, attribute = import_path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise NotAvailable(f"{import_path} is not available: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise NotAvailable(f"{import_path} is not available: {module_name} has no {attribute!r}") from None


def missing_parts(spec: ServiceSpec, *, need_seed: bool = False) -> list[str]:
    """What of this service's code is not there yet (empty when it can be started)."""
    missing = []
    for label, path in (("app factory", spec.app_factory), ("settings", spec.settings_class)):
        if not module_available(path):
            missing.append(f"{label} {path}")
    if not (spec.migrations_path() / "env.py").is_file():
        missing.append(f"migrations {spec.migrations_dir}/env.py")
    if need_seed and spec.seed and not module_available(spec.seed):
        missing.append(f"seed {spec.seed}")
    return missing


def settings_for(spec: ServiceSpec, **overrides: Any):
    """The service's settings from its environment (CRM_<SVC>_*), with explicit overrides."""
    return load(spec.settings_class)(**overrides)


async def run_seed(spec: ServiceSpec, db, settings) -> Any:
    """Seed functions take (db) or (db, settings); settings go only to one that names them."""
    if not spec.seed:
        return None
    seed = load(spec.seed)
    if "settings" in inspect.signature(seed).parameters:
        return await seed(db, settings=settings)
    return await seed(db)
