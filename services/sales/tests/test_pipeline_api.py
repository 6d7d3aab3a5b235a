"""The sales pipeline over REST on PostgreSQL: leads (statuses, assignment, conversion),
opportunities (stages, money, won/lost) and activities (visibility through the related record),
with their audit entries and outbox events checked against the event contracts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_contracts import events as contracts
from crm_sales.events.consumers import apply_user_event
from crm_sales.services.reassignment_service import move_customer_records
from crm_shared.auth import Principal, Role
from crm_shared.envelope import CloudEvent
from crm_shared.models import AuditEntry, OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

AGENT = PRINCIPALS["branch_agent"]  # ALA-01, KZ-75
MANAGER = PRINCIPALS["branch_manager"]  # ALA-01
REGIONAL = PRINCIPALS["regional_manager"]  # KZ-75
ADMIN = PRINCIPALS["admin"]
CALL_CENTER = PRINCIPALS["call_center_agent"]
ANALYST = PRINCIPALS["hq_analyst"]
ASTANA_AGENT = Principal("t-agent-ast", "agent.ast01", Role.BRANCH_AGENT, region="KZ-71", branch="AST-01")
COLLEAGUE_ID = "t-colleague-ala01"


def h(principal: Principal, **extra: str) -> dict[str, str]:
    return auth_headers(principal) | extra


@pytest.fixture(scope="module")
def db(sales_app):
    return sales_app.state.runtime.db


@pytest_asyncio.fixture(scope="module", autouse=True)
async def staff(db):
    """The staff directory as the gateway's user events leave it."""
    people = [
        (COLLEAGUE_ID, "colleague.ala01", "Dana Colleague", "branch_agent", "KZ-75", "ALA-01"),
        ("t-agent-ast", "agent.ast01", "Aidos Astana", "branch_agent", "KZ-71", "AST-01"),
        (AGENT.subject, AGENT.username, "Aigerim Agent", "branch_agent", "KZ-75", "ALA-01"),
    ]
    for user_id, username, full_name, role, region, branch in people:
        event = CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/gateway",
            type="crm.gateway.user.created",
            subject=user_id,
            data={
                "id": user_id,
                "username": username,
                "full_name": full_name,
                "role": role,
                "region_code": region,
                "branch_code": branch,
                "active": True,
            },
        )
        async with db.unit_of_work() as session:
            await apply_user_event(session, event)


async def events_about(db, subject: str) -> list[OutboxEvent]:
    async with db.read_only() as session:
        rows = await session.scalars(
            select(OutboxEvent).where(OutboxEvent.subject == subject).order_by(OutboxEvent.seq)
        )
        return list(rows)


async def audit_of(db, entity_type: str, entity_id: str) -> list[AuditEntry]:
    async with db.read_only() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id)
        )
        return list(rows)


def assert_contract(event: OutboxEvent) -> None:
    """The event is on its catalogued topic and its data matches the type's schema."""
    assert contracts.topic_of(event.type) == event.topic
    contracts.validate(event.type, event.data)
    assert event.dataschema == f"urn:qazaq-crm:schema:{event.type}:1"


async def new_lead(client, principal=AGENT, **overrides) -> dict:
    body = {"source": "branch_walk_in", "name": "Marat Ospanov", "phone": "8 701 555 12 34", "interest": "internet"}
    response = await client.post("/api/v1/sales/leads", json=body | overrides, headers=h(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def patch(client, path: str, record: dict, body: dict, principal=AGENT):
    return await client.patch(path, json=body, headers=h(principal, **{"If-Match": f'"{record["version"]}"'}))


async def qualified_lead(client, **overrides) -> dict:
    lead = await new_lead(client, **overrides)
    path = f"/api/v1/sales/leads/{lead['id']}"
    for status in ("contacted", "qualified"):
        response = await patch(client, path, lead, {"status": status})
        assert response.status_code == 200, response.text
        lead = response.json()
    return lead


async def new_customer(client, ids, principal=AGENT, **overrides) -> dict:
    response = await client.post("/api/v1/sales/customers", json=ids.individual(**overrides), headers=h(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def new_opportunity(client, customer_id: str, principal=AGENT, **overrides) -> dict:
    body = {"customer_id": customer_id, "name": "Fibre 500 for the office", "amount_tiyn": 1_250_000}
    response = await client.post("/api/v1/sales/opportunities", json=body | overrides, headers=h(principal))
    assert response.status_code == 201, response.text
    return response.json()


# --- leads ---------------------------------------------------------------------------------------


async def test_a_lead_is_registered_in_the_owners_branch_with_a_normalised_phone(client, db):
    lead = await new_lead(client, email="marat@example.kz")

    assert lead["phone"] == "+77015551234"
    assert (lead["status"], lead["owner_id"], lead["branch_code"], lead["region_code"]) == (
        "new",
        AGENT.subject,
        "ALA-01",
        "KZ-75",
    )
    [event] = await events_about(db, lead["id"])
    assert event.type == "crm.sales.lead.created" and event.data == lead
    assert (event.region, event.branch) == ("KZ-75", "ALA-01")
    assert_contract(event)
    [entry] = await audit_of(db, "lead", lead["id"])
    assert entry.action == "created" and entry.actor_id == AGENT.subject
    assert entry.changes["phone"] == [None, "+77015551234"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": None, "email": None}, "phone"),  # no way to contact the lead
        ({"source": "newspaper"}, "source"),
        ({"interest": "satellite"}, "interest"),
        ({"email": "not-an-address"}, "email"),
        ({"owner_id": "nobody-here"}, "owner_id"),
        ({"owner_id": "t-agent-ast"}, "owner_id"),  # another branch: outside the agent's scope
        ({"name": "   "}, "name"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_lead_input_is_a_problem_naming_the_field(client, body, field):
    base = {"source": "web", "name": "Asel", "phone": "+7 701 000 00 01", "interest": "tv"}
    response = await client.post("/api/v1/sales/leads", json=base | body, headers=h(AGENT))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in problem["errors"]]


async def test_lead_statuses_move_one_step_at_a_time_with_optimistic_concurrency(client):
    lead = await new_lead(client)
    path = f"/api/v1/sales/leads/{lead['id']}"

    skipped = await patch(client, path, lead, {"status": "qualified"})
    assert skipped.status_code == 409
    assert skipped.json()["allowed"] == ["contacted", "disqualified"]
    assert skipped.json()["errors"][0]["field"] == "status"

    missing_precondition = await client.patch(path, json={"status": "contacted"}, headers=h(AGENT))
    assert missing_precondition.status_code == 428
    contacted = await patch(client, path, lead, {"status": "contacted"})
    assert contacted.status_code == 200 and contacted.json()["version"] == lead["version"] + 1
    assert contacted.headers["ETag"] == f'"{lead["version"] + 1}"'
    stale = await patch(client, path, lead, {"status": "qualified"})  # the version read before
    assert stale.status_code == 412 and stale.json()["current_version"] == lead["version"] + 1

    by_update = await patch(client, path, contacted.json(), {"status": "converted"})
    assert by_update.status_code == 409  # only POST .../convert converts


async def test_disqualifying_needs_a_reason_and_ends_the_lead(client):
    lead = await new_lead(client)
    path = f"/api/v1/sales/leads/{lead['id']}"
    no_reason = await patch(client, path, lead, {"status": "disqualified"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "disqualify_reason"

    done = await patch(client, path, lead, {"status": "disqualified", "disqualify_reason": "already a customer"})
    assert done.status_code == 200 and done.json()["disqualify_reason"] == "already a customer"
    reopened = await patch(client, path, done.json(), {"status": "contacted"})
    assert reopened.status_code == 409 and reopened.json()["allowed"] == []


async def test_assigning_a_lead_to_a_colleague_moves_it_to_them(client, db):
    lead = await new_lead(client)
    path = f"/api/v1/sales/leads/{lead['id']}"
    assigned = await patch(client, path, lead, {"owner_id": COLLEAGUE_ID})
    assert assigned.status_code == 200
    assert (assigned.json()["owner_id"], assigned.json()["owner_name"]) == (COLLEAGUE_ID, "Dana Colleague")
    assert [e.type for e in await events_about(db, lead["id"])] == ["crm.sales.lead.created", "crm.sales.lead.assigned"]

    elsewhere = await patch(client, path, assigned.json(), {"owner_id": "t-agent-ast"})
    assert elsewhere.status_code == 422 and elsewhere.json()["errors"][0]["field"] == "owner_id"


async def test_leads_are_visible_by_branch_and_writable_only_by_writer_roles(client):
    lead = await new_lead(client, name="Visibility Check")
    path = f"/api/v1/sales/leads/{lead['id']}"

    assert (await client.get(path, headers=h(ASTANA_AGENT))).status_code == 404
    assert (await client.get(path, headers=h(REGIONAL))).status_code == 200
    assert (await client.get(path, headers=h(ANALYST))).status_code == 403  # aggregates only
    astana_list = await client.get("/api/v1/sales/leads", headers=h(ASTANA_AGENT))
    assert lead["id"] not in [item["id"] for item in astana_list.json()["items"]]
    assert (await patch(client, path, lead, {"notes": "x"}, principal=ASTANA_AGENT)).status_code == 404

    by_call_centre = await client.post(
        "/api/v1/sales/leads",
        headers=h(CALL_CENTER),
        json={"source": "call_center", "name": "Caller", "phone": "87015550000", "interest": "mobile"},
    )
    assert by_call_centre.status_code == 403


async def test_lead_list_pages_with_a_cursor_and_filters(client):
    phone = "+77019998877"
    made = [await new_lead(client, phone=phone, name=f"Paged {i}") for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"phone": "8 701 999 88 77", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/sales/leads", params=params, headers=h(AGENT))).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [lead["id"] for lead in reversed(made)]  # newest first, each once
    bad = await client.get("/api/v1/sales/leads", params={"cursor": "%%%"}, headers=h(AGENT))
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "cursor"


async def test_idempotency_key_makes_a_retried_lead_create_return_the_same_lead(client):
    body = {"source": "web", "name": "Retry Person", "email": "retry@example.kz", "interest": "bundle"}
    key = {"Idempotency-Key": f"lead-{uuid.uuid4()}"}
    first = await client.post("/api/v1/sales/leads", json=body, headers=h(AGENT, **key))
    again = await client.post("/api/v1/sales/leads", json=body, headers=h(AGENT, **key))
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    listed = await client.get("/api/v1/sales/leads", params={"source": "web"}, headers=h(AGENT))
    assert [i["id"] for i in listed.json()["items"]].count(first.json()["id"]) == 1


# --- conversion ----------------------------------------------------------------------------------


async def test_converting_a_lead_creates_the_customer_and_the_opportunity_in_one_go(client, db, ids):
    lead = await qualified_lead(client, name="Nurlan Bekov", interest="bundle")
    iin = ids.iin()
    response = await client.post(
        f"/api/v1/sales/leads/{lead['id']}/convert",
        headers=h(AGENT),
        json={
            "customer": {"kind": "individual", "iin": iin, "first_name": "Nurlan", "last_name": "Bekov"},
            "opportunity": {"amount_tiyn": 4_500_000, "expected_close_date": "2030-03-31"},
        },
    )
    assert response.status_code == 200, response.text
    result = response.json()
    customer, opportunity, converted = result["customer"], result["opportunity"], result["lead"]

    assert result["customer_created"] is True
    assert customer["iin"] == iin and customer["primary_phone"] == lead["phone"]  # the lead's phone carried over
    assert customer["branch_code"] == lead["branch_code"]
    assert (opportunity["customer_id"], opportunity["lead_id"], opportunity["stage"], opportunity["probability"]) == (
        customer["id"],
        lead["id"],
        "qualification",
        25,
    )
    assert opportunity["amount_tiyn"] == 4_500_000 and opportunity["product_line"] == "bundle"
    assert (converted["status"], converted["customer_id"], converted["opportunity_id"]) == (
        "converted",
        customer["id"],
        opportunity["id"],
    )
    assert converted["converted_at"] is not None

    events = {
        e.type: e
        for subject in (customer["id"], opportunity["id"], lead["id"])
        for e in await events_about(db, subject)
    }
    assert {"crm.sales.customer.created", "crm.sales.opportunity.created", "crm.sales.lead.converted"} <= set(events)
    for event in events.values():
        assert_contract(event)
    assert events["crm.sales.lead.converted"].data["opportunity_id"] == opportunity["id"]
    fetched = await client.get(f"/api/v1/sales/opportunities/{opportunity['id']}", headers=h(AGENT))
    assert fetched.json() == opportunity

    twice = await client.post(
        f"/api/v1/sales/leads/{lead['id']}/convert", headers=h(AGENT), json={"customer_id": customer["id"]}
    )
    assert twice.status_code == 409


async def test_a_customer_registered_by_a_conversion_belongs_to_the_leads_owner(client, db, ids):
    lead = await qualified_lead(client, name="Saule Omarova", phone=ids.mobile())  # owned by the agent
    body = {"customer": {"kind": "individual", "iin": ids.iin(), "first_name": "Saule", "last_name": "Omarova"}}
    key = {"Idempotency-Key": f"convert-{uuid.uuid4()}"}
    response = await client.post(f"/api/v1/sales/leads/{lead['id']}/convert", json=body, headers=h(MANAGER, **key))
    assert response.status_code == 200, response.text
    customer, opportunity = response.json()["customer"], response.json()["opportunity"]
    assert (
        (customer["owner_id"], customer["owner_name"])
        == (lead["owner_id"], lead["owner_name"])
        == (AGENT.subject, "Aigerim Agent")  # the staff directory's name, not the sign-in name
    )
    assert (opportunity["owner_id"], opportunity["owner_name"]) == (AGENT.subject, "Aigerim Agent")
    created = (await audit_of(db, "customer", customer["id"]))[0]
    assert (created.action, created.actor_id, created.changes["owner_id"]) == (
        "created",
        MANAGER.subject,
        [None, AGENT.subject],
    )  # the manager did it, for the agent
    event = (await events_about(db, customer["id"]))[0]
    assert event.type == "crm.sales.customer.created" and event.data["owner_id"] == AGENT.subject

    again = await client.post(f"/api/v1/sales/leads/{lead['id']}/convert", json=body, headers=h(MANAGER, **key))
    assert again.status_code == 200 and again.json() == response.json()
    assert again.headers["Idempotent-Replayed"] == "true" and again.headers["ETag"] == response.headers["ETag"]


async def test_conversion_can_link_an_existing_customer(client, db, ids):
    customer = await new_customer(client, ids)
    lead = await qualified_lead(client)
    response = await client.post(
        f"/api/v1/sales/leads/{lead['id']}/convert",
        headers=h(AGENT),
        json={"customer_id": customer["id"], "opportunity": {"name": "TV upgrade"}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["customer_created"] is False
    assert response.json()["opportunity"]["name"] == "TV upgrade"
    assert [e.type for e in await events_about(db, customer["id"])] == ["crm.sales.customer.created"]


async def test_a_failed_conversion_changes_nothing(client, db, ids):
    existing = await new_customer(client, ids)
    lead = await qualified_lead(client, phone=existing["primary_phone"])
    duplicate = await client.post(
        f"/api/v1/sales/leads/{lead['id']}/convert",
        headers=h(AGENT),
        json={"customer": {"kind": "individual", "iin": existing["iin"], "first_name": "Copy", "last_name": "Cat"}},
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["existing_customer_id"] == existing["id"]
    unchanged = (await client.get(f"/api/v1/sales/leads/{lead['id']}", headers=h(AGENT))).json()
    assert unchanged == lead
    assert [e.type for e in await events_about(db, lead["id"])][-1] == "crm.sales.lead.updated"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 422, "customer_id"),
        (
            {"customer": {"kind": "individual", "iin": "123456789012", "first_name": "A", "last_name": "B"}},
            422,
            "customer.iin",
        ),
        ({"customer_id": "no-such-customer"}, 404, "customer_id"),
        ({"customer_id": "x", "opportunity": {"amount_tiyn": 10.5}}, 422, "opportunity.amount_tiyn"),
    ],
)
async def test_conversion_input_problems_name_the_field(client, body, status, field):
    lead = await qualified_lead(client)
    response = await client.post(f"/api/v1/sales/leads/{lead['id']}/convert", json=body, headers=h(AGENT))
    assert response.status_code == status, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_only_a_qualified_lead_converts(client):
    lead = await new_lead(client)
    response = await client.post(
        f"/api/v1/sales/leads/{lead['id']}/convert", headers=h(AGENT), json={"customer_id": "whatever"}
    )
    assert response.status_code == 409
    assert response.json()["allowed"] == ["contacted", "disqualified"]


# --- opportunities -------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [1500.5, 100.0, "100.50", "12,5", True, -1])
async def test_money_is_integer_tiyn_only(client, ids, amount):
    customer = await new_customer(client, ids)
    response = await client.post(
        "/api/v1/sales/opportunities",
        headers=h(AGENT),
        json={"customer_id": customer["id"], "name": "Deal", "amount_tiyn": amount},
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "amount_tiyn"


async def test_amount_as_a_string_of_digits_is_accepted_exactly(client, ids):
    customer = await new_customer(client, ids)
    opportunity = await new_opportunity(client, customer["id"], amount_tiyn="987654321012345")
    assert opportunity["amount_tiyn"] == 987654321012345 and opportunity["currency"] == "KZT"
    too_much = await client.post(
        "/api/v1/sales/opportunities",
        headers=h(AGENT),
        json={"customer_id": customer["id"], "name": "Deal", "amount_tiyn": 10**16},
    )
    assert too_much.status_code == 422 and too_much.json()["errors"][0]["field"] == "amount_tiyn"


async def test_stages_follow_the_pipeline_and_a_win_is_announced(client, db, ids):
    customer = await new_customer(client, ids)
    opportunity = await new_opportunity(client, customer["id"])
    path = f"/api/v1/sales/opportunities/{opportunity['id']}"
    assert (opportunity["stage"], opportunity["probability"]) == ("prospecting", 10)

    jump = await patch(client, path, opportunity, {"stage": "closed_won"})
    assert jump.status_code == 409
    assert jump.json()["allowed"] == ["qualification", "closed_lost"]
    assert "qualification, closed_lost" in jump.json()["detail"]

    for stage, probability in (("qualification", 25), ("proposal", 50), ("negotiation", 75)):
        moved = await patch(client, path, opportunity, {"stage": stage})
        assert moved.status_code == 200, moved.text
        opportunity = moved.json()
        assert (opportunity["stage"], opportunity["probability"]) == (stage, probability)
    custom = await patch(client, path, opportunity, {"probability": 90, "amount_tiyn": 2_000_000})
    opportunity = custom.json()
    assert (opportunity["probability"], opportunity["amount_tiyn"]) == (90, 2_000_000)

    won = await patch(client, path, opportunity, {"stage": "closed_won", "close_reason": "best price in town"})
    assert won.status_code == 200
    opportunity = won.json()
    assert (opportunity["stage"], opportunity["probability"]) == ("closed_won", 100)
    assert opportunity["closed_at"] is not None and opportunity["close_reason"] == "best price in town"
    types = [e.type for e in await events_about(db, opportunity["id"])]
    assert types[0] == "crm.sales.opportunity.created" and types[-1] == "crm.sales.opportunity.won"
    won_event = (await events_about(db, opportunity["id"]))[-1]
    # the answer is the state the event carries plus the customer's name
    assert won_event.data == {k: v for k, v in opportunity.items() if k != "customer_name"}
    assert_contract(won_event)

    after_close = await patch(client, path, opportunity, {"name": "changed"})
    assert after_close.status_code == 409
    assert [e.action for e in await audit_of(db, "opportunity", opportunity["id"])][-1] == "won"


async def test_losing_needs_a_reason(client, db, ids):
    customer = await new_customer(client, ids)
    opportunity = await new_opportunity(client, customer["id"], stage="proposal")
    path = f"/api/v1/sales/opportunities/{opportunity['id']}"
    no_reason = await patch(client, path, opportunity, {"stage": "closed_lost"})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "close_reason"
    blank = await patch(client, path, opportunity, {"stage": "closed_lost", "close_reason": "   "})
    assert blank.status_code == 422

    lost = await patch(client, path, opportunity, {"stage": "closed_lost", "close_reason": "went to a competitor"})
    assert lost.status_code == 200
    assert (lost.json()["stage"], lost.json()["probability"]) == ("closed_lost", 0)
    assert (await events_about(db, opportunity["id"]))[-1].type == "crm.sales.opportunity.lost"


async def test_an_opportunity_needs_a_customer_the_caller_can_see(client, ids):
    astana_customer = await new_customer(client, ids, principal=ADMIN, branch_code="AST-01")
    hidden = await client.post(
        "/api/v1/sales/opportunities",
        headers=h(AGENT),
        json={"customer_id": astana_customer["id"], "name": "Sneaky", "amount_tiyn": 1},
    )
    assert hidden.status_code == 404 and hidden.json()["errors"][0]["field"] == "customer_id"

    opportunity = await new_opportunity(client, astana_customer["id"], principal=ASTANA_AGENT)
    assert (opportunity["branch_code"], opportunity["owner_id"]) == ("AST-01", ASTANA_AGENT.subject)
    assert (await client.get(f"/api/v1/sales/opportunities/{opportunity['id']}", headers=h(AGENT))).status_code == 404
    mine = await client.get("/api/v1/sales/opportunities", params={"state": "open"}, headers=h(AGENT))
    assert opportunity["id"] not in [o["id"] for o in mine.json()["items"]]
    national = await client.get(
        "/api/v1/sales/opportunities", params={"customer_id": astana_customer["id"]}, headers=h(ADMIN)
    )
    assert [o["id"] for o in national.json()["items"]] == [opportunity["id"]]


async def test_an_opportunity_does_not_open_closed(client, ids):
    customer = await new_customer(client, ids)
    response = await client.post(
        "/api/v1/sales/opportunities",
        headers=h(AGENT),
        json={"customer_id": customer["id"], "name": "Won already", "stage": "closed_won"},
    )
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "stage"


# --- activities ----------------------------------------------------------------------------------


async def test_activities_follow_the_visibility_of_their_record(client, db, ids):
    customer = await new_customer(client, ids)
    call = await client.post(
        "/api/v1/sales/activities",
        headers=h(AGENT),
        json={
            "kind": "meeting",
            "related_type": "customer",
            "related_id": customer["id"],
            "subject": "Asked about TV",
            "done_at": "2030-01-15T09:30:00+05:00",
            "outcome": "sends a quote",
        },
    )
    assert call.status_code == 201, call.text
    activity = call.json()
    assert (activity["branch_code"], activity["owner_id"]) == ("ALA-01", AGENT.subject)
    assert activity["done_at"] == "2030-01-15T04:30:00Z"
    [event] = await events_about(db, activity["id"])
    assert event.type == "crm.sales.activity.created" and event.branch == "ALA-01"
    assert_contract(event)

    path = f"/api/v1/sales/activities/{activity['id']}"
    assert (await client.get(path, headers=h(ASTANA_AGENT))).status_code == 404
    assert (await client.get(path, headers=h(MANAGER))).status_code == 200
    timeline = await client.get(
        "/api/v1/sales/activities", headers=h(AGENT), params={"related_type": "customer", "related_id": customer["id"]}
    )
    assert [a["id"] for a in timeline.json()["items"]] == [activity["id"]]
    hidden_timeline = await client.get(
        "/api/v1/sales/activities",
        headers=h(ASTANA_AGENT),
        params={"related_type": "customer", "related_id": customer["id"]},
    )
    assert hidden_timeline.status_code == 404
    everything_visible = await client.get("/api/v1/sales/activities", headers=h(ASTANA_AGENT), params={"limit": 200})
    assert activity["id"] not in [a["id"] for a in everything_visible.json()["items"]]


async def test_an_activity_on_a_record_the_caller_cannot_see_is_404(client, ids):
    astana_lead = await new_lead(client, principal=ASTANA_AGENT, name="Astana Lead")
    for related_type, related_id in (("lead", astana_lead["id"]), ("customer", str(uuid.uuid4()))):
        response = await client.post(
            "/api/v1/sales/activities",
            headers=h(AGENT),
            json={"kind": "task", "related_type": related_type, "related_id": related_id, "subject": "Follow up"},
        )
        assert response.status_code == 404
        assert response.json()["errors"][0]["field"] == "related_id"


async def test_an_external_system_logs_activities_only_with_the_sales_activities_scope(client, ids):
    customer = await new_customer(client, ids)
    body = {"kind": "note", "related_type": "customer", "related_id": customer["id"], "subject": "IVR menu chosen"}
    reader = Principal("k-ivr-1", "key:ivr", Role.SYSTEM, scopes=("sales:read",))
    logger = Principal("k-ivr-2", "key:ivr2", Role.SYSTEM, scopes=("sales:read", "sales:activities"))
    assert (await client.post("/api/v1/sales/activities", headers=h(reader), json=body)).status_code == 403
    assert (await client.post("/api/v1/sales/activities", headers=h(logger), json=body)).status_code == 201


async def test_the_call_centre_logs_interactions_on_customers_but_changes_nothing_else(client, ids):
    customer = await new_customer(client, ids)
    logged = await client.post(
        "/api/v1/sales/activities",
        headers=h(CALL_CENTER),
        json={
            "kind": "note",
            "related_type": "customer",
            "related_id": customer["id"],
            "subject": "Inbound: no signal",
            "body": "router restarted together, works now",
            "done_at": datetime.now(UTC).isoformat(),
        },
    )
    assert logged.status_code == 201, logged.text
    assert logged.json()["owner_id"] == CALL_CENTER.subject
    fix = await patch(
        client,
        f"/api/v1/sales/activities/{logged.json()['id']}",
        logged.json(),
        {"outcome": "resolved"},
        principal=CALL_CENTER,
    )
    assert fix.status_code == 200 and fix.json()["outcome"] == "resolved"

    lead = await new_lead(client)
    on_lead = await client.post(
        "/api/v1/sales/activities",
        headers=h(CALL_CENTER),
        json={"kind": "task", "related_type": "lead", "related_id": lead["id"], "subject": "Call the lead back"},
    )
    assert on_lead.status_code == 403
    by_analyst = await client.post(
        "/api/v1/sales/activities",
        headers=h(ANALYST),
        json={"kind": "note", "related_type": "customer", "related_id": customer["id"], "subject": "Note"},
    )
    assert by_analyst.status_code == 403


async def test_completing_a_task_is_announced(client, db, ids):
    customer = await new_customer(client, ids)
    opportunity = await new_opportunity(client, customer["id"])
    task = (
        await client.post(
            "/api/v1/sales/activities",
            headers=h(AGENT),
            json={
                "kind": "task",
                "related_type": "opportunity",
                "related_id": opportunity["id"],
                "subject": "Send the quote",
                "due_at": "2030-02-01T12:00:00Z",
            },
        )
    ).json()
    assert task["done_at"] is None
    open_tasks = await client.get(
        "/api/v1/sales/activities",
        headers=h(AGENT),
        params={"related_type": "opportunity", "related_id": opportunity["id"], "state": "open"},
    )
    assert [a["id"] for a in open_tasks.json()["items"]] == [task["id"]]
    naive = await patch(client, f"/api/v1/sales/activities/{task['id']}", task, {"done_at": "2030-02-01T10:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "done_at"
    done = await patch(
        client,
        f"/api/v1/sales/activities/{task['id']}",
        task,
        {"done_at": "2030-02-01T10:00:00Z", "outcome": "quote sent"},
    )
    assert done.status_code == 200
    assert [e.type for e in await events_about(db, task["id"])] == [
        "crm.sales.activity.created",
        "crm.sales.activity.completed",
    ]


async def test_a_merge_moves_the_pipeline_records_to_the_survivor(client, db, ids):
    survivor, duplicate = await new_customer(client, ids), await new_customer(client, ids)
    opportunity = await new_opportunity(client, duplicate["id"])
    activity = (
        await client.post(
            "/api/v1/sales/activities",
            headers=h(AGENT),
            json={
                "kind": "note",
                "related_type": "customer",
                "related_id": duplicate["id"],
                "subject": "Prefers e-mail",
            },
        )
    ).json()
    lead = await qualified_lead(client)
    converted = await client.post(
        f"/api/v1/sales/leads/{lead['id']}/convert", headers=h(AGENT), json={"customer_id": duplicate["id"]}
    )
    merged = await client.post(
        f"/api/v1/sales/customers/{survivor['id']}/merge", headers=h(AGENT), json={"duplicate_id": duplicate["id"]}
    )
    assert converted.status_code == merged.status_code == 200  # the merge moved them in its transaction

    async with db.unit_of_work() as session:
        assert await move_customer_records(session, AGENT, duplicate["id"], survivor["id"]) == {
            "lead": 0,
            "opportunity": 0,
            "activity": 0,
        }  # nothing left behind

    for path in (f"/api/v1/sales/opportunities/{opportunity['id']}", f"/api/v1/sales/leads/{lead['id']}"):
        record = (await client.get(path, headers=h(AGENT))).json()
        assert record["customer_id"] == survivor["id"]
    timeline = await client.get(
        "/api/v1/sales/activities", headers=h(AGENT), params={"related_type": "customer", "related_id": survivor["id"]}
    )
    assert [a["id"] for a in timeline.json()["items"]] == [activity["id"]]
    last = (await events_about(db, opportunity["id"]))[-1]
    assert last.type == "crm.sales.opportunity.updated" and last.data["customer_id"] == survivor["id"]
    assert_contract(last)
    assert (await audit_of(db, "activity", activity["id"]))[-1].changes == {
        "related_id": [duplicate["id"], survivor["id"]]
    }


async def test_leads_and_opportunities_export_as_csv_with_their_filters_within_visibility(client, ids):
    import csv
    import io

    def rows_of(response) -> list[dict]:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))

    lead = await new_lead(client, name="Экспорт Лидов", phone="8 702 555 77 01")
    params = {"phone": "+7 702 555 77 01"}
    listed = await client.get("/api/v1/sales/leads", params=params, headers=h(AGENT))
    exported = rows_of(await client.get("/api/v1/sales/leads/export", params=params, headers=h(AGENT)))
    assert [r["id"] for r in exported] == [x["id"] for x in listed.json()["items"]]
    assert lead["id"] in [r["id"] for r in exported] and "Экспорт Лидов" in [r["name"] for r in exported]
    assert rows_of(await client.get("/api/v1/sales/leads/export", params=params, headers=h(ASTANA_AGENT))) == []
    refused = await client.get("/api/v1/sales/leads/export", headers=h(ANALYST))
    assert refused.status_code == 403

    customer = await new_customer(client, ids)
    opportunity = await new_opportunity(client, customer["id"])
    params = {"customer_id": customer["id"]}
    exported = rows_of(await client.get("/api/v1/sales/opportunities/export", params=params, headers=h(AGENT)))
    assert [(r["id"], r["amount_tiyn"]) for r in exported] == [(opportunity["id"], "1250000")]
    assert rows_of(await client.get("/api/v1/sales/opportunities/export", params=params, headers=h(ASTANA_AGENT))) == []
