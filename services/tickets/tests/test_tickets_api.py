"""Tickets on PostgreSQL with the real sales gRPC server: the call-centre flow, the workflow
with a pause while pending, SLA breach and escalation driven by the test's clock (and a
restarted scheduler that does not escalate twice), a mass incident linking and resolving many
tickets, bad input, and who sees what."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_shared.auth import Principal, Role
from crm_shared.consumer import apply_once
from crm_shared.db import Database
from crm_shared.models import OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers
from crm_tickets.db.models import SlaSignal, Ticket
from crm_tickets.events.consumers import apply_installed_product_event
from crm_tickets.services.sla_service import scan_once
from crm_tickets.testing import installed_product_data, installed_product_event

pytestmark = pytest.mark.integration

T = "/api/v1/tickets"
OSS = Principal(
    "apikey-oss",
    "Network OSS",
    Role.SYSTEM,
    scopes=("tickets:read", "tickets:write", "tickets:incidents", "sales:read"),
)
OTHER_OSS = Principal(
    "apikey-oss-2",
    "Other OSS",
    Role.SYSTEM,
    scopes=("tickets:read", "tickets:write", "tickets:incidents", "sales:read"),
)


def as_(role: str) -> dict[str, str]:
    return auth_headers(OSS if role == "oss" else OTHER_OSS if role == "other_oss" else PRINCIPALS[role])


@pytest.fixture(scope="module")
async def db(tickets_database):
    database = Database(tickets_database)
    yield database
    await database.dispose()


async def open_ticket(client, customer_id: str, role: str = "call_center_agent", **fields) -> dict:
    body = {
        "customer_id": customer_id,
        "name": "No internet",
        "description": "Router shows red light",
        "category": "internet",
        "priority": "medium",
    } | fields
    response = await client.post(f"{T}/tickets", json=body, headers=as_(role))
    assert response.status_code == 201, response.text
    return response.json()


async def move(client, ticket_id: str, status: str, reason: str | None = None, role: str = "branch_agent") -> dict:
    response = await client.post(
        f"{T}/tickets/{ticket_id}/transitions", json={"status": status, "reason": reason}, headers=as_(role)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_call_centre_flow(client, make_customer, db, clock):
    customer = await make_customer()
    product_id = "11111111-0000-4000-8000-" + customer["id"][-12:]
    event = installed_product_event(
        "created",
        installed_product_data(
            customer["id"],
            product_id=product_id,
            offering_name="Home Internet 100",
            service_address="Almaty, Abai ave 10",
            at=clock.now,
        ),
    )
    assert await apply_once(db, "installed-products", event, apply_installed_product_event) == "applied"

    # the caller's number as they say it; the call-centre agent sees the IIN masked
    typed = (
        f"8 ({customer['phone_e164'][2:5]}) {customer['phone_e164'][5:8]}-{customer['phone_e164'][8:10]}-"
        f"{customer['phone_e164'][10:]}"
    )
    found = await client.get(f"{T}/callers", params={"phone": typed}, headers=as_("call_center_agent"))
    assert found.status_code == 200, found.text
    [card] = found.json()["items"]
    assert card["customer"]["id"] == customer["id"]
    assert card["customer"]["iin_bin_masked"] and card["customer"]["iin_bin"].endswith(customer["iin"][-4:])
    assert card["customer"]["iin_bin"] != customer["iin"]
    assert card["open_tickets"] == [] and [p["id"] for p in card["installed_products"]] == [product_id]

    call = await client.post(
        f"{T}/interactions", json={"customer_id": customer["id"]}, headers=as_("call_center_agent")
    )
    assert call.status_code == 201, call.text
    ticket = await open_ticket(
        client,
        customer["id"],
        installed_product_id=product_id,
        interaction_id=call.json()["id"],
        note="customer already rebooted the router",
    )
    assert ticket["status"] == "new" and ticket["queue"] == "ALA-01.technical"
    assert ticket["branch_code"] == "ALA-01" and ticket["location"] == "Almaty, Abai ave 10"
    # medium/individual: 4 working hours to respond, from 10:00 on a Monday
    assert ticket["sla"]["response_due_at"] == "2026-03-02T09:00:00Z"

    # the next call: the open ticket is on the card; a note is one request
    clock.advance(minutes=5)
    card = (
        await client.get(f"{T}/callers", params={"phone": customer["phone_e164"]}, headers=as_("call_center_agent"))
    ).json()["items"][0]
    assert [t["id"] for t in card["open_tickets"]] == [ticket["id"]]
    note = await client.post(
        f"{T}/tickets/{ticket['id']}/notes",
        json={"text": "called again", "visibility": "customer"},
        headers=as_("call_center_agent"),
    )
    assert note.status_code == 201, note.text
    ended = await client.post(
        f"{T}/interactions/{call.json()['id']}/end", json={"outcome": "ticket_opened"}, headers=as_("call_center_agent")
    )
    assert ended.status_code == 200 and ended.json()["ticket_id"] == ticket["id"]
    full = (await client.get(f"{T}/tickets/{ticket['id']}", headers=as_("branch_agent"))).json()
    assert [n["text"] for n in full["notes"]] == ["customer already rebooted the router", "called again"]
    logged = (
        await client.get(f"{T}/interactions", params={"customer_id": customer["id"]}, headers=as_("branch_agent"))
    ).json()["items"]
    assert logged[0]["outcome"] == "ticket_opened" and logged[0]["ended_at"] is not None
    clock.advance(minutes=-5)


async def test_bad_input_is_a_clear_4xx_and_nothing_is_written(client, make_customer, db):
    customer = await make_customer()
    other = await make_customer()
    async with db.read_only() as session:
        before = await session.scalar(select(func.count()).select_from(Ticket))
    cases = [
        # unknown (or invisible) to the caller in sales: 404 naming the field (crm_shared.clients.sales)
        ({"customer_id": "00000000-0000-4000-8000-000000000000"}, 404, "customer_id"),
        (
            {"customer_id": customer["id"], "installed_product_id": "11111111-0000-4000-8000-" + other["id"][-12:]},
            422,
            "installed_product_id",
        ),
        ({"customer_id": customer["id"], "description": "x" * 4001}, 422, "description"),
        ({"customer_id": customer["id"], "category": "weather"}, 422, "category"),
        ({"customer_id": customer["id"], "name": None}, 422, "name"),
    ]
    for override, status, field in cases:
        body = {"name": "n", "description": "d", "category": "internet"} | override
        response = await client.post(f"{T}/tickets", json=body, headers=as_("call_center_agent"))
        assert response.status_code == status, (override, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], response.json()
    async with db.read_only() as session:
        assert await session.scalar(select(func.count()).select_from(Ticket)) == before

    ticket = await open_ticket(client, customer["id"])
    illegal = await client.post(
        f"{T}/tickets/{ticket['id']}/transitions", json={"status": "closed"}, headers=as_("branch_agent")
    )
    assert illegal.status_code == 409
    assert illegal.json()["allowed_transitions"] == ["acknowledged", "in_progress", "resolved", "cancelled"]
    await move(client, ticket["id"], "cancelled", "duplicate call")
    closed_note = await client.post(
        f"{T}/tickets/{ticket['id']}/notes", json={"text": "late"}, headers=as_("branch_agent")
    )
    assert closed_note.status_code == 409


async def test_workflow_with_a_pause_while_pending(client, make_customer, clock):
    customer = await make_customer()
    ticket = await open_ticket(client, customer["id"], priority="high")  # 2h / 9 working hours
    assert ticket["sla"]["resolution_due_at"] == "2026-03-03T05:00:00Z"  # next day 10:00 Almaty
    clock.advance(minutes=30)
    acknowledged = await move(client, ticket["id"], "acknowledged")
    assert acknowledged["sla"]["response_state"] == "met"
    await move(client, ticket["id"], "in_progress")
    await move(client, ticket["id"], "pending", "waiting for the customer to be at home")
    clock.advance(hours=3)  # three working hours pending: the clock stands still
    resumed = await move(client, ticket["id"], "in_progress")
    assert resumed["sla"]["resolution_due_at"] == "2026-03-03T08:00:00Z"
    assert resumed["sla"]["paused_at"] is None
    await move(client, ticket["id"], "resolved", "line repaired")
    await move(client, ticket["id"], "closed")
    history = (await client.get(f"{T}/tickets/{ticket['id']}/history", headers=as_("branch_agent"))).json()["items"]
    assert [h["to_status"] for h in history] == [
        "new",
        "acknowledged",
        "in_progress",
        "pending",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert history[3]["reason"] == "waiting for the customer to be at home"
    assert history[1]["actor_id"] == PRINCIPALS["branch_agent"].subject
    clock.advance(hours=-3, minutes=-30)


async def test_sla_breach_escalation_and_a_restart_that_does_not_escalate_twice(client, make_customer, db, clock):
    start = clock.now
    customer = await make_customer()
    ticket = await open_ticket(client, customer["id"], priority="high")
    # 80% of the 2h response target gone: about to breach
    clock.advance(hours=1, minutes=40)
    await scan_once(db, clock.now)
    state = (await client.get(f"{T}/tickets/{ticket['id']}", headers=as_("branch_agent"))).json()
    assert state["sla"]["response_state"] == "at_risk" and state["sla"]["escalation_level"] == 0
    # past the response target: breached, escalated to the branch manager
    clock.advance(minutes=30)
    first = await scan_once(db, clock.now)
    state = (await client.get(f"{T}/tickets/{ticket['id']}", headers=as_("branch_agent"))).json()
    assert state["sla"]["response_state"] == "breached" and state["sla"]["escalation_level"] == 1
    assert first.signals >= 2
    # a scheduler restarted at the same moment (a second scan) raises nothing again
    again = await scan_once(db, clock.now)
    assert again.signals == 0
    # far behind: the next pass, days later, breaches the resolution and reaches the regional manager at once
    clock.now = start.replace(day=6)
    await scan_once(db, clock.now, batch_size=1)
    async with db.read_only() as session:
        kinds = sorted(await session.scalars(select(SlaSignal.kind).where(SlaSignal.ticket_id == ticket["id"])))
        events = list(
            await session.scalars(
                select(OutboxEvent.type).where(OutboxEvent.subject == ticket["id"]).order_by(OutboxEvent.seq)
            )
        )
    assert kinds == ["escalated_1", "escalated_2", "resolution_breached", "response_at_risk", "response_breached"]
    assert events.count("crm.tickets.ticket.escalated") == 2
    assert events.count("crm.tickets.ticket.sla_breached") == 2
    assert (await scan_once(db, clock.now)).signals == 0
    clock.now = start


async def test_mass_incident_links_and_resolves_many_tickets(client, make_customer, db):
    customers = [await make_customer() for _ in range(12)]
    before = [await open_ticket(client, c["id"], category="internet") for c in customers[:4]]
    billing = await open_ticket(client, customers[4]["id"], category="billing")
    created = await client.post(
        f"{T}/incidents",
        headers=as_("oss"),
        json={
            "title": "Fibre cut in Medeu",
            "description": "Backbone cable damaged",
            "region_code": "KZ-75",
            "branch_code": "ALA-01",
            "categories": ["internet"],
            "external_reference": "OSS-4711",
        },
    )
    assert created.status_code == 201, created.text
    incident = created.json()
    assert incident["linked_tickets"] >= 4 and incident["owner_id"] == OSS.subject
    # a new call about the internet is linked at once and the caller is told
    told = await open_ticket(client, customers[5]["id"], category="internet")
    assert told["incident_id"] == incident["id"] and told["known_outage"]["incident_id"] == incident["id"]
    # OSS attaches every affected customer: those with an open ticket are linked, the others get one
    attached = await client.post(
        f"{T}/incidents/{incident['id']}/affected-customers",
        headers=as_("oss"),
        json={"customer_ids": [c["id"] for c in customers] + ["nobody"]},
    )
    assert attached.status_code == 200, attached.text
    result = attached.json()
    assert (
        len(result["created_ticket_ids"]) == 7
    )  # the billing caller gets an internet ticket too and result["unknown_customer_ids"] == ["nobody"]
    # the OSS key sees the tickets it opened, not the others
    mine = (
        await client.get(f"{T}/tickets", params={"incident_id": incident["id"], "limit": 200}, headers=as_("oss"))
    ).json()["items"]
    assert {t["id"] for t in mine} == set(result["created_ticket_ids"])
    assert (await client.get(f"{T}/tickets/{before[0]['id']}", headers=as_("oss"))).status_code == 404
    assert (await client.get(f"{T}/incidents/{incident['id']}", headers=as_("other_oss"))).status_code == 404

    resolved = await client.post(
        f"{T}/incidents/{incident['id']}/resolve", headers=as_("oss"), json={"resolution": "cable spliced"}
    )
    assert resolved.status_code == 200, resolved.text
    linked = (
        await client.get(f"{T}/tickets", params={"incident_id": incident["id"], "limit": 200}, headers=as_("admin"))
    ).json()["items"]
    assert len(linked) == resolved.json()["resolved_tickets"] >= 12
    assert all(t["status"] == "resolved" and t["status_change_reason"].startswith("incident resolved") for t in linked)
    unrelated = (await client.get(f"{T}/tickets/{billing['id']}", headers=as_("admin"))).json()
    assert unrelated["status"] == "new" and unrelated["incident_id"] is None
    async with db.read_only() as session:
        types = list(await session.scalars(select(OutboxEvent.type).where(OutboxEvent.subject == incident["id"])))
    assert types == ["crm.tickets.incident.created", "crm.tickets.incident.resolved"]
    again = await client.post(f"{T}/incidents/{incident['id']}/resolve", headers=as_("oss"), json={"resolution": "x"})
    assert again.status_code == 409


@pytest.mark.parametrize(
    "role, sees, writes",
    [
        ("admin", True, True),
        ("branch_agent", True, True),
        ("branch_manager", True, True),
        ("regional_manager", True, True),
        ("call_center_agent", True, True),
        ("hq_analyst", False, False),
        ("privacy_officer", True, False),
        ("karaganda_agent", False, False),
        ("oss", False, False),
    ],
)
async def test_authorization_matrix(client, make_customer, role, sees, writes):
    customer = await make_customer()
    ticket = await open_ticket(client, customer["id"])
    principal = (
        Principal("t-kar", "agent.kar01", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01")
        if role == "karaganda_agent"
        else None
    )
    headers = auth_headers(principal) if principal else as_(role)
    read = await client.get(f"{T}/tickets/{ticket['id']}", headers=headers)
    assert read.status_code == (200 if sees else 403 if role == "hq_analyst" else 404)
    note = await client.post(f"{T}/tickets/{ticket['id']}/notes", json={"text": "hi"}, headers=headers)
    assert note.status_code == (201 if writes else 403 if role in ("hq_analyst", "privacy_officer") else 404)
    listed = await client.get(f"{T}/tickets", params={"customer_id": customer["id"]}, headers=headers)
    if role == "hq_analyst":
        assert listed.status_code == 403
    else:
        assert [t["id"] for t in listed.json()["items"]] == ([ticket["id"]] if sees else [])


async def test_every_event_written_matches_its_catalogued_schema(db):
    import jsonschema

    from crm_contracts import events

    async with db.read_only() as session:
        written = list(await session.scalars(select(OutboxEvent)))
    assert {e.type for e in written} >= {
        "crm.tickets.ticket.created",
        "crm.tickets.ticket.escalated",
        "crm.tickets.incident.resolved",
        "crm.tickets.interaction.ended",
    }
    for event in written:
        assert event.topic == events.topic_of(event.type)
        jsonschema.Draft202012Validator(events.schema_for(event.type)).validate(event.data)


async def test_q_finds_a_ticket_by_number_or_words_and_never_returns_everything(client, make_customer):
    customer = await make_customer(first_name="Сәуле", last_name="Жұмабекова")
    wanted = await open_ticket(client, customer["id"], name="Телевизор не показывает каналы")
    other = await open_ticket(client, customer["id"], name="Slow internet in the evening")

    async def found(q: str) -> list[str]:
        response = await client.get(f"{T}/tickets", params={"q": q, "limit": 200}, headers=as_("admin"))
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    number = wanted["id"][:8]
    for q in (number, f"#{number.upper()}", f"№ {number}", wanted["id"]):
        assert await found(q) == [wanted["id"]], q
    assert await found("ТЕЛЕВИЗОР каналы") == [wanted["id"]]
    assert set(await found("жұмабекова")) >= {wanted["id"], other["id"]}
    assert await found("no such words here") == []
    short = await client.get(f"{T}/tickets", params={"q": "x"}, headers=as_("admin"))
    assert short.status_code == 422 and short.json()["errors"][0]["field"] == "q"


async def test_a_ticket_opened_in_a_contact_logs_the_contact_once(client, make_customer):
    customer = await make_customer()

    async def contacts() -> list[dict]:
        listed = await client.get(f"{T}/interactions", params={"customer_id": customer["id"]}, headers=as_("admin"))
        assert listed.status_code == 200, listed.text
        return listed.json()["items"]

    # opened from the 360 view, no call logged: the call is logged with the ticket, already ended
    first = await open_ticket(client, customer["id"], role="branch_agent")
    [logged] = await contacts()
    assert (logged["ticket_id"], logged["outcome"], logged["channel"]) == (first["id"], "ticket_opened", "phone")
    assert logged["ended_at"] is not None

    # opened during the agent's call: that call is the contact, nothing is logged twice
    call = await client.post(
        f"{T}/interactions", json={"customer_id": customer["id"]}, headers=as_("call_center_agent")
    )
    assert call.status_code == 201, call.text
    second = await open_ticket(client, customer["id"], role="call_center_agent")
    assert len(await contacts()) == 2
    ongoing = next(i for i in await contacts() if i["id"] == call.json()["id"])
    assert ongoing["ticket_id"] == second["id"] and ongoing["ended_at"] is None

    # a system reporting a fault opens no contact
    await open_ticket(client, customer["id"], role="oss", channel="oss")
    assert len(await contacts()) == 2


async def test_the_ticket_list_exports_as_csv_with_its_filters_within_reach(client, make_customer):
    import csv
    import io

    customer = await make_customer(first_name="Экспорт", last_name="Тикетова")
    opened = [await open_ticket(client, customer["id"], name=f"Export check {n}") for n in range(3)]

    def rows_of(response) -> list[dict]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))

    params = {"customer_id": customer["id"]}
    listed = await client.get(f"{T}/tickets", params=params | {"limit": 200}, headers=as_("branch_agent"))
    exported = rows_of(await client.get(f"{T}/tickets/export", params=params, headers=as_("branch_agent")))
    assert [r["id"] for r in exported] == [t["id"] for t in listed.json()["items"]]
    assert {t["id"] for t in opened} <= {r["id"] for r in exported}
    assert {r["customer_name"] for r in exported} == {"Тикетова Экспорт"}
    by_number = rows_of(
        await client.get(f"{T}/tickets/export", params={"q": opened[0]["id"][:8]}, headers=as_("branch_agent"))
    )
    assert [r["id"] for r in by_number] == [opened[0]["id"]]
    # outside the caller's reach: an empty file, as the list is empty
    other_branch = auth_headers(Principal("t-kar", "agent.kar01", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01"))
    assert rows_of(await client.get(f"{T}/tickets/export", params=params, headers=other_branch)) == []


async def test_a_partner_user_sees_only_the_tickets_of_the_customers_its_partner_brought(
    client, db, make_customer, sales_service
):
    from crm_shared.consumer import apply_once
    from crm_shared.testing import bring_customer, partner_deal_approved, partner_principal
    from crm_tickets.events.consumers import CONSUMERS

    spec = next(s for s in CONSUMERS if s.name == "partner-customers")
    brought, other = await make_customer(), await make_customer()
    ours, theirs = await open_ticket(client, brought["id"]), await open_ticket(client, other["id"])
    await apply_once(db, spec.name, partner_deal_approved(brought["id"], "p-tk-1"), spec.contract_checked())
    partner = auth_headers(partner_principal("p-tk-1"))
    stranger = auth_headers(partner_principal("p-tk-2"))
    assert (await client.get(f"{T}/tickets/{ours['id']}", headers=partner)).status_code == 200
    assert (await client.get(f"{T}/tickets/{theirs['id']}", headers=partner)).status_code == 404
    assert (await client.get(f"{T}/tickets/{ours['id']}", headers=stranger)).status_code == 404
    listed = (await client.get(f"{T}/tickets", headers=partner)).json()["items"]
    assert {t["customer_id"] for t in listed} == {brought["id"]}
    assert (
        await client.post(f"{T}/tickets/{ours['id']}/notes", json={"text": "x"}, headers=partner)
    ).status_code == 403

    # it opens a ticket for its customer (sales shows it that customer only), on its portal's channel
    await bring_customer(sales_service["database_url"], brought["id"], "p-tk-1")
    body = {"customer_id": brought["id"], "name": "No internet", "description": "red light", "category": "internet"}
    opened = await client.post(f"{T}/tickets", json=body | {"channel": "phone"}, headers=partner)
    assert opened.status_code == 201, opened.text
    assert opened.json()["channel"] == "self_service"
    assert opened.json()["customer_id"] == brought["id"]
    listed = (await client.get(f"{T}/tickets", headers=partner)).json()["items"]
    assert {t["id"] for t in listed} == {ours["id"], opened.json()["id"]}
    assert (await client.get(f"{T}/tickets/{opened.json()['id']}", headers=stranger)).status_code == 404
    # for a customer it did not bring, or by another partner's user: the customer is not found
    refused = await client.post(f"{T}/tickets", json=body | {"customer_id": other["id"]}, headers=partner)
    assert refused.status_code == 404, refused.text
    assert (await client.post(f"{T}/tickets", json=body, headers=stranger)).status_code == 404
    # nor with an internal note or a call of the branch's
    noted = await client.post(f"{T}/tickets", json=body | {"note": "internal"}, headers=partner)
    assert noted.status_code == 403, noted.text
