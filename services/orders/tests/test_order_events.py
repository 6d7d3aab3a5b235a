"""The orders service's events on the real broker: a billing system (a plain aiokafka consumer
that remembers the event ids it applied) receives every completed order exactly once, even when
the outbox relay is killed in the middle of a batch and restarted; and a won opportunity from
sales starts one draft order however often its event is delivered."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, select

from crm_contracts import events as catalogue
from crm_orders.db.models import Order
from crm_orders.events.consumers import CONSUMERS, OPPORTUNITY_TOPIC
from crm_shared.auth import Principal, Role
from crm_shared.consumer import EventConsumer
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.kafka import ensure_topics
from crm_shared.models import OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers, eventually

pytestmark = pytest.mark.integration

RELAY_SCRIPT = Path(__file__).resolve().parents[3] / "shared/tests/relay_process.py"
ORDER_TOPIC = "crm.orders.order.v1"
COMPLETED = "crm.orders.order.completed"
ORDERS = "/api/v1/orders/orders"
OSS = Principal("k-oss", "demo-oss", Role.SYSTEM, scopes=("orders:read", "orders:fulfil"))
# Tansu holds a group join for half the session timeout; a short one keeps the test quick.
QUICK_GROUP_JOIN = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}


@pytest_asyncio.fixture(scope="module")
async def topics(kafka_bootstrap) -> None:
    await ensure_topics(
        kafka_bootstrap,
        [
            (t["name"], t["partitions"])
            for t in catalogue.topics()
            if t["name"].startswith(("crm.orders.", "crm.sales.opportunity."))
        ],
    )


@pytest_asyncio.fixture(scope="module")
async def db(orders_database):
    database = Database(orders_database)
    yield database
    await database.dispose()


class BillingSystem:
    """What an external billing system does with the order topic: a plain consumer in its own
    group that applies each completed order once, keyed by the CloudEvents id."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            ORDER_TOPIC,
            bootstrap_servers=bootstrap,
            group_id=f"billing-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            **QUICK_GROUP_JOIN,
        )
        self.deliveries: list[tuple[str, str]] = []  # (event id, order id) of every completed event received
        self.applied: dict[str, list[str]] = {}  # order id -> event ids applied (billed)
        self._seen: set[str] = set()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=200)
            for records in batch.values():
                for record in records:
                    event = CloudEvent.from_kafka(record.headers, record.value)
                    if event.type != COMPLETED:
                        continue
                    self.deliveries.append((event.id, event.subject))
                    if event.id not in self._seen:
                        self._seen.add(event.id)
                        self.applied.setdefault(event.data["id"], []).append(event.id)
            if batch:
                await self.consumer.commit()

    async def at_end(self) -> bool:
        partitions = self.consumer.assignment()
        if not partitions:
            return False
        ends = await self.consumer.end_offsets(list(partitions))
        positions = {tp: await self.consumer.position(tp) for tp in partitions}
        return all(positions[tp] >= ends[tp] for tp in partitions)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()


def start_relay(database_url: str, bootstrap: str, log: Path, batch_size: int) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                str(RELAY_SCRIPT),
                "--database-url",
                database_url,
                "--bootstrap",
                bootstrap,
                "--batch-size",
                str(batch_size),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def unsent(db: Database) -> int:
    async with db.read_only() as session:
        return await session.scalar(select(func.count()).where(OutboxEvent.sent_at.is_(None)))


async def test_billing_receives_each_completed_order_once_across_a_relay_killed_mid_batch(
    client, customers, db, orders_database, kafka_bootstrap, topics, tmp_path
):
    completed_orders = []
    for n in range(24):
        customer = customers["almaty"] if n % 2 else customers["almaty2"]
        taken = await client.post(
            ORDERS,
            json={"customer_id": customer, "items": [{"offering_id": "mob-start"}]},
            headers=auth_headers(PRINCIPALS["branch_agent"]),
        )
        assert taken.status_code == 201, taken.text
        order = taken.json()
        done = await client.post(
            f"{ORDERS}/{order['id']}/items/{order['items'][0]['id']}/fulfilment",
            json={"state": "completed"},
            headers=auth_headers(OSS),
        )
        assert done.json()["state"] == "completed", done.text
        completed_orders.append(order["id"])
    async with db.read_only() as session:
        completion_ids = dict(
            (
                await session.execute(
                    select(OutboxEvent.subject, OutboxEvent.event_id).where(OutboxEvent.type == COMPLETED)
                )
            ).all()
        )
    backlog = await unsent(db)
    assert set(completed_orders) <= set(completion_ids) and backlog >= 3 * len(completed_orders)

    billing = BillingSystem(kafka_bootstrap)
    await billing.start()
    try:
        relay = start_relay(orders_database, kafka_bootstrap, tmp_path / "relay-1.log", batch_size=3)
        try:
            await eventually(
                lambda: _at_most(unsent(db), backlog - 15), interval_s=0.01, message="the first relay got going"
            )
        finally:
            relay.send_signal(signal.SIGKILL)
            relay.wait(10)
        assert relay.returncode == -signal.SIGKILL
        assert await unsent(db) > 0, "the relay was killed with a backlog left"

        relay = start_relay(orders_database, kafka_bootstrap, tmp_path / "relay-2.log", batch_size=50)
        try:
            await eventually(lambda: _at_most(unsent(db), 0), message="the restarted relay caught up")
        finally:
            relay.send_signal(signal.SIGTERM)
            relay.wait(15)

        async def billed_everything():
            return set(completed_orders) <= set(billing.applied) and await billing.at_end()

        await eventually(billed_everything, interval_s=0.2, message="billing read the topic to its end")
    finally:
        await billing.stop()

    ours = {order_id: event_ids for order_id, event_ids in billing.applied.items() if order_id in completed_orders}
    assert ours == {order_id: [completion_ids[order_id]] for order_id in completed_orders}
    # at-least-once underneath: whatever arrived twice had the same event id
    delivered = {event_id for event_id, subject in billing.deliveries if subject in completed_orders}
    assert delivered == {completion_ids[order_id] for order_id in completed_orders}


def won_opportunity(opportunity_id: str, customer_id: str) -> dict:
    now = datetime.now(UTC).isoformat()
    data = {
        "id": opportunity_id,
        "version": 4,
        "created_at": now,
        "updated_at": now,
        "customer_id": customer_id,
        "lead_id": None,
        "name": "Fibre for the new flat",
        "product_line": "internet",
        "stage": "closed_won",
        "probability": 100,
        "amount_tiyn": 6990_00,
        "currency": "KZT",
        "expected_close_date": None,
        "close_reason": "signed",
        "closed_at": now,
        "owner_id": "user-almaty-agent",
        "owner_name": "almaty.agent",
        "branch_code": "ALA-01",
        "region_code": "KZ-75",
    }
    catalogue.validate("crm.sales.opportunity.won", data)
    return data


async def test_a_won_opportunity_starts_one_draft_order_however_often_it_arrives(
    orders_settings, db, customers, kafka_bootstrap, topics
):
    settings = orders_settings.model_copy(update={"kafka_bootstrap_servers": kafka_bootstrap})
    opportunity_id, other_id = str(uuid.uuid4()), str(uuid.uuid4())
    won = CloudEvent(
        id=str(uuid.uuid4()),
        source="/crm/sales",
        type="crm.sales.opportunity.won",
        subject=opportunity_id,
        data=won_opportunity(opportunity_id, customers["almaty"]),
        region="KZ-75",
        branch="ALA-01",
    )
    # the same event redelivered, a second "won" of the same opportunity (another event id),
    # an event of another type, then another opportunity's win as the marker that all were read
    sequence = [
        won,
        won,
        CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/sales",
            type="crm.sales.opportunity.won",
            subject=opportunity_id,
            data=won.data,
        ),
        CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/sales",
            type="crm.sales.opportunity.updated",
            subject=opportunity_id,
            data=won.data | {"stage": "negotiation"},
        ),
        CloudEvent(
            id=str(uuid.uuid4()),
            source="/crm/sales",
            type="crm.sales.opportunity.won",
            subject=other_id,
            data=won_opportunity(other_id, customers["almaty2"]),
        ),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for event in sequence:
            await producer.send_and_wait(
                OPPORTUNITY_TOPIC, event.kafka_value(), key=event.kafka_key(), headers=event.kafka_headers()
            )
    finally:
        await producer.stop()

    consumers = [
        EventConsumer(
            spec.name, db, settings, spec.topics, spec.handler, retry_initial_s=0.05, consumer_options=QUICK_GROUP_JOIN
        )
        for spec in CONSUMERS
    ]
    for consumer in consumers:
        await consumer.start()
    try:

        async def drafts():
            async with db.read_only() as session:
                rows = list(
                    await session.scalars(select(Order).where(Order.opportunity_id.in_([opportunity_id, other_id])))
                )
            return rows if {o.opportunity_id for o in rows} == {opportunity_id, other_id} else None

        rows = await eventually(drafts, interval_s=0.1, message="both opportunities became drafts")
    finally:
        for consumer in consumers:
            await consumer.stop()
    mine = [o for o in rows if o.opportunity_id == opportunity_id]
    assert len(mine) == 1 and len(rows) == 2
    draft = mine[0]
    assert (draft.state, draft.source, draft.customer_id) == ("draft", "opportunity", customers["almaty"])
    assert (draft.branch_code, draft.region_code, draft.owner_id) == ("ALA-01", "KZ-75", "user-almaty-agent")
    async with db.read_only() as session:
        written = list(await session.scalars(select(OutboxEvent).where(OutboxEvent.subject == draft.id)))
    assert [(e.type, e.data["state"], e.data["source"]) for e in written] == [
        ("crm.orders.order.created", "draft", "opportunity")
    ]
    catalogue.validate(written[0].type, written[0].data)


async def _at_most(count_awaitable, limit: int) -> bool:
    return await count_awaitable <= limit
