"""Segments over the customer projection: consent enforced (a withdrawal leaves every segment at
once), criteria, the visibility of members role by role, the marketer's rights."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import pytest_asyncio

from crm_marketing.events.consumers import apply_billing_event, apply_ticket_event
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


async def _billing(db, action: str, data: dict) -> None:
    event = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/orders",
        type=f"crm.orders.billing.{action}",
        subject=data["customer_id"],
        data={"currency": "KZT", "order_id": None, "branch_code": "PAY-01", "region_code": "KZ-75"} | data,
    )
    async with db.unit_of_work() as session:
        await apply_billing_event(session, event)


async def test_payment_status_from_the_billing_events_selects_members(client, db):
    late, partly, due, paid, new = (customer_state(branch_code="PAY-01") for _ in range(5))
    await announce(db, late, partly, due, paid, new)
    today = datetime.now(UTC).date()

    async def invoice(customer: dict, amount: int, due_on: date, paid: int = 0) -> None:
        invoice_id = f"INV-{uuid.uuid4().hex[:10]}"
        if paid:  # a payment may arrive before its invoice; both land on the same invoice
            await _billing(
                db,
                "payment_received",
                {
                    "payment_id": str(uuid.uuid4()),
                    "invoice_id": invoice_id,
                    "customer_id": customer["id"],
                    "amount_tiyn": paid,
                    "paid_at": datetime.now(UTC).isoformat(),
                },
            )
        await _billing(
            db,
            "invoice_issued",
            {
                "invoice_id": invoice_id,
                "customer_id": customer["id"],
                "amount_tiyn": amount,
                "issued_on": (due_on - timedelta(days=20)).isoformat(),
                "due_on": due_on.isoformat(),
            },
        )

    await invoice(late, 500_000, today - timedelta(days=3))
    await invoice(partly, 500_000, today - timedelta(days=3), paid=200_000)
    await invoice(partly, 100_000, today - timedelta(days=40), paid=100_000)
    await invoice(due, 500_000, today + timedelta(days=10))
    await invoice(paid, 500_000, today - timedelta(days=3), paid=500_000)

    async def members(*statuses: str) -> set[str]:
        created = await _segment(client, {"branch_codes": ["PAY-01"], "payment_statuses": list(statuses)})
        assert created.status_code == 201, created.text
        page = await client.get(f"/api/v1/marketing/segments/{created.json()['id']}/members", headers=HEADERS["admin"])
        return {m["customer_id"] for m in page.json()["items"]}

    assert await members("overdue") == {late["id"], partly["id"]}
    assert await members("due") == {due["id"]}
    assert await members("paid") == {paid["id"]}
    assert await members("none") == {new["id"]}
    assert await members("paid", "due") == {paid["id"], due["id"]}
    bad = await _segment(client, {"payment_statuses": ["late"]})
    assert bad.status_code == 422 and "payment_statuses" in bad.text


async def test_every_criterion_of_the_issue_is_accepted_and_they_combine(client, people):
    """Region, branch, kind, language, product lines, offerings, tenure, payment status, open
    tickets, loyalty tier: all at once select a customer matching each of them (here: nobody, since
    no customer has an installed product in this module)."""
    criteria = {
        "region_codes": ["KZ-75"],
        "branch_codes": ["ALA-01"],
        "kinds": ["individual"],
        "languages": ["kk"],
        "product_lines": ["internet"],
        "offering_ids": ["fibre-300"],
        "min_tenure_days": 30,
        "payment_statuses": ["none"],
        "has_open_tickets": False,
        "tiers": ["none"],
    }
    created = await _segment(client, criteria)
    assert created.status_code == 201, created.text
    assert created.json()["criteria"] == criteria | {"product_lines": ["internet"]} and created.json()["size"] == 0
    without_products = {k: v for k, v in criteria.items() if k not in ("product_lines", "offering_ids")}
    assert (await _segment(client, without_products)).json()["size"] >= 1  # people["ala01"]
