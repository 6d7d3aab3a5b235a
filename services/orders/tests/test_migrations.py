"""The orders migrations on PostgreSQL and SQLite build the schema the models describe, and the
newest one goes down and up again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from crm_orders.db import models  # noqa: F401  (every table on OrdersBase.metadata)
from crm_orders.db.base import OrdersBase
from crm_shared.db import Database
from crm_shared.migrations import alembic_config, upgrade_async
from crm_shared.testing import schema_differences

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
REPLACED = {"replaced_offering_id", "replaced_offering_version", "replaced_offering_name"}


async def _order_item_columns(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(lambda sync: {c["name"] for c in inspect(sync).get_columns("order_items")})
    finally:
        await db.dispose()


async def _downgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, url), revision)


@pytest.fixture(params=["postgresql", "sqlite"])
async def database_url(request, make_database, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'orders.db'}"
    return await make_database("orders_schema")


async def test_the_migrations_build_the_models_schema_and_the_newest_goes_down_and_up(database_url):
    await upgrade_async(MIGRATIONS, database_url)
    assert await schema_differences(database_url, OrdersBase) == []
    assert await _order_item_columns(database_url) >= REPLACED

    await _downgrade(database_url, "0002_outbox_parking")
    assert not REPLACED & await _order_item_columns(database_url)
    await upgrade_async(MIGRATIONS, database_url)
    assert await schema_differences(database_url, OrdersBase) == []
