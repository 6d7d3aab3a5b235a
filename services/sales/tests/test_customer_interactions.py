"""Every contact logged once (docs/interactions.md): sales refuses call activities, keeps a copy
of the tickets service's interactions (the customer-interactions consumer, on the real broker)
that the customer's card shows and that follows sales' merges and erasures, and hands the call
activities logged before over to tickets once (crm.sales.activity.handed_over)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_contracts import events as contracts
from crm_sales.db.pipeline_models import Activity
from crm_sales.events.consumers import CONSUMERS, apply_interaction_event
from crm_sales.services.call_handover_service import hand_over_calls
from crm_shared.auth import Principal
from crm_shared.envelope import CloudEvent
from crm_shared.models import AuditEntry, OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers, publish_events, running_consumer

pytestmark = pytest.mark.integration

AGENT = PRINCIPALS["branch_agent"]  # ALA-01
ASTANA_AGENT = Principal("t-ast", "agent.ast01", AGENT.role, region="KZ-71", branch="AST-01")
CALL_CENTER = PRINCIPALS["call_center_agent"]
PRIVACY = PRINCIPALS["privacy_officer"]
CUSTOMERS = "/api/v1/sales/customers"


def h(principal: Principal, **extra: str) -> dict[str, str]:
    return auth_headers(principal) | extra


async def new_customer(client, ids) -> dict:
    response = await client.post(CUSTOMERS, json=ids.individual(), headers=h(AGENT))
    assert response.status_code == 201, response.text
    return response.json()


def interaction(customer_id: str, **overrides) -> dict:
    started = datetime.now(UTC).replace(microsecond=0)
    state = {
        "id": str(uuid.uuid4()),
        "version": 1,
        "customer_id": customer_id,
        "channel": "phone",
        "direction": "inbound",
        "started_at": started.isoformat(),
        "ended_at": None,
        "outcome": None,
        "summary": "No signal since the morning",
        "ticket_id": None,
        "agent_id": CALL_CENTER.subject,
        "agent_name": "Aliya Call-Centre",
        "branch_code": "ALA-01",
        "region_code": "KZ-75",
    }
    return state | overrides


def interaction_event(action: str, state: dict) -> CloudEvent:
    type_ = f"crm.tickets.interaction.{action}"
    contracts.validate(type_, state)  # what tickets emits
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/tickets", type=type_, subject=state["id"], data=state, time=datetime.now(UTC)
    )


async def contacts_of(client, customer_id: str, principal: Principal = AGENT):
    return await client.get(f"{CUSTOMERS}/{customer_id}/interactions", headers=h(principal))


def test_sales_keeps_a_copy_of_tickets_interactions():
    consumers = {spec.name: spec.topics for spec in CONSUMERS}
    assert consumers["customer-interactions"] == ["crm.tickets.interaction.v1"]


async def test_a_call_is_refused_as_an_activity_and_pointed_to_the_interactions_api(client, ids):
    customer = await new_customer(client, ids)
    for principal in (AGENT, CALL_CENTER):
        refused = await client.post(
            "/api/v1/sales/activities",
            headers=h(principal),
            json={
                "kind": "call",
                "related_type": "customer",
                "related_id": customer["id"],
                "subject": "Asked about TV",
            },
        )
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["field"] == "kind" and "/api/v1/tickets/interactions" in error["message"]
    note = await client.post(
        "/api/v1/sales/activities",
        headers=h(AGENT),
        json={"kind": "note", "related_type": "customer", "related_id": customer["id"], "subject": "Prefers e-mail"},
    )
    assert note.status_code == 201, note.text


async def test_the_card_shows_the_latest_state_of_each_contact_once(client, db, broker_settings, topic, ids):
    customer = await new_customer(client, ids)
    started = interaction(customer["id"])
    ended = started | {
        "version": 2,
        "ended_at": (datetime.fromisoformat(started["started_at"]) + timedelta(minutes=4)).isoformat(),
        "outcome": "resolved_on_call",
        "summary": "Router restarted together; works now",
    }
    other = interaction(customer["id"], channel="branch", started_at="2030-01-01T05:00:00+00:00")
    start_event, end_event = interaction_event("started", started), interaction_event("ended", ended)
    await publish_events(
        broker_settings,
        topic,
        # the end, a redelivery of it and a late start (older than the end) must leave the end's state
        [start_event, end_event, end_event, interaction_event("started", started), interaction_event("started", other)],
    )
    async with running_consumer("customer-interactions", db, broker_settings, topic, apply_interaction_event):
        pass

    response = await contacts_of(client, customer["id"])
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [i["id"] for i in items] == [other["id"], started["id"]]  # newest first, each once
    assert (items[1]["outcome"], items[1]["summary"], items[1]["agent_name"]) == (
        "resolved_on_call",
        "Router restarted together; works now",
        "Aliya Call-Centre",
    )
    assert items[1]["ended_at"] is not None
    # as visible as the customer
    assert (await contacts_of(client, customer["id"], ASTANA_AGENT)).status_code == 404
    assert (await contacts_of(client, customer["id"], CALL_CENTER)).status_code == 200
    assert (await contacts_of(client, str(uuid.uuid4()))).status_code == 404


async def test_the_copy_follows_merges_and_erasures(client, db, ids):
    survivor, duplicate = await new_customer(client, ids), await new_customer(client, ids)
    before = interaction(duplicate["id"], summary="Said her husband pays the bills")
    async with db.unit_of_work() as session:
        await apply_interaction_event(session, interaction_event("started", before))
    merged = await client.post(
        f"{CUSTOMERS}/{survivor['id']}/merge",
        json={"duplicate_id": duplicate["id"]},
        headers=h(AGENT, **{"If-Match": f'"{survivor["version"]}"'}),
    )
    assert merged.status_code == 200, merged.text
    # a contact tickets logged with the duplicate before it heard of the merge lands on the survivor too
    late = interaction(duplicate["id"], summary="Asked for the same again")
    async with db.unit_of_work() as session:
        await apply_interaction_event(session, interaction_event("started", late))
    items = (await contacts_of(client, survivor["id"])).json()["items"]
    assert {i["id"] for i in items} == {before["id"], late["id"]}
    assert {i["customer_id"] for i in items} == {survivor["id"]}

    erased = await client.post(f"{CUSTOMERS}/{survivor['id']}/erasure", json={"reason": "asked"}, headers=h(PRIVACY))
    assert erased.status_code == 201, erased.text
    assert erased.json()["services"]["sales"]["records"]["interactions"] == 2
    after = interaction(survivor["id"], summary="Called after the erasure")
    async with db.unit_of_work() as session:
        await apply_interaction_event(session, interaction_event("started", after))
    items = (await contacts_of(client, survivor["id"], PRIVACY)).json()["items"]
    assert len(items) == 3 and {i["summary"] for i in items} == {None}


async def test_the_calls_logged_before_are_handed_over_to_tickets_once(client, db, ids):
    customer = await new_customer(client, ids)
    deal = await client.post(
        "/api/v1/sales/opportunities",
        json={"customer_id": customer["id"], "name": "Fibre 500", "amount_tiyn": 1_250_000},
        headers=h(AGENT),
    )
    lead = await client.post(
        "/api/v1/sales/leads",
        json={"source": "web", "name": "Marat Lead", "phone": ids.mobile(), "interest": "internet"},
        headers=h(AGENT),
    )
    assert deal.status_code == 201 and lead.status_code == 201, (deal.text, lead.text)
    done = datetime(2025, 5, 1, 9, 30, tzinfo=UTC)

    def old_call(related_type: str, related_id: str, subject: str) -> Activity:  # as logged before the refusal
        return Activity(
            id=str(uuid.uuid4()),
            kind="call",
            related_type=related_type,
            related_id=related_id,
            subject=subject,
            body=None,
            done_at=done,
            outcome="Sends a quote",
            owner_id=AGENT.subject,
            owner_name="Dana Nurlanovna",
            created_by=AGENT.subject,
            version=1,
            created_at=done,
            updated_at=done,
        )

    on_customer = old_call("customer", customer["id"], "Asked about TV")
    on_deal = old_call("opportunity", deal.json()["id"], "Discussed the price")
    on_lead = old_call("lead", lead.json()["id"], "Introduction")  # no customer: stays an activity
    async with db.unit_of_work() as session:
        session.add_all([on_customer, on_deal, on_lead])

    async def run_once() -> int:
        total, after = 0, ""
        while after is not None:
            async with db.unit_of_work() as session:
                handed, after = await hand_over_calls(session, after_id=after, batch_size=1)
            total += handed
        return total

    assert await run_once() == 2
    assert await run_once() == 0  # once: on the next start there is nothing left to hand over
    async with db.read_only() as session:
        left = set(await session.scalars(select(Activity.id).where(Activity.kind == "call")))
        events = list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.type == "crm.sales.activity.handed_over")
                .order_by(OutboxEvent.seq)
            )
        )
        audited = set(await session.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "handed_over")))
    assert on_lead.id in left and not {on_customer.id, on_deal.id} & left
    mine = {e.subject: e for e in events if e.subject in {on_customer.id, on_deal.id}}
    assert set(mine) == {on_customer.id, on_deal.id} == audited & set(mine)
    for event in mine.values():
        contracts.validate(event.type, event.data)
        assert event.data["customer_id"] == customer["id"]
        assert (event.data["branch_code"], event.data["region_code"]) == ("ALA-01", "KZ-75")
    timeline = await client.get(
        "/api/v1/sales/activities",
        headers=h(AGENT),
        params={"related_type": "customer", "related_id": customer["id"]},
    )
    assert on_customer.id not in {a["id"] for a in timeline.json()["items"]}
