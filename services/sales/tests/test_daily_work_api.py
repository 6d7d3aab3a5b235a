"""The daily work of branch staff over REST on PostgreSQL: people and customers by name (owners,
history lines, opportunity cards, the reassignment preview), the forecast per owner, branch,
region and month within each role's scope (aggregates for analysts), and my tasks by when they are
due, with a manager's overdue list."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from crm_sales.events.consumers import apply_user_event
from crm_shared.auth import Principal, Role
from crm_shared.envelope import CloudEvent
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

AGENT = PRINCIPALS["branch_agent"]  # ALA-01, KZ-75
MANAGER = PRINCIPALS["branch_manager"]  # ALA-01
REGIONAL = PRINCIPALS["regional_manager"]  # KZ-75
ADMIN = PRINCIPALS["admin"]
ANALYST = PRINCIPALS["hq_analyst"]
CALL_CENTER = PRINCIPALS["call_center_agent"]
ASTANA_AGENT = Principal("t-agent-ast", "agent.ast01", Role.BRANCH_AGENT, region="KZ-71", branch="AST-01")
COLLEAGUE = Principal("t-colleague", "colleague.ala01", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01")

STAFF = [
    (AGENT, "Dana Nurlanovna"),
    (COLLEAGUE, "Yerlan Colleague"),
    (ASTANA_AGENT, "Aidos Astana"),
    (MANAGER, "Gulnara Manager"),
]
NAMES = {principal.subject: name for principal, name in STAFF}


def h(principal: Principal) -> dict[str, str]:
    return auth_headers(principal)


@pytest_asyncio.fixture(scope="module", autouse=True)
async def staff(db):
    for principal, full_name in STAFF:
        event = CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/gateway",
            type="crm.gateway.user.created",
            subject=principal.subject,
            data={
                "id": principal.subject,
                "username": principal.username,
                "full_name": full_name,
                "role": principal.role.value,
                "region_code": principal.region,
                "branch_code": principal.branch,
                "active": True,
            },
        )
        async with db.unit_of_work() as session:
            await apply_user_event(session, event)


async def created(client, path: str, principal: Principal, body: dict) -> dict:
    response = await client.post(path, json=body, headers=h(principal))
    assert response.status_code == 201, response.text
    return response.json()


async def customer(client, ids, principal: Principal, **overrides) -> dict:
    return await created(client, "/api/v1/sales/customers", principal, ids.individual(**overrides))


async def opportunity(client, principal: Principal, customer_id: str, amount: int, stage: str, close: str | None):
    body = {"customer_id": customer_id, "name": f"Deal {amount}", "amount_tiyn": amount, "stage": stage}
    if close:
        body["expected_close_date"] = close
    return await created(client, "/api/v1/sales/opportunities", principal, body)


async def get(client, path: str, principal: Principal, **params) -> dict:
    response = await client.get(path, params=params, headers=h(principal))
    assert response.status_code == 200, response.text
    return response.json()


# --- names -------------------------------------------------------------------------------------


async def test_records_show_people_and_customers_by_name(client, ids):
    person = await customer(client, ids, AGENT, first_name="Әлия", last_name="Сейтқали")
    assert person["owner_name"] == "Dana Nurlanovna"  # not the sign-in name agent.ala01
    deal = await opportunity(client, AGENT, person["id"], 100_000, "proposal", None)
    assert deal["owner_name"] == "Dana Nurlanovna"

    listed = await get(client, "/api/v1/sales/opportunities", AGENT, customer_id=person["id"])
    assert [o["customer_name"] for o in listed["items"]] == ["Сейтқали Әлия"]
    one = await get(client, f"/api/v1/sales/opportunities/{deal['id']}", AGENT)
    assert one["customer_name"] == "Сейтқали Әлия"


# --- history -----------------------------------------------------------------------------------


async def test_leads_and_opportunities_have_their_history_by_name(client, ids):
    lead = await created(
        client,
        "/api/v1/sales/leads",
        AGENT,
        {"source": "branch_walk_in", "name": "Marat Ospanov", "phone": "8 701 555 12 34", "interest": "tv"},
    )
    moved = await client.patch(
        f"/api/v1/sales/leads/{lead['id']}",
        json={"status": "contacted"},
        headers=h(MANAGER) | {"If-Match": f'"{lead["version"]}"'},
    )
    assert moved.status_code == 200, moved.text
    history = await get(client, f"/api/v1/sales/leads/{lead['id']}/history", AGENT)
    assert [(e["action"], e["actor_name"]) for e in history["items"]] == [
        ("created", "Dana Nurlanovna"),
        ("updated", "Gulnara Manager"),
    ]
    assert history["items"][1]["changes"]["status"] == ["new", "contacted"]

    person = await customer(client, ids, AGENT)
    deal = await opportunity(client, AGENT, person["id"], 5_000_00, "prospecting", None)
    won = await client.patch(
        f"/api/v1/sales/opportunities/{deal['id']}",
        json={"stage": "qualification"},
        headers=h(AGENT) | {"If-Match": '"1"'},
    )
    assert won.status_code == 200, won.text
    history = await get(client, f"/api/v1/sales/opportunities/{deal['id']}/history", AGENT)
    assert [e["action"] for e in history["items"]] == ["created", "updated"]
    assert history["items"][1]["changes"]["stage"] == ["prospecting", "qualification"]

    page = await get(client, f"/api/v1/sales/opportunities/{deal['id']}/history", AGENT, limit=1)
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = await get(client, f"/api/v1/sales/opportunities/{deal['id']}/history", AGENT, cursor=page["next_cursor"])
    assert [e["action"] for e in rest["items"]] == ["updated"]

    customer_history = await get(client, f"/api/v1/sales/customers/{person['id']}/history", AGENT)
    assert customer_history["items"][0]["actor_name"] == "Dana Nurlanovna"


@pytest.mark.parametrize(
    ("principal", "status"),
    [(AGENT, 200), (MANAGER, 200), (REGIONAL, 200), (ADMIN, 200), (ASTANA_AGENT, 404), (ANALYST, 403)],
    ids=lambda v: v.role.value if isinstance(v, Principal) else str(v),
)
async def test_history_is_as_visible_as_the_record(client, ids, principal, status):
    person = await customer(client, ids, AGENT)
    deal = await opportunity(client, AGENT, person["id"], 1_00, "prospecting", None)
    response = await client.get(f"/api/v1/sales/opportunities/{deal['id']}/history", headers=h(principal))
    assert response.status_code == status, response.text
    missing = await client.get("/api/v1/sales/leads/no-such-lead/history", headers=h(ADMIN))
    assert missing.status_code == 404


# --- forecast ----------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def pipeline(client, ids):
    """Open deals in two regions and a closed one, which the forecast leaves out."""
    almaty = await customer(client, ids, AGENT)
    astana = await customer(client, ids, ASTANA_AGENT)
    year = datetime.now(UTC).year + 1
    await opportunity(client, AGENT, almaty["id"], 1_000_000, "proposal", f"{year}-01-15")  # 50% -> 500 000
    await opportunity(client, COLLEAGUE, almaty["id"], 333, "qualification", f"{year}-01-31")  # 20%? by stage
    await opportunity(client, AGENT, almaty["id"], 2_000_000, "negotiation", f"{year}-02-01")
    await opportunity(client, ASTANA_AGENT, astana["id"], 4_000_000, "prospecting", None)
    lost = await opportunity(client, AGENT, almaty["id"], 9_999_999, "proposal", f"{year}-01-20")
    response = await client.patch(
        f"/api/v1/sales/opportunities/{lost['id']}",
        json={"stage": "closed_lost", "close_reason": "price"},
        headers=h(AGENT) | {"If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    return year


async def forecast(client, principal: Principal, **params) -> dict:
    return await get(client, "/api/v1/sales/forecast", principal, **params)


async def expected(client, principal: Principal, **filters) -> list[dict]:
    """The open deals the caller sees in the forecast's window (what the forecast must add up)."""
    deals = []
    cursor = None
    while True:
        page = await get(
            client,
            "/api/v1/sales/opportunities",
            principal,
            state="open",
            limit=200,
            **({"cursor": cursor} if cursor else {}),
        )
        deals += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return [d for d in deals if all(f(d) for f in filters.values())]


async def test_forecast_weights_the_open_pipeline_by_probability(client, pipeline):
    year = pipeline
    by_month = await forecast(client, ADMIN, group_by="month", **{"from": f"{year}-01-01", "to": f"{year}-12-31"})
    deals = await expected(client, ADMIN, window=lambda d: (d["expected_close_date"] or "").startswith(str(year)))
    months = {line["key"]: line for line in by_month["items"]}
    assert set(months) == {f"{year}-01", f"{year}-02"}
    january = [d for d in deals if d["expected_close_date"].startswith(f"{year}-01")]
    assert months[f"{year}-01"]["count"] == len(january) == 2
    assert months[f"{year}-01"]["amount_tiyn"] == sum(d["amount_tiyn"] for d in january)
    assert months[f"{year}-01"]["weighted_tiyn"] == sum(d["amount_tiyn"] * d["probability"] for d in january) // 100
    assert by_month["total"]["count"] == len(deals) == 3
    assert by_month["currency"] == "KZT" and by_month["from"] == f"{year}-01-01"

    everything = await forecast(client, ADMIN, group_by="month")
    assert everything["items"][-1]["key"] == "none"  # the deal without a close date, last

    by_owner = await forecast(client, ADMIN, group_by="owner")
    owners = {line["key"]: line["name"] for line in by_owner["items"]}
    assert owners[AGENT.subject] == "Dana Nurlanovna" and owners[ASTANA_AGENT.subject] == "Aidos Astana"

    by_region = await forecast(client, ADMIN, group_by="region")
    assert {line["key"] for line in by_region["items"]} >= {"KZ-75", "KZ-71"}


@pytest.mark.parametrize(
    ("principal", "regions"),
    [(MANAGER, {"KZ-75"}), (REGIONAL, {"KZ-75"}), (ADMIN, {"KZ-75", "KZ-71"}), (ANALYST, {"KZ-75", "KZ-71"})],
    ids=lambda v: v.role.value if isinstance(v, Principal) else "",
)
async def test_forecast_within_each_readers_scope(client, pipeline, principal, regions):
    by_region = await forecast(client, principal, group_by="region")
    assert {line["key"] for line in by_region["items"]} == regions
    by_branch = await forecast(client, principal, group_by="branch")
    if principal is MANAGER:
        assert {line["key"] for line in by_branch["items"]} == {"ALA-01"}


async def test_analysts_get_aggregates_not_people(client, pipeline):
    response = await client.get("/api/v1/sales/forecast", params={"group_by": "owner"}, headers=h(ANALYST))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "group_by"
    for principal in (AGENT, CALL_CENTER):
        assert (await client.get("/api/v1/sales/forecast", headers=h(principal))).status_code == 403
    refused = await client.get(
        "/api/v1/sales/forecast", params={"from": "2030-02-01", "to": "2030-01-01"}, headers=h(ADMIN)
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "to"
    bad = await client.get("/api/v1/sales/forecast", params={"group_by": "planet"}, headers=h(ADMIN))
    assert bad.status_code == 422


# --- my tasks ----------------------------------------------------------------------------------


async def task(client, principal: Principal, customer_id: str, subject: str, due_at: datetime, **extra) -> dict:
    body = {
        "kind": "task",
        "related_type": "customer",
        "related_id": customer_id,
        "subject": subject,
        "due_at": due_at.isoformat(),
    }
    return await created(client, "/api/v1/sales/activities", principal, body | extra)


async def test_my_tasks_by_when_they_are_due_and_the_managers_overdue_list(client, ids):
    person = await customer(client, ids, COLLEAGUE, first_name="Aigerim", last_name="Bekova")
    now = datetime.now(UTC)
    late = await task(client, COLLEAGUE, person["id"], "Call back about the router", now - timedelta(days=2))
    later = await task(client, COLLEAGUE, person["id"], "Send the contract", now + timedelta(days=3))
    done = await task(client, COLLEAGUE, person["id"], "Done already", now - timedelta(days=1))
    finished = await client.patch(
        f"/api/v1/sales/activities/{done['id']}",
        json={"done_at": now.isoformat()},
        headers=h(COLLEAGUE) | {"If-Match": '"1"'},
    )
    assert finished.status_code == 200, finished.text
    others = await task(client, AGENT, person["id"], "Not mine", now - timedelta(days=1))

    mine = await get(client, "/api/v1/sales/my-tasks", COLLEAGUE)
    assert [(t["id"], t["due"]) for t in mine["items"]] == [(late["id"], "overdue"), (later["id"], "upcoming")]
    assert mine["items"][0]["related_name"] == "Bekova Aigerim"
    assert mine["items"][0]["owner_name"] == "Yerlan Colleague"
    overdue = await get(client, "/api/v1/sales/my-tasks", COLLEAGUE, due="overdue")
    assert [t["id"] for t in overdue["items"]] == [late["id"]]
    first = await get(client, "/api/v1/sales/my-tasks", COLLEAGUE, limit=1)
    second = await get(client, "/api/v1/sales/my-tasks", COLLEAGUE, limit=1, cursor=first["next_cursor"])
    assert [t["id"] for t in first["items"] + second["items"]] == [late["id"], later["id"]]

    counts = await get(client, "/api/v1/sales/my-tasks/counts", COLLEAGUE)
    assert counts == {"overdue": 1, "today": 0, "upcoming": 1}

    team = await get(client, "/api/v1/sales/overdue-tasks", MANAGER)
    assert {late["id"], others["id"]} <= {t["id"] for t in team["items"]}
    assert done["id"] not in {t["id"] for t in team["items"]}
    one_person = await get(client, "/api/v1/sales/overdue-tasks", MANAGER, owner_id=COLLEAGUE.subject)
    assert [t["id"] for t in one_person["items"]] == [late["id"]]

    astana_manager = Principal("t-manager-ast", "manager.ast01", Role.BRANCH_MANAGER, region="KZ-71", branch="AST-01")
    elsewhere = await get(client, "/api/v1/sales/overdue-tasks", astana_manager)
    assert late["id"] not in {t["id"] for t in elsewhere["items"]}
    for principal in (AGENT, ANALYST):
        assert (await client.get("/api/v1/sales/overdue-tasks", headers=h(principal))).status_code == 403
    assert (await client.get("/api/v1/sales/my-tasks", headers=h(ANALYST))).status_code == 403
    bad = await client.get("/api/v1/sales/my-tasks", params={"cursor": "nonsense"}, headers=h(COLLEAGUE))
    assert bad.status_code == 400


# --- reassignment preview ----------------------------------------------------------------------


async def test_reassignment_preview_names_what_would_move_and_moves_nothing(client, ids):
    departing = Principal("t-departing", "departing.ala01", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01")
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/gateway",
        type="crm.gateway.user.created",
        subject=departing.subject,
        data={
            "id": departing.subject,
            "username": departing.username,
            "full_name": "Bolat Departing",
            "role": "branch_agent",
            "region_code": "KZ-75",
            "branch_code": "ALA-01",
            "active": True,
        },
    )
    async with client._transport.app.state.runtime.db.unit_of_work() as session:  # type: ignore[attr-defined]
        await apply_user_event(session, event)
    person = await customer(client, ids, departing, first_name="Asel", last_name="Nurova")
    await opportunity(client, departing, person["id"], 1_00, "prospecting", None)

    response = await client.post(
        "/api/v1/sales/reassignments/preview",
        json={"from_owner_id": departing.subject, "to_owner_id": COLLEAGUE.subject},
        headers=h(MANAGER),
    )
    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["from_owner_name"] == "Bolat Departing" and preview["to_owner_name"] == "Yerlan Colleague"
    assert preview["counts"] == {"customer": 1, "lead": 0, "opportunity": 1, "activity": 0}
    assert {"entity_type": "customer", "entity_id": person["id"], "title": "Nurova Asel"} in preview["sample"]
    still = await get(client, f"/api/v1/sales/customers/{person['id']}", MANAGER)
    assert still["owner_id"] == departing.subject

    for body, field in (
        ({"from_owner_id": departing.subject, "to_owner_id": "nobody"}, "to_owner_id"),
        ({"from_owner_id": departing.subject, "to_owner_id": departing.subject}, "to_owner_id"),
    ):
        refused = await client.post("/api/v1/sales/reassignments/preview", json=body, headers=h(MANAGER))
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field
    agent = await client.post(
        "/api/v1/sales/reassignments/preview",
        json={"from_owner_id": departing.subject, "to_owner_id": COLLEAGUE.subject},
        headers=h(AGENT),
    )
    assert agent.status_code == 403
