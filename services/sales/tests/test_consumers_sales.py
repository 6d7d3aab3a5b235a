"""The sales consumers with the real broker and PostgreSQL: the staff directory kept from the
gateway's user events (and used by reassignment), and the per-branch customer counts kept from
the customer events, applied once per event however often an event is delivered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm_contracts import events as contracts
from crm_sales.db.pipeline_models import StaffMember
from crm_sales.events.consumers import CONSUMERS, apply_customer_event, apply_user_event
from crm_shared.auth import Principal, Role
from crm_shared.envelope import CloudEvent
from crm_shared.models import InboxRecord, OutboxEvent
from crm_shared.outbox import as_cloud_event
from crm_shared.testing import PRINCIPALS, auth_headers, publish_events, running_consumer

pytestmark = pytest.mark.integration

ADMIN = PRINCIPALS["admin"]
AGENT = PRINCIPALS["branch_agent"]  # ALA-01
MANAGER = PRINCIPALS["branch_manager"]  # ALA-01
REGIONAL = PRINCIPALS["regional_manager"]  # KZ-75
ANALYST = PRINCIPALS["hq_analyst"]
CALL_CENTER = PRINCIPALS["call_center_agent"]


def h(principal: Principal, **extra: str) -> dict[str, str]:
    return auth_headers(principal) | extra


def test_the_service_runs_its_consumers_on_their_topics():
    assert {spec.name: spec.topics for spec in CONSUMERS} == {
        "staff-directory": ["crm.gateway.user.v1"],
        "branch-directory": ["crm.gateway.branch.v1"],
        "branch-stats": ["crm.sales.customer.v1"],
        "customer-interactions": ["crm.tickets.interaction.v1"],
        "partner-customers": ["crm.partners.deal.v1"],
        # every service that confirms erasures, by the event catalogue
        "erasure-confirmations": sorted(contracts.erasure_confirmation_topics().values()),
    }
    for type_ in ("crm.gateway.user.created", "crm.gateway.user.updated", "crm.gateway.user.deactivated"):
        assert contracts.topic_of(type_) == "crm.gateway.user.v1"
    for type_ in ("crm.gateway.branch.opened", "crm.gateway.branch.updated", "crm.gateway.branch.closed"):
        assert contracts.topic_of(type_) == "crm.gateway.branch.v1"


# --- staff directory -----------------------------------------------------------------------------


def user_event(type_: str, user: dict, *, time: datetime | None = None) -> CloudEvent:
    contracts.validate(type_, user)  # what the gateway must emit
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/gateway",
        type=type_,
        subject=user["id"],
        data=user,
        time=time or datetime.now(UTC),
    )


async def test_the_staff_directory_follows_the_gateways_user_events(client, db, broker_settings, topic, ids):
    stays, leaves = f"u-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    start = datetime.now(UTC)
    stays_v1 = {
        "id": stays,
        "username": "dana",
        "full_name": "Dana Stays",
        "role": "branch_agent",
        "region_code": "KZ-71",
        "branch_code": "AST-01",
        "active": True,
    }
    stays_v2 = stays_v1 | {"full_name": "Dana Moved", "region_code": "KZ-75", "branch_code": "ALA-01"}
    leaves_v1 = {
        "id": leaves,
        "username": "erlan",
        "full_name": "Erlan Leaves",
        "role": "branch_agent",
        "region_code": "KZ-75",
        "branch_code": "ALA-01",
        "active": True,
    }
    await publish_events(
        broker_settings,
        topic,
        [
            user_event("crm.gateway.user.created", stays_v1, time=start),
            user_event("crm.gateway.user.created", leaves_v1, time=start),
            user_event("crm.gateway.user.updated", stays_v2, time=start + timedelta(seconds=1)),
            user_event(
                "crm.gateway.user.deactivated", leaves_v1 | {"active": False}, time=start + timedelta(seconds=2)
            ),
            # a stale update (older than the deactivation) arriving late must not reactivate
            user_event(
                "crm.gateway.user.updated", leaves_v1 | {"full_name": "Erlan Old"}, time=start + timedelta(seconds=1)
            ),
        ],
    )
    async with running_consumer("staff-directory", db, broker_settings, topic, apply_user_event):
        pass

    async with db.read_only() as session:
        members = {
            m.id: m for m in await session.scalars(select(StaffMember).where(StaffMember.id.in_([stays, leaves])))
        }
    assert (members[stays].full_name, members[stays].branch_code, members[stays].active) == (
        "Dana Moved",
        "ALA-01",
        True,
    )
    assert (members[leaves].full_name, members[leaves].active) == ("Erlan Leaves", False)

    # the directory is what reassignment checks the new owner against
    to_leaver = await client.post(
        "/api/v1/sales/reassignments",
        headers=h(MANAGER),
        json={"from_owner_id": AGENT.subject, "to_owner_id": leaves, "reason": "cover"},
    )
    assert to_leaver.status_code == 422 and "deactivated" in to_leaver.json()["detail"]
    customer = await client.post("/api/v1/sales/customers", json=ids.individual(), headers=h(AGENT))
    to_stayer = await client.post(
        "/api/v1/sales/reassignments",
        headers=h(MANAGER),
        json={"from_owner_id": AGENT.subject, "to_owner_id": stays, "reason": "cover"},
    )
    assert to_stayer.status_code == 201, to_stayer.text
    moved = await client.get(f"/api/v1/sales/customers/{customer.json()['id']}", headers=h(MANAGER))
    assert (moved.json()["owner_id"], moved.json()["owner_name"]) == (stays, "Dana Moved")


# --- branch stats --------------------------------------------------------------------------------


async def customer_events(db, since_seq: int) -> list[OutboxEvent]:
    async with db.read_only() as session:
        return list(
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.topic == "crm.sales.customer.v1", OutboxEvent.seq > since_seq)
                .order_by(OutboxEvent.seq)
            )
        )


async def test_branch_stats_count_each_customer_event_once(client, db, broker_settings, topic, ids):
    async with db.read_only() as session:
        since = await session.scalar(select(func.coalesce(func.max(OutboxEvent.seq), 0)))
    heir = f"u-{uuid.uuid4().hex[:8]}"
    async with db.unit_of_work() as session:
        await apply_user_event(
            session,
            user_event(
                "crm.gateway.user.created",
                {
                    "id": heir,
                    "username": "heir",
                    "full_name": "Heir Ala02",
                    "role": "branch_agent",
                    "region_code": "KZ-75",
                    "branch_code": "ALA-02",
                    "active": True,
                },
            ),
        )
    leaver = Principal(f"u-{uuid.uuid4().hex[:8]}", "leaver", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01")

    async def create(principal, body):
        response = await client.post("/api/v1/sales/customers", json=body, headers=h(principal))
        assert response.status_code == 201, response.text
        return response.json()

    survivor = await create(AGENT, ids.individual())
    duplicate = await create(AGENT, ids.individual())
    await create(AGENT, ids.business())
    await create(ADMIN, ids.individual(branch_code="AST-01"))
    await create(leaver, ids.business())  # moves to ALA-02 with its owner
    merged = await client.post(
        f"/api/v1/sales/customers/{survivor['id']}/merge", headers=h(AGENT), json={"duplicate_id": duplicate["id"]}
    )
    assert merged.status_code == 200, merged.text
    moved = await client.post(
        "/api/v1/sales/reassignments",
        headers=h(REGIONAL),
        json={"from_owner_id": leaver.subject, "to_owner_id": heir, "reason": "left"},
    )
    assert moved.status_code == 201, moved.text

    written = [as_cloud_event(row) for row in await customer_events(db, since)]
    assert [e.type.rsplit(".", 1)[1] for e in written] == ["created"] * 5 + ["merged", "reassigned"]
    first_created, merge = written[0], written[5]
    # at-least-once delivery: a relay re-send and a redelivery after a rebalance
    await publish_events(broker_settings, topic, written[:1] + [first_created] + written[1:6] + [merge] + written[6:])
    async with running_consumer("branch-stats", db, broker_settings, topic, apply_customer_event):
        pass

    async with db.read_only() as session:
        inbox = list(await session.scalars(select(InboxRecord.event_id).where(InboxRecord.consumer == "branch-stats")))
    assert sorted(inbox) == sorted(e.id for e in written)

    national = await client.get("/api/v1/sales/stats/customers", headers=h(ANALYST))
    assert national.status_code == 200
    counts = {(i["region_code"], i["branch_code"], i["kind"]): i["count"] for i in national.json()["items"]}
    assert counts == {
        ("KZ-75", "ALA-01", "individual"): 1,  # two created, one merged away
        ("KZ-75", "ALA-01", "business"): 1,
        ("KZ-71", "AST-01", "individual"): 1,
        ("KZ-75", "ALA-02", "business"): 1,
    }  # followed its new owner
    assert national.json()["total"] == 4
    assert all(set(item) == {"region_code", "branch_code", "kind", "count"} for item in national.json()["items"])

    branch = await client.get("/api/v1/sales/stats/customers", headers=h(MANAGER))
    assert {(i["branch_code"], i["kind"]) for i in branch.json()["items"]} == {
        ("ALA-01", "individual"),
        ("ALA-01", "business"),
    }
    region = await client.get("/api/v1/sales/stats/customers", headers=h(REGIONAL), params={"kind": "business"})
    assert {i["branch_code"] for i in region.json()["items"]} == {"ALA-01", "ALA-02"}
    for principal in (AGENT, CALL_CENTER):
        assert (await client.get("/api/v1/sales/stats/customers", headers=h(principal))).status_code == 403
