"""Sales' merges and erasures reach the partners service: a merged duplicate's deal, claim and
commission lines follow the survivor (whose orders keep earning for the partner); an erased
customer's names, identifier and phone leave the deals, and the erasure is confirmed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_partners.config import PartnersSettings
from crm_partners.db.models import CommissionLine, CustomerClaim, Deal
from crm_partners.events.consumers import CONSUMERS
from crm_shared.consumer import apply_once
from crm_shared.db import Database, new_id
from crm_shared.envelope import CloudEvent
from crm_shared.models import OutboxEvent

from .test_commissions import brought_customer, completed_order, deliver, item

pytestmark = pytest.mark.integration
HANDLER = next(spec for spec in CONSUMERS if spec.name == "customer-identity")


@pytest.fixture(scope="module")
def settings(database_url) -> PartnersSettings:
    return PartnersSettings(
        database_url=database_url,
        relay_enabled=False,
        consumers_enabled=False,
        grpc_enabled=False,
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(scope="module")
async def db(database_url):
    database = Database(database_url)
    yield database
    await database.dispose()


async def a_deal(db: Database, partner_id: str, customer_id: str) -> str:
    now = datetime.now(UTC)
    deal_id = new_id()
    async with db.unit_of_work() as session:
        session.add(
            Deal(
                id=deal_id,
                partner_id=partner_id,
                status="approved",
                customer_key=f"IIN:{deal_id[:12]}",
                customer={
                    "kind": "individual",
                    "iin": "900515400123",
                    "first_name": "Dana",
                    "last_name": "Seitova",
                    "phone": "+77011234567",
                },
                offering_ids=["x"],
                expected_value_tiyn=0,
                customer_id=customer_id,
                created_by="t",
                version=2,
                created_at=now,
                updated_at=now,
            )
        )
    return deal_id


async def test_a_merge_moves_the_partners_records_to_the_survivor(db, make_partner):
    partner = await make_partner("Merged")
    duplicate = await brought_customer(db, partner)
    survivor = new_id()
    deal_id = await a_deal(db, partner, duplicate)
    await deliver(db, "commissions-orders", completed_order(new_id(), duplicate, [item("a")]))
    merged = CloudEvent(
        id=new_id(),
        source="/crm/sales",
        type="crm.sales.customer.merged",
        subject=survivor,
        data={"id": survivor, "duplicate_id": duplicate, "survivor_id": survivor, "display_name": "Dana Seitova"},
    )
    await apply_once(db, HANDLER.name, merged, HANDLER.handler)  # the handler itself: the test's payload is partial
    async with db.read_only() as session:
        assert (await session.get(Deal, deal_id)).customer_id == survivor
        assert set(
            await session.scalars(select(CommissionLine.customer_id).where(CommissionLine.partner_id == partner))
        ) == {survivor}
        assert (
            await session.scalar(select(CustomerClaim.customer_id).where(CustomerClaim.partner_id == partner))
            == survivor
        )
    # the duplicate's later orders are the survivor's, and still earn for the partner
    await deliver(db, "commissions-orders", completed_order(new_id(), duplicate, [item("b")]))
    async with db.read_only() as session:
        lines = list(await session.scalars(select(CommissionLine).where(CommissionLine.partner_id == partner)))
    assert len(lines) == 2 and {line.customer_id for line in lines} == {survivor}


async def test_after_a_merge_of_two_brought_customers_the_latest_approvals_partner_earns(db, make_partner):
    from datetime import timedelta

    earlier, later = await make_partner("Earlier"), await make_partner("Later")
    survivor, duplicate = await brought_customer(db, earlier), await brought_customer(db, later)
    async with db.unit_of_work() as session:  # the duplicate's deal was approved a day after the survivor's
        claim = await session.scalar(select(CustomerClaim).where(CustomerClaim.customer_id == duplicate))
        claim.brought_at += timedelta(days=1)
    merged = CloudEvent(
        id=new_id(),
        source="/crm/sales",
        type="crm.sales.customer.merged",
        subject=survivor,
        data={"id": survivor, "duplicate_id": duplicate, "survivor_id": survivor},
    )
    await apply_once(db, HANDLER.name, merged, HANDLER.handler)
    await deliver(db, "commissions-orders", completed_order(new_id(), survivor, [item("a")]))
    await deliver(db, "commissions-orders", completed_order(new_id(), duplicate, [item("b")]))
    async with db.read_only() as session:
        lines = list(
            await session.scalars(select(CommissionLine).where(CommissionLine.partner_id.in_([earlier, later])))
        )
    assert sorted((line.partner_id == later, line.offering_id, line.customer_id) for line in lines) == [
        (True, "a", survivor),
        (True, "b", survivor),
    ]


async def test_an_erasure_anonymises_the_deals_and_is_confirmed(db, make_partner):
    partner = await make_partner("Erased")
    customer = await brought_customer(db, partner)
    deal_id = await a_deal(db, partner, customer)
    erasure_id = new_id()
    erased = CloudEvent(
        id=new_id(),
        source="/crm/sales",
        type="crm.sales.customer.erased",
        subject=customer,
        data={
            "customer_id": customer,
            "erasure_id": erasure_id,
            "customer_ids": [customer],
            "requested_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        },
    )
    await apply_once(db, HANDLER.name, erased, HANDLER.contract_checked())
    async with db.read_only() as session:
        deal = await session.get(Deal, deal_id)
        confirmations = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.subject == erasure_id)))
    assert "900515400123" not in str(deal.customer) and "Dana" not in str(deal.customer)
    assert "900515400123" not in deal.customer_key and deal.customer["phone"] == ""
    assert [event.type for event in confirmations] == ["crm.partners.erasure.confirmed"]
