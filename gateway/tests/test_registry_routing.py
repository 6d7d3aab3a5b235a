"""A new service is one registry entry: a throwaway service, added to the registry the gateway is
given, is routed (with the caller's identity), described in the public OpenAPI document, checked
for health and given API keys with its own scopes, with no gateway code or setting naming it."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
import uvicorn
from fastapi import APIRouter
from pydantic import BaseModel

from crm_shared.app import create_service_app
from crm_shared.auth import Principal, Role, principal_dependency
from crm_shared.broker import free_port
from crm_shared.errors import Problem
from crm_shared.registry import SERVICES, ServiceSpec
from crm_shared.settings import ServiceSettings

from .conftest import running_gateway

pytestmark = pytest.mark.integration
INTERNAL_SECRET = "registry-routing-test-internal-secret-0123456789"
TRACKING_PREFIX = "/tmf-api/shipmentTracking"

PARCELS = ServiceSpec(
    name="parcels",
    app_factory="crm_parcels.main:create_app",
    settings_class="crm_parcels.config:ParcelsSettings",
    migrations_dir="services/parcels/migrations",
    seed=None,
    http_port=8109,
    grpc_port=50109,
    description="parcels sent to customers (a test's throwaway service)",
    public_prefixes=(TRACKING_PREFIX,),
    scopes=("parcels:read", "parcels:write", "parcels:dispatch"),
)


class ParcelOut(BaseModel):
    id: str
    caller: str
    role: str
    branch: str | None
    scopes: list[str]


def parcels_app(database_url: str):
    """The throwaway service: built like every service, verifying the caller's identity itself."""
    settings = ServiceSettings(
        service_name=PARCELS.name,
        database_url=database_url,
        internal_token_secret=INTERNAL_SECRET,
        relay_enabled=False,
        consumers_enabled=False,
        log_json=False,
    )
    caller = principal_dependency(lambda request: INTERNAL_SECRET)
    router = APIRouter()

    def parcel(parcel_id: str, principal: Principal) -> ParcelOut:
        return ParcelOut(
            id=parcel_id,
            caller=principal.subject,
            role=principal.role.value,
            branch=principal.branch,
            scopes=list(principal.scopes),
        )

    @router.get("/api/v1/parcels/parcels/{parcel_id}", response_model=ParcelOut)
    async def get_parcel(parcel_id: str, principal: Principal = caller) -> ParcelOut:
        return parcel(parcel_id, principal)

    @router.post("/api/v1/parcels/parcels/{parcel_id}/dispatch", response_model=ParcelOut)
    async def dispatch_parcel(parcel_id: str, principal: Principal = caller) -> ParcelOut:
        if not principal.has_scope("parcels:dispatch"):
            raise Problem(403, "Forbidden", "dispatching needs parcels:dispatch")
        return parcel(parcel_id, principal)

    @router.get(f"{TRACKING_PREFIX}/v4/shipment/{{shipment_id}}", response_model=ParcelOut)
    async def track_shipment(shipment_id: str, principal: Principal = caller) -> ParcelOut:
        return parcel(shipment_id, principal)

    @router.get("/internal/parcels")  # served, but not public: the gateway's document leaves it out
    async def internal() -> dict:
        return {}

    return create_service_app(settings, title="Parcels", routers=[router])


@pytest_asyncio.fixture(scope="module")
async def parcels_url(tmp_path_factory):
    port = free_port()
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('parcels') / 'parcels.db'}"
    server = uvicorn.Server(
        uvicorn.Config(parcels_app(database_url), host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest_asyncio.fixture(scope="module")
async def parcels_gateway(gateway_database, parcels_url):
    # The upstream URL comes the way deploy/ gives it, from CRM_GATEWAY_<NAME>_URL.
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("CRM_GATEWAY_PARCELS_URL", parcels_url)
        async with running_gateway(
            gateway_database, seed=True, services=(*SERVICES, PARCELS), internal_token_secret=INTERNAL_SECRET
        ) as gw:
            yield gw


@pytest_asyncio.fixture(scope="module")
async def admin(parcels_gateway):
    return await parcels_gateway.login("admin")


async def new_api_key(gw, admin, *scopes: str) -> dict[str, str]:
    created = await gw.client.post(
        "/api/v1/admin/api-keys", headers=admin, json={"name": f"Courier {' '.join(scopes)}", "scopes": list(scopes)}
    )
    assert created.status_code == 201, created.text
    return {"X-API-Key": created.json()["key"]}


async def test_the_new_service_is_routed_as_the_caller(parcels_gateway):
    gw = parcels_gateway
    response = await gw.client.get("/api/v1/parcels/parcels/p-1", headers=await gw.login("almaty.agent"))
    assert response.status_code == 200, response.text
    # the service verified the identity the gateway attached
    assert response.json() == {
        "id": "p-1",
        "caller": "user-almaty-agent",
        "role": Role.BRANCH_AGENT.value,
        "branch": "ALA-01",
        "scopes": [],
    }
    tracked = await gw.client.get(f"{TRACKING_PREFIX}/v4/shipment/p-2", headers=await gw.login("callcenter"))
    assert tracked.status_code == 200, tracked.text
    assert (tracked.json()["id"], tracked.json()["caller"]) == ("p-2", "user-callcenter")
    unauthenticated = await gw.client.get("/api/v1/parcels/parcels/p-1")
    assert unauthenticated.status_code == 401


async def test_the_new_service_is_in_the_public_api_document_and_the_health(parcels_gateway):
    document = (await parcels_gateway.client.get("/openapi.json")).json()
    paths = document["paths"]
    assert "get" in paths["/api/v1/parcels/parcels/{parcel_id}"]
    assert "post" in paths["/api/v1/parcels/parcels/{parcel_id}/dispatch"]
    assert "get" in paths[f"{TRACKING_PREFIX}/v4/shipment/{{shipment_id}}"]
    assert "/internal/parcels" not in paths
    assert "parcels.ParcelOut" in document["components"]["schemas"]
    assert "parcels" not in document.get("x-unavailable-services", [])
    assert f"`parcels`: {PARCELS.description}" in document["info"]["description"]

    health = (await parcels_gateway.client.get("/healthz")).json()
    assert health["services"]["parcels"] == "ok"
    assert set(health["services"]) == {spec.name for spec in SERVICES if not spec.is_gateway} | {"parcels"}


async def test_api_keys_get_the_new_services_scopes(parcels_gateway, admin):
    gw = parcels_gateway
    courier = await new_api_key(gw, admin, "parcels:read", "parcels:dispatch")
    read = await gw.client.get("/api/v1/parcels/parcels/p-3", headers=courier)
    assert read.status_code == 200, read.text
    assert (read.json()["role"], read.json()["scopes"]) == (Role.SYSTEM.value, ["parcels:read", "parcels:dispatch"])
    # a narrower write scope of the service passes the gateway; the service checks it itself
    dispatched = await gw.client.post("/api/v1/parcels/parcels/p-3/dispatch", headers=courier)
    assert dispatched.status_code == 200, dispatched.text

    reader = await new_api_key(gw, admin, "parcels:read")
    refused = await gw.client.post("/api/v1/parcels/parcels/p-3/dispatch", headers=reader)
    assert refused.status_code == 403 and refused.json()["required_scope"] == "parcels:write"

    unknown_verb = await gw.client.post(
        "/api/v1/admin/api-keys", headers=admin, json={"name": "Courier", "scopes": ["parcels:teleport"]}
    )
    assert unknown_verb.status_code == 422
    assert unknown_verb.json()["errors"][0]["field"] == "scopes.0"
    assert "parcels:read, parcels:write, parcels:dispatch" in unknown_verb.json()["errors"][0]["message"]


async def test_a_gateway_with_the_registry_alone_does_not_know_the_service(gateway_database, parcels_url):
    async with running_gateway(gateway_database, seed=True, parcels_url=parcels_url) as gw:
        admin = await gw.login("admin")
        assert (await gw.client.get("/api/v1/parcels/parcels/p-1", headers=admin)).status_code == 404
        refused = await gw.client.post(
            "/api/v1/admin/api-keys", headers=admin, json={"name": "Courier", "scopes": ["parcels:read"]}
        )
        assert refused.status_code == 422 and "unknown service 'parcels'" in refused.json()["errors"][0]["message"]
