"""Erasure of a customer's personal data on request, in sales: who may ask (privacy officers and
admins, with a reason), what the record becomes (anonymised, kept for the books, not findable),
the duplicates merged into it and the leads and activities about it, the history without the old
values, the published events forgotten, the erased event with ids only; then the services'
confirmations, each counted once, until the request is complete."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select, update

from crm_contracts import events as contracts
from crm_sales.events.consumers import CONSUMERS, apply_erasure_confirmation, apply_user_event
from crm_shared.consumer import APPLIED, DUPLICATE, apply_once
from crm_shared.envelope import CloudEvent
from crm_shared.models import AuditEntry, OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"
AGENT = auth_headers(PRINCIPALS["branch_agent"])  # ALA-01
PRIVACY = auth_headers(PRINCIPALS["privacy_officer"])
ADMIN = auth_headers(PRINCIPALS["admin"])
REASON = "data subject request DSR-2031 (erase)"


@pytest_asyncio.fixture(scope="module", autouse=True)
async def staff(db):
    """The branch agent in the staff directory, so that it may own leads."""
    agent = PRINCIPALS["branch_agent"]
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/gateway",
        type="crm.gateway.user.created",
        subject=agent.subject,
        data={
            "id": agent.subject,
            "username": agent.username,
            "full_name": "Dana Agent",
            "role": "branch_agent",
            "region_code": "KZ-75",
            "branch_code": "ALA-01",
            "active": True,
        },
    )
    async with db.unit_of_work() as session:
        await apply_user_event(session, event)


async def create(client, body, headers=AGENT):
    response = await client.post(BASE, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def outbox(db, **where) -> list[OutboxEvent]:
    async with db.read_only() as session:
        stmt = select(OutboxEvent).order_by(OutboxEvent.seq)
        for column, value in where.items():
            stmt = stmt.where(getattr(OutboxEvent, column) == value)
        return list(await session.scalars(stmt))


async def mark_all_sent(db) -> None:
    """As if the relay had published everything written so far."""
    async with db.unit_of_work() as session:
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.sent_at.is_(None)).values(sent_at=datetime.now(UTC))
        )


def confirmation(service: str, erasure_id: str, customer_id: str, **records: int) -> CloudEvent:
    data = {
        "erasure_id": erasure_id,
        "customer_id": customer_id,
        "service": service,
        "confirmed_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "records": records,
    }
    type_ = f"crm.{service}.erasure.confirmed"
    contracts.validate(type_, data)
    return CloudEvent(id=str(uuid.uuid4()), source=f"/crm/{service}", type=type_, subject=erasure_id, data=data)


@pytest_asyncio.fixture
async def person(client, ids, db):
    """A customer with two phones, an address and e-mail; a duplicate merged into it; a lead
    converted into it and an activity about it. Everything published already."""
    survivor = await create(
        client,
        ids.individual(
            first_name="Zhanar",
            last_name="Omarova",
            email="zhanar@example.kz",
            addresses=[{"kind": "registration", "city": "Almaty", "street": "Abay Ave", "building": "10"}],
        ),
    )
    duplicate = await create(client, ids.individual(first_name="Zhanar", last_name="Omarova"))
    merged = await client.post(f"{BASE}/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers=AGENT)
    assert merged.status_code == 200, merged.text
    lead = await client.post(
        "/api/v1/sales/leads",
        headers=AGENT,
        json={"source": "web", "name": "Zhanar Omarova", "phone": ids.mobile(), "interest": "internet"},
    )
    assert lead.status_code == 201, lead.text
    for version, status in enumerate(("contacted", "qualified"), start=1):
        moved = await client.patch(
            f"/api/v1/sales/leads/{lead.json()['id']}", json={"status": status, "version": version}, headers=AGENT
        )
        assert moved.status_code == 200, moved.text
    converted = await client.post(
        f"/api/v1/sales/leads/{lead.json()['id']}/convert",
        headers=AGENT,
        json={"customer_id": survivor["id"], "opportunity": {"name": "Fibre for the flat", "amount_tiyn": 699000}},
    )
    assert converted.status_code in (200, 201), converted.text
    activity = await client.post(
        "/api/v1/sales/activities",
        headers=AGENT,
        json={
            "kind": "note",
            "related_type": "customer",
            "related_id": survivor["id"],
            "subject": "Zhanar asked about TV",
            "body": "She lives at Abay 10, call her on the home phone",
        },
    )
    assert activity.status_code == 201, activity.text
    await mark_all_sent(db)
    return {
        "survivor": merged.json(),
        "duplicate": duplicate,
        "lead_id": lead.json()["id"],
        "activity_id": activity.json()["id"],
    }


async def test_only_privacy_officers_and_admins_erase_and_a_reason_is_required(client, ids):
    customer = await create(client, ids.individual())
    url = f"{BASE}/{customer['id']}/erasure"
    for role in ("branch_agent", "branch_manager", "call_center_agent", "regional_manager"):
        refused = await client.post(url, json={"reason": REASON}, headers=auth_headers(PRINCIPALS[role]))
        assert refused.status_code == 403, (role, refused.text)
        assert (await client.get(url, headers=auth_headers(PRINCIPALS[role]))).status_code == 403
    missing = await client.post(url, json={}, headers=PRIVACY)
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
    blank = await client.post(url, json={"reason": "   "}, headers=PRIVACY)
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "reason"
    unknown = await client.post(f"{BASE}/{uuid.uuid4()}/erasure", json={"reason": REASON}, headers=PRIVACY)
    assert unknown.status_code == 404
    # nothing asked yet: no erasure to report; the customer is untouched
    assert (await client.get(url, headers=PRIVACY)).status_code == 404
    assert (await client.get(f"{BASE}/{customer['id']}", headers=AGENT)).json()["status"] == "active"
    # an admin may erase too
    assert (await client.post(url, json={"reason": REASON}, headers=ADMIN)).status_code == 201


async def test_erasure_anonymises_the_person_everywhere_in_sales_and_announces_ids_only(client, db, person):
    survivor, duplicate = person["survivor"], person["duplicate"]
    phones = [p["e164"] for p in survivor["phones"]]
    iin = survivor["iin"]
    response = await client.post(f"{BASE}/{survivor['id']}/erasure", json={"reason": REASON}, headers=PRIVACY)
    assert response.status_code == 201, response.text
    erasure = response.json()
    assert response.headers["location"] == f"{BASE}/{survivor['id']}/erasure"
    assert erasure["status"] == "pending" and erasure["reason"] == REASON
    assert erasure["customer_ids"] == [survivor["id"], duplicate["id"]]
    assert erasure["requested_by_name"] == "privacy.officer"
    assert erasure["services"]["sales"]["confirmed_at"] is not None
    assert erasure["services"]["sales"]["records"]["customers"] == 2
    assert erasure["services"]["orders"] == {"confirmed_at": None, "records": None}
    assert erasure["services"]["tickets"] == {"confirmed_at": None, "records": None}

    # the record stays, as "Erased customer", without any personal data
    record = (await client.get(f"{BASE}/{survivor['id']}", headers=PRIVACY)).json()
    assert record["status"] == "erased" and record["display_name"] == "Erased customer"
    for field in ("iin", "middle_name", "birth_date", "email", "primary_phone", "legal_form"):
        assert record[field] is None, field
    assert (record["phones"], record["addresses"], record["contacts"]) == ([], [], [])
    assert not record["marketing_consent"] and not record["data_processing_consent"]
    assert (record["branch_code"], record["owner_id"]) == (survivor["branch_code"], survivor["owner_id"])
    old = (await client.get(f"{BASE}/{duplicate['id']}", headers=PRIVACY)).json()
    assert old["status"] == "merged" and old["display_name"] == "Erased customer" and old["iin"] is None

    # no longer findable by phone, IIN or name
    for query in [{"phone": phones[0]}, {"phone": phones[1]}, {"iin": iin}, {"q": "Omarova", "status": "any"}]:
        found = await client.get(BASE, params=query | {"status": query.get("status", "any")}, headers=PRIVACY)
        assert found.status_code == 200 and found.json()["items"] == [], query

    # read-only, and not a duplicate to merge
    write = await client.patch(f"{BASE}/{survivor['id']}", json={"email": "x@example.kz", "version": 1}, headers=AGENT)
    assert write.status_code == 409
    fresh = await create(client, {"kind": "individual", "iin": iin, "first_name": "Zhanar", "last_name": "Omarova",
                                  "phone": phones[0]})  # fmt: skip
    assert fresh["id"] != survivor["id"]  # the person may come back as a new customer
    merge = await client.post(f"{BASE}/{fresh['id']}/merge", json={"duplicate_id": survivor["id"]}, headers=AGENT)
    assert merge.status_code == 409 and merge.json()["errors"][0]["field"] == "duplicate_id"

    # the history keeps who and when, not the values; the erasure itself is in it, with its reason
    history = (await client.get(f"{BASE}/{survivor['id']}/history", headers=PRIVACY)).json()["items"]
    created = history[0]
    assert created["action"] == "created" and created["changes"]["last_name"] == [None, "[erased]"]
    assert created["changes"]["tax_id"] == [None, "[erased]"] and created["changes"]["status"] == [None, "active"]
    assert history[-1]["action"] == "erased"
    assert history[-1]["changes"] == {"erasure_id": [None, erasure["id"]], "reason": [None, REASON]}
    assert history[-1]["actor_name"] == "privacy.officer"
    text = repr(history)
    assert "Omarova" not in text and iin not in text and not any(p in text for p in phones)

    async with db.read_only() as session:
        lead_audit = list(await session.scalars(select(AuditEntry).where(AuditEntry.entity_id == person["lead_id"])))
    assert "Omarova" not in repr([e.changes for e in lead_audit])
    lead = (await client.get(f"/api/v1/sales/leads/{person['lead_id']}", headers=ADMIN)).json()
    assert (lead["name"], lead["phone"], lead["email"]) == ("Erased customer", None, None)
    activity = (await client.get(f"/api/v1/sales/activities/{person['activity_id']}", headers=ADMIN)).json()
    assert (activity["subject"], activity["body"]) == ("[erased]", "[erased]")

    # what was published about the person is forgotten (no replay sends it again); the erased
    # event carries ids only
    for subject in (survivor["id"], duplicate["id"], person["lead_id"], person["activity_id"]):
        remaining = await outbox(db, subject=subject)
        assert [e.type for e in remaining if e.sent_at is not None] == [], subject
    [erased] = await outbox(db, type="crm.sales.customer.erased", subject=survivor["id"])
    contracts.validate(erased.type, erased.data)
    assert erased.data == {
        "customer_id": survivor["id"],
        "erasure_id": erasure["id"],
        "customer_ids": [survivor["id"], duplicate["id"]],
        "requested_at": erased.data["requested_at"],
    }
    assert erased.key == survivor["id"]

    # asked again: the same request, nothing erased twice, no second event
    again = await client.post(f"{BASE}/{survivor['id']}/erasure", json={"reason": "again"}, headers=PRIVACY)
    assert again.status_code == 200 and again.json()["id"] == erasure["id"] and again.json()["reason"] == REASON
    assert len(await outbox(db, type="crm.sales.customer.erased", subject=survivor["id"])) == 1
    # a merged duplicate is erased through its survivor
    through = await client.post(f"{BASE}/{duplicate['id']}/erasure", json={"reason": REASON}, headers=PRIVACY)
    assert through.status_code == 409 and through.json()["merged_into_id"] == survivor["id"]


async def test_the_request_is_complete_when_every_service_confirmed_each_once(client, db, ids):
    customer = await create(client, ids.individual())
    url = f"{BASE}/{customer['id']}/erasure"
    erasure = (await client.post(url, json={"reason": REASON}, headers=PRIVACY)).json()
    [spec] = [s for s in CONSUMERS if s.name == "erasure-confirmations"]
    confirming = contracts.erasure_confirmation_topics()  # service -> its crm.<service>.erasure.v1
    assert sorted(spec.topics) == sorted(confirming.values())
    assert {"orders", "tickets"} <= set(confirming)

    orders = confirmation("orders", erasure["id"], customer["id"], orders=2, installed_products=1)
    assert await apply_once(db, spec.name, orders, spec.contract_checked()) == APPLIED
    assert await apply_once(db, spec.name, orders, spec.contract_checked()) == DUPLICATE  # redelivered
    # another copy of the confirmation (the service applied the erasure again): the first one counts
    again = confirmation("orders", erasure["id"], customer["id"], orders=0)
    assert await apply_once(db, spec.name, again, apply_erasure_confirmation) == APPLIED
    pending = (await client.get(url, headers=PRIVACY)).json()
    assert pending["status"] == "pending" and pending["completed_at"] is None
    assert pending["services"]["orders"]["records"] == {"orders": 2, "installed_products": 1}
    assert pending["services"]["tickets"]["confirmed_at"] is None

    # a confirmation of an erasure sales does not know changes nothing
    stray = confirmation("tickets", str(uuid.uuid4()), customer["id"], tickets=1)
    assert await apply_once(db, spec.name, stray, apply_erasure_confirmation) == APPLIED
    assert (await client.get(url, headers=PRIVACY)).json()["status"] == "pending"

    tickets = confirmation("tickets", erasure["id"], customer["id"], tickets=3, notes=1)
    assert await apply_once(db, spec.name, tickets, apply_erasure_confirmation) == APPLIED
    # every other service that confirms erasures (by the catalogue) confirms too
    for service in sorted(set(confirming) - {"orders", "tickets"}):
        assert (await client.get(url, headers=PRIVACY)).json()["status"] == "pending"
        other = confirmation(service, erasure["id"], customer["id"], records=1)
        assert await apply_once(db, spec.name, other, apply_erasure_confirmation) == APPLIED
    complete = (await client.get(url, headers=ADMIN)).json()
    assert complete["status"] == "complete" and complete["completed_at"] is not None
    assert set(complete["services"]) == {"sales", *confirming}
    assert all(s["confirmed_at"] for s in complete["services"].values())
    history = (await client.get(f"{BASE}/{customer['id']}/history", headers=PRIVACY)).json()["items"]
    assert [e["action"] for e in history[-(len(confirming) + 2) :]] == [
        "erased",
        *["erasure_confirmed"] * len(confirming),
        "erasure_completed",
    ]


async def test_a_merge_announces_the_survivor_and_when(client, db, ids):
    survivor = await create(client, ids.individual())
    duplicate = await create(client, ids.individual())
    merged = await client.post(f"{BASE}/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers=AGENT)
    assert merged.status_code == 200
    [event] = await outbox(db, subject=survivor["id"], type="crm.sales.customer.merged")
    contracts.validate(event.type, event.data)
    assert (event.data["duplicate_id"], event.data["survivor_id"]) == (duplicate["id"], survivor["id"])
    assert datetime.fromisoformat(event.data["merged_at"]) <= datetime.now(UTC)
