"""Commissions from events, applied through the consumers' inbox as the running service applies
them: accrual exactly once under redelivery, confirmation by payments with the recurring share,
clawback on early disconnection, statements equal to the sum of their lines (JSON, CSV, PDF), and
disputes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from crm_partners.config import PartnersSettings
from crm_partners.db.models import CommissionLine, CustomerClaim
from crm_partners.events.consumers import CONSUMERS
from crm_shared.consumer import apply_once
from crm_shared.db import Database, new_id
from crm_shared.envelope import CloudEvent
from crm_shared.testing import PRINCIPALS, auth_headers

from .conftest import CHANNEL_MANAGER, partner_user

pytestmark = pytest.mark.integration

API = "/api/v1/partners"
COMPLETED_AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
HANDLERS = {spec.name: (spec.name, spec.contract_checked()) for spec in CONSUMERS}


@pytest.fixture(scope="module")
def settings(database_url) -> PartnersSettings:
    """No sales needed here: the events name customers the test says a partner brought."""
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


async def brought_customer(db: Database, partner_id: str) -> str:
    customer_id = new_id()
    async with db.unit_of_work() as session:
        session.add(
            CustomerClaim(
                customer_key=f"IIN:{customer_id[:12]}",
                partner_id=partner_id,
                deal_id=new_id(),
                protected_until=COMPLETED_AT,
                customer_id=customer_id,
                brought_at=COMPLETED_AT - timedelta(days=1),
            )
        )
    return customer_id


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def item(offering_id: str, state: str = "completed") -> dict:
    return {
        "id": new_id(),
        "position": 1,
        "action": "add",
        "state": state,
        "offering_id": offering_id,
        "offering_version": 1,
        "offering_name": offering_id,
        "product_line": "internet",
        "quantity": 1,
        "one_off_price_tiyn": 0,
        "recurring_price_tiyn": 500_000,
        "characteristics": {},
        "installed_product_id": None,
        "result_product_ids": [],
    }


def completed_order(order_id: str, customer_id: str, items: list[dict]) -> CloudEvent:
    data = {
        "id": order_id,
        "customer_id": customer_id,
        "customer_name": "Dana Seitova",
        "state": "completed",
        "state_reason": None,
        "source": "branch",
        "opportunity_id": None,
        "currency": "KZT",
        "one_off_total_tiyn": 0,
        "recurring_total_tiyn": 1_000_000,
        "items": items,
        "allowed_transitions": [],
        "owner_id": "u1",
        "owner_name": "Agent",
        "branch_code": "ALA-01",
        "region_code": "KZ-75",
        "version": 3,
        "created_at": iso(COMPLETED_AT - timedelta(days=2)),
        "updated_at": iso(COMPLETED_AT),
        "completed_at": iso(COMPLETED_AT),
    }
    return CloudEvent(id=new_id(), source="/crm/orders", type="crm.orders.order.completed", subject=order_id, data=data)


def payment(customer_id: str, order_id: str | None, amount: int, paid_at: datetime) -> CloudEvent:
    data = {
        "payment_id": new_id(),
        "invoice_id": new_id(),
        "customer_id": customer_id,
        "order_id": order_id,
        "amount_tiyn": amount,
        "currency": "KZT",
        "paid_at": iso(paid_at),
        "branch_code": "ALA-01",
        "region_code": "KZ-75",
    }
    return CloudEvent(
        id=new_id(), source="/crm/orders", type="crm.orders.billing.payment_received", subject=customer_id, data=data
    )


def terminated(customer_id: str, order_id: str, offering_id: str, at: datetime) -> CloudEvent:
    product_id = new_id()
    data = {
        "id": product_id,
        "customer_id": customer_id,
        "offering_id": offering_id,
        "offering_name": offering_id,
        "product_line": "internet",
        "status": "terminated",
        "characteristics": {},
        "recurring_price_tiyn": 0,
        "service_address": "",
        "branch_code": "ALA-01",
        "region_code": "KZ-75",
        "order_id": order_id,
        "version": 2,
        "activated_at": iso(COMPLETED_AT),
        "terminated_at": iso(at),
        "updated_at": iso(at),
    }
    return CloudEvent(
        id=new_id(), source="/crm/orders", type="crm.orders.installed_product.terminated", subject=product_id, data=data
    )


async def deliver(db: Database, consumer: str, event: CloudEvent) -> str:
    name, handler = HANDLERS[consumer]
    return await apply_once(db, name, event, handler)


async def lines_of(db: Database, partner_id: str) -> list[CommissionLine]:
    from sqlalchemy import select

    async with db.read_only() as session:
        return list(await session.scalars(select(CommissionLine).where(CommissionLine.partner_id == partner_id)))


async def test_a_completed_order_accrues_once_however_often_it_is_delivered(db, make_partner):
    partner = await make_partner("Once")
    customer = await brought_customer(db, partner)
    order_id = new_id()
    items = [item("internet-100"), item("tv-basic"), item("mobile-x", state="failed")]
    event = completed_order(order_id, customer, items)
    assert await deliver(db, "commissions-orders", event) == "applied"
    assert await deliver(db, "commissions-orders", event) == "duplicate"
    # the same order announced again by another event (a re-send with a new id): nothing new
    again = CloudEvent(id=new_id(), source=event.source, type=event.type, subject=event.subject, data=event.data)
    await deliver(db, "commissions-orders", again)
    lines = await lines_of(db, partner)
    assert sorted((line.kind, line.offering_id, line.amount_tiyn, line.status) for line in lines) == [
        ("one_off", "internet-100", 500_000, "accrued"),
        ("one_off", "tv-basic", 500_000, "accrued"),
    ]
    # a customer no partner brought earns nothing
    await deliver(db, "commissions-orders", completed_order(new_id(), new_id(), [item("internet-100")]))
    assert len(await lines_of(db, partner)) == 2


async def test_payments_confirm_and_earn_the_recurring_share_within_the_first_months(db, make_partner):
    partner = await make_partner("Paid")
    customer = await brought_customer(db, partner)
    order_id = new_id()
    await deliver(db, "commissions-orders", completed_order(order_id, customer, [item("internet-100")]))
    paid = payment(customer, order_id, 1_234_567, COMPLETED_AT + timedelta(days=20))
    await deliver(db, "commissions-billing", paid)
    await deliver(db, "commissions-billing", paid)  # redelivered
    late = payment(customer, order_id, 1_000_000, COMPLETED_AT + timedelta(days=120))  # after 3 months
    await deliver(db, "commissions-billing", late)
    lines = sorted((line.kind, line.status, line.amount_tiyn) for line in await lines_of(db, partner))
    # 10 % of 1 234 567 tiyn, rounded down to a whole tiyn
    assert lines == [("one_off", "confirmed", 500_000), ("recurring", "confirmed", 123_456)]


async def test_a_disconnection_within_the_clawback_period_takes_the_commission_back(db, make_partner):
    partner = await make_partner("Clawed")
    customer = await brought_customer(db, partner)
    early, kept = new_id(), new_id()
    await deliver(db, "commissions-orders", completed_order(early, customer, [item("internet-100")]))
    await deliver(db, "commissions-orders", completed_order(kept, customer, [item("tv-basic")]))
    disconnected = terminated(customer, early, "internet-100", COMPLETED_AT + timedelta(days=10))
    await deliver(db, "commissions-orders", disconnected)
    await deliver(db, "commissions-orders", disconnected)
    late = terminated(customer, kept, "tv-basic", COMPLETED_AT + timedelta(days=45))  # past 30 days
    await deliver(db, "commissions-orders", late)
    lines = sorted((line.kind, line.order_id, line.amount_tiyn) for line in await lines_of(db, partner))
    assert lines == sorted([("one_off", early, 500_000), ("one_off", kept, 500_000), ("clawback", early, -500_000)])


async def test_a_statement_is_the_sum_of_its_lines_as_json_csv_and_pdf(client, db, make_partner):
    partner = await make_partner("Statement")
    customer = await brought_customer(db, partner)
    order_id = new_id()
    await deliver(db, "commissions-orders", completed_order(order_id, customer, [item("a"), item("b"), item("c")]))
    await deliver(db, "commissions-billing", payment(customer, order_id, 999_999, COMPLETED_AT + timedelta(days=1)))
    await deliver(db, "commissions-orders", terminated(customer, order_id, "c", COMPLETED_AT + timedelta(days=3)))
    headers = auth_headers(partner_user(partner))
    found = await client.get(f"{API}/partners/{partner}/statements/2026-03", headers=headers)
    assert found.status_code == 200, found.text
    statement = found.json()
    amounts = [line["amount_tiyn"] for line in statement["lines"]]
    assert statement["totals"]["total_tiyn"] == sum(amounts) == 3 * 500_000 + 99_999 - 500_000
    assert statement["totals"]["lines"] == len(amounts) == 5
    totals = statement["totals"]
    assert totals["accrued_tiyn"] + totals["confirmed_tiyn"] + totals["clawback_tiyn"] == totals["total_tiyn"]
    page = await client.get(f"{API}/partners/{partner}/commissions", params={"limit": 2}, headers=headers)
    assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
    assert {"order_id", "amount_tiyn", "status"} <= set(page.json()["items"][0])
    csv_text = (await client.get(f"{API}/partners/{partner}/statements/2026-03?format=csv", headers=headers)).text
    assert csv_text.splitlines()[0].startswith("line_id,")
    assert f"total:total,,,,,,,{totals['total_tiyn']}," in csv_text
    pdf = await client.get(f"{API}/partners/{partner}/statements/2026-03?format=pdf", headers=headers)
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF-1.4")
    empty = await client.get(f"{API}/partners/{partner}/statements/2026-04", headers=headers)
    assert empty.json()["totals"]["total_tiyn"] == 0
    bad = await client.get(f"{API}/partners/{partner}/statements/2026-13", headers=headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "period"


async def test_a_partner_disputes_and_a_channel_manager_resolves(client, make_partner):
    partner, other = await make_partner("Disputer"), await make_partner("Bystander")
    opened = await client.post(
        f"{API}/disputes",
        json={"period": "2026-03", "text": "an activation is missing"},
        headers=auth_headers(partner_user(partner)),
    )
    assert opened.status_code == 201, opened.text
    dispute = opened.json()
    theirs = await client.get(f"{API}/disputes", headers=auth_headers(partner_user(other)))
    assert dispute["id"] not in [d["id"] for d in theirs.json()]
    refused = await client.post(
        f"{API}/disputes/{dispute['id']}/resolution",
        json={"resolution": "ok"},
        headers=auth_headers(partner_user(partner)),
    )
    assert refused.status_code == 403
    resolved = await client.post(
        f"{API}/disputes/{dispute['id']}/resolution",
        json={"resolution": "added the missing line"},
        headers=auth_headers(CHANNEL_MANAGER),
    )
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert (
        await client.post(
            f"{API}/disputes", json={"period": "2026-03", "text": "x"}, headers=auth_headers(PRINCIPALS["branch_agent"])
        )
    ).status_code == 403


async def test_tiers_by_the_months_volume_count_each_activation_once(db, make_partner):
    plan = {
        "one_off_tiyn": 100,
        "recurring_percent": "0",
        "recurring_months": 0,
        "clawback_days": 0,
        "tiers": [{"min_activations": 3, "one_off_tiyn": 300}],
    }
    partner = await make_partner("Tiered", commission_plan=plan)
    customer = await brought_customer(db, partner)
    first = completed_order(new_id(), customer, [item("a"), item("b")])
    await deliver(db, "commissions-orders", first)
    again = CloudEvent(id=new_id(), source=first.source, type=first.type, subject=first.subject, data=first.data)
    await deliver(db, "commissions-orders", again)  # not counted twice towards the tier
    await deliver(db, "commissions-orders", completed_order(new_id(), customer, [item("c"), item("d")]))
    amounts = sorted(line.amount_tiyn for line in await lines_of(db, partner))
    assert amounts == [100, 100, 300, 300]


async def test_a_batch_accrues_as_one_by_one_would_once_under_redelivery_and_across_merges(db, make_partner):
    """The consumer's batch handler (one transaction per polled batch): tiers counted in the order
    the events came, an order announced twice in a batch or again in a later batch counted once,
    a redelivered batch applying nothing, a disconnection in between applied in its place, and an
    order for a customer merged away accruing to the survivor's partner."""
    from crm_shared.consumer import apply_batch_once

    [spec] = [spec for spec in CONSUMERS if spec.name == "commissions-orders"]
    [identity] = [spec for spec in CONSUMERS if spec.name == "customer-identity"]
    plan = {
        "one_off_tiyn": 100,
        "recurring_percent": "0",
        "recurring_months": 0,
        "clawback_days": 30,
        "tiers": [{"min_activations": 3, "one_off_tiyn": 300}],
    }
    partner = await make_partner("Batched", commission_plan=plan)
    customer, survivor = await brought_customer(db, partner), await brought_customer(db, partner)
    first_order = new_id()
    first = completed_order(first_order, customer, [item("a"), item("b")])
    again = CloudEvent(id=new_id(), source=first.source, type=first.type, subject=first.subject, data=first.data)
    disconnected = terminated(customer, first_order, "a", COMPLETED_AT + timedelta(days=2))
    second = completed_order(new_id(), customer, [item("c"), item("d")])
    batch = [first, again, disconnected, second, first]
    applied = await apply_batch_once(db, spec.name, batch, spec.contract_checked_batch())
    assert [e.id for e in applied] == [first.id, again.id, disconnected.id, second.id]
    assert await apply_batch_once(db, spec.name, batch, spec.contract_checked_batch()) == []
    lines = await lines_of(db, partner)
    assert sorted((line.kind, line.offering_id, line.amount_tiyn) for line in lines) == [
        ("clawback", "a", -100),
        ("one_off", "a", 100),
        ("one_off", "b", 100),
        ("one_off", "c", 300),
        ("one_off", "d", 300),
    ]

    merged = CloudEvent(
        id=new_id(),
        source="/crm/sales",
        type="crm.sales.customer.merged",
        subject=survivor,
        data={"duplicate_id": customer, "survivor_id": survivor, "id": survivor},
    )
    assert await apply_once(db, identity.name, merged, identity.handler) == "applied"
    late = completed_order(new_id(), customer, [item("e")])
    await apply_batch_once(db, spec.name, [late], spec.contract_checked_batch())
    [line] = [line for line in await lines_of(db, partner) if line.offering_id == "e"]
    assert (line.customer_id, line.amount_tiyn) == (survivor, 300)
