"""Demo data for `crm up --seed` and `crm seed marketing`: a few segments (the customers come
from sales' events, never from here), registered through the same use case as the API.
Idempotent: nothing is added once the service has any segment."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, utcnow

from .db.models import Segment
from .services import segment_service

SEEDER = Principal("seed", "seed", Role.ADMIN)
DEMO_SEGMENTS: tuple[tuple[str, dict], ...] = (
    ("Almaty individuals", {"region_codes": ["KZ-75"], "kinds": ["individual"]}),
    ("Businesses, all regions", {"kinds": ["business"]}),
    ("Kazakh speakers", {"languages": ["kk"]}),
)


async def seed_demo(db: Database) -> dict[str, int]:
    async with db.unit_of_work() as session:
        if await session.scalar(select(func.count()).select_from(Segment)):
            return {"segments_created": 0}
        for name, criteria in DEMO_SEGMENTS:
            await segment_service.register_segment(session, SEEDER, name=name, criteria=criteria, now=utcnow())
    return {"segments_created": len(DEMO_SEGMENTS)}
