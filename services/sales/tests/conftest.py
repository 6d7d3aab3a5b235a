"""Fixtures for the sales service's integration tests: one migrated PostgreSQL database and one
running app (lifespan included) per test module, an HTTP client bound to it, and for the consumer
tests the broker settings and a fresh one-partition topic."""

from __future__ import annotations

import zlib
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from crm_sales.config import SalesSettings
from crm_sales.main import create_app
from crm_shared.kafka import ensure_topics
from crm_shared.migrations import upgrade_async
from crm_shared.testing import Identities, rest_only_settings, unique_topic

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@pytest_asyncio.fixture(scope="module")
async def sales_database(make_database) -> str:
    """A fresh PostgreSQL database for this module, migrated to head."""
    url = await make_database("sales")
    await upgrade_async(MIGRATIONS, url)
    return url


@pytest.fixture(scope="module")
def sales_settings(sales_database) -> SalesSettings:
    """No broker and no gRPC server: REST and the database only. Override in a module to add them."""
    return rest_only_settings(SalesSettings, sales_database)


@pytest_asyncio.fixture(scope="module")
async def sales_app(sales_settings):
    app = create_app(sales_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture(scope="module")
async def client(sales_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sales_app), base_url="http://sales") as http:
        yield http


@pytest.fixture(scope="module")
def ids(request) -> Identities:
    """Fresh valid IINs/BINs/phones, different in every module."""
    return Identities(seed=zlib.crc32(request.module.__name__.encode()))


@pytest.fixture(scope="module")
def db(sales_app):
    return sales_app.state.runtime.db


@pytest.fixture(scope="module")
def broker_settings(sales_database, kafka_bootstrap) -> SalesSettings:
    return SalesSettings(
        database_url=sales_database, kafka_bootstrap_servers=kafka_bootstrap, log_json=False, log_level="WARNING"
    )


@pytest_asyncio.fixture
async def topic(kafka_bootstrap) -> str:
    name = unique_topic("crm.salestest")
    await ensure_topics(kafka_bootstrap, [(name, 1)])  # one partition: the order sent is the order seen
    return name
