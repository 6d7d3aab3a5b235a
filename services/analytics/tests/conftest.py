"""Fixtures of the analytics service's integration tests: a migrated PostgreSQL database per
module, settings naming a ClickHouse database of the module's own (chDB opens one path per
process: every module shares it, each in its own database), and a running app.

make_database and kafka_bootstrap come from crm_shared.testing, registered by the repository's
conftest.py in a whole-repository run and by this service's pyproject.toml when its tests run
alone.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from crm_analytics.config import AnalyticsSettings
from crm_analytics.main import create_app
from crm_shared.migrations import upgrade_async

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@pytest.fixture(scope="session")
def clickhouse_path(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("analytics-chdb"))


@pytest_asyncio.fixture(scope="module")
async def database_url(make_database) -> str:
    url = await make_database("analytics")
    await upgrade_async(MIGRATIONS, url)
    return url


@pytest.fixture(scope="module")
def settings(database_url, clickhouse_path) -> AnalyticsSettings:
    """REST, the store and the database: no broker. A module that needs one overrides this."""
    return AnalyticsSettings(
        database_url=database_url,
        clickhouse_path=clickhouse_path,
        clickhouse_database=f"test_{uuid.uuid4().hex[:10]}",
        relay_enabled=False,
        consumers_enabled=False,
        monthly_reports_enabled=False,
        log_json=False,
        log_level="WARNING",
    )


def settings_with_broker(database_url: str, clickhouse_path: str, kafka_bootstrap: str) -> AnalyticsSettings:
    """The settings of a module that ingests from the real broker: a consumer group of its own."""
    return AnalyticsSettings(
        database_url=database_url,
        clickhouse_path=clickhouse_path,
        clickhouse_database=f"test_{uuid.uuid4().hex[:10]}",
        kafka_bootstrap_servers=kafka_bootstrap,
        ingest_group_id=f"test.analytics.{uuid.uuid4().hex[:8]}",
        ingest_poll_ms=100,
        monthly_reports_enabled=False,
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
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://analytics") as http:
        yield http
