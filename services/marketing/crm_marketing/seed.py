"""Demo data for `crm up --seed` and `crm seed marketing`: a few segments in the demo branches,
registered through the same use case as the API (so their events are published too). Idempotent:
nothing is added once the service has any segment."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, utcnow

from .db.models import Segment
from .services import segment_service

SEEDER = Principal("seed", "seed", Role.ADMIN)
# name, branch, region
DEMO___AGGREGATES__ = (
    ("Almaty demo segment", "ALA-01", "KZ-75"),
    ("Almaty second demo segment", "ALA-02", "KZ-75"),
    ("Karaganda demo segment", "KAR-01", "KZ-35"),
)


async def seed_demo(db: Database) -> dict[str, int]:
    async with db.unit_of_work() as session:
        if await session.scalar(select(func.count()).select_from(Segment)):
            return {"segments_created": 0}
        for name, branch_code, region_code in DEMO___AGGREGATES__:
            await segment_service.register_segment(
                session,
                SEEDER,
                name=name,
                notes=None,
                branch_code=branch_code,
                region_code=region_code,
                now=utcnow(),
            )
    return {"segments_created": len(DEMO___AGGREGATES__)}
