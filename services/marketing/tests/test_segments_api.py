"""Segments over the customer projection: consent enforced (a withdrawal leaves every segment at
once), criteria, the visibility of members role by role, the marketer's rights."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from crm_marketing.events.consumers import apply_ticket_event
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent

from .helpers import HEADERS, announce, customer_state

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture(scope="module")
async def db(database_url):
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest_asyncio.fixture(scope="module")
async def people(db):
    people = {
        "ala01": customer_state(branch_code="ALA-01", language="kk"),
        "ala02": customer_state(branch_code="ALA-02"),
        "kar": customer_state(region_code="KZ-35", branch_code="KAR-01"),
        "business": customer_state(kind="business", branch_code="ALA-01"),
        "no_consent": customer_state(marketing_consent=False),
    }
    await announce(db, *people.values())
    return people


async def _segment(client, criteria, who="marketer"):
    answer = await client.post(
        "/api/v1/marketing/segments", json={"name": "test", "criteria": criteria}, headers=HEADERS[who]
    )
    return answer


async def test_members_are_the_consenting_customers_matching_the_criteria(client, people):
    created = await _segment(client, {"region_codes": ["KZ-75"], "kinds": ["individual"]})
    assert created.status_code == 201, created.text
    segment = created.json()
    ids = {p["id"] for p in people.values()}
    members = await client.get(f"/api/v1/marketing/segments/{segment['id']}/members", headers=HEADERS["admin"])
    found = {item["customer_id"] for item in members.json()["items"]} & ids
    assert found == {people["ala01"]["id"], people["ala02"]["id"]}


async def test_a_withdrawal_of_consent_leaves_the_segment_at_once(client, db, people):
    lone = customer_state(branch_code="SHY-01", region_code="KZ-79")
    await announce(db, lone)
    segment = (await _segment(client, {"branch_codes": ["SHY-01"]})).json()
    assert segment["size"] == 1
    await announce(db, lone | {"marketing_consent": False, "version": 2}, action="updated")
    answer = await client.get(f"/api/v1/marketing/segments/{segment['id']}", headers=HEADERS["marketer"])
    assert answer.json()["size"] == 0
    # an older state arriving late does not bring the consent back
    await announce(db, lone, action="created")
    assert (await client.get(f"/api/v1/marketing/segments/{segment['id']}", headers=HEADERS["marketer"])).json()[
        "size"
    ] == 0


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        ("admin", {"ala01", "ala02", "kar", "business"}),
        ("marketer", {"ala01", "ala02", "kar", "business"}),
        ("call_center_agent", {"ala01", "ala02", "kar", "business"}),
        ("regional_manager", {"ala01", "ala02", "business"}),
        ("branch_manager", {"ala01", "business"}),
        ("branch_agent", {"ala01", "business"}),
        ("hq_analyst", None),
    ],
)
async def test_members_follow_the_callers_visibility(client, people, who, sees):
    segment = (await _segment(client, {})).json()
    answer = await client.get(f"/api/v1/marketing/segments/{segment['id']}/members?limit=200", headers=HEADERS[who])
    if sees is None:
        assert answer.status_code == 403
        size = await client.get(f"/api/v1/marketing/segments/{segment['id']}", headers=HEADERS[who])
        assert size.status_code == 200  # aggregates only
        return
    assert answer.status_code == 200
    ids = {item["customer_id"] for item in answer.json()["items"]}
    assert {name for name, p in people.items() if p["id"] in ids} == sees


@pytest.mark.parametrize("who", ["branch_agent", "branch_manager", "call_center_agent", "hq_analyst"])
async def test_only_marketers_and_admins_create_segments(client, who):
    assert (await _segment(client, {}, who)).status_code == 403


async def test_members_page_with_a_cursor(client, db):
    batch = [customer_state(branch_code="PAV-01", region_code="KZ-55") for _ in range(5)]
    await announce(db, *batch)
    segment = (await _segment(client, {"branch_codes": ["PAV-01"]})).json()
    seen, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = (
            await client.get(f"/api/v1/marketing/segments/{segment['id']}/members{query}", headers=HEADERS["admin"])
        ).json()
        seen += [item["customer_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(p["id"] for p in batch)


@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        ({"region_codes": ["KZ-99"]}, "criteria.region_codes"),
        ({"kinds": ["alien"]}, "criteria.kinds.0"),
        ({"colour": ["red"]}, "criteria.colour"),
    ],
)
async def test_bad_criteria_are_a_422_naming_the_field(client, criteria, field):
    answer = await _segment(client, criteria)
    assert answer.status_code == 422
    assert field in answer.text


async def test_open_tickets_select_members(client, db):
    troubled, calm = customer_state(branch_code="TKT-01"), customer_state(branch_code="TKT-01")
    await announce(db, troubled, calm)

    async def ticket(customer: dict, status: str, version: int, ticket_id: str) -> None:
        event = CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/tickets",
            type="crm.tickets.ticket.status_changed",
            subject=ticket_id,
            data={"id": ticket_id, "customer_id": customer["id"], "status": status, "version": version},
        )
        async with db.unit_of_work() as session:
            await apply_ticket_event(session, event)

    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    await ticket(troubled, "in_progress", 2, first)
    await ticket(calm, "new", 1, second)
    await ticket(calm, "closed", 3, second)
    await ticket(calm, "new", 1, second)  # a late, older state changes nothing
    with_tickets = (await _segment(client, {"branch_codes": ["TKT-01"], "has_open_tickets": True})).json()
    without = (await _segment(client, {"branch_codes": ["TKT-01"], "has_open_tickets": False})).json()
    members = await client.get(f"/api/v1/marketing/segments/{with_tickets['id']}/members", headers=HEADERS["admin"])
    assert [m["customer_id"] for m in members.json()["items"]] == [troubled["id"]]
    assert (with_tickets["size"], without["size"]) == (1, 1)
