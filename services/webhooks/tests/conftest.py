"""Fixtures of the webhooks service's integration tests: a migrated PostgreSQL database and a
running app (its lifespan included) per test module, and an HTTP client bound to that app.

make_database and kafka_bootstrap come from crm_shared.testing, registered by the repository's
conftest.py in a whole-repository run and by this service's pyproject.toml when its tests run
alone.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from crm_shared.migrations import upgrade_async
from crm_webhooks.config import WebhooksSettings
from crm_webhooks.main import create_app

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@pytest_asyncio.fixture(scope="module")
async def database_url(make_database) -> str:
    """A fresh PostgreSQL database for this module, migrated to the newest revision."""
    url = await make_database("webhooks")
    await upgrade_async(MIGRATIONS, url)
    return url


@pytest.fixture(scope="module")
def settings(database_url) -> WebhooksSettings:
    """REST and the database only: no broker, no gRPC server. A module that needs them overrides this."""
    return WebhooksSettings(
        database_url=database_url,
        relay_enabled=False,
        consumers_enabled=False,
        grpc_enabled=False,
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
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://webhooks") as http:
        yield http
