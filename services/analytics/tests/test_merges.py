"""A merge re-keys, on the real broker: when sales merges two customers, the duplicate's facts
(its installed products, before and after the merge) count for the survivor, so figures per
customer count the person once; a rebuild from the topics gives the same; erasing the survivor
forgets both salts, so nothing links the rows to the person any more."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_analytics.config import AnalyticsSettings
from crm_analytics.db.models import CustomerPseudonym
from crm_analytics.db.store import RECORDS, EventStore, literal
from crm_analytics.domain.projection import ERASED_CUSTOMER_KEY
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.testing import PRINCIPALS, auth_headers, eventually, group_caught_up, publish_events

from .conftest import settings_with_broker

pytestmark = pytest.mark.integration

REGION = f"KZ-M{uuid.uuid4().hex[:4].upper()}"
BRANCH = f"{REGION}-A"
PERIOD = {"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z", "region_code": REGION}
ANALYST = auth_headers(PRINCIPALS["hq_analyst"])
ADMIN = auth_headers(PRINCIPALS["admin"])
AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUSTOMERS = "crm.sales.customer.v1"
PRODUCTS = "crm.orders.installed_product.v1"

SURVIVOR, DUPLICATE, OTHER = (str(uuid.uuid4()) for _ in range(3))


def event(type_: str, data: dict, at: datetime = AT) -> CloudEvent:
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/" + type_.split(".")[1],
        type=type_,
        subject=data.get("id") or data.get("customer_id"),
        data=data,
        time=at,
        region=REGION,
        branch=BRANCH,
    )


def customer(customer_id: str, status: str = "active", version: int = 1, **extra) -> dict:
    stamp = AT.isoformat()
    return {
        "id": customer_id,
        "kind": "individual",
        "status": status,
        "region_code": REGION,
        "branch_code": BRANCH,
        "version": version,
        "created_at": stamp,
        "updated_at": stamp,
        **extra,
    }


def product(customer_id: str, at: datetime = AT) -> CloudEvent:
    data = {
        "id": str(uuid.uuid4()),
        "customer_id": customer_id,
        "product_line": "internet",
        "offering_id": "internet-basic",
        "status": "active",
        "recurring_price_tiyn": 500_000,
        "region_code": REGION,
        "branch_code": BRANCH,
        "version": 1,
        "activated_at": at.isoformat(),
        "terminated_at": None,
        "updated_at": at.isoformat(),
    }
    return event("crm.orders.installed_product.created", data, at)


@pytest.fixture(scope="module")
def settings(database_url, clickhouse_path, kafka_bootstrap) -> AnalyticsSettings:
    return settings_with_broker(database_url, clickhouse_path, kafka_bootstrap)


@pytest_asyncio.fixture(scope="module")
async def app(settings):
    from crm_analytics.main import create_app

    await publish_events(
        settings,
        CUSTOMERS,
        [event("crm.sales.customer.created", customer(c)) for c in (SURVIVOR, DUPLICATE, OTHER)],
    )
    await publish_events(settings, PRODUCTS, [product(SURVIVOR), product(DUPLICATE), product(OTHER)])
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await caught_up(settings)
        yield app


async def caught_up(settings) -> None:
    for topic in (CUSTOMERS, PRODUCTS):
        await eventually(
            lambda topic=topic: group_caught_up(settings.kafka_bootstrap_servers, settings.ingest_group_id, topic),
            message=f"the ingest worker read {topic}",
        )


async def per_customer(client) -> tuple[int, int, int]:
    """(active customers, subscribers, products active) of the module's region."""
    answer = await client.get("/api/v1/analytics/dashboards/overview", params=PERIOD, headers=ANALYST)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    return (
        data["customers"]["active"],
        data["installed_base"]["subscribers"],
        data["installed_base"]["active"],
    )


async def customer_keys(settings) -> set[str]:
    store = EventStore(settings)
    _, rows = await store.query(
        f"SELECT DISTINCT customer_key FROM {store.table(RECORDS)} FINAL "
        f"WHERE topic = {literal(PRODUCTS)} AND region_code = {literal(REGION)}"
    )
    return {row[0] for row in rows}


async def test_a_merged_customers_facts_count_for_the_survivor_and_a_rebuild_agrees(client, settings):
    assert await per_customer(client) == (3, 3, 3)
    merged = event(
        "crm.sales.customer.merged",
        customer(SURVIVOR, version=2, duplicate_id=DUPLICATE, merged_into_id=None),
        AT + timedelta(days=1),
    )
    # the merge, and a product sales' other services make for the duplicate afterwards
    await publish_events(settings, CUSTOMERS, [merged, merged])  # a redelivery re-keys nothing more
    await publish_events(settings, PRODUCTS, [product(DUPLICATE, AT + timedelta(days=2))])

    async def once():
        return await per_customer(client) == (2, 2, 4)

    await eventually(once, message="the duplicate's products counted for the survivor")
    assert len(await customer_keys(settings)) == 2

    started = await client.post("/api/v1/analytics/store/rebuild", headers=ADMIN)
    assert started.status_code == 202
    await eventually(once, message="the rebuilt store re-keyed as before")
    assert len(await customer_keys(settings)) == 2


async def test_erasing_the_survivor_cuts_the_link_of_both(client, settings):
    before = await customer_keys(settings)
    erased = event(
        "crm.sales.customer.erased",
        {
            "customer_id": SURVIVOR,
            "erasure_id": str(uuid.uuid4()),
            "customer_ids": [SURVIVOR, DUPLICATE],
            "requested_at": datetime.now(UTC).isoformat(),
        },
    )
    await publish_events(settings, CUSTOMERS, [erased])
    db = Database(settings.database_url)
    try:

        async def forgotten():
            async with db.read_only() as session:
                rows = await session.execute(
                    select(CustomerPseudonym.customer_id, CustomerPseudonym.salt).where(
                        CustomerPseudonym.customer_id.in_([SURVIVOR, DUPLICATE])
                    )
                )
                return dict(rows.tuples().all()) == {SURVIVOR: None, DUPLICATE: None}

        await eventually(forgotten, message="both salts forgotten")
    finally:
        await db.dispose()
    # the duplicate's products made after the erasure are no one's
    await publish_events(settings, PRODUCTS, [product(DUPLICATE, AT + timedelta(days=3))])

    async def anonymous():
        return await customer_keys(settings) == before | {ERASED_CUSTOMER_KEY}

    await eventually(anonymous, message="the later product under the erased key")
    # the person's earlier facts stay, under a key nothing links to them; the later one is no one's
    assert (await per_customer(client))[1:] == (2, 5)
