"""The installed-product projection fed by real crm.orders.installed_product.v1 events through
the broker (the consumer as main.py runs it): created, changed and terminated states in the
orders contract's shape, redeliveries and late older states ignored, a payload that breaks the
contract skipped without blocking the ones behind it; the call centre and ticket creation use
the projection. Also the service's gRPC server (crm.tickets.v1.TicketService)."""

from __future__ import annotations

import grpc
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_contracts.grpc.crm.tickets.v1 import ticket_service_pb2 as pb
from crm_contracts.grpc.crm.tickets.v1 import ticket_service_pb2_grpc as pb_grpc
from crm_shared.grpc import open_channel, principal_metadata
from crm_shared.kafka import ensure_topics
from crm_shared.testing import (
    PRINCIPALS,
    TEST_INTERNAL_TOKEN_SECRET,
    auth_headers,
    eventually,
    group_caught_up,
    publish_events,
)
from crm_tickets.db.models import InstalledProduct
from crm_tickets.events.consumers import CONSUMERS, INSTALLED_PRODUCT_TOPIC
from crm_tickets.main import create_app
from crm_tickets.testing import installed_product_data, installed_product_event

pytestmark = pytest.mark.integration

T = "/api/v1/tickets"
CALL_CENTER = PRINCIPALS["call_center_agent"]


@pytest.fixture(scope="module")
def broker_settings(tickets_settings, kafka_bootstrap):
    return tickets_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap, "consumers_enabled": True})


@pytest_asyncio.fixture(scope="module")
async def consuming_app(broker_settings, clock):
    await ensure_topics(broker_settings.kafka_bootstrap_servers, [(INSTALLED_PRODUCT_TOPIC, 3)])
    app = create_app(broker_settings, clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture(scope="module")
async def http(consuming_app):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=consuming_app), base_url="http://tickets") as c:
        yield c


async def publish(settings, events) -> None:
    await publish_events(settings, INSTALLED_PRODUCT_TOPIC, events)


async def caught_up(settings) -> None:
    group = f"{settings.service_name}.installed-products"
    await eventually(
        lambda: group_caught_up(settings.kafka_bootstrap_servers, group, INSTALLED_PRODUCT_TOPIC),
        message="installed-products caught up",
    )


async def product_row(app, product_id: str) -> InstalledProduct | None:
    async with app.state.runtime.db.read_only() as session:
        return await session.scalar(select(InstalledProduct).where(InstalledProduct.id == product_id))


def test_the_consumer_listens_to_the_orders_topic():
    assert [(c.name, c.topics) for c in CONSUMERS] == [
        ("partner-customers", ["crm.partners.deal.v1"]),  # what partner users see (test_tickets_api.py)
        ("installed-products", [INSTALLED_PRODUCT_TOPIC]),
        ("customer-identity", ["crm.sales.customer.v1"]),  # merges and erasures (test_customer_identity.py)
        ("sales-calls", ["crm.sales.activity.v1"]),  # calls handed over by sales (test_customer_identity.py)
    ]


async def test_products_follow_the_orders_events(consuming_app, http, broker_settings, make_customer, clock):
    customer = await make_customer()
    tv = installed_product_data(
        customer["id"], offering_id="tv-base", offering_name="IPTV Base (120 channels)", product_line="tv", at=clock.now
    )
    internet = installed_product_data(customer["id"], at=clock.now)
    upgraded = installed_product_data(
        customer["id"],
        product_id=internet["id"],
        version=2,
        offering_id="inet-gpon-300",
        offering_name="Fibre 300 Mbit/s",
        at=clock.now,
    )
    terminated_tv = tv | {"version": 2, "status": "terminated", "terminated_at": clock.now.isoformat()}
    broken = installed_product_data(customer["id"]) | {"product_line": "PRODUCT_LINE_INTERNET"}
    await publish(
        broker_settings,
        [
            installed_product_event("created", tv),
            installed_product_event("created", internet),
            installed_product_event("created", broken, check=False),  # breaks the contract: skipped, not retried
            installed_product_event("changed", upgraded),
            installed_product_event("created", internet),  # a late, older state
            installed_product_event("terminated", terminated_tv),
        ],
    )
    await caught_up(broker_settings)

    row = await product_row(consuming_app, internet["id"])
    assert (row.offering_id, row.offering_name, row.source_version, row.product_line, row.status) == (
        "inet-gpon-300",
        "Fibre 300 Mbit/s",
        2,
        "internet",
        "active",
    )
    assert row.service_address == internet["service_address"] and row.branch_code == "ALA-01"
    gone = await product_row(consuming_app, tv["id"])
    assert gone.terminated and gone.status == "terminated" and gone.terminated_at is not None
    assert await product_row(consuming_app, broken["id"]) is None

    # the call centre sees the live product only; a ticket may name it, not the terminated one
    card = (
        await http.get(f"{T}/callers", params={"phone": customer["phone_e164"]}, headers=auth_headers(CALL_CENTER))
    ).json()["items"][0]
    assert [(p["id"], p["offering_id"]) for p in card["installed_products"]] == [(internet["id"], "inet-gpon-300")]
    body = {
        "customer_id": customer["id"],
        "name": "TV freezes",
        "description": "Picture freezes every evening",
        "category": "tv",
        "priority": "low",
    }
    refused = await http.post(
        f"{T}/tickets", json=body | {"installed_product_id": tv["id"]}, headers=auth_headers(CALL_CENTER)
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "installed_product_id"
    opened = await http.post(
        f"{T}/tickets",
        json=body | {"category": "internet", "installed_product_id": internet["id"]},
        headers=auth_headers(CALL_CENTER),
    )
    assert opened.status_code == 201, opened.text
    assert opened.json()["location"] == internet["service_address"]


async def test_grpc_lists_the_customers_open_tickets_as_the_caller_sees_them(consuming_app, http, make_customer):
    customer = await make_customer()
    body = {
        "customer_id": customer["id"],
        "name": "Slow internet",
        "description": "Speed is 2 Mbit/s",
        "category": "internet",
        "priority": "high",
    }
    first = (await http.post(f"{T}/tickets", json=body, headers=auth_headers(CALL_CENTER))).json()
    second = (
        await http.post(f"{T}/tickets", json=body | {"priority": "low"}, headers=auth_headers(CALL_CENTER))
    ).json()
    cancelled = await http.post(
        f"{T}/tickets/{second['id']}/transitions", json={"status": "cancelled"}, headers=auth_headers(CALL_CENTER)
    )
    assert cancelled.status_code == 200, cancelled.text

    worker = next(w for w in consuming_app.state.runtime.workers if w.name == "grpc-server")
    channel = await open_channel(f"127.0.0.1:{worker.port}")
    try:
        stub = pb_grpc.TicketServiceStub(channel)

        async def ask(principal, **request):
            return await stub.ListCustomerTickets(
                pb.ListCustomerTicketsRequest(customer_id=customer["id"], **request),
                metadata=principal_metadata(principal, TEST_INTERNAL_TOKEN_SECRET),
            )

        assert [t.id for t in (await ask(CALL_CENTER)).tickets] == [first["id"]]
        everything = await ask(PRINCIPALS["branch_agent"], include_closed=True)
        assert [(t.id, t.status) for t in everything.tickets] == [(first["id"], "new"), (second["id"], "cancelled")]
        assert everything.tickets[0].queue == first["queue"] and everything.tickets[0].urgency_at.seconds > 0
        # a branch elsewhere sees nothing of an Almaty customer's tickets
        from crm_shared.auth import Principal, Role

        karaganda = Principal("t-kar", "agent.kar01", Role.BRANCH_AGENT, region="KZ-35", branch="KAR-01")
        assert list((await ask(karaganda)).tickets) == []
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ListCustomerTickets(
                pb.ListCustomerTicketsRequest(), metadata=principal_metadata(CALL_CENTER, TEST_INTERNAL_TOKEN_SECRET)
            )
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT and "customer_id" in refused.value.details()
        with pytest.raises(grpc.aio.AioRpcError) as anonymous:
            await stub.ListCustomerTickets(pb.ListCustomerTicketsRequest(customer_id=customer["id"]))
        assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED
    finally:
        await channel.close()


async def test_demo_seed_opens_its_tickets_once_sales_answers(broker_settings, make_database, make_customer, clock):
    from crm_shared.clients.sales import SalesCustomers
    from crm_shared.db import Database
    from crm_shared.migrations import upgrade_async
    from crm_tickets.db.models import DemoStory, Ticket
    from crm_tickets.seed import DEMO_INCIDENT_ID, DemoStories, seed_demo

    from .conftest import MIGRATIONS

    url = await make_database("tk_seed")
    await upgrade_async(MIGRATIONS, url)
    settings = broker_settings.model_copy(update={"database_url": url})
    db = Database(url)
    directory = SalesCustomers(settings)
    await directory.start()
    try:
        # the documented demo customers, except the Astana one
        for phone, branch in (("+77011234567", "ALA-01"), ("+77051112233", "ALA-02"), ("+77212410000", "KAR-01")):
            await make_customer("admin", phone=phone, branch_code=branch)
        assert await seed_demo(db, settings) == {"incidents": 1, "tickets_queued": 5}
        assert await seed_demo(db, settings) == {"incidents": 0, "tickets_queued": 0}

        stories = DemoStories(db, directory, clock)
        assert await stories.play_pending() == 0
        assert await stories.play_pending() == 0  # a second pass (a restart, another replica) plays nothing
        async with db.read_only() as session:
            tickets = {t.branch_code + ":" + t.category: t for t in await session.scalars(select(Ticket))}
            outcomes = {s.key: s.outcome for s in await session.scalars(select(DemoStory))}
        assert {k: t.status for k, t in tickets.items()} == {
            "ALA-01:internet": "in_progress",
            "ALA-01:billing": "closed",
            "ALA-02:tv": "pending",
            "KAR-01:internet": "new",
        }
        assert tickets["KAR-01:internet"].incident_id == DEMO_INCIDENT_ID
        assert tickets["ALA-02:tv"].paused_at is not None
        assert outcomes["ast01-digital-phone"].startswith("no customer with phone +77172555000")
    finally:
        await directory.stop()
        await db.dispose()
