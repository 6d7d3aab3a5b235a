"""Demo data for `crm up --seed` and `crm seed partners`: a few partners in the demo branches,
registered through the same use case as the API (so their events are published too). Idempotent:
nothing is added once the service has any partner."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, utcnow

from .db.models import Partner
from .services import partner_service

SEEDER = Principal("seed", "seed", Role.ADMIN)
# name, branch, region
DEMO___AGGREGATES__ = (
    ("Almaty demo partner", "ALA-01", "KZ-75"),
    ("Almaty second demo partner", "ALA-02", "KZ-75"),
    ("Karaganda demo partner", "KAR-01", "KZ-35"),
)


async def seed_demo(db: Database) -> dict[str, int]:
    async with db.unit_of_work() as session:
        if await session.scalar(select(func.count()).select_from(Partner)):
            return {"partners_created": 0}
        for name, branch_code, region_code in DEMO___AGGREGATES__:
            await partner_service.register_partner(
                session,
                SEEDER,
                name=name,
                notes=None,
                branch_code=branch_code,
                region_code=region_code,
                now=utcnow(),
            )
    return {"partners_created": len(DEMO___AGGREGATES__)}
