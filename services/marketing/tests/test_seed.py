"""The demo data goes in once, through the same use case as the API (its events included)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_marketing.events.publishers import CREATED
from crm_marketing.seed import DEMO_SEGMENTS, seed_demo
from crm_shared.db import Database
from crm_shared.models import OutboxEvent

pytestmark = pytest.mark.integration


async def test_the_demo_data_is_loaded_once(database_url):
    db = Database(database_url)
    try:
        assert await seed_demo(db) == {"segments_created": len(DEMO_SEGMENTS)}
        assert await seed_demo(db) == {"segments_created": 0}
        async with db.read_only() as session:
            events = await session.scalar(select(func.count()).where(OutboxEvent.type == CREATED))
    finally:
        await db.dispose()
    assert events == len(DEMO_SEGMENTS)
