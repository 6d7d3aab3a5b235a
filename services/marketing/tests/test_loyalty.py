"""Loyalty: payments from the billing topic (the real broker, the real consumer) enrol the
customer and accrue points exactly once per payment event, however often it is delivered;
concurrent redemptions never take the balance below zero; the card finds the account; points
expire; a merge moves the points to the survivor."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import func, select

from crm_marketing.background import loyalty_rules
from crm_marketing.config import MarketingSettings
from crm_marketing.db.models import LoyaltyEntry
from crm_marketing.events.consumers import apply_customer_event, payment_consumer
from crm_marketing.main import create_app
from crm_marketing.services import loyalty_service
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.testing import publish_events, running_consumer, unique_topic

from .helpers import HEADERS, announce, customer_state

pytestmark = pytest.mark.integration
API = "/api/v1/marketing/loyalty"


@pytest.fixture(scope="module")
def settings(database_url, kafka_bootstrap) -> MarketingSettings:
    return MarketingSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        relay_enabled=False,
        consumers_enabled=False,
        grpc_enabled=False,
        sender_enabled=False,
        log_json=False,
        log_level="WARNING",
    )


@pytest_asyncio.fixture(scope="module")
async def db(database_url):
    database = Database(database_url)
    yield database
    await database.dispose()


def payment(customer: dict, amount_tiyn: int, **overrides) -> CloudEvent:
    data = {
        "payment_id": f"pay-{uuid.uuid4().hex[:12]}",
        "invoice_id": f"inv-{uuid.uuid4().hex[:12]}",
        "customer_id": customer["id"],
        "order_id": None,
        "amount_tiyn": amount_tiyn,
        "currency": "KZT",
        "paid_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "branch_code": customer["branch_code"],
        "region_code": customer["region_code"],
    } | overrides
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/orders",
        type="crm.orders.billing.payment_received",
        subject=customer["id"],
        data=data,
    )


async def _accrue(db, settings, events) -> None:
    """The loyalty consumer on a topic of its own, until it has read what was published."""
    topic = unique_topic("crm.test.billing")
    await publish_events(settings, topic, events)
    spec = payment_consumer(loyalty_rules(settings))
    async with running_consumer("loyalty", db, settings, topic, spec.contract_checked()):
        pass


async def test_a_payment_enrols_and_accrues_once_however_often_it_is_delivered(client, db, settings):
    customer = customer_state()
    await announce(db, customer)
    first = payment(customer, 250_000_00)  # 250,000 tenge: silver
    same_report_again = CloudEvent(**{**first.__dict__, "id": str(uuid.uuid4())})  # a re-sent report
    await _accrue(db, settings, [first, first, same_report_again, first])
    account = (await client.get(f"{API}/accounts/{customer['id']}", headers=HEADERS["admin"])).json()
    assert account["points"] == 2500 and account["tier"] == "silver"
    async with db.reads() as session:
        entries = await session.scalar(
            select(func.count()).select_from(LoyaltyEntry).where(LoyaltyEntry.customer_id == customer["id"])
        )
    assert entries == 1
    by_card = await client.get(f"{API}/cards/{account['card_number']}", headers=HEADERS["branch_agent"])
    assert by_card.status_code == 200 and by_card.json()["customer_id"] == customer["id"]
    await _accrue(db, settings, [payment(customer, 60_000_00)])
    account = (await client.get(f"{API}/accounts/{customer['id']}", headers=HEADERS["admin"])).json()
    assert account["points"] == 3100 and account["tier"] == "gold"


async def test_concurrent_redemptions_never_take_the_balance_below_zero(client, db, settings):
    customer = customer_state()
    await announce(db, customer)
    await _accrue(db, settings, [payment(customer, 1000_00)])  # 1000 tenge: 10 points
    redeem = {"points": 3, "reward": "cinema ticket"}
    answers = await asyncio.gather(
        *[
            client.post(f"{API}/accounts/{customer['id']}/redemptions", json=redeem, headers=HEADERS["admin"])
            for _ in range(8)
        ]
    )
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201, 201, 201, 409, 409, 409, 409, 409]
    account = (await client.get(f"{API}/accounts/{customer['id']}", headers=HEADERS["admin"])).json()
    assert account["points"] == 1


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("admin", 200),
        ("call_center_agent", 200),
        ("branch_agent", 200),
        ("regional_manager", 200),
        ("hq_analyst", 404),
    ],
)
async def test_accounts_follow_the_callers_visibility(client, db, who, status):
    customer = customer_state(branch_code="ALA-01")
    await announce(db, customer)
    enrolled = await client.post(f"{API}/accounts", json={"customer_id": customer["id"]}, headers=HEADERS["admin"])
    assert enrolled.status_code == 201
    assert (await client.get(f"{API}/accounts/{customer['id']}", headers=HEADERS[who])).status_code == status
    elsewhere = customer_state(region_code="KZ-35", branch_code="KAR-01")
    await announce(db, elsewhere)
    await client.post(f"{API}/accounts", json={"customer_id": elsewhere["id"]}, headers=HEADERS["admin"])
    hidden = who in ("branch_agent", "regional_manager", "hq_analyst")
    answer = await client.get(f"{API}/accounts/{elsewhere['id']}", headers=HEADERS[who])
    assert answer.status_code == (404 if hidden else 200)


async def test_a_bad_card_number_is_a_422_naming_it(client):
    answer = await client.get(f"{API}/cards/7707000000000001", headers=HEADERS["admin"])
    assert answer.status_code in (404, 422)
    answer = await client.get(f"{API}/cards/12345", headers=HEADERS["admin"])
    assert answer.status_code == 422 and "card_number" in answer.text


async def test_old_points_expire_oldest_first(client, db, settings):
    customer = customer_state()
    await announce(db, customer)
    long_ago = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    await _accrue(db, settings, [payment(customer, 5000_00, paid_at=long_ago), payment(customer, 2000_00)])
    # 50 old points, 20 new; 30 spent (from the old ones first)
    await client.post(
        f"{API}/accounts/{customer['id']}/redemptions", json={"points": 30, "reward": "gift"}, headers=HEADERS["admin"]
    )
    async with db.unit_of_work() as session:
        expired = await loyalty_service.expire_points(session, datetime.now(UTC), 365)
    assert expired >= 20
    account = (await client.get(f"{API}/accounts/{customer['id']}", headers=HEADERS["admin"])).json()
    assert account["points"] == 20


async def test_a_merge_moves_the_points_to_the_survivor(client, db, settings):
    survivor, duplicate = customer_state(), customer_state()
    await announce(db, survivor, duplicate)
    await _accrue(db, settings, [payment(survivor, 1000_00), payment(duplicate, 3000_00)])
    merged = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/sales",
        type="crm.sales.customer.merged",
        subject=survivor["id"],
        data=survivor | {"version": 2, "duplicate_id": duplicate["id"], "survivor_id": survivor["id"]},
    )
    async with db.unit_of_work() as session:
        await apply_customer_event(session, merged)
    account = (await client.get(f"{API}/accounts/{survivor['id']}", headers=HEADERS["admin"])).json()
    assert account["points"] == 40
    # the duplicate's id leads to the survivor's account
    assert (await client.get(f"{API}/accounts/{duplicate['id']}", headers=HEADERS["admin"])).json()[
        "customer_id"
    ] == survivor["id"]


@pytest_asyncio.fixture(scope="module")
async def client(settings):
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://marketing") as http:
            yield http
