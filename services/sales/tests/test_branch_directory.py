"""The branch directory kept from the gateway's branch events (real broker and PostgreSQL): a
branch opened at the gateway takes customers, a closed one takes no new records while what it
holds stays readable and editable, a late older event changes nothing, a redelivered one is
applied once, and a branch the directory does not know is refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_contracts import events as contracts
from crm_sales.db.pipeline_models import BranchDirectoryEntry
from crm_sales.events.consumers import apply_branch_event, apply_user_event
from crm_shared.auth import Principal, Role
from crm_shared.envelope import CloudEvent
from crm_shared.models import InboxRecord
from crm_shared.reference import INITIAL_BRANCHES
from crm_shared.testing import PRINCIPALS, auth_headers, publish_events, running_consumer

pytestmark = pytest.mark.integration

CUSTOMERS = "/api/v1/sales/customers"
CONSUMER = "branch-directory"
REGIONAL = PRINCIPALS["regional_manager"]  # KZ-75 (Almaty)
AGENT = PRINCIPALS["branch_agent"]  # ALA-01


def h(principal: Principal, **extra: str) -> dict[str, str]:
    return auth_headers(principal) | extra


def manager_of(branch_code: str) -> Principal:
    return Principal(
        f"t-manager-{branch_code.lower()}",
        f"manager.{branch_code.lower()}",
        Role.BRANCH_MANAGER,
        region="KZ-75",
        branch=branch_code,
    )


def branch_event(action: str, code: str, *, time: datetime, region_code: str = "KZ-75", **state) -> CloudEvent:
    data = {
        "code": code,
        "region_code": region_code,
        "city": "Almaty",
        "name_kk": f"Алматы {code}",
        "name_ru": f"Алматы {code}",
        "name_en": f"Almaty {code}",
        "active": action != "closed",
    } | state
    type_ = f"crm.gateway.branch.{action}"
    contracts.validate(type_, data)  # what the gateway must emit
    return CloudEvent(id=str(uuid.uuid4()), source="/crm/gateway", type=type_, subject=code, data=data, time=time)


async def apply_directly(db, *events: CloudEvent) -> None:
    for event in events:
        async with db.unit_of_work() as session:
            await apply_branch_event(session, event)


async def directory_entry(db, code: str) -> BranchDirectoryEntry | None:
    async with db.read_only() as session:
        return await session.get(BranchDirectoryEntry, code)


async def create_customer(client, ids, principal: Principal, branch_code: str | None = None):
    body = ids.individual() if branch_code is None else ids.individual(branch_code=branch_code)
    return await client.post(CUSTOMERS, json=body, headers=h(principal))


async def test_the_migration_installs_the_initial_network_older_than_any_event(db):
    async with db.read_only() as session:
        entries = {e.code: e for e in await session.scalars(select(BranchDirectoryEntry))}
    for branch in INITIAL_BRANCHES:
        entry = entries[branch.code]
        assert (entry.region_code, entry.active) == (branch.region_code, True)
        assert entry.event_time == datetime(2000, 1, 1, tzinfo=UTC)


async def test_a_branch_opened_at_the_gateway_takes_customers_and_a_closed_one_none(
    client, db, broker_settings, topic, ids
):
    opened_at = datetime.now(UTC)
    opened = branch_event("opened", "ALA-07", time=opened_at)
    await publish_events(broker_settings, topic, [opened])
    async with running_consumer(CONSUMER, db, broker_settings, topic, apply_branch_event):
        pass

    manager = manager_of("ALA-07")
    by_manager = await create_customer(client, ids, manager)  # their own branch, by default
    assert by_manager.status_code == 201, by_manager.text
    assert (by_manager.json()["branch_code"], by_manager.json()["region_code"]) == ("ALA-07", "KZ-75")
    by_regional = await create_customer(client, ids, REGIONAL, "ALA-07")
    assert by_regional.status_code == 201, by_regional.text
    # still only the caller's own branches
    assert (await create_customer(client, ids, AGENT, "ALA-07")).status_code == 403

    await publish_events(
        broker_settings, topic, [branch_event("closed", "ALA-07", time=opened_at + timedelta(seconds=1))]
    )
    async with running_consumer(CONSUMER, db, broker_settings, topic, apply_branch_event):
        pass

    for principal, branch_code in ((manager, None), (REGIONAL, "ALA-07")):
        refused = await create_customer(client, ids, principal, branch_code)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [{"field": "branch_code", "message": "branch ALA-07 is closed"}]

    # what the branch already holds stays readable and editable
    customer = by_manager.json()
    read = await client.get(f"{CUSTOMERS}/{customer['id']}", headers=h(REGIONAL))
    assert read.status_code == 200 and read.json()["branch_code"] == "ALA-07"
    edited = await client.patch(
        f"{CUSTOMERS}/{customer['id']}",
        headers=h(manager, **{"If-Match": '"1"'}),
        json={"email": "still.here@example.kz"},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["email"] == "still.here@example.kz"

    reopened = branch_event("updated", "ALA-07", time=opened_at + timedelta(seconds=2), active=True)
    await apply_directly(db, reopened)
    assert (await create_customer(client, ids, manager)).status_code == 201


async def test_a_late_older_event_changes_nothing_and_a_redelivered_one_is_applied_once(
    client, db, broker_settings, topic, ids
):
    start = datetime.now(UTC)
    opened = branch_event("opened", "ALA-08", time=start)
    closed = branch_event("closed", "ALA-08", time=start + timedelta(seconds=2))
    # renamed before the closure, but delivered after it: must not reopen the branch
    stale = branch_event("updated", "ALA-08", time=start + timedelta(seconds=1), name_en="Almaty Old Town")
    # at-least-once delivery: the opening and the closure each come twice
    await publish_events(broker_settings, topic, [opened, opened, closed, stale, closed])
    async with running_consumer(CONSUMER, db, broker_settings, topic, apply_branch_event):
        pass

    entry = await directory_entry(db, "ALA-08")
    assert (entry.region_code, entry.active, entry.event_time) == ("KZ-75", False, closed.time)
    async with db.read_only() as session:
        applied = list(
            await session.scalars(
                select(InboxRecord.event_id).where(
                    InboxRecord.consumer == CONSUMER, InboxRecord.event_id.in_([opened.id, closed.id, stale.id])
                )
            )
        )
    assert sorted(applied) == sorted([opened.id, closed.id, stale.id])  # one inbox row each

    refused = await create_customer(client, ids, REGIONAL, "ALA-08")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "branch_code", "message": "branch ALA-08 is closed"}]


async def test_an_initial_branch_follows_its_first_real_event(client, db, ids):
    await apply_directly(db, branch_event("closed", "ALA-02", time=datetime.now(UTC)))
    try:
        refused = await create_customer(client, ids, REGIONAL, "ALA-02")
        assert refused.status_code == 422
        assert refused.json()["errors"][0] == {"field": "branch_code", "message": "branch ALA-02 is closed"}
    finally:
        await apply_directly(db, branch_event("updated", "ALA-02", time=datetime.now(UTC), active=True))
    assert (await create_customer(client, ids, REGIONAL, "ALA-02")).status_code == 201


async def test_a_branch_the_directory_does_not_know_is_refused(client, ids):
    for principal, branch_code in ((PRINCIPALS["admin"], "ZZZ-99"), (REGIONAL, "ALA-99")):
        refused = await create_customer(client, ids, principal, branch_code)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [{"field": "branch_code", "message": f"unknown branch {branch_code!r}"}]
    stranger = manager_of("ALA-98")  # a token naming a branch the directory has never heard of
    refused = await create_customer(client, ids, stranger)
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "branch_code", "message": "unknown branch 'ALA-98'"}]


async def test_a_closed_branch_takes_no_new_leads_opportunities_or_reassigned_records(client, db, ids):
    start = datetime.now(UTC)
    await apply_directly(db, branch_event("opened", "ALA-09", time=start))
    manager = manager_of("ALA-09")
    heir = Principal(f"t-heir-{uuid.uuid4().hex[:6]}", "heir.ala02", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-02")
    for person, full_name in ((manager, "Manager Ala09"), (heir, "Heir Ala02")):
        async with db.unit_of_work() as session:
            await apply_user_event(
                session,
                CloudEvent(
                    id=str(uuid.uuid4()),
                    source="/crm/gateway",
                    type="crm.gateway.user.created",
                    subject=person.subject,
                    data={
                        "id": person.subject,
                        "username": person.username,
                        "full_name": full_name,
                        "role": person.role.value,
                        "region_code": person.region,
                        "branch_code": person.branch,
                        "active": True,
                    },
                ),
            )
    lead_body = {"source": "branch_walk_in", "name": "Walk In", "phone": "+77015550909", "interest": "internet"}
    customer = await create_customer(client, ids, manager)
    lead = await client.post("/api/v1/sales/leads", json=lead_body, headers=h(manager))
    assert customer.status_code == 201 and lead.status_code == 201, (customer.text, lead.text)
    customer, lead = customer.json(), lead.json()

    await apply_directly(db, branch_event("closed", "ALA-09", time=start + timedelta(seconds=1)))

    own_lead = await client.post("/api/v1/sales/leads", json=lead_body, headers=h(manager))
    assert own_lead.status_code == 422
    assert own_lead.json()["errors"] == [
        {"field": "owner_id", "message": "records cannot be placed in this owner's branch: branch ALA-09 is closed"}
    ]
    for_them = await client.post(
        "/api/v1/sales/leads", json=lead_body | {"owner_id": manager.subject}, headers=h(REGIONAL)
    )
    assert for_them.status_code == 422 and for_them.json()["errors"][0]["field"] == "owner_id"
    deal = await client.post(
        "/api/v1/sales/opportunities", headers=h(REGIONAL), json={"customer_id": customer["id"], "name": "Fibre 500"}
    )
    assert deal.status_code == 422
    assert deal.json()["errors"] == [
        {
            "field": "customer_id",
            "message": "no opportunity can be opened in this customer's branch: branch ALA-09 is closed",
        }
    ]
    into_closed = await client.post(
        "/api/v1/sales/reassignments",
        headers=h(REGIONAL),
        json={"from_owner_id": heir.subject, "to_owner_id": manager.subject, "reason": "cover"},
    )
    assert into_closed.status_code == 422 and into_closed.json()["errors"][0]["field"] == "to_owner_id"

    # the closed branch's lead is still worked on, and its records can be moved out to an open branch
    noted = await client.patch(
        f"/api/v1/sales/leads/{lead['id']}",
        headers=h(REGIONAL, **{"If-Match": '"1"'}),
        json={"notes": "branch closed; moving to ALA-02"},
    )
    assert noted.status_code == 200, noted.text
    moved = await client.post(
        "/api/v1/sales/reassignments",
        headers=h(REGIONAL),
        json={"from_owner_id": manager.subject, "to_owner_id": heir.subject, "reason": "branch closed"},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["counts"]["customer"] == 1 and moved.json()["counts"]["lead"] == 1
    in_open_branch = await client.get(f"{CUSTOMERS}/{customer['id']}", headers=h(REGIONAL))
    assert in_open_branch.json()["branch_code"] == "ALA-02"
