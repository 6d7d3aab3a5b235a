"""Demo data for `crm up --seed` and `crm seed marketing`: a few segments (the customers come
from sales' events, never from here), registered through the same use case as the API.
Idempotent: nothing is added once the service has any segment."""

from __future__ import annotations

from sqlalchemy import func, insert, select

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, utcnow

from .db.models import CustomerProfile, Segment
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


REGION_BRANCHES = (
    ("KZ-75", "ALA-01"),
    ("KZ-75", "ALA-02"),
    ("KZ-35", "KAR-01"),
    ("KZ-71", "AST-01"),
    ("KZ-79", "SHY-01"),
)


async def seed_bulk_customers(db: Database, count: int, *, consent_share: float = 0.8, batch: int = 20_000) -> int:
    """``count`` customers in the projection, as if sales had announced them (benchmarks: segment
    evaluation, campaign sending): spread over five branches and three languages, a share of them
    with marketing consent, every one with a phone and an e-mail. Returns how many were added."""
    now = utcnow()
    languages = ("kk", "ru", "en")
    added = 0
    for start in range(0, count, batch):
        rows = []
        for number in range(start, min(count, start + batch)):
            region, branch = REGION_BRANCHES[number % len(REGION_BRANCHES)]
            rows.append(
                {
                    "id": f"bulk-{number:09d}",
                    "kind": "business" if number % 10 == 0 else "individual",
                    "display_name": f"Customer {number}",
                    "language": languages[number % 3],
                    "region_code": region,
                    "branch_code": branch,
                    "owner_id": None,
                    "status": "active",
                    "marketing_consent": (number % 100) < consent_share * 100,
                    "phone": f"+7701{number:07d}",
                    "email": f"customer{number}@example.kz",
                    "registered_at": now,
                    "source_version": 1,
                }
            )
        async with db.unit_of_work() as session:
            await session.execute(insert(CustomerProfile), rows)
        added += len(rows)
    return added
