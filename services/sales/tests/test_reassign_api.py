"""Bulk reassignment over REST on PostgreSQL: who may move whose records where, that everything
open moves in one operation (one operation id on every audit entry and event), and that what
is closed or outside the caller's scope stays."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_contracts import events as contracts
from crm_sales.events.consumers import apply_user_event
from crm_shared.auth import Principal, Role
from crm_shared.envelope import CloudEvent
from crm_shared.models import AuditEntry, OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

MANAGER = PRINCIPALS["branch_manager"]  # ALA-01, KZ-75
REGIONAL = PRINCIPALS["regional_manager"]  # KZ-75
ADMIN = PRINCIPALS["admin"]
AGENT = PRINCIPALS["branch_agent"]
CALL_CENTER = PRINCIPALS["call_center_agent"]
ANALYST = PRINCIPALS["hq_analyst"]
ASTANA_MANAGER = Principal("t-manager-ast", "manager.ast01", Role.BRANCH_MANAGER, region="KZ-71", branch="AST-01")

PLACES = {"ALA-01": "KZ-75", "ALA-02": "KZ-75", "AST-01": "KZ-71"}
# The staff directory: who may take records over.
HEIRS = {
    "heir-ala01": ("branch_agent", "ALA-01", True),
    "heir-ala02": ("branch_agent", "ALA-02", True),
    "heir-ast01": ("branch_agent", "AST-01", True),
    "gone-ala01": ("branch_agent", "ALA-01", False),
    "analyst-ala01": ("hq_analyst", "ALA-01", True),
}


def h(principal: Principal, **extra: str) -> dict[str, str]:
    return auth_headers(principal) | extra


def as_staff(user_id: str) -> Principal:
    role, branch, _ = HEIRS[user_id]
    return Principal(user_id, user_id, Role(role), region=PLACES[branch], branch=branch)


@pytest.fixture(scope="module")
def db(sales_app):
    return sales_app.state.runtime.db


@pytest_asyncio.fixture(scope="module", autouse=True)
async def staff_directory(db):
    for user_id, (role, branch, active) in HEIRS.items():
        event = CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/gateway",
            type="crm.gateway.user.created" if active else "crm.gateway.user.deactivated",
            subject=user_id,
            data={
                "id": user_id,
                "username": user_id,
                "full_name": f"Heir {user_id}",
                "role": role,
                "region_code": PLACES[branch],
                "branch_code": branch,
                "active": active,
            },
        )
        async with db.unit_of_work() as session:
            await apply_user_event(session, event)


@dataclass
class Portfolio:
    """What one person owns in one branch: the open records that must move, the closed ones that stay."""

    branch: str
    moving: dict[str, str] = field(default_factory=dict)  # aggregate -> id
    staying: dict[str, str] = field(default_factory=dict)


async def post(client, path: str, principal: Principal, body: dict) -> dict:
    response = await client.post(path, json=body, headers=h(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def portfolio(client, ids, leaver_id: str, branch: str) -> Portfolio:
    leaver = Principal(leaver_id, f"{leaver_id}.name", Role.BRANCH_AGENT, region=PLACES[branch], branch=branch)
    owned = Portfolio(branch)
    customer = await post(client, "/api/v1/sales/customers", leaver, ids.individual())
    lead = await post(
        client,
        "/api/v1/sales/leads",
        leaver,
        {"source": "web", "name": "Lead Person", "email": "lead@example.kz", "interest": "tv"},
    )
    deal = await post(
        client,
        "/api/v1/sales/opportunities",
        leaver,
        {"customer_id": customer["id"], "name": "Open deal", "amount_tiyn": 100_000},
    )
    won = await post(
        client,
        "/api/v1/sales/opportunities",
        leaver,
        {"customer_id": customer["id"], "name": "Won deal", "stage": "negotiation", "amount_tiyn": 5},
    )
    closed = await client.patch(
        f"/api/v1/sales/opportunities/{won['id']}",
        headers=h(leaver, **{"If-Match": '"1"'}),
        json={"stage": "closed_won"},
    )
    assert closed.status_code == 200
    task = await post(
        client,
        "/api/v1/sales/activities",
        leaver,
        {"kind": "task", "related_type": "customer", "related_id": customer["id"], "subject": "Call back"},
    )
    call = await post(
        client,
        "/api/v1/sales/activities",
        leaver,
        {
            "kind": "note",
            "related_type": "lead",
            "related_id": lead["id"],
            "subject": "Intro call",
            "done_at": "2030-01-01T10:00:00Z",
        },
    )
    owned.moving = {"customer": customer["id"], "lead": lead["id"], "opportunity": deal["id"], "activity": task["id"]}
    owned.staying = {"opportunity": won["id"], "activity": call["id"]}
    return owned


def record_path(aggregate: str, record_id: str) -> str:
    plural = {"customer": "customers", "lead": "leads", "opportunity": "opportunities", "activity": "activities"}
    return f"/api/v1/sales/{plural[aggregate]}/{record_id}"


async def owner_of(client, aggregate: str, record_id: str) -> dict:
    response = await client.get(record_path(aggregate, record_id), headers=h(ADMIN))
    assert response.status_code == 200
    return response.json()


async def reassign(client, principal: Principal, from_owner: str, to_owner: str, **extra):
    return await client.post(
        "/api/v1/sales/reassignments",
        headers=h(principal, **extra),
        json={"from_owner_id": from_owner, "to_owner_id": to_owner, "reason": "left the company"},
    )


async def test_a_branch_manager_moves_everything_open_in_the_branch_as_one_operation(client, db, ids):
    leaver = f"leaver-{uuid.uuid4().hex[:8]}"
    here = await portfolio(client, ids, leaver, "ALA-01")
    elsewhere = await portfolio(client, ids, leaver, "AST-01")  # from before they moved to Almaty
    customer_before = await owner_of(client, "customer", here.moving["customer"])

    response = await reassign(client, MANAGER, leaver, "heir-ala01")
    assert response.status_code == 201, response.text
    operation = response.json()
    assert operation["counts"] == {"customer": 1, "lead": 1, "opportunity": 1, "activity": 1}
    assert (operation["scope"], operation["actor_id"], operation["to_branch_code"]) == (
        "branch:ALA-01",
        MANAGER.subject,
        "ALA-01",
    )
    assert {(m["entity_type"], m["entity_id"]) for m in operation["moved"]} == set(here.moving.items())

    heir = as_staff("heir-ala01")
    for aggregate, record_id in here.moving.items():
        seen_by_heir = await client.get(record_path(aggregate, record_id), headers=h(heir))
        assert seen_by_heir.status_code == 200 and seen_by_heir.json()["owner_id"] == "heir-ala01"
        assert seen_by_heir.json()["owner_name"] == "Heir heir-ala01"
    for aggregate, record_id in here.staying.items():
        assert (await owner_of(client, aggregate, record_id))["owner_id"] == leaver  # closed: history stays
    for aggregate, record_id in (elsewhere.moving | elsewhere.staying).items():
        assert (await owner_of(client, aggregate, record_id))["owner_id"] == leaver  # outside the scope

    customer_after = await owner_of(client, "customer", here.moving["customer"])
    assert customer_after["version"] == customer_before["version"] + 1
    stale = await client.patch(
        record_path("customer", customer_after["id"]),
        json={"email": "x@example.kz"},
        headers=h(MANAGER, **{"If-Match": f'"{customer_before["version"]}"'}),
    )
    assert stale.status_code == 412

    async with db.read_only() as session:
        entries = list(await session.scalars(select(AuditEntry).where(AuditEntry.operation_id == operation["id"])))
        published = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.type.like("%.reassigned"))))
    assert {(e.entity_type, e.entity_id) for e in entries} == set(here.moving.items()) | {
        ("reassignment", operation["id"])
    }
    assert all(e.actor_id == MANAGER.subject for e in entries)
    mine = [e for e in published if e.data.get("operation_id") == operation["id"]]
    assert sorted((e.type, e.subject) for e in mine) == sorted(
        (f"crm.sales.{aggregate}.reassigned", record_id) for aggregate, record_id in here.moving.items()
    )
    for event in mine:
        contracts.validate(event.type, event.data)
        assert event.topic == contracts.topic_of(event.type)
        assert (event.data["owner_id"], event.data["previous_owner_id"], event.data["reason"]) == (
            "heir-ala01",
            leaver,
            "left the company",
        )

    fetched = await client.get(f"/api/v1/sales/reassignments/{operation['id']}", headers=h(MANAGER))
    assert fetched.status_code == 200 and fetched.json() == operation
    assert (
        await client.get(f"/api/v1/sales/reassignments/{operation['id']}", headers=h(ASTANA_MANAGER))
    ).status_code == 404
    assert (await client.get(f"/api/v1/sales/reassignments/{operation['id']}", headers=h(AGENT))).status_code == 403


async def assert_owned(client, parts: list[Portfolio], owner: str, *, moved_to_branch: str | None = None) -> None:
    """The open records of ``parts`` belong to ``owner`` (and sit in ``moved_to_branch`` when given)."""
    for part in parts:
        for aggregate, record_id in part.moving.items():
            record = await owner_of(client, aggregate, record_id)
            assert record["owner_id"] == owner, (part.branch, aggregate)
            if aggregate != "activity":  # activities have no place of their own
                assert record["branch_code"] == (moved_to_branch or part.branch)


@pytest.mark.parametrize(
    ("caller", "heir", "moved_branches"),
    [
        (MANAGER, "heir-ala01", {"ALA-01"}),
        (ASTANA_MANAGER, "heir-ast01", {"AST-01"}),
        (REGIONAL, "heir-ala02", {"ALA-01", "ALA-02"}),  # the whole region, into the heir's branch
        (ADMIN, "heir-ast01", {"ALA-01", "ALA-02", "AST-01"}),  # everything, across regions
    ],
    ids=lambda v: v.username if isinstance(v, Principal) else "+".join(sorted(v)) if isinstance(v, set) else v,
)
async def test_reassignment_reaches_exactly_the_callers_scope(client, ids, caller, heir, moved_branches):
    leaver = f"leaver-{uuid.uuid4().hex[:8]}"
    owned = [await portfolio(client, ids, leaver, branch) for branch in ("ALA-01", "ALA-02", "AST-01")]

    response = await reassign(client, caller, leaver, heir)
    assert response.status_code == 201, response.text
    assert response.json()["counts"] == {
        a: len(moved_branches) for a in ("customer", "lead", "opportunity", "activity")
    }
    _, heir_branch, _ = HEIRS[heir]
    moved = [part for part in owned if part.branch in moved_branches]
    await assert_owned(client, moved, heir, moved_to_branch=heir_branch)
    await assert_owned(client, [part for part in owned if part.branch not in moved_branches], leaver)
    for part in owned:  # closed records stay with who closed them
        for aggregate, record_id in part.staying.items():
            assert (await owner_of(client, aggregate, record_id))["owner_id"] == leaver
    for part in moved:  # records follow their new owner, so the heir sees them
        for aggregate, record_id in part.moving.items():
            assert (await client.get(record_path(aggregate, record_id), headers=h(as_staff(heir)))).status_code == 200


@pytest_asyncio.fixture(scope="module")
async def untouchable(client, ids) -> tuple[str, list[Portfolio]]:
    """A leaver whose records no refused reassignment may move."""
    leaver = f"leaver-{uuid.uuid4().hex[:8]}"
    return leaver, [await portfolio(client, ids, leaver, branch) for branch in ("ALA-01", "ALA-02", "AST-01")]


@pytest.mark.parametrize(
    ("caller", "heir", "status"),
    [
        (MANAGER, "heir-ala02", 422),  # the heir works in another branch
        (MANAGER, "heir-ast01", 422),  # ... in another region
        (REGIONAL, "heir-ast01", 422),
        (ASTANA_MANAGER, "heir-ala01", 422),
        (MANAGER, "gone-ala01", 422),  # deactivated
        (MANAGER, "analyst-ala01", 422),  # a role that owns no records
        (MANAGER, "never-heard-of", 422),
        (AGENT, "heir-ala01", 403),
        (CALL_CENTER, "heir-ala01", 403),
        (ANALYST, "heir-ala01", 403),
    ],
    ids=lambda v: v.username if isinstance(v, Principal) else str(v),
)
async def test_refused_reassignments_move_nothing(client, untouchable, caller, heir, status):
    leaver, owned = untouchable
    response = await reassign(client, caller, leaver, heir)
    assert response.status_code == status, response.text
    if status == 422:
        assert response.json()["errors"][0]["field"] == "to_owner_id"
    await assert_owned(client, owned, leaver)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from_owner_id": "same", "to_owner_id": "same", "reason": "x"}, "to_owner_id"),
        ({"from_owner_id": "a", "to_owner_id": "heir-ala01", "reason": "  "}, "reason"),
        ({"from_owner_id": "a", "to_owner_id": "heir-ala01"}, "reason"),
        ({"from_owner_id": "", "to_owner_id": "heir-ala01", "reason": "x"}, "from_owner_id"),
    ],
)
async def test_bad_reassignment_requests_name_the_field(client, body, field):
    response = await client.post("/api/v1/sales/reassignments", json=body, headers=h(MANAGER))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_a_retried_reassignment_is_one_operation(client, ids):
    leaver = f"leaver-{uuid.uuid4().hex[:8]}"
    await portfolio(client, ids, leaver, "ALA-01")
    key = {"Idempotency-Key": f"reassign-{leaver}"}
    first = await reassign(client, MANAGER, leaver, "heir-ala01", **key)
    again = await reassign(client, MANAGER, leaver, "heir-ala01", **key)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    nothing_left = await reassign(client, MANAGER, leaver, "heir-ala01")
    assert nothing_left.status_code == 201
    assert nothing_left.json()["counts"] == {"customer": 0, "lead": 0, "opportunity": 0, "activity": 0}
