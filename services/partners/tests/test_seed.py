"""The demo partners go in once, through the same use case as the API (their events included)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_partners.seed import DEMO_PARTNERS, seed_demo
from crm_shared.db import Database
from crm_shared.models import OutboxEvent

pytestmark = pytest.mark.integration


async def test_the_demo_data_is_loaded_once(database_url):
    db = Database(database_url)
    try:
        assert await seed_demo(db) == {"partners_created": len(DEMO_PARTNERS)}
        assert await seed_demo(db) == {"partners_created": 0}
        async with db.read_only() as session:
            events = await session.scalar(
                select(func.count()).where(OutboxEvent.type == "crm.partners.partner.created")
            )
    finally:
        await db.dispose()
    assert events == len(DEMO_PARTNERS)
