"""Fixtures for the tickets service's integration tests: the real sales service in a uvicorn
subprocess (its gRPC server answers the customer checks), one migrated PostgreSQL database for
tickets per module, the tickets app in this process with a clock the test moves, and helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from crm_shared.broker import free_port, wait_for_port
from crm_shared.migrations import upgrade_async
from crm_shared.testing import PRINCIPALS, TEST_INTERNAL_TOKEN_SECRET, Identities, auth_headers, eventually
from crm_tickets.config import TicketsSettings
from crm_tickets.main import create_app

ROOT = Path(__file__).resolve().parents[3]
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


class TestClock:
    """The service's time, moved by the test (never by sleeping)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest_asyncio.fixture(scope="module")
async def sales_service(make_database, tmp_path_factory):
    """The sales service started the way `crm serve` starts it, on its own migrated database."""
    url = await make_database("tk_sales")
    await upgrade_async(ROOT / "services/sales/migrations", url)
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
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}", timeout=30) as client:

            async def ready():
                response = await client.get("/readyz")
                return response.status_code == 200

            await eventually(ready, message="sales ready")
            yield {"client": client, "grpc": f"127.0.0.1:{grpc_port}", "database_url": url}
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest_asyncio.fixture(scope="module")
async def tickets_database(make_database) -> str:
    url = await make_database("tickets")
    await upgrade_async(MIGRATIONS, url)
    return url


@pytest.fixture(scope="module")
def clock() -> TestClock:
    # Monday 2 March 2026, 10:00 in Almaty (05:00 UTC): a working day, well inside working hours.
    return TestClock(datetime(2026, 3, 2, 5, 0, tzinfo=UTC))


@pytest.fixture(scope="module")
def tickets_settings(tickets_database, sales_service) -> TicketsSettings:
    """No broker: REST, the database and sales over gRPC. The scheduler is driven by the tests."""
    return TicketsSettings(
        database_url=tickets_database,
        relay_enabled=False,
        consumers_enabled=False,
        sla_scheduler_enabled=False,
        grpc_port=0,
        sales_grpc_target=sales_service["grpc"],
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(scope="module")
async def tickets_app(tickets_settings, clock):
    app = create_app(tickets_settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture(scope="module")
async def client(tickets_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tickets_app), base_url="http://tickets") as http:
        yield http


@pytest.fixture(scope="module")
def ids(request) -> Identities:
    import zlib

    return Identities(seed=zlib.crc32(request.module.__name__.encode()) + 7)


@pytest.fixture(scope="module")
def make_customer(sales_service, ids):
    """Registers a customer in the real sales service (as an Almaty branch agent by default)."""

    async def make(role: str = "branch_agent", **overrides) -> dict:
        body = ids.individual(**overrides)
        response = await sales_service["client"].post(
            "/api/v1/sales/customers", json=body, headers=auth_headers(PRINCIPALS[role])
        )
        assert response.status_code == 201, response.text
        return response.json() | {"phone_e164": body["phone"]}

    return make
