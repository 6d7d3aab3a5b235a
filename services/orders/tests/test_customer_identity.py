"""One customer across every service, in orders: a merge in sales moves the duplicate's orders,
installed products and invoices (its balance) to the survivor, whatever order the merge and the
records arrive in; an erasure anonymises the person's copies, keeps the books and confirms; both
applied once per event, and replay-safe. Last, an orders service that was down catches up with
the events that waited for it in Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_contracts import events as contracts
from crm_orders.db.models import CustomerAlias, ErasedCustomer, Order
from crm_orders.events.consumers import CONSUMERS
from crm_shared.auth import Principal, Role
from crm_shared.consumer import APPLIED, DUPLICATE, apply_once
from crm_shared.customer_identity import CUSTOMER_TOPIC
from crm_shared.envelope import CloudEvent
from crm_shared.kafka import ensure_topics
from crm_shared.models import AuditEntry, OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers, eventually, publish_events

pytestmark = pytest.mark.integration

ORDERS = "/api/v1/orders/orders"
SALES = "/api/v1/sales/customers"
OSS = Principal("k-oss", "demo-oss", Role.SYSTEM, scopes=("orders:read", "orders:fulfil"))
BILLING = Principal("k-billing", "demo-billing", Role.SYSTEM, scopes=("orders:read", "orders:billing"))
AGENT = auth_headers(PRINCIPALS["branch_agent"])
ADMIN = auth_headers(PRINCIPALS["admin"])
[IDENTITY] = [spec for spec in CONSUMERS if spec.name == "orders.customer-identity"]


@pytest_asyncio.fixture(scope="module")
async def db(orders_app):
    return orders_app.state.runtime.db


@pytest_asyncio.fixture(scope="module")
async def sales(sales_process):
    async with httpx.AsyncClient(base_url=sales_process["http"], timeout=30) as http:
        yield http


async def new_customer(sales, ids, last_name: str) -> dict:
    response = await sales.post(
        SALES, json=ids.individual(first_name="Merge", last_name=last_name, branch_code="ALA-01"), headers=ADMIN
    )
    assert response.status_code == 201, response.text
    return response.json()


async def merge_in_sales(sales, survivor_id: str, duplicate_id: str) -> CloudEvent:
    """Merges in the real sales service, and returns the event sales wrote for it (rebuilt from
    the survivor's state: the sales relay is off in these tests)."""
    response = await sales.post(f"{SALES}/{survivor_id}/merge", json={"duplicate_id": duplicate_id}, headers=ADMIN)
    assert response.status_code == 200, response.text
    duplicate = (await sales.get(f"{SALES}/{duplicate_id}", headers=ADMIN)).json()
    return merged_event(response.json(), duplicate)


def state(view: dict) -> dict:
    return {k: v for k, v in view.items() if k != "identifiers_masked"}


def merged_event(survivor: dict, duplicate: dict) -> CloudEvent:
    data = state(survivor) | {
        "duplicate_id": duplicate["id"],
        "duplicate": state(duplicate),
        "survivor_id": survivor["id"],
        "merged_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    contracts.validate("crm.sales.customer.merged", data)
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type="crm.sales.customer.merged", subject=survivor["id"], data=data
    )


def bare_merge(survivor_id: str, duplicate_id: str) -> CloudEvent:
    """A merge announcement of customers sales never merged (as if it arrived before sales' own
    answers say so): only the ids matter to orders."""
    data = {"duplicate_id": duplicate_id, "survivor_id": survivor_id, "id": survivor_id}
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type="crm.sales.customer.merged", subject=survivor_id, data=data
    )


def erased_event(customer_id: str, *others: str) -> CloudEvent:
    data = {
        "customer_id": customer_id,
        "erasure_id": str(uuid.uuid4()),
        "customer_ids": [customer_id, *others],
        "requested_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    contracts.validate("crm.sales.customer.erased", data)
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type="crm.sales.customer.erased", subject=customer_id, data=data
    )


async def apply(db, event: CloudEvent, checked: bool = True) -> str:
    # the bare merges are not whole contract payloads: they go to the handler unchecked
    return await apply_once(db, IDENTITY.name, event, IDENTITY.contract_checked() if checked else IDENTITY.handler)


async def completed_order(client, customer_id: str, address: str = "Almaty, Abay 10") -> dict:
    taken = await client.post(
        ORDERS,
        json={"customer_id": customer_id, "items": [{"offering_id": "inet-gpon-100", "service_address": address}]},
        headers=AGENT,
    )
    assert taken.status_code == 201, taken.text
    order = taken.json()
    done = await client.post(
        f"{ORDERS}/{order['id']}/items/{order['items'][0]['id']}/fulfilment",
        json={"state": "completed"},
        headers=auth_headers(OSS),
    )
    assert done.status_code == 200 and done.json()["state"] == "completed", done.text
    return done.json()


async def invoice(client, customer_id: str, order_id: str | None, amount: int) -> httpx.Response:
    body = {
        "invoice_id": f"INV-{uuid.uuid4().hex[:10]}",
        "customer_id": customer_id,
        "order_id": order_id,
        "amount_tiyn": amount,
        "issued_on": date.today().isoformat(),
        "due_on": (date.today() + timedelta(days=14)).isoformat(),
    }
    return await client.post("/api/v1/orders/billing/invoices", json=body, headers=auth_headers(BILLING))


async def of_customer(client, customer_id: str) -> tuple[list[dict], list[dict], dict]:
    orders = (await client.get(ORDERS, params={"customer_id": customer_id}, headers=AGENT)).json()["items"]
    products = (
        await client.get("/api/v1/orders/installed-products", params={"customer_id": customer_id}, headers=AGENT)
    ).json()
    balance = (await client.get(f"/api/v1/orders/billing/customers/{customer_id}/balance", headers=AGENT)).json()
    return orders, products if isinstance(products, list) else products["items"], balance


async def outbox(db, **where) -> list[OutboxEvent]:
    async with db.read_only() as session:
        stmt = select(OutboxEvent).order_by(OutboxEvent.seq)
        for column, value in where.items():
            stmt = stmt.where(getattr(OutboxEvent, column) == value)
        return list(await session.scalars(stmt))


async def test_a_merge_moves_orders_products_and_balance_to_the_survivor_once(client, sales, ids, db):
    survivor = await new_customer(sales, ids, "Survivorova")
    duplicate = await new_customer(sales, ids, "Duplicatova")
    order = await completed_order(client, duplicate["id"])
    assert (await invoice(client, duplicate["id"], order["id"], 2500_00)).status_code == 201
    own = await completed_order(client, survivor["id"])
    assert (await invoice(client, survivor["id"], own["id"], 1000_00)).status_code == 201

    merged = await merge_in_sales(sales, survivor["id"], duplicate["id"])
    assert await apply(db, merged) == APPLIED

    orders, products, balance = await of_customer(client, survivor["id"])
    assert {o["id"] for o in orders} == {order["id"], own["id"]}
    moved = next(o for o in orders if o["id"] == order["id"])
    assert moved["customer_name"] == survivor["display_name"] and moved["version"] == order["version"] + 1
    assert len(products) == 2 and {p["customer_id"] for p in products} == {survivor["id"]}
    assert balance["invoiced_tiyn"] == 3500_00 and len(balance["invoices"]) == 2
    assert (await of_customer(client, duplicate["id"]))[0] == []

    # the audit trail names the merge (its event); the products' new owner is announced
    async with db.read_only() as session:
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.operation_id == merged.id)))
    assert {(e.entity_type, e.action) for e in entries} == {
        ("order", "customer_merged"),
        ("installed_product", "customer_merged"),
        ("billing_account", "customer_merged"),
    }
    assert next(e for e in entries if e.entity_id == order["id"]).changes == {
        "customer_id": [duplicate["id"], survivor["id"]]
    }
    moved_product = next(p for p in products if p["order_id"] == order["id"])
    [changed] = await outbox(db, type="crm.orders.installed_product.changed", subject=moved_product["id"])
    assert changed.data["customer_id"] == survivor["id"] and changed.data["version"] == moved_product["version"]
    contracts.validate(changed.type, changed.data)

    # redelivered, or sent again under another id (a replay of sales' outbox): nothing moves twice
    assert await apply(db, merged) == DUPLICATE
    copy = CloudEvent(**{**merged.__dict__, "id": str(uuid.uuid4())})
    assert await apply(db, copy) == APPLIED
    again_orders, again_products, again_balance = await of_customer(client, survivor["id"])
    assert [o["version"] for o in again_orders] == [o["version"] for o in orders]
    assert again_balance["invoiced_tiyn"] == 3500_00 and len(again_products) == 2

    # after the merge: a new order for the duplicate is refused, naming the survivor; billing,
    # which still knows the old id, books an invoice to the survivor
    refused = await client.post(
        ORDERS, json={"customer_id": duplicate["id"], "items": [{"offering_id": "tv-base"}]}, headers=AGENT
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["merged_into_id"] == survivor["id"]
    assert survivor["id"] in refused.json()["detail"] and refused.json()["errors"][0]["field"] == "customer_id"
    late = await invoice(client, duplicate["id"], order["id"], 500_00)
    assert late.status_code == 201 and late.json()["customer_id"] == survivor["id"]


async def test_records_and_merges_arriving_in_any_order_end_with_the_final_survivor(client, sales, ids, db):
    final = await new_customer(sales, ids, "Finalova")
    middle = await new_customer(sales, ids, "Middleva")
    first = await new_customer(sales, ids, "Firstova")
    first_order = await completed_order(client, first["id"])
    middle_order = await completed_order(client, middle["id"])

    # middle -> final arrives before first -> middle
    assert await apply(db, bare_merge(final["id"], middle["id"]), checked=False) == APPLIED
    assert await apply(db, bare_merge(middle["id"], first["id"]), checked=False) == APPLIED
    orders, products, _ = await of_customer(client, final["id"])
    assert {o["id"] for o in orders} == {first_order["id"], middle_order["id"]}
    assert len(products) == 2
    async with db.read_only() as session:
        aliases = {a.duplicate_id: a.survivor_id for a in await session.scalars(select(CustomerAlias))}
    assert aliases[first["id"]] == aliases[middle["id"]] == final["id"]

    # sales still calls `first` active (it never merged these): the order is refused all the same,
    # naming where its records are, because orders already knows of the merge
    racing = await client.post(
        ORDERS, json={"customer_id": first["id"], "items": [{"offering_id": "tv-base"}]}, headers=AGENT
    )
    assert racing.status_code == 409 and racing.json()["merged_into_id"] == final["id"], racing.text

    # a won opportunity of the duplicate, announced after the merge: the draft is the survivor's
    from crm_orders.events.consumers import apply_opportunity_event

    opportunity_id = str(uuid.uuid4())
    won = {
        "id": opportunity_id,
        "customer_id": first["id"],
        "branch_code": "ALA-01",
        "region_code": "KZ-75",
        "owner_id": "user-almaty-agent",
        "owner_name": "almaty.agent",
    }
    event = CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type="crm.sales.opportunity.won", subject=opportunity_id, data=won
    )
    assert await apply_once(db, "orders.won-opportunities", event, apply_opportunity_event) == APPLIED
    async with db.read_only() as session:
        draft = await session.scalar(select(Order).where(Order.opportunity_id == opportunity_id))
    assert draft.customer_id == final["id"] and draft.state == "draft"


async def test_an_erasure_anonymises_the_copies_keeps_the_books_and_confirms_once(client, sales, ids, db):
    customer = await new_customer(sales, ids, "Erasova")
    order = await completed_order(client, customer["id"], address="Almaty, Tole Bi 5, flat 7")
    assert (await invoice(client, customer["id"], order["id"], 2500_00)).status_code == 201
    async with db.unit_of_work() as session:  # as if the relay had published them
        for row in await session.scalars(select(OutboxEvent).where(OutboxEvent.sent_at.is_(None))):
            row.sent_at = datetime.now(UTC)

    erased = erased_event(customer["id"])
    assert await apply(db, erased) == APPLIED
    [kept] = (await of_customer(client, customer["id"]))[0]
    assert kept["customer_name"] == "Erased customer" and kept["customer_id"] == customer["id"]
    assert [i["service_address"] for i in kept["items"]] == [""]
    assert kept["one_off_total_tiyn"] == order["one_off_total_tiyn"]  # the books stay
    _, products, balance = await of_customer(client, customer["id"])
    assert [p["service_address"] for p in products] == [""]
    assert balance["invoiced_tiyn"] == 2500_00
    # the published events that carried the name and the address are forgotten
    assert await outbox(db, subject=order["id"]) == []
    [confirmed] = await outbox(db, type="crm.orders.erasure.confirmed", subject=erased.data["erasure_id"])
    contracts.validate(confirmed.type, confirmed.data)
    assert confirmed.topic == "crm.orders.erasure.v1"
    assert confirmed.data["records"] == {"orders": 1, "installed_products": 1, "invoices_kept": 1}
    text = repr([e.data for e in await outbox(db) if e.sent_at is None])
    assert "Tole Bi" not in text and customer["last_name"] not in text

    # replayed: nothing changes; sent again under another id: confirmed again, nothing else changes
    assert await apply(db, erased) == DUPLICATE
    assert await apply(db, CloudEvent(**{**erased.__dict__, "id": str(uuid.uuid4())})) == APPLIED
    [again] = (await of_customer(client, customer["id"]))[0]
    assert again["version"] == kept["version"]
    confirmations = await outbox(db, type="crm.orders.erasure.confirmed", subject=erased.data["erasure_id"])
    assert len(confirmations) == 2 and confirmations[1].data["records"]["orders"] == 1

    # a merge that arrives after the erasure: what moves to the erased survivor is anonymised too
    duplicate = await new_customer(sales, ids, "Lateva")
    late = await completed_order(client, duplicate["id"], address="Almaty, Satpaev 1")
    assert await apply(db, bare_merge(customer["id"], duplicate["id"]), checked=False) == APPLIED
    moved = next(o for o in (await of_customer(client, customer["id"]))[0] if o["id"] == late["id"])
    assert moved["customer_name"] == "Erased customer" and moved["items"][0]["service_address"] == ""
    # and no new order for an erased customer
    refused = await client.post(
        ORDERS, json={"customer_id": customer["id"], "items": [{"offering_id": "tv-base"}]}, headers=AGENT
    )
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "customer_id"


async def test_an_orders_service_that_was_down_catches_up_from_kafka(
    client, sales, ids, db, orders_settings, kafka_bootstrap
):
    """The events sit in the topic while no consumer runs; the consumer started later applies
    them (and the erasure confirmation follows)."""
    await ensure_topics(kafka_bootstrap, [(CUSTOMER_TOPIC, 3)])
    survivor = await new_customer(sales, ids, "Upova")
    duplicate = await new_customer(sales, ids, "Downova")
    order = await completed_order(client, duplicate["id"])
    merged = await merge_in_sales(sales, survivor["id"], duplicate["id"])
    erased = erased_event(survivor["id"], duplicate["id"])
    settings = orders_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    await publish_events(settings, CUSTOMER_TOPIC, [merged, erased])

    from crm_shared.consumer import EventConsumer

    consumer = EventConsumer(
        IDENTITY.name,
        db,
        settings,
        IDENTITY.topics,
        IDENTITY.contract_checked(),
        retry_initial_s=0.05,
        consumer_options={"session_timeout_ms": 2000, "heartbeat_interval_ms": 500},
    )
    await consumer.start()
    try:

        async def confirmed():
            return await outbox(db, type="crm.orders.erasure.confirmed", subject=erased.data["erasure_id"])

        await eventually(confirmed, interval_s=0.2, message="orders applied the waiting events")
    finally:
        await consumer.stop()
    [moved] = [o for o in (await of_customer(client, survivor["id"]))[0] if o["id"] == order["id"]]
    assert moved["customer_name"] == "Erased customer"
    async with db.read_only() as session:
        erased_ids = set(await session.scalars(select(ErasedCustomer.customer_id)))
    assert {survivor["id"], duplicate["id"]} <= erased_ids


async def test_a_merge_moves_the_partner_customer_so_the_partner_follows_its_orders_once(client, sales, ids, db):
    from crm_shared.testing import partner_deal_approved, partner_principal

    [partner_customers] = [spec for spec in CONSUMERS if spec.name == "orders.partner-customers"]
    survivor = await new_customer(sales, ids, "Keptova")
    duplicate = await new_customer(sales, ids, "Goneova")
    order = await completed_order(client, survivor["id"])
    approved = partner_deal_approved(duplicate["id"], "p-or-merge")
    assert await apply_once(db, partner_customers.name, approved, partner_customers.contract_checked()) == APPLIED
    partner = auth_headers(partner_principal("p-or-merge"))
    assert (await client.get(f"{ORDERS}/{order['id']}", headers=partner)).status_code == 404

    merge = bare_merge(survivor["id"], duplicate["id"])
    assert await apply(db, merge, checked=False) == APPLIED
    assert (await client.get(f"{ORDERS}/{order['id']}", headers=partner)).status_code == 200
    assert await apply(db, merge, checked=False) == DUPLICATE
    late = partner_deal_approved(duplicate["id"], "p-or-late")
    assert await apply_once(db, partner_customers.name, late, partner_customers.contract_checked()) == APPLIED
    assert (await client.get(f"{ORDERS}/{order['id']}", headers=partner)).status_code == 404
    later = auth_headers(partner_principal("p-or-late"))
    assert (await client.get(f"{ORDERS}/{order['id']}", headers=later)).status_code == 200
