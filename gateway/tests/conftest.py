"""Gateway test helpers: a migrated gateway database and gateway apps run in-process over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest_asyncio
from sqlalchemy import select

from crm_gateway.config import GatewaySettings
from crm_gateway.db import MIGRATIONS_DIR
from crm_gateway.main import create_app
from crm_gateway.seed import seed_demo
from crm_gateway.state import Gateway
from crm_shared.broker import free_port
from crm_shared.migrations import upgrade_async
from crm_shared.models import OutboxEvent
from crm_shared.registry import ServiceSpec

DEAD_URL_HOST = "127.0.0.1"
# Argon2 at its cheapest: the tests check what is hashed and verified, not how hard it is to crack.
CHEAP_HASHES = {"password_hash_time_cost": 1, "password_hash_memory_kib": 1024}


def dead_upstream_url() -> str:
    """A URL where nothing listens (a free port that nobody took)."""
    return f"http://{DEAD_URL_HOST}:{free_port()}"


@dataclass
class RunningGateway:
    app: object
    client: httpx.AsyncClient
    settings: GatewaySettings

    @property
    def gateway(self) -> Gateway:
        return self.app.state.gateway

    async def login(self, username: str, password: str = "demo") -> dict[str, str]:
        response = await self.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@asynccontextmanager
async def running_gateway(
    database_url: str,
    *,
    seed: bool = False,
    client_host: str = "127.0.0.1",
    services: Iterable[ServiceSpec] | None = None,
    **overrides,
) -> AsyncIterator[RunningGateway]:
    """``services``: the registry entries to route to (default: the registry); ``overrides``:
    GatewaySettings, e.g. sales_url=..."""
    settings = GatewaySettings(
        database_url=database_url,
        log_json=False,
        **({"relay_enabled": False, "sales_url": dead_upstream_url()} | CHEAP_HASHES | overrides),
    )
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        if seed:
            await seed_demo(app.state.runtime.db, settings)
        transport = httpx.ASGITransport(app=app, client=(client_host, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield RunningGateway(app, client, settings)


@pytest_asyncio.fixture(scope="module")
async def gateway_database(make_database) -> str:
    """A fresh PostgreSQL database with the gateway's migrations applied (one per test module)."""
    url = await make_database("gateway")
    await upgrade_async(MIGRATIONS_DIR, url)
    return url


@pytest_asyncio.fixture(scope="module")
async def gw(gateway_database):
    """A gateway with the demo users, one per test module."""
    async with running_gateway(gateway_database, seed=True) as running:
        yield running


@pytest_asyncio.fixture(scope="module")
async def admin(gw):
    return await gw.login("admin")


async def outbox_events(gw: RunningGateway, subject: str) -> list[OutboxEvent]:
    """The events the gateway recorded about one subject (a user id, a branch code), oldest first."""
    async with gw.gateway.db.read_only() as session:
        return list(
            await session.scalars(select(OutboxEvent).where(OutboxEvent.subject == subject).order_by(OutboxEvent.seq))
        )
