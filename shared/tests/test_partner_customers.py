"""crm_shared.partner_customers on an embedded SQLite database: a merge moves the duplicates'
rows to the survivor (the latest approval winning), once; an approval for a customer merged away
lands on its survivor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase

from crm_shared.db import Database, new_metadata
from crm_shared.partner_customers import PARTNER_DEAL_TOPIC, PartnerCustomerColumns, move_partner_customers
from crm_shared.partner_customers_consumer import partner_customers_consumer
from crm_shared.testing import partner_deal_approved


class Base(DeclarativeBase):
    metadata = new_metadata()


class PartnerCustomer(PartnerCustomerColumns, Base):
    __tablename__ = "partner_customers"


NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'partners.db'}")
    async with database.engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    yield database
    await database.dispose()


async def add(db, customer_id: str, partner_id: str, approved_at: datetime) -> None:
    async with db.unit_of_work() as session:
        session.add(
            PartnerCustomer(
                customer_id=customer_id, partner_id=partner_id, deal_id=str(uuid.uuid4()), approved_at=approved_at
            )
        )


async def rows(db) -> dict[str, str]:
    async with db.read_only() as session:
        return {r.customer_id: r.partner_id for r in await session.scalars(select(PartnerCustomer))}


async def move(db, moved: list[str], survivor: str) -> int:
    async with db.unit_of_work() as session:
        return await move_partner_customers(session, PartnerCustomer, moved, survivor)


async def test_a_merge_moves_the_duplicates_row_to_the_survivor_once(db):
    await add(db, "dup", "p-1", NOW)
    await add(db, "someone-else", "p-2", NOW)
    assert await move(db, ["dup"], "survivor") == 1
    assert await rows(db) == {"survivor": "p-1", "someone-else": "p-2"}
    assert await move(db, ["dup"], "survivor") == 0
    assert await rows(db) == {"survivor": "p-1", "someone-else": "p-2"}


async def test_the_latest_approval_wins_when_both_customers_were_brought(db):
    await add(db, "survivor", "p-old", NOW)
    await add(db, "dup", "p-new", NOW + timedelta(days=1))
    await add(db, "earlier-dup", "p-older", NOW - timedelta(days=1))
    assert await move(db, ["dup", "earlier-dup"], "survivor") == 2
    assert await rows(db) == {"survivor": "p-new"}


async def test_the_survivors_own_later_approval_stays(db):
    await add(db, "survivor", "p-new", NOW + timedelta(days=1))
    await add(db, "dup", "p-old", NOW)
    assert await move(db, ["dup"], "survivor") == 1
    assert await rows(db) == {"survivor": "p-new"}


async def test_an_approval_for_a_customer_merged_away_lands_on_its_survivor(db):
    async def home(session, customer_id: str) -> str:
        return {"dup": "survivor"}.get(customer_id, customer_id)

    spec = partner_customers_consumer(PartnerCustomer, home)
    assert (spec.name, list(spec.topics)) == ("partner-customers", [PARTNER_DEAL_TOPIC])
    for event in (partner_deal_approved("dup", "p-1"), partner_deal_approved("plain", "p-2")):
        async with db.unit_of_work() as session:
            await spec.handler(session, event)
    assert await rows(db) == {"survivor": "p-1", "plain": "p-2"}
