"""The migrations build the schema the models describe, on PostgreSQL and on SQLite (the embedded
default), and go all the way down and up again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command

from crm_analytics.db import models  # noqa: F401  (every table on AnalyticsBase.metadata)
from crm_analytics.db.base import AnalyticsBase
from crm_shared.migrations import alembic_config, upgrade_async
from crm_shared.testing import schema_differences

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_database(request, make_database, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'analytics.db'}"
    return await make_database("analytics_schema")


async def test_the_migrations_build_the_models_schema_and_go_down_and_up(empty_database):
    await upgrade_async(MIGRATIONS, empty_database)
    assert await schema_differences(empty_database, AnalyticsBase) == []

    await asyncio.to_thread(command.downgrade, alembic_config(MIGRATIONS, empty_database), "base")
    await upgrade_async(MIGRATIONS, empty_database)
    assert await schema_differences(empty_database, AnalyticsBase) == []
