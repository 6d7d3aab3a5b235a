"""One customer across every service, in tickets: a merge in sales moves the duplicate's tickets
(notes and incident links with them), calls and installed products to the survivor, whatever
order the merge and the records arrive in; an erasure anonymises the caller's name and what the
tickets and calls say about them, keeps the tickets, and confirms; both applied once per event,
and replay-safe."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from crm_contracts import events as contracts
from crm_shared.auth import Principal, Role
from crm_shared.consumer import APPLIED, DUPLICATE, apply_once
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.models import AuditEntry, OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers
from crm_tickets.db.models import InstalledProduct
from crm_tickets.events.consumers import CONSUMERS, apply_installed_product_event
from crm_tickets.testing import installed_product_data, installed_product_event

pytestmark = pytest.mark.integration

T = "/api/v1/tickets"
SALES = "/api/v1/sales/customers"
CALL_CENTRE = auth_headers(PRINCIPALS["call_center_agent"])
AGENT = auth_headers(PRINCIPALS["branch_agent"])
ADMIN = auth_headers(PRINCIPALS["admin"])
OSS = auth_headers(
    Principal("apikey-oss", "Network OSS", Role.SYSTEM, scopes=("tickets:read", "tickets:write", "tickets:incidents"))
)
[IDENTITY] = [spec for spec in CONSUMERS if spec.name == "customer-identity"]


@pytest.fixture(scope="module")
async def db(tickets_database):
    database = Database(tickets_database)
    yield database
    await database.dispose()


def state(view: dict) -> dict:
    return {k: v for k, v in view.items() if k not in ("identifiers_masked", "phone_e164")}


async def merge_in_sales(sales_service, survivor_id: str, duplicate_id: str) -> CloudEvent:
    """Merges in the real sales service and returns the event sales wrote for it (rebuilt from the
    survivor's state: the sales relay is off in these tests)."""
    sales = sales_service["client"]
    response = await sales.post(f"{SALES}/{survivor_id}/merge", json={"duplicate_id": duplicate_id}, headers=ADMIN)
    assert response.status_code == 200, response.text
    duplicate = (await sales.get(f"{SALES}/{duplicate_id}", headers=ADMIN)).json()
    survivor = response.json()
    data = state(survivor) | {
        "duplicate_id": duplicate_id,
        "duplicate": state(duplicate),
        "survivor_id": survivor_id,
        "merged_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    contracts.validate("crm.sales.customer.merged", data)
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type="crm.sales.customer.merged", subject=survivor_id, data=data
    )


def bare_merge(survivor_id: str, duplicate_id: str) -> CloudEvent:
    data = {"duplicate_id": duplicate_id, "survivor_id": survivor_id, "id": survivor_id}
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type="crm.sales.customer.merged", subject=survivor_id, data=data
    )


def erased_event(customer_id: str) -> CloudEvent:
    data = {
        "customer_id": customer_id,
        "erasure_id": str(uuid.uuid4()),
        "customer_ids": [customer_id],
        "requested_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
    }
    contracts.validate("crm.sales.customer.erased", data)
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type="crm.sales.customer.erased", subject=customer_id, data=data
    )


async def apply(db, event: CloudEvent, checked: bool = True) -> str:
    return await apply_once(db, IDENTITY.name, event, IDENTITY.contract_checked() if checked else IDENTITY.handler)


async def open_ticket(client, customer_id: str, **fields) -> dict:
    body = {
        "customer_id": customer_id,
        "name": "No internet",
        "description": "Router shows red light",
        "category": "internet",
    } | fields
    response = await client.post(f"{T}/tickets", json=body, headers=CALL_CENTRE)
    assert response.status_code == 201, response.text
    return response.json()


async def product_for(db, customer_id: str, address: str = "Almaty, Abai ave 10", at=None) -> str:
    product_id = str(uuid.uuid4())
    data = installed_product_data(
        customer_id, product_id=product_id, offering_name="Home Internet 100", service_address=address, at=at
    )
    event = installed_product_event("created", data)
    assert await apply_once(db, "installed-products", event, apply_installed_product_event) == APPLIED
    return product_id


async def tickets_of(client, customer_id: str) -> list[dict]:
    response = await client.get(f"{T}/tickets", params={"customer_id": customer_id}, headers=AGENT)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def calls_of(client, customer_id: str) -> list[dict]:
    response = await client.get(f"{T}/interactions", params={"customer_id": customer_id}, headers=AGENT)
    return response.json()["items"]


async def outbox(db, **where) -> list[OutboxEvent]:
    async with db.read_only() as session:
        stmt = select(OutboxEvent).order_by(OutboxEvent.seq)
        for column, value in where.items():
            stmt = stmt.where(getattr(OutboxEvent, column) == value)
        return list(await session.scalars(stmt))


async def test_a_merge_moves_tickets_calls_and_products_to_the_survivor_once(
    client, make_customer, sales_service, db, clock
):
    survivor = await make_customer(first_name="Saule", last_name="Survivorova")
    duplicate = await make_customer(first_name="Saule", last_name="Duplicatova")
    product = await product_for(db, duplicate["id"], at=clock.now)
    call = await client.post(
        f"{T}/interactions", json={"customer_id": duplicate["id"], "summary": "no link"}, headers=CALL_CENTRE
    )
    assert call.status_code == 201, call.text
    ticket = await open_ticket(
        client, duplicate["id"], installed_product_id=product, interaction_id=call.json()["id"], note="rebooted"
    )

    merged = await merge_in_sales(sales_service, survivor["id"], duplicate["id"])
    assert await apply(db, merged) == APPLIED

    [moved] = await tickets_of(client, survivor["id"])
    assert moved["id"] == ticket["id"] and moved["customer_name"] == "Survivorova Saule"
    assert moved["version"] == ticket["version"] + 1
    assert [c["id"] for c in await calls_of(client, survivor["id"])] == [call.json()["id"]]
    assert await tickets_of(client, duplicate["id"]) == [] and await calls_of(client, duplicate["id"]) == []
    full = (await client.get(f"{T}/tickets/{ticket['id']}", headers=AGENT)).json()
    assert [n["text"] for n in full["notes"]] == ["rebooted"]
    async with db.read_only() as session:
        assert (await session.get(InstalledProduct, product)).customer_id == survivor["id"]
    # the call centre finds the survivor by the duplicate's phone (it moved in sales) with all of it
    card = (await client.get(f"{T}/callers", params={"phone": duplicate["phone_e164"]}, headers=CALL_CENTRE)).json()[
        "items"
    ][0]
    assert card["customer"]["id"] == survivor["id"]
    assert [t["id"] for t in card["open_tickets"]] == [ticket["id"]]
    assert [p["id"] for p in card["installed_products"]] == [product]

    # the audit trail names the merge; the ticket's new customer is announced
    async with db.read_only() as session:
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.operation_id == merged.id)))
    assert {(e.entity_type, e.entity_id, e.action) for e in entries} == {
        ("ticket", ticket["id"], "customer_merged"),
        ("interaction", call.json()["id"], "customer_merged"),
    }
    updated = (await outbox(db, subject=ticket["id"], type="crm.tickets.ticket.updated"))[-1]
    assert updated.data["customer_id"] == survivor["id"]
    contracts.validate(updated.type, updated.data)

    # redelivered, or sent again under another id: nothing moves twice
    assert await apply(db, merged) == DUPLICATE
    assert await apply(db, CloudEvent(**{**merged.__dict__, "id": str(uuid.uuid4())})) == APPLIED
    assert [t["version"] for t in await tickets_of(client, survivor["id"])] == [moved["version"]]

    # after the merge: a ticket or a call for the duplicate is refused, naming the survivor
    refused = await client.post(
        f"{T}/tickets",
        json={"customer_id": duplicate["id"], "name": "TV", "description": "no signal", "category": "tv"},
        headers=CALL_CENTRE,
    )
    assert refused.status_code == 409 and refused.json()["merged_into_id"] == survivor["id"], refused.text
    assert refused.json()["errors"][0]["field"] == "customer_id"
    call_refused = await client.post(f"{T}/interactions", json={"customer_id": duplicate["id"]}, headers=CALL_CENTRE)
    assert call_refused.status_code == 409 and call_refused.json()["merged_into_id"] == survivor["id"]
    # a product orders announces for the duplicate after the merge is the survivor's
    late = await product_for(db, duplicate["id"], at=clock.now)
    async with db.read_only() as session:
        assert (await session.get(InstalledProduct, late)).customer_id == survivor["id"]


async def test_a_merge_known_here_before_sales_says_so_refuses_and_moves_incident_links(client, make_customer, db):
    survivor = await make_customer(last_name="Earlyova")
    duplicate = await make_customer(last_name="Laterova")
    ticket = await open_ticket(client, duplicate["id"])
    incident = await client.post(
        f"{T}/incidents",
        json={"title": "Fibre cut", "description": "cable", "region_code": "KZ-75", "branch_code": "ALA-01"},
        headers=OSS,
    )
    assert incident.status_code == 201, incident.text
    linked = (await client.get(f"{T}/tickets/{ticket['id']}", headers=AGENT)).json()
    assert linked["incident_id"] == incident.json()["id"]

    assert await apply(db, bare_merge(survivor["id"], duplicate["id"]), checked=False) == APPLIED
    [moved] = await tickets_of(client, survivor["id"])
    assert moved["id"] == ticket["id"] and moved["incident_id"] == incident.json()["id"]
    # sales still calls the duplicate active: tickets knows better, and names the survivor
    racing = await client.post(
        f"{T}/tickets",
        json={"customer_id": duplicate["id"], "name": "TV", "description": "no signal", "category": "tv"},
        headers=CALL_CENTRE,
    )
    assert racing.status_code == 409 and racing.json()["merged_into_id"] == survivor["id"], racing.text
    resolved = await client.post(
        f"{T}/incidents/{incident.json()['id']}/resolve", json={"resolution": "spliced"}, headers=OSS
    )
    assert resolved.status_code == 200, resolved.text


async def test_an_erasure_anonymises_tickets_calls_and_notes_and_confirms_once(client, make_customer, db, clock):
    customer = await make_customer(first_name="Gulzhan", last_name="Erasova")
    product = await product_for(db, customer["id"], address="Almaty, Tole Bi 5, flat 7", at=clock.now)
    call = await client.post(
        f"{T}/interactions",
        json={"customer_id": customer["id"], "summary": "Gulzhan called from +77015550000"},
        headers=CALL_CENTRE,
    )
    ticket = await open_ticket(
        client,
        customer["id"],
        description="Gulzhan says the router at Tole Bi 5 is dead",
        location="Tole Bi 5, flat 7",
        interaction_id=call.json()["id"],
        note="Gulzhan's neighbour has the same problem",
    )
    attachment = await client.post(
        f"{T}/tickets/{ticket['id']}/attachments",
        json={"name": "gulzhan_erasova_id.pdf", "media_type": "application/pdf", "size_bytes": 1000},
        headers=AGENT,
    )
    assert attachment.status_code == 201, attachment.text
    async with db.unit_of_work() as session:  # as if the relay had published them
        for row in await session.scalars(select(OutboxEvent).where(OutboxEvent.sent_at.is_(None))):
            row.sent_at = datetime.now(UTC)

    erased = erased_event(customer["id"])
    assert await apply(db, erased) == APPLIED
    [kept] = await tickets_of(client, customer["id"])
    assert (kept["customer_name"], kept["description"], kept["location"]) == ("Erased customer", "[erased]", None)
    assert (kept["status"], kept["category"], kept["sla"]["policy"]) == (
        ticket["status"],
        ticket["category"],
        ticket["sla"]["policy"],
    )
    full = (await client.get(f"{T}/tickets/{ticket['id']}", headers=AGENT)).json()
    assert [n["text"] for n in full["notes"]] == ["[erased]"]  # that a note existed stays
    assert [a["name"] for a in full["attachments"]] == ["[erased]"]
    assert [c["summary"] for c in await calls_of(client, customer["id"])] == ["[erased]"]
    async with db.read_only() as session:
        assert (await session.get(InstalledProduct, product)).service_address is None
        audit = list(await session.scalars(select(AuditEntry).where(AuditEntry.entity_id == ticket["id"])))
    assert "Gulzhan" not in repr([e.changes for e in audit]) and "Erasova" not in repr([e.changes for e in audit])
    # what was published about the tickets and calls is forgotten; the confirmation names ids only
    assert [e for e in await outbox(db, subject=ticket["id"]) if e.sent_at is not None] == []
    assert await outbox(db, subject=call.json()["id"]) == []
    text = repr([e.data for e in await outbox(db) if e.sent_at is None])
    assert "Gulzhan" not in text and "Tole Bi" not in text
    [confirmed] = await outbox(db, type="crm.tickets.erasure.confirmed", subject=erased.data["erasure_id"])
    contracts.validate(confirmed.type, confirmed.data)
    assert confirmed.topic == "crm.tickets.erasure.v1"
    assert confirmed.data["records"] == {"tickets": 1, "notes": 1, "interactions": 1}

    # replayed: nothing changes; sent again under another id: confirmed again, nothing else changes
    assert await apply(db, erased) == DUPLICATE
    assert await apply(db, CloudEvent(**{**erased.__dict__, "id": str(uuid.uuid4())})) == APPLIED
    assert [t["version"] for t in await tickets_of(client, customer["id"])] == [kept["version"]]
    assert len(await outbox(db, type="crm.tickets.erasure.confirmed", subject=erased.data["erasure_id"])) == 2

    # no new ticket for an erased customer
    refused = await client.post(
        f"{T}/tickets",
        json={"customer_id": customer["id"], "name": "TV", "description": "x", "category": "tv"},
        headers=CALL_CENTRE,
    )
    assert refused.status_code == 409 and refused.json()["errors"][0]["field"] == "customer_id"


async def test_a_merge_moves_the_partner_customer_so_the_partner_follows_its_tickets_once(client, make_customer, db):
    from crm_shared.testing import partner_deal_approved, partner_principal

    [partner_customers] = [spec for spec in CONSUMERS if spec.name == "partner-customers"]
    survivor, duplicate = await make_customer(last_name="Keptova"), await make_customer(last_name="Goneova")
    ticket = await open_ticket(client, survivor["id"])
    event = partner_deal_approved(duplicate["id"], "p-tk-merge")
    assert await apply_once(db, partner_customers.name, event, partner_customers.contract_checked()) == APPLIED
    partner = auth_headers(partner_principal("p-tk-merge"))
    assert (await client.get(f"{T}/tickets/{ticket['id']}", headers=partner)).status_code == 404

    merge = bare_merge(survivor["id"], duplicate["id"])
    assert await apply(db, merge, checked=False) == APPLIED
    assert (await client.get(f"{T}/tickets/{ticket['id']}", headers=partner)).status_code == 200
    assert await apply(db, merge, checked=False) == DUPLICATE
    # a late approval for the customer merged away lands on the survivor too
    late = partner_deal_approved(duplicate["id"], "p-tk-late")
    assert await apply_once(db, partner_customers.name, late, partner_customers.contract_checked()) == APPLIED
    assert (await client.get(f"{T}/tickets/{ticket['id']}", headers=partner)).status_code == 404
    later = auth_headers(partner_principal("p-tk-late"))
    assert (await client.get(f"{T}/tickets/{ticket['id']}", headers=later)).status_code == 200


# --- calls handed over by sales (docs/interactions.md) -------------------------------------------

[SALES_CALLS] = [spec for spec in CONSUMERS if spec.name == "sales-calls"]


def handed_over_call(customer: dict, **overrides) -> CloudEvent:
    data = {
        "id": str(uuid.uuid4()),
        "kind": "call",
        "related_type": "opportunity",
        "related_id": str(uuid.uuid4()),
        "customer_id": customer["id"],
        "subject": "Discussed the price",
        "body": None,
        "due_at": None,
        "done_at": "2025-05-01T09:30:00Z",
        "outcome": "Sends a quote by Friday",
        "owner_id": "user-almaty-agent",
        "owner_name": "Dana Nurlanovna",
        "created_by": "user-almaty-agent",
        "branch_code": customer["branch_code"],
        "region_code": customer["region_code"],
        "version": 3,
        "created_at": "2025-05-01T09:31:00Z",
        "updated_at": "2025-05-01T09:31:00Z",
    } | overrides
    contracts.validate("crm.sales.activity.handed_over", data)
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/sales", type="crm.sales.activity.handed_over", subject=data["id"], data=data
    )


async def test_a_call_sales_hands_over_becomes_one_interaction(client, db, make_customer):
    customer = await make_customer()
    event = handed_over_call(customer)
    checked = SALES_CALLS.contract_checked()
    assert await apply_once(db, SALES_CALLS.name, event, checked) == APPLIED
    assert await apply_once(db, SALES_CALLS.name, event, checked) == DUPLICATE
    # the same call handed over again (another replica, a replay under a new event id) changes nothing
    again = CloudEvent(
        id=str(uuid.uuid4()), source=event.source, type=event.type, subject=event.subject, data=event.data
    )
    assert await apply_once(db, SALES_CALLS.name, again, checked) == APPLIED

    [logged] = await calls_of(client, customer["id"])
    assert logged["id"] == event.data["id"]
    assert (logged["channel"], logged["direction"], logged["outcome"]) == ("phone", "outbound", "other")
    assert logged["started_at"].startswith("2025-05-01T09:30:00") and logged["ended_at"] == logged["started_at"]
    assert logged["summary"] == "Discussed the price\nSends a quote by Friday"
    assert (logged["agent_id"], logged["agent_name"]) == ("user-almaty-agent", "Dana Nurlanovna")
    async with db.read_only() as session:
        announced = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.subject == event.data["id"])))
    assert [e.type for e in announced] == ["crm.tickets.interaction.ended"]  # sales' copy shows it
    contracts.validate(announced[0].type, announced[0].data)


async def test_sales_other_activity_events_change_nothing(client, db, make_customer):
    customer = await make_customer()
    event = handed_over_call(customer)
    created = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/sales",
        type="crm.sales.activity.created",
        subject=event.data["id"],
        data={k: v for k, v in event.data.items() if k != "customer_id"},
    )
    assert await apply_once(db, SALES_CALLS.name, created, SALES_CALLS.contract_checked()) == APPLIED
    assert await calls_of(client, customer["id"]) == []
