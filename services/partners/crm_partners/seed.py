"""Demo data for `crm up --seed` and `crm seed partners`: the Almaty dealer whose user is the
gateway's dealer.almaty (partner id partner-almaty-dealer, as sales' demo leads name it) and a
Karaganda agent, registered through the same use case as the API. Idempotent."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from crm_shared.auth import Principal, Role
from crm_shared.db import Database, new_id, utcnow

from .db.models import CustomerClaim, Partner
from .services import partner_service
from .services.partner_service import NewPartner

SEEDER = Principal("seed", "seed", Role.ADMIN)
DEMO_PARTNERS = (
    NewPartner(
        id="partner-almaty-dealer",
        name="Almaty Telecom Dealer LLP",
        bin="040540001230",
        kind="dealer",
        status="active",
        region_codes=["KZ-75"],
        branch_codes=["ALA-01"],
        contract_start=date(2026, 1, 1),
        contacts=[{"name": "Arman Dzhaksybekov", "position": "Director", "phone": "+77011234567"}],
        commission_plan={
            "one_off_tiyn": 500_000,
            "recurring_percent": "5",
            "recurring_months": 6,
            "clawback_days": 90,
            "tiers": [{"min_activations": 50, "one_off_tiyn": 600_000}],
        },
    ),
    NewPartner(
        id="partner-karaganda-agent",
        name="Karaganda Sales Agent IE",
        bin="050560001231",
        kind="agent",
        status="active",
        region_codes=["KZ-35"],
        branch_codes=["KAR-01"],
        contract_start=date(2026, 3, 1),
        commission_plan={"one_off_tiyn": 300_000, "recurring_percent": "3", "recurring_months": 3, "clawback_days": 60},
    ),
)


async def seed_demo(db: Database) -> dict[str, int]:
    created = 0
    async with db.unit_of_work() as session:
        known = set(await session.scalars(select(Partner.id)))
        for partner in DEMO_PARTNERS:
            if partner.id not in known:
                await partner_service.register_partner(session, SEEDER, partner, utcnow())
                created += 1
    return {"partners_created": created}


async def seed_brought_customers(db: Database, partner_id: str, count: int) -> list[str]:
    """``count`` customers the partner brought (approved claims), for benchmarks: their ids."""
    ids = [new_id() for _ in range(count)]
    brought_at = utcnow()
    async with db.unit_of_work() as session:
        for number, customer_id in enumerate(ids):
            session.add(
                CustomerClaim(
                    customer_key=f"IIN:bench{number:07d}",
                    partner_id=partner_id,
                    deal_id=new_id(),
                    protected_until=brought_at,
                    customer_id=customer_id,
                    brought_at=brought_at,
                )
            )
    return ids
