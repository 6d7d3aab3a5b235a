"""Fixtures of the partners service's integration tests: a migrated PostgreSQL database per module,
the real sales service in a uvicorn subprocess (its gRPC answers whether a customer exists, its
REST API takes an approved deal's customer and lead), the partners app in this process, and
callers of the partners roles.

make_database and kafka_bootstrap come from crm_shared.testing, registered by the repository's
conftest.py in a whole-repository run and by this service's pyproject.toml when its tests run
alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from crm_partners.config import PartnersSettings
from crm_partners.main import create_app
from crm_shared.auth import Principal, Role
from crm_shared.broker import free_port, wait_for_port
from crm_shared.migrations import upgrade_async
from crm_shared.testing import TEST_INTERNAL_TOKEN_SECRET, Identities, auth_headers, eventually

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"

CHANNEL_MANAGER = Principal("t-channel", "channel.manager", Role.CHANNEL_MANAGER)


def partner_user(partner_id: str, subject: str | None = None) -> Principal:
    return Principal(subject or f"t-{partner_id}", f"user.{partner_id}", Role.PARTNER, partner_id=partner_id)


@pytest_asyncio.fixture(scope="module")
async def database_url(make_database) -> str:
    url = await make_database("partners")
    await upgrade_async(MIGRATIONS, url)
    return url


@pytest_asyncio.fixture(scope="module")
async def sales_service(make_database, tmp_path_factory):
    """The sales service started the way `crm serve` starts it, on its own migrated database."""
    url = await make_database("pt_sales")
    await upgrade_async(ROOT / "services/sales/migrations", url)
    http_port, grpc_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("sales") / "sales.log"
    env = os.environ | {
        "CRM_SALES_DATABASE_URL": url,
        "CRM_SALES_INTERNAL_TOKEN_SECRET": TEST_INTERNAL_TOKEN_SECRET,
        "CRM_SALES_GRPC_PORT": str(grpc_port),
        "CRM_SALES_HTTP_PORT": str(http_port),
        "CRM_SALES_RELAY_ENABLED": "false",
        "CRM_SALES_CONSUMERS_ENABLED": "false",
        "CRM_SALES_LOG_JSON": "false",
        "CRM_SALES_LOG_LEVEL": "WARNING",
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "crm_sales.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(http_port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port("127.0.0.1", http_port, timeout_s=60, proc=process)
        wait_for_port("127.0.0.1", grpc_port, timeout_s=60, proc=process)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=30) as client:

            async def ready():
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, message="sales ready")
            yield {"client": client, "grpc": f"127.0.0.1:{grpc_port}", "url": f"http://127.0.0.1:{http_port}"}
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def settings(database_url, sales_service) -> PartnersSettings:
    """REST, the database and sales (gRPC and REST); no broker: consumers are driven by the tests."""
    return PartnersSettings(
        database_url=database_url,
        relay_enabled=False,
        consumers_enabled=False,
        grpc_enabled=False,
        sales_grpc_target=sales_service["grpc"],
        sales_url=sales_service["url"],
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(scope="module")
async def app(settings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture(scope="module")
async def client(app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://partners") as http:
        yield http


@pytest.fixture(scope="module")
def ids(request) -> Identities:
    return Identities(seed=zlib.crc32(request.module.__name__.encode()))


PLAN = {"one_off_tiyn": 500_000, "recurring_percent": "10", "recurring_months": 3, "clawback_days": 30}


@pytest_asyncio.fixture(scope="module")
async def make_partner(client, ids):
    async def make(name: str = "Dealer", **extra) -> str:
        body = {
            "name": name,
            "bin": ids.bin(),
            "kind": "dealer",
            "region_codes": ["KZ-75"],
            "branch_codes": ["ALA-01"],
            "commission_plan": PLAN,
        } | extra
        response = await client.post("/api/v1/partners/partners", json=body, headers=auth_headers(CHANNEL_MANAGER))
        assert response.status_code == 201, response.text
        return response.json()["id"]

    return make
