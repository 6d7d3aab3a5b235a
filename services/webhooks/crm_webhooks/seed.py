"""Demo data for `crm up --seed`: none. Subscriptions name the callback URLs of real external
systems, so a demo installation starts without any (docs/integration.md shows how to add one)."""

from __future__ import annotations

from crm_shared.db import Database


async def seed_demo(db: Database) -> dict[str, int]:
    return {"subscriptions_created": 0}
