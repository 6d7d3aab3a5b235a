"""Fixtures for the orders service's integration tests: a migrated, seeded orders database, the
real sales service in a uvicorn subprocess (REST for test data, gRPC for the orders service),
and the orders app (lifespan included) per test module."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from crm_orders.config import OrdersSettings
from crm_orders.main import create_app
from crm_orders.seed import seed_demo
from crm_shared.broker import free_port, wait_for_port
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async
from crm_shared.testing import PRINCIPALS, TEST_INTERNAL_TOKEN_SECRET, Identities, auth_headers, eventually

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = ROOT / "services/orders/migrations"
SALES_MIGRATIONS = ROOT / "services/sales/migrations"


@pytest_asyncio.fixture(scope="module")
async def orders_database(make_database) -> str:
    url = await make_database("orders")
    await upgrade_async(MIGRATIONS, url)
    db = Database(url)
    await seed_demo(db)
    await db.dispose()
    return url


@pytest_asyncio.fixture(scope="session")
async def sales_process(make_database, tmp_path_factory):
    """The sales service started the way `crm serve` starts it (no broker); one for every test
    module of this service (each module makes its own customers in it)."""
    url = await make_database("sales")
    await upgrade_async(SALES_MIGRATIONS, url)
    http_port, grpc_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("sales") / "sales.log"
    env = os.environ | {
        "CRM_SALES_DATABASE_URL": url,
        "CRM_SALES_INTERNAL_TOKEN_SECRET": TEST_INTERNAL_TOKEN_SECRET,  # this session's, which auth_headers signs with
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
        yield {"http": f"http://127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}"}
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def ids(request) -> Identities:
    return Identities(seed=zlib.crc32(request.module.__name__.encode()))


@pytest_asyncio.fixture(scope="module")
async def customers(sales_process, ids) -> dict[str, str]:
    """Customer ids by place: 'almaty' (ALA-01, KZ-75), 'almaty2' (ALA-01), 'karaganda' (KAR-01, KZ-35)."""
    made = {}
    async with httpx.AsyncClient(base_url=sales_process["http"], timeout=30) as http:

        async def ready():
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready, message="sales /readyz")
        for name, last, branch in (
            ("almaty", "Almatova", "ALA-01"),
            ("almaty2", "Abenova", "ALA-01"),
            ("karaganda", "Kimova", "KAR-01"),
        ):
            body = ids.individual(first_name="Order", last_name=last, branch_code=branch)
            response = await http.post("/api/v1/sales/customers", json=body, headers=auth_headers(PRINCIPALS["admin"]))
            assert response.status_code == 201, response.text
            made[name] = response.json()["id"]
    return made


@pytest.fixture(scope="module")
def orders_settings(orders_database, sales_process) -> OrdersSettings:
    """No broker and no gRPC server of its own: REST, the database and sales over gRPC."""
    return OrdersSettings(
        database_url=orders_database,
        sales_grpc_target=sales_process["grpc"],
        relay_enabled=False,
        consumers_enabled=False,
        grpc_enabled=False,
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(scope="module")
async def orders_app(orders_settings):
    app = create_app(orders_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture(scope="module")
async def client(orders_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=orders_app), base_url="http://orders") as http:
        yield http
