"""The services registry: one consistent row per process of the suite."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from crm_cli import services as registry
from crm_cli.plan import build_plan
from crm_cli.services import SERVICES, ServiceSpec, UnknownService
from crm_shared import registry as shared_registry


def test_names_and_ports_are_unique():
    names = [s.name for s in SERVICES]
    assert len(names) == len(set(names))
    ports = [p for s in SERVICES for p in (s.http_port, s.grpc_port) if p is not None]
    assert len(ports) == len(set(ports))


def test_exactly_one_gateway_and_it_starts_last():
    gateways = [s for s in SERVICES if s.is_gateway]
    assert [g.name for g in gateways] == ["gateway"]
    order = registry.start_order()
    assert order[-1].is_gateway and {s.name for s in order} == set(registry.service_names())


def test_todays_services_have_the_documented_ports():
    assert (registry.get_service("sales").http_port, registry.get_service("sales").grpc_port) == (8101, 50101)
    assert (registry.gateway().http_port, registry.gateway().grpc_port) == (8000, None)


@pytest.mark.parametrize("spec", registry.backend_services(), ids=lambda s: s.name)
def test_service_ports_follow_the_810N_5010N_convention(spec: ServiceSpec):
    assert 8101 <= spec.http_port <= 8199
    # a service without a gRPC API of its own (webhooks) has none
    assert spec.grpc_port in (None, 50000 + spec.http_port - 8000)


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_entry_points_at_its_own_package(spec: ServiceSpec):
    package = f"crm_{spec.name}"
    for path in (spec.app_factory, spec.settings_class, spec.seed):
        assert path.startswith(package + ".") and ":" in path
    assert spec.migrations_path().parent.name == spec.name
    assert spec.database_name == f"crm_{spec.name}"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_settings_class_agrees_with_the_registry(spec: ServiceSpec, monkeypatch):
    module = spec.settings_class.split(":")[0]
    if importlib.util.find_spec(module.split(".")[0]) is None or not registry.module_available(spec.settings_class):
        pytest.skip(f"{spec.settings_class} is not there yet")
    for var in ("HTTP_PORT", "GRPC_PORT", "SERVICE_NAME"):
        monkeypatch.delenv(spec.env_name(var), raising=False)
    settings = registry.settings_for(spec)
    assert settings.service_name == spec.name
    assert settings.http_port == spec.http_port
    if spec.grpc_port is not None:
        assert settings.grpc_port == spec.grpc_port
    assert type(settings).model_config["env_prefix"] == spec.env_prefix
    if not spec.is_gateway:
        url_variable = registry.gateway().env_name(spec.gateway_url_setting)
        monkeypatch.setenv(url_variable, f"http://{spec.name}.internal:9000")
        gateway_settings = registry.settings_for(registry.gateway())
        assert gateway_settings.upstream_url(spec) == f"http://{spec.name}.internal:9000", url_variable
        monkeypatch.delenv(url_variable)
        assert registry.settings_for(registry.gateway()).upstream_url(spec) == f"http://127.0.0.1:{spec.http_port}"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_migrations_folder_exists(spec: ServiceSpec):
    assert (spec.migrations_path() / "env.py").is_file()


def test_env_names_and_urls():
    sales = registry.get_service("sales")
    assert sales.env_name("database_url") == "CRM_SALES_DATABASE_URL"
    assert sales.readiness_url("127.0.0.1") == "http://127.0.0.1:8101/readyz"
    assert sales.readiness_url("127.0.0.1", 9000) == "http://127.0.0.1:9000/readyz"
    assert sales.gateway_url_setting == "sales_url"


def test_unknown_service_names_the_known_ones():
    with pytest.raises(UnknownService) as err:
        registry.get_service("billing")
    assert "billing" in str(err.value) and "sales" in str(err.value) and "gateway" in str(err.value)


def test_missing_code_is_reported_by_name(tmp_path, monkeypatch):
    ghost = ServiceSpec(
        name="ghost",
        app_factory="crm_ghost.main:create_app",
        settings_class="crm_ghost.config:GhostSettings",
        migrations_dir="services/ghost/migrations",
        seed="crm_ghost.seed:seed_demo",
        http_port=8109,
        grpc_port=50109,
    )
    missing = registry.missing_parts(ghost, need_seed=True)
    assert missing == [
        "app factory crm_ghost.main:create_app",
        "settings crm_ghost.config:GhostSettings",
        "migrations services/ghost/migrations/env.py",
        "seed crm_ghost.seed:seed_demo",
    ]
    with pytest.raises(registry.NotAvailable, match="crm_ghost"):
        registry.load(ghost.seed)


def test_a_new_service_is_one_entry(monkeypatch, tmp_path: Path):
    partners = ServiceSpec(
        name="partners",
        app_factory="crm_partners.main:create_app",
        settings_class="crm_partners.config:PartnersSettings",
        migrations_dir="services/partners/migrations",
        seed="crm_partners.seed:seed_demo",
        http_port=8104,
        grpc_port=50104,
        scopes=("partners:read", "partners:write"),
    )
    monkeypatch.setattr(shared_registry, "SERVICES", (*shared_registry.SERVICES, partners))
    plan = build_plan(env={}, var_dir=tmp_path)
    started = [p.name for p in plan.processes]
    assert started.index("partners") < started.index("gateway")
    process = next(p for p in plan.processes if p.name == "partners")
    assert process.argv[3:5] == ["crm_partners.main:create_app", "--factory"]
    assert process.env["CRM_PARTNERS_GRPC_PORT"] == "50104"
    assert process.env["CRM_PARTNERS_DATABASE_URL"].endswith("/partners.db")
    assert process.env["CRM_PARTNERS_SALES_GRPC_TARGET"] == "127.0.0.1:50101"
    assert plan.gateway.env["CRM_GATEWAY_PARTNERS_URL"] == "http://127.0.0.1:8104"
    assert {c.port for c in plan.port_claims()} >= {8104, 50104}


def test_the_cli_reads_the_one_registry():
    assert registry.SERVICES is shared_registry.SERVICES and registry.ServiceSpec is shared_registry.ServiceSpec
    assert registry.get_service("orders") is shared_registry.get_service("orders")


@pytest.mark.parametrize("spec", registry.backend_services(), ids=lambda s: s.name)
def test_each_routed_service_describes_itself_and_its_api_key_scopes(spec: ServiceSpec):
    assert spec.description
    # what the gateway asks of a key: <name>:read for reads, <name>:write for other methods
    assert {f"{spec.name}:read", f"{spec.name}:write"} <= set(spec.scopes)
    assert len(set(spec.scopes)) == len(spec.scopes)


def test_public_prefixes_belong_to_one_service_each():
    prefixes = [prefix for spec in SERVICES for prefix in spec.public_prefixes]
    assert len(prefixes) == len(set(prefixes))
    assert shared_registry.public_prefixes() == {
        "/tmf-api/customerManagement": "sales",
        "/tmf-api/partyManagement": "sales",
        "/tmf-api/productOrderingManagement": "orders",
        "/tmf-api/productCatalogManagement": "orders",
        "/tmf-api/productInventory": "orders",
        "/tmf-api/troubleTicket": "tickets",
        "/tmf-api/troubleTicket/v4/hub": "webhooks",
        "/tmf-api/productOrderingManagement/v4/hub": "webhooks",
        "/tmf-api/productInventory/v4/hub": "webhooks",
    }
    # A prefix inside another service's (a facade's TMF hub, served by webhooks) is routed first:
    # the gateway adds the longest prefixes first (crm_gateway.api.proxy.proxy_router).
    owner = shared_registry.public_prefixes()
    for prefix in prefixes:
        for inner in (p for p in prefixes if p.startswith(prefix + "/")):
            assert owner[inner] != owner[prefix] and inner.endswith("/hub"), f"{inner} inside {prefix}"


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("scopes", ("sales:read",), "scope 'sales:read' must be ghost:<verb>"),
        ("scopes", ("ghost",), "scope 'ghost' must be ghost:<verb>"),
        ("public_prefixes", ("tmf-api/x",), "public prefix 'tmf-api/x' must start with '/'"),
        ("public_prefixes", ("/tmf-api/x/",), "must start with '/', not end with '/'"),
        ("public_prefixes", ("/api/v1/sales",), "lie outside /api/v1/"),
    ],
)
def test_an_entry_that_cannot_work_is_refused_at_once(field, value, message):
    base = dict(name="ghost", app_factory="m:f", settings_class="m:S", migrations_dir="x", seed=None, http_port=1)
    with pytest.raises(ValueError, match=re.escape(message)):
        ServiceSpec(**base, **{field: value})


async def test_seed_is_called_with_settings_only_when_it_takes_them(monkeypatch):
    calls = []

    async def seed_db_only(db, count=300):  # a second parameter that is not the settings
        calls.append(("db", db, count))

    async def seed_with_settings(db, settings):
        calls.append(("db+settings", db, settings))

    loaded = {"m:db_only": seed_db_only, "m:with_settings": seed_with_settings}
    monkeypatch.setattr(registry, "load", loaded.__getitem__)
    base = dict(app_factory="m:f", settings_class="m:S", migrations_dir="x", http_port=1)
    await registry.run_seed(ServiceSpec(name="a", seed="m:db_only", **base), "DB", "SETTINGS")
    await registry.run_seed(ServiceSpec(name="b", seed="m:with_settings", **base), "DB", "SETTINGS")
    assert calls == [("db", "DB", 300), ("db+settings", "DB", "SETTINGS")]
