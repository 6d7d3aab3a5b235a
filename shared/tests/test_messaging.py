"""Outbox → relay → broker → idempotent consumer, on the real PostgreSQL and on the on-disk
SQLite mode, with the real Kafka-protocol broker (Tansu)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import JSON, String, func, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from crm_shared.app import ServiceRuntime, create_service_app
from crm_shared.broker import EmbeddedBroker, free_port
from crm_shared.consumer import EventConsumer
from crm_shared.db import Database, PlatformBase, new_metadata, utcnow
from crm_shared.envelope import CloudEvent
from crm_shared.kafka import ensure_topics, make_producer
from crm_shared.metrics import REGISTRY
from crm_shared.models import BigIntPK, InboxRecord, OutboxEvent
from crm_shared.outbox import add_event
from crm_shared.relay import (
    PARK_AFTER_ATTEMPTS,
    OutboxPublishError,
    OutboxRelay,
    publish_batch,
    purge_sent,
    refresh_backlog_metrics,
    replay,
)
from crm_shared.settings import ServiceSettings
from crm_shared.testing import eventually, group_caught_up, publish_events, read_topic, unique_topic

pytestmark = pytest.mark.integration

RELAY_SCRIPT = Path(__file__).with_name("relay_process.py")
# Tansu holds a group join for half the session timeout; a short one keeps the tests quick.
QUICK_GROUP_JOIN = {"session_timeout_ms": 2000, "heartbeat_interval_ms": 500}
EVENT_TYPE = "crm.test.account.changed"


class EffectsBase(DeclarativeBase):
    metadata = new_metadata()


class AppliedEffect(EffectsBase):
    """One row per time a consumer's handler ran and committed: duplicates would show up here."""

    __tablename__ = "test_applied_effects"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(200), index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    subject: Mapped[str] = mapped_column(String(200))
    position: Mapped[int | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    span_id: Mapped[str | None] = mapped_column(String(16))


@pytest_asyncio.fixture(scope="module", params=["postgresql", "sqlite"])
async def db(request, make_database, tmp_path_factory):
    if request.param == "postgresql":
        url = await make_database("messaging")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('messaging') / 'service.db'}"
    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(PlatformBase.metadata.create_all)
        await conn.run_sync(EffectsBase.metadata.create_all)
    yield database
    await database.dispose()


@pytest_asyncio.fixture
async def topic(kafka_bootstrap) -> str:
    name = unique_topic()
    await ensure_topics(kafka_bootstrap, [(name, 3)])
    return name


def service_settings(db: Database, bootstrap: str, **overrides) -> ServiceSettings:
    values = dict(
        service_name="msgtest", database_url=db.url, kafka_bootstrap_servers=bootstrap, outbox_poll_interval_s=0.05
    )
    values.update(overrides)
    return ServiceSettings(**values)


def new_relay(db: Database, settings: ServiceSettings, **options) -> OutboxRelay:
    options = {"backoff_initial_s": 0.1, "standby_retry_s": 0.1, "listen_fallback_poll_s": 1.0, **options}
    return OutboxRelay(db, settings, **options)


def recording_handler(consumer_name: str):
    async def handle(session, event: CloudEvent) -> None:
        current = trace.get_current_span().get_span_context()
        session.add(
            AppliedEffect(
                consumer=consumer_name,
                event_id=event.id,
                subject=event.subject,
                position=event.data.get("n"),
                attributes=event.as_dict(),
                span_id=format(current.span_id, "016x") if current.is_valid else None,
            )
        )

    return handle


def new_consumer(db: Database, settings: ServiceSettings, topic: str, handler=None, **options) -> EventConsumer:
    name = f"test-{uuid.uuid4().hex[:8]}"
    return EventConsumer(
        name,
        db,
        settings,
        [topic],
        handler or recording_handler(name),
        **{"retry_initial_s": 0.05, "consumer_options": QUICK_GROUP_JOIN, **options},
    )


@asynccontextmanager
async def running(*workers):
    started = []
    try:
        for worker in workers:
            await worker.start()
            started.append(worker)
        yield workers
    finally:
        for worker in reversed(started):
            await worker.stop()


async def write_events(
    db: Database, topic: str, events: Sequence[tuple[str, dict]], *, per_transaction: int = 50, **attributes
) -> list[OutboxEvent]:
    written: list[OutboxEvent] = []
    for start in range(0, len(events), per_transaction):
        async with db.unit_of_work() as session:
            for subject, data in events[start : start + per_transaction]:
                written.append(
                    await add_event(
                        session,
                        topic=topic,
                        type=EVENT_TYPE,
                        source="/crm/test",
                        subject=subject,
                        data=data,
                        **attributes,
                    )
                )
    return written


async def effects_of(db: Database, consumer: str) -> list[AppliedEffect]:
    async with db.read_only() as session:
        stmt = select(AppliedEffect).where(AppliedEffect.consumer == consumer).order_by(AppliedEffect.id)
        return list((await session.scalars(stmt)).all())


async def outbox_rows(db: Database, topic: str) -> list[OutboxEvent]:
    async with db.read_only() as session:
        stmt = select(OutboxEvent).where(OutboxEvent.topic == topic).order_by(OutboxEvent.seq)
        return list((await session.scalars(stmt)).all())


async def sent_count(db: Database, topic: str) -> int:
    async with db.read_only() as session:
        stmt = select(func.count()).where(OutboxEvent.topic == topic, OutboxEvent.sent_at.is_not(None))
        return await session.scalar(stmt)


def header(record, name: str) -> str | None:
    value = dict(record.headers).get(name)
    return value.decode() if value is not None else None


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_round_trip_from_outbox_to_an_idempotent_consumer(db, kafka_bootstrap, topic):
    settings = service_settings(db, kafka_bootstrap)
    written = await write_events(
        db,
        topic,
        [(f"acct-{i}", {"n": i, "name": f"Account {i}", "balance_tiyn": 1000 * i}) for i in range(3)],
        region="ALM",
        branch="ALM-01",
        dataschema=f"urn:qazaq-crm:schema:{EVENT_TYPE}:1",
    )
    consumer = new_consumer(db, settings, topic)
    async with running(new_relay(db, settings), consumer):
        await eventually(lambda: _true(consumer.ready), message="partitions assigned")
        applied = await eventually(lambda: _at_least(effects_of(db, consumer.name), 3), message="3 events applied")

    records = await read_topic(kafka_bootstrap, topic, until=lambda got: len(got) >= 3)
    by_id = {header(record, "ce_id"): record for record in records}
    assert set(by_id) == {event.event_id for event in written}
    for event in written:
        record = by_id[event.event_id]
        assert record.key == event.subject.encode()
        assert orjson.loads(record.value) == event.data
        assert header(record, "ce_specversion") == "1.0"
        assert header(record, "content-type") == "application/json"
        assert (header(record, "ce_type"), header(record, "ce_source"), header(record, "ce_subject")) == (
            EVENT_TYPE,
            "/crm/test",
            event.subject,
        )
        assert header(record, "ce_dataschema") == f"urn:qazaq-crm:schema:{EVENT_TYPE}:1"
        assert (header(record, "ce_region"), header(record, "ce_branch")) == ("ALM", "ALM-01")
        assert header(record, "ce_time") == event.created_at.isoformat().replace("+00:00", "Z")

    by_event = {effect.event_id: effect for effect in applied}
    for event in written:
        seen = by_event[event.event_id].attributes
        assert seen["data"] == event.data and seen["subject"] == event.subject and seen["type"] == EVENT_TYPE
        assert (seen["region"], seen["branch"], seen["source"]) == ("ALM", "ALM-01", "/crm/test")
    rows = await outbox_rows(db, topic)
    assert all(row.sent_at is not None and row.attempts == 1 and row.last_error is None for row in rows)
    lags = [
        metric("crm_consumer_lag", service="msgtest", consumer=consumer.name, topic=topic, partition=str(p))
        for p in {record.partition for record in records}
    ]
    assert lags and all(lag == 0 for lag in lags)


async def test_each_key_keeps_its_order_over_hundreds_of_events(db, kafka_bootstrap, topic):
    subjects = [f"acct-{k}" for k in range(10)]
    events = [(subjects[i % 10], {"n": i // 10}) for i in range(200)]
    settings = service_settings(db, kafka_bootstrap, outbox_batch_size=25)
    await write_events(db, topic, events, per_transaction=20)
    consumer = new_consumer(db, settings, topic, max_records=40)
    async with running(new_relay(db, settings), consumer):
        applied = await eventually(lambda: _at_least(effects_of(db, consumer.name), 200), message="200 applied")

    for subject in subjects:
        positions = [effect.position for effect in applied if effect.subject == subject]
        assert positions == list(range(20)), subject
    records = await read_topic(kafka_bootstrap, topic, until=lambda got: len(got) >= 200)
    partitions_of = {}
    for record in records:
        partitions_of.setdefault(record.key, set()).add(record.partition)
    assert all(len(partitions) == 1 for partitions in partitions_of.values())
    assert len({record.partition for record in records}) > 1


async def test_the_same_event_delivered_twice_is_applied_once(db, kafka_bootstrap, topic):
    settings = service_settings(db, kafka_bootstrap)
    event = CloudEvent(id=str(uuid.uuid4()), source="/crm/test", type=EVENT_TYPE, subject="acct-dup", data={"n": 1})
    sentinel = CloudEvent(id=str(uuid.uuid4()), source="/crm/test", type=EVENT_TYPE, subject="acct-dup", data={"n": 2})
    producer = make_producer(settings)
    await producer.start()
    try:
        for message in (event, event, sentinel):  # one key: one partition, this order
            await producer.send_and_wait(
                topic, message.kafka_value(), key=message.kafka_key(), headers=message.kafka_headers()
            )
    finally:
        await producer.stop()
    consumer = new_consumer(db, settings, topic)
    duplicates_before = metric(
        "crm_consumer_events_total", service="msgtest", consumer=consumer.name, outcome="duplicate"
    )
    async with running(consumer):
        applied = await eventually(lambda: _at_least(effects_of(db, consumer.name), 2), message="sentinel applied")

    assert [effect.event_id for effect in applied] == [event.id, sentinel.id]
    async with db.read_only() as session:
        inbox = (await session.scalars(select(InboxRecord.event_id).where(InboxRecord.consumer == consumer.name))).all()
    assert sorted(inbox) == sorted([event.id, sentinel.id])
    assert (
        metric("crm_consumer_events_total", service="msgtest", consumer=consumer.name, outcome="duplicate")
        == duplicates_before + 1
    )


async def test_replay_republishes_and_consumers_do_not_reapply(db, kafka_bootstrap, topic):
    settings = service_settings(db, kafka_bootstrap)
    early = await write_events(db, topic, [("acct-replay", {"n": i}) for i in range(3)])
    since = utcnow()
    late = await write_events(db, topic, [("acct-replay", {"n": i}) for i in range(3, 5)])
    consumer = new_consumer(db, settings, topic)
    async with running(new_relay(db, settings), consumer):
        await eventually(lambda: _at_least(effects_of(db, consumer.name), 5), message="5 applied")

        assert await replay(db, since, topic=topic) == 2
        assert await replay(db, since, topic="crm.test.some-other-topic.v1") == 0
        records = await read_topic(kafka_bootstrap, topic, until=lambda got: len(got) >= 7)
        sentinel = await write_events(db, topic, [("acct-replay", {"n": 5})])
        applied = await eventually(lambda: _at_least(effects_of(db, consumer.name), 6), message="sentinel applied")

    published = [header(record, "ce_id") for record in records]
    assert sorted(published) == sorted([e.event_id for e in early] + [e.event_id for e in late] * 2)
    assert [effect.event_id for effect in applied] == [e.event_id for e in early + late + sentinel]
    assert all(row.sent_at is not None for row in await outbox_rows(db, topic))
    with pytest.raises(ValueError):
        await replay(db, since.replace(tzinfo=None))


async def test_handler_errors_are_retried_in_order_and_malformed_records_skipped(db, kafka_bootstrap, topic):
    settings = service_settings(db, kafka_bootstrap)
    producer = make_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"not json and no ce_ headers", key=b"acct-flaky")
    finally:
        await producer.stop()
    flaky, after = await write_events(db, topic, [("acct-flaky", {"n": 1}), ("acct-flaky", {"n": 2})])
    attempts: dict[str, int] = {}
    name = f"test-{uuid.uuid4().hex[:8]}"
    record = recording_handler(name)

    async def fails_twice(session, event: CloudEvent) -> None:
        attempts[event.id] = attempts.get(event.id, 0) + 1
        await record(session, event)  # written, then rolled back by the failure below
        if event.id == flaky.event_id and attempts[event.id] <= 2:
            raise RuntimeError("downstream projection not ready")

    consumer = EventConsumer(
        name, db, settings, [topic], fails_twice, retry_initial_s=0.05, consumer_options=QUICK_GROUP_JOIN
    )
    malformed_before = metric("crm_consumer_events_total", service="msgtest", consumer=name, outcome="malformed")
    async with running(new_relay(db, settings), consumer):
        applied = await eventually(lambda: _at_least(effects_of(db, name), 2), message="both applied")

    assert [effect.event_id for effect in applied] == [flaky.event_id, after.event_id]
    assert attempts == {flaky.event_id: 3, after.event_id: 1}
    assert metric("crm_consumer_events_total", service="msgtest", consumer=name, outcome="error") == 2
    assert (
        metric("crm_consumer_events_total", service="msgtest", consumer=name, outcome="malformed")
        == malformed_before + 1
    )


async def test_trace_runs_from_the_writer_through_publish_to_the_consumer(db, kafka_bootstrap, topic, span_exporter):
    span_exporter.clear()
    settings = service_settings(db, kafka_bootstrap)
    with trace.get_tracer("test").start_as_current_span("POST /api/v1/accounts") as request_span:
        (event,) = await write_events(db, topic, [("acct-traced", {"n": 1})])
    assert event.trace_headers["traceparent"].split("-")[2] == format(request_span.get_span_context().span_id, "016x")
    consumer = new_consumer(db, settings, topic)
    async with running(new_relay(db, settings), consumer):
        (applied,) = await eventually(lambda: _at_least(effects_of(db, consumer.name), 1), message="applied")

    spans = span_exporter.get_finished_spans()
    (publish,) = [s for s in spans if s.name == f"publish {topic}"]
    (process,) = [s for s in spans if s.name == f"process {topic}"]
    request = request_span.get_span_context()
    assert publish.kind == SpanKind.PRODUCER and process.kind == SpanKind.CONSUMER
    assert publish.parent.span_id == request.span_id
    assert process.parent.span_id == publish.context.span_id
    assert publish.context.trace_id == process.context.trace_id == request.trace_id
    assert applied.span_id == format(process.context.span_id, "016x")  # attached while the handler ran
    for span in (publish, process):
        assert span.attributes["messaging.system"] == "kafka"
        assert span.attributes["messaging.destination.name"] == topic
        assert span.attributes["messaging.message.id"] == event.event_id
        assert (
            span.attributes["messaging.destination.partition.id"]
            == process.attributes["messaging.destination.partition.id"]
        )
        assert span.attributes["messaging.kafka.offset"] == process.attributes["messaging.kafka.offset"]
    assert process.attributes["messaging.consumer.group.name"] == consumer.group_id


async def test_a_publish_pass_stops_at_the_first_failure_and_marks_only_what_was_acknowledged(
    db, kafka_bootstrap, topic
):
    settings = service_settings(db, kafka_bootstrap)
    service = f"msgtest-{uuid.uuid4().hex[:6]}"
    written = await write_events(
        db,
        topic,
        [
            ("acct-big", {"n": 0}),
            ("acct-big", {"n": 1}),
            ("acct-big", {"n": 2, "blob": "x" * 20_000}),
            ("acct-big", {"n": 3}),
        ],
    )
    producer = make_producer(settings, max_request_size=10_000)
    await producer.start()
    try:
        with pytest.raises(OutboxPublishError) as failure:
            await publish_batch(db, producer, service, batch_size=100)
        assert failure.value.published == 2 and failure.value.event_id == written[2].event_id
        rows = await outbox_rows(db, topic)
        assert [row.sent_at is not None for row in rows] == [True, True, False, False]
        assert [row.attempts for row in rows] == [1, 1, 1, 0]
        assert "MessageSizeTooLarge" in rows[2].last_error

        async with db.unit_of_work() as session:  # an operator trims the oversized payload
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.event_id == written[2].event_id)
                .values(data={"n": 2, "blob": "trimmed"})
            )
        assert await publish_batch(db, producer, service, batch_size=100) == 2
    finally:
        await producer.stop()
    records = await read_topic(kafka_bootstrap, topic, until=lambda got: len(got) >= 4)
    assert [orjson.loads(record.value)["n"] for record in records] == [0, 1, 2, 3]
    assert metric("crm_outbox_published_total", service=service) == 4
    assert metric("crm_outbox_publish_failures_total", service=service) == 1


async def test_an_event_refused_for_good_is_parked_and_the_rest_go_on_until_it_is_replayed(db, kafka_bootstrap, topic):
    settings = service_settings(db, kafka_bootstrap)
    service = f"msgtest-{uuid.uuid4().hex[:6]}"
    started = utcnow()
    written = await write_events(
        db, topic, [("acct-a", {"n": 0}), ("acct-b", {"n": 1, "blob": "x" * 20_000}), ("acct-c", {"n": 2})]
    )
    producer = make_producer(settings, max_request_size=10_000)
    await producer.start()
    try:
        for _ in range(PARK_AFTER_ATTEMPTS - 1):  # refused, retried in order: nothing after it goes
            with pytest.raises(OutboxPublishError):
                await publish_batch(db, producer, service, batch_size=100)
        assert [row.sent_at is not None for row in await outbox_rows(db, topic)] == [True, False, False]
        # the last refusal parks it: no error, and the events after it are published
        assert await publish_batch(db, producer, service, batch_size=100) == 0
        assert await publish_batch(db, producer, service, batch_size=100) == 1
        rows = await outbox_rows(db, topic)
        assert [(row.sent_at is not None, row.parked_at is not None) for row in rows] == [
            (True, False),
            (False, True),
            (True, False),
        ]
        assert rows[1].attempts == PARK_AFTER_ATTEMPTS and "MessageSizeTooLarge" in rows[1].last_error
        assert metric("crm_outbox_parked_total", service=service) == 1
        await refresh_backlog_metrics(db, service)
        assert metric("crm_outbox_parked_events", service=service) == 1
        assert metric("crm_outbox_backlog", service=service) == 0  # parked is not waiting

        async with db.unit_of_work() as session:  # an operator trims the payload, then replays
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.event_id == written[1].event_id)
                .values(data={"n": 1, "blob": "trimmed"})
            )
        assert await replay(db, started, topic=topic) == 3
        assert await publish_batch(db, producer, service, batch_size=100) == 3
    finally:
        await producer.stop()
    records = await read_topic(kafka_bootstrap, topic, until=lambda got: len(got) >= 5)
    assert sorted(orjson.loads(record.value)["n"] for record in records) == [0, 0, 1, 2, 2]  # nothing lost
    assert all(row.parked_at is None and row.sent_at is not None for row in await outbox_rows(db, topic))


async def test_one_active_relay_per_database_and_a_standby_takes_over(db, kafka_bootstrap, topic):
    """PostgreSQL: an advisory lock on a dedicated connection; SQLite: a flock beside the file."""
    settings = service_settings(db, kafka_bootstrap)
    first, second = new_relay(db, settings), new_relay(db, settings)
    async with running(first):
        await eventually(lambda: _true(first.role == "active"), message="first relay active")
        async with running(second):
            await eventually(lambda: _true(second.role == "standby"), message="second relay standby")
            assert second.ready  # a standby is healthy
            await write_events(db, topic, [("acct-ha", {"n": 0})])
            await eventually(lambda: _equal(sent_count(db, topic), 1), message="published by the first")
            await first.stop()
            await eventually(lambda: _true(second.role == "active"), message="standby took over")
            await write_events(db, topic, [("acct-ha", {"n": 1})])
            await eventually(lambda: _equal(sent_count(db, topic), 2), message="published by the second")
    records = await read_topic(kafka_bootstrap, topic, until=lambda got: len(got) >= 2)
    assert [orjson.loads(record.value)["n"] for record in records] == [0, 1]


async def test_the_relay_is_woken_by_the_writers_notify(db, kafka_bootstrap, topic):
    if not db.is_postgres:
        pytest.skip("LISTEN/NOTIFY exists on PostgreSQL only; SQLite polls")
    settings = service_settings(db, kafka_bootstrap)
    relay = new_relay(db, settings, listen_fallback_poll_s=3600)  # so only a NOTIFY can wake it in time
    async with running(relay):
        await eventually(lambda: _true(relay.role == "active"), message="relay active")
        await eventually(lambda: _equal(_backlog(db), 0), message="idle relay")
        await write_events(db, topic, [("acct-notify", {"n": 0}), ("acct-notify", {"n": 1})])
        await eventually(lambda: _equal(sent_count(db, topic), 2), timeout_s=30, message="woken and published")
        await write_events(db, topic, [("acct-notify", {"n": 2})])
        await eventually(lambda: _equal(sent_count(db, topic), 3), timeout_s=30, message="woken again")


async def _backlog(db: Database) -> int:
    async with db.read_only() as session:
        return await session.scalar(select(func.count()).where(OutboxEvent.sent_at.is_(None)))


async def test_the_relay_waits_for_an_unreachable_broker_and_publishes_once_it_is_up(db, tmp_path):
    port = free_port()
    settings = service_settings(db, f"127.0.0.1:{port}")
    topic = unique_topic()
    written = await write_events(db, topic, [("acct-late", {"n": 0}), ("acct-late", {"n": 1})])
    relay = new_relay(db, settings, backoff_max_s=0.5)
    async with running(relay):
        await eventually(lambda: _true(relay.consecutive_failures >= 2), message="relay retried")
        assert not relay.ready and relay.role == "starting"
        assert await sent_count(db, topic) == 0
        with EmbeddedBroker(port=port, log_path=tmp_path / "late-broker.log") as broker:
            await eventually(lambda: _equal(sent_count(db, topic), 2), message="published after the broker came up")
            assert relay.ready and relay.role == "active"
            records = await read_topic(broker.bootstrap_servers, topic, until=lambda got: len(got) >= 2)
    assert [header(record, "ce_id") for record in records] == [event.event_id for event in written]


async def test_retention_purges_only_events_published_long_ago(db, kafka_bootstrap, topic):
    settings = service_settings(
        db, kafka_bootstrap, service_name=f"msgtest-{uuid.uuid4().hex[:6]}", outbox_retention_days=7
    )
    old, recent, unsent = await write_events(
        db, topic, [("acct-old", {"n": 0}), ("acct-recent", {"n": 1}), ("acct-unsent", {"n": 2})]
    )
    long_ago = utcnow() - timedelta(days=10)
    async with db.unit_of_work() as session:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.event_id == old.event_id)
            .values(created_at=long_ago, sent_at=long_ago)
        )
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.event_id == recent.event_id).values(sent_at=utcnow())
        )
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.event_id == unsent.event_id).values(created_at=long_ago)
        )
    assert await purge_sent(db, utcnow() - timedelta(days=30)) == 0

    async def purged_and_published() -> bool:
        rows = await outbox_rows(db, topic)
        return [row.event_id for row in rows] == [recent.event_id, unsent.event_id] and all(r.sent_at for r in rows)

    async with running(new_relay(db, settings)):
        await eventually(purged_and_published, message="old row purged, unsent row published")
        await eventually(
            lambda: _equal_sync(lambda: metric("crm_outbox_backlog", service=settings.service_name), 0),
            message="backlog gauge refreshed",
        )
    remaining = {row.event_id for row in await outbox_rows(db, topic)}
    assert remaining == {recent.event_id, unsent.event_id}


async def test_relay_killed_mid_batch_loses_nothing_and_effects_apply_once(
    db, kafka_bootstrap, topic, tmp_path, make_database
):
    """The first relay is stopped by its test hook (relay_test_pause_file) once 30 events were
    acknowledged, between the broker's ack of its tenth pass and the marking, and killed there:
    a point the test observed, not guessed, so the outcome does not depend on the machine's speed."""
    total, batch, pause_after = 600, 3, 30
    db = await fresh_database_like(db, make_database, tmp_path)  # only this test's events in it
    settings = service_settings(db, kafka_bootstrap)
    written = await write_events(
        db, topic, [(f"acct-{i % 20}", {"n": i // 20}) for i in range(total)], per_transaction=60
    )
    expected_ids = {event.event_id for event in written}
    pause = tmp_path / "relay-pause"
    pause.write_text(str(pause_after))
    consumer = new_consumer(db, settings, topic, max_records=200)
    try:
        async with running(consumer):
            relay = start_relay_process(
                db, kafka_bootstrap, tmp_path / "relay-1.log", batch_size=batch, pause_file=pause
            )
            try:
                await eventually(
                    lambda: _true(pause.with_name("relay-pause.paused").exists()),
                    interval_s=0.01,
                    message="the first relay paused by its test hook",
                )
            finally:
                relay.send_signal(signal.SIGKILL)
                relay.wait(10)
            assert relay.returncode == -signal.SIGKILL
            # nine passes marked; the tenth acknowledged by the broker, never marked
            assert await sent_count(db, topic) == pause_after - batch

            relay = start_relay_process(db, kafka_bootstrap, tmp_path / "relay-2.log", batch_size=50)
            try:
                await eventually(lambda: _equal(sent_count(db, topic), total), message="the second relay caught up")
            finally:
                relay.send_signal(signal.SIGTERM)
                relay.wait(15)

            records = await read_topic(
                kafka_bootstrap, topic, until=lambda got: expected_ids <= {header(r, "ce_id") for r in got}
            )
            await eventually(
                lambda: group_caught_up(kafka_bootstrap, consumer.group_id, topic),
                interval_s=0.5,
                message="consumer group at the end of the topic",
            )
        published_ids = [header(record, "ce_id") for record in records]
        assert set(published_ids) == expected_ids  # every event at least once
        unmarked_pass = written[pause_after - batch : pause_after]
        assert all(published_ids.count(event.event_id) >= 2 for event in unmarked_pass)  # sent again
        applied = await effects_of(db, consumer.name)
        assert sorted(effect.event_id for effect in applied) == sorted(expected_ids)  # exactly once each
        for subject in {f"acct-{k}" for k in range(20)}:
            assert [e.position for e in applied if e.subject == subject] == list(range(total // 20))
    finally:
        await db.dispose()


async def fresh_database_like(db: Database, make_database, tmp_path: Path) -> Database:
    """An empty database of the same kind as ``db``, with the platform and effects tables."""
    if db.is_postgres:
        url = await make_database("messaging_alone")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}"
    database = Database(url)
    async with database.engine.begin() as conn:
        await conn.run_sync(PlatformBase.metadata.create_all)
        await conn.run_sync(EffectsBase.metadata.create_all)
    return database


# --- broker faults: a frozen broker, a broker that restarts empty (Tansu keeps nothing) ---------

# Tansu creates a topic a client asks about with 4 partitions; the fault tests make their topics
# with 4 too, so a key lands on the same partition whoever creates the topic after a restart.
AUTO_CREATED_PARTITIONS = 4


@asynccontextmanager
async def own_broker(tmp_path: Path):
    """A broker of the test's own (it is frozen or killed), with ``restart()`` on the same port:
    a fresh Tansu there knows nothing of what the old one held."""

    class Handle:
        def __init__(self) -> None:
            self.port = free_port()
            self.bootstrap = f"127.0.0.1:{self.port}"
            self.starts = 0
            self.broker = self._start()

        def _start(self) -> EmbeddedBroker:
            self.starts += 1
            return EmbeddedBroker(port=self.port, log_path=tmp_path / f"broker-{self.starts}.log").start()

        def restart(self) -> None:
            self.broker.proc.kill()
            self.broker.proc.wait(10)
            self.broker = self._start()

    handle = Handle()
    try:
        yield handle
    finally:
        if handle.broker.proc is not None and handle.broker.proc.poll() is None:
            handle.broker.proc.send_signal(signal.SIGCONT)
        handle.broker.stop()


def metrics_app(db: Database, settings: ServiceSettings):
    """A service app on ``db`` without workers, for its /metrics."""
    return create_service_app(settings, title="metrics", routers=[], runtime=ServiceRuntime(settings, db))


async def scraped(app, name: str, service: str) -> float:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("service") == service:
                return sample.value
    raise AssertionError(f"{name}{{service={service!r}}} is not on /metrics")


async def test_a_frozen_broker_holds_up_no_writer_and_metrics_show_the_growing_backlog(db, tmp_path, make_database):
    db = await fresh_database_like(db, make_database, tmp_path)
    try:
        async with own_broker(tmp_path) as broker:
            topic = unique_topic()
            await ensure_topics(broker.bootstrap, [(topic, AUTO_CREATED_PARTITIONS)])
            settings = service_settings(db, broker.bootstrap, service_name=f"msgtest-{uuid.uuid4().hex[:6]}")
            # A producer that says when the relay hands it a record, and whose requests wait far
            # longer than this test (the old relay held its transaction until the broker answered).
            producer = make_producer(settings, request_timeout_ms=300_000)
            await producer.start()
            in_broker_io = asyncio.Event()
            send = producer.send

            async def observed_send(*args, **kwargs):
                in_broker_io.set()
                return await send(*args, **kwargs)

            producer.send = observed_send
            relay = new_relay(db, settings, producer=producer)
            app = metrics_app(db, settings)
            try:
                async with running(relay):
                    await write_events(db, topic, [("acct-frozen", {"n": 0})])
                    await eventually(lambda: _equal(sent_count(db, topic), 1), message="published before the freeze")
                    assert await scraped(app, "crm_outbox_backlog", settings.service_name) == 0

                    broker.broker.proc.send_signal(signal.SIGSTOP)
                    in_broker_io.clear()
                    await write_events(db, topic, [("acct-frozen", {"n": 1})])
                    await asyncio.wait_for(in_broker_io.wait(), 60)  # the relay now waits for the broker
                    frozen_at = utcnow()

                    # 20 transactions, each with a row of the service and an event, while the relay
                    # waits for the frozen broker: all commit (the bound only guards against a hang).
                    async def writes() -> None:
                        for n in range(2, 22):
                            async with db.unit_of_work() as session:
                                session.add(
                                    AppliedEffect(
                                        consumer="writer", event_id=str(n), subject="w", position=n, attributes={}
                                    )
                                )
                                await add_event(
                                    session,
                                    topic=topic,
                                    type=EVENT_TYPE,
                                    source="/crm/test",
                                    subject="acct-frozen",
                                    data={"n": n},
                                )

                    await asyncio.wait_for(writes(), 120)
                    assert relay.role == "active" and await sent_count(db, topic) == 1  # still waiting

                    # /metrics reads the backlog from the database, whatever the stuck relay knows
                    assert await scraped(app, "crm_outbox_backlog", settings.service_name) == 21
                    # the oldest unsent event was written before frozen_at, so at the scrape it is at
                    # least as old as the time from frozen_at to just before the scrape
                    before_scrape = utcnow()
                    age = await scraped(app, "crm_outbox_oldest_unsent_age_seconds", settings.service_name)
                    assert age >= (before_scrape - frozen_at).total_seconds()

                    broker.broker.proc.send_signal(signal.SIGCONT)
                    await eventually(lambda: _equal(sent_count(db, topic), 22), message="published after the thaw")
                    assert await scraped(app, "crm_outbox_backlog", settings.service_name) == 0
            finally:
                await producer.stop()
    finally:
        await db.dispose()


@pytest.mark.parametrize("noticed_by", ["an idle relay's check", "an acknowledgement below the old end"])
async def test_a_broker_that_restarts_empty_is_refilled_by_the_relay_and_consumers_converge(
    db, tmp_path, make_database, noticed_by
):
    db = await fresh_database_like(db, make_database, tmp_path)
    idle = noticed_by == "an idle relay's check"
    try:
        async with own_broker(tmp_path) as broker:
            topic = unique_topic()
            await ensure_topics(broker.bootstrap, [(topic, AUTO_CREATED_PARTITIONS)])
            settings = service_settings(db, broker.bootstrap, service_name=f"msgtest-{uuid.uuid4().hex[:6]}")
            before = await write_events(db, topic, [(f"acct-{i % 5}", {"n": i // 5}) for i in range(30)])
            relay = new_relay(db, settings, broker_check_interval_s=0.2 if idle else 3600)
            consumer = new_consumer(db, settings, topic)
            async with running(relay, consumer):
                await eventually(lambda: _at_least(effects_of(db, consumer.name), 30), message="30 applied")
                assert relay.resets_healed == 0

                broker.restart()  # kill -9, and a new, empty broker on the same port
                await ensure_topics(broker.bootstrap, [(topic, AUTO_CREATED_PARTITIONS)])
                after = [] if idle else await write_events(db, topic, [("acct-0", {"n": 6}), ("acct-1", {"n": 6})])

                expected = {event.event_id for event in before + after}
                records = await read_topic(
                    broker.bootstrap, topic, until=lambda got: expected <= {header(r, "ce_id") for r in got}
                )
                assert relay.resets_healed == 1
                assert metric("crm_outbox_broker_resets_total", service=settings.service_name) == 1
                later = await write_events(db, topic, [(f"acct-{k}", {"n": 7}) for k in range(5)])
                expected |= {event.event_id for event in later}
                await eventually(lambda: _at_least(effects_of(db, consumer.name), len(expected)), message="all applied")
                await eventually(
                    lambda: group_caught_up(broker.bootstrap, consumer.group_id, topic),
                    interval_s=0.5,
                    message="the consumer at the end of the new log",
                )
            assert relay.resets_healed == 1  # healed once
            applied = await effects_of(db, consumer.name)
            assert sorted(effect.event_id for effect in applied) == sorted(expected)  # each exactly once
            for k in range(5):
                assert [e.position for e in applied if e.subject == f"acct-{k}"] == sorted(
                    e.position for e in applied if e.subject == f"acct-{k}"
                )
            assert all(row.sent_at is not None for row in await outbox_rows(db, topic))
            records = await read_topic(
                broker.bootstrap, topic, until=lambda got: expected <= {header(r, "ce_id") for r in got}
            )
            assert {header(r, "ce_id") for r in records} == expected
    finally:
        await db.dispose()


async def test_a_relay_that_starts_after_the_broker_lost_everything_publishes_it_again(db, tmp_path, make_database):
    db = await fresh_database_like(db, make_database, tmp_path)
    try:
        async with own_broker(tmp_path) as broker:
            topic = unique_topic()
            await ensure_topics(broker.bootstrap, [(topic, AUTO_CREATED_PARTITIONS)])
            settings = service_settings(db, broker.bootstrap, service_name=f"msgtest-{uuid.uuid4().hex[:6]}")
            written = await write_events(db, topic, [(f"acct-{i % 3}", {"n": i // 3}) for i in range(12)])
            async with running(new_relay(db, settings)):
                await eventually(lambda: _equal(sent_count(db, topic), 12), message="published")
            broker.restart()  # while no relay runs (the whole suite restarted, say)
            relay = new_relay(db, settings)
            async with running(relay):
                records = await read_topic(broker.bootstrap, topic, until=lambda got: len(got) >= 12)
                await eventually(lambda: _equal(sent_count(db, topic), 12), message="marked sent again")
            assert relay.resets_healed == 1
            partition_of = {header(r, "ce_id"): r.partition for r in records}
            for partition in set(partition_of.values()):  # in commit order on each partition
                assert [header(r, "ce_id") for r in records if r.partition == partition] == [
                    e.event_id for e in written if partition_of[e.event_id] == partition
                ]
    finally:
        await db.dispose()


async def test_a_consumer_whose_offset_is_past_the_end_of_the_log_reads_it_from_the_start(db, kafka_bootstrap):
    """What a consumer group meets on a broker that lost its log but not the group's offsets (or
    got a stale commit): Tansu answers a fetch past the end with nothing, not OffsetOutOfRange."""
    topic = unique_topic()
    await ensure_topics(kafka_bootstrap, [(topic, 1)])
    settings = service_settings(db, kafka_bootstrap)
    events = [
        CloudEvent(id=str(uuid.uuid4()), source="/crm/test", type=EVENT_TYPE, subject="acct-past", data={"n": n})
        for n in range(5)
    ]
    await publish_events(settings, topic, events)
    consumer = new_consumer(db, settings, topic)
    committer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=consumer.group_id, enable_auto_commit=False
    )
    await committer.start()
    try:
        committer.assign([TopicPartition(topic, 0)])
        await committer.commit({TopicPartition(topic, 0): 500})
    finally:
        await committer.stop()
    async with running(consumer):
        applied = await eventually(
            lambda: _at_least(effects_of(db, consumer.name), 5), timeout_s=60, message="read again from the start"
        )
    assert [effect.position for effect in applied] == [0, 1, 2, 3, 4]


def start_relay_process(
    db: Database, bootstrap: str, log_path: Path, *, batch_size: int, pause_file: Path | None = None
) -> subprocess.Popen:
    log = open(log_path, "ab")
    try:
        return subprocess.Popen(
            [
                sys.executable,
                str(RELAY_SCRIPT),
                "--database-url",
                db.url,
                "--bootstrap",
                bootstrap,
                "--batch-size",
                str(batch_size),
                *(["--pause-file", str(pause_file)] if pause_file else []),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


async def _true(value: bool) -> bool:
    return value


async def _at_least(rows_awaitable, count: int):
    rows = await rows_awaitable
    return rows if len(rows) >= count else None


async def _at_least_count(count_awaitable, minimum: int) -> bool:
    return await count_awaitable >= minimum


async def _equal(value_awaitable, expected) -> bool:
    return await value_awaitable == expected


async def _equal_sync(read, expected) -> bool:
    return read() == expected


def new_events(subjects: Sequence[str], **data) -> list[CloudEvent]:
    return [
        CloudEvent(id=str(uuid.uuid4()), source="/crm/test", type=EVENT_TYPE, subject=subject, data={"n": n, **data})
        for n, subject in enumerate(subjects)
    ]


async def test_an_offset_commit_held_up_by_a_broker_restart_does_not_land_in_the_new_group(db, tmp_path, make_database):
    """A commit of records read from the old log, in flight while the broker restarts empty, must not
    reach the new broker: sent there with the membership the client has by then (none, generation -1,
    while it joins again) Tansu accepts it for the group it does not know yet, and the group would
    start the new log at that old offset, never reading what the new log holds before it."""
    db = await fresh_database_like(db, make_database, tmp_path)
    try:
        async with own_broker(tmp_path) as broker:
            topic = unique_topic()
            await ensure_topics(broker.bootstrap, [(topic, AUTO_CREATED_PARTITIONS)])
            settings = service_settings(db, broker.bootstrap)

            subjects = ["acct-held"] * 10
            old_log, new_log = new_events(subjects, log="old"), new_events(subjects, log="new")
            await publish_events(settings, topic, old_log)
            name = f"test-{uuid.uuid4().hex[:8]}"
            record = recording_handler(name)
            holding, release = asyncio.Event(), asyncio.Event()

            async def handler(session, event: CloudEvent) -> None:
                if event.id == old_log[-1].id:
                    holding.set()
                    await release.wait()
                await record(session, event)

            consumer = EventConsumer(
                name, db, settings, [topic], handler, retry_initial_s=0.05, consumer_options=QUICK_GROUP_JOIN
            )
            async with running(consumer):
                await asyncio.wait_for(holding.wait(), 60)
                broker.broker.proc.kill()
                broker.broker.proc.wait(10)
                release.set()  # the batch is done: its commit now waits for the broker
                await eventually(lambda: _at_least(effects_of(db, name), len(old_log)), message="the old log applied")
                broker.broker = broker._start()  # a new, empty broker on the same port
                await ensure_topics(broker.bootstrap, [(topic, AUTO_CREATED_PARTITIONS)])
                await publish_events(settings, topic, new_log)
                applied = await eventually(
                    lambda: _at_least(effects_of(db, name), len(old_log) + len(new_log)),
                    message="the new log applied",
                )
            assert [effect.event_id for effect in applied] == [event.id for event in old_log + new_log]
    finally:
        await db.dispose()


async def test_an_offset_is_committed_only_as_the_group_member_that_read_it(db, kafka_bootstrap, topic):
    """The guard behind the test above, without its race: a commit as a membership the client no
    longer has (or while it has none) is not sent, so nothing reaches the broker's group."""
    settings = service_settings(db, kafka_bootstrap)
    await publish_events(
        settings,
        topic,
        [CloudEvent(id=str(uuid.uuid4()), source="/crm/test", type=EVENT_TYPE, subject="acct-m", data={})],
    )
    consumer = new_consumer(db, settings, topic)
    async with running(consumer):
        await eventually(lambda: group_caught_up(kafka_bootstrap, consumer.group_id, topic), message="caught up")
        partitions = consumer._consumer.assignment()
        committed = await committed_offsets(kafka_bootstrap, consumer.group_id, partitions)
        [tp] = [tp for tp, offset in committed.items() if offset == 1]
        generation, member_id = consumer._consumer._coordinator.generation, consumer._consumer._coordinator.member_id
        await consumer._commit(tp, 500, (generation, "a-member-before-the-broker-restarted"))
        await consumer._commit(tp, 500, None)
        assert await committed_offsets(kafka_bootstrap, consumer.group_id, partitions) == committed
        await consumer._commit(tp, 1, (generation, member_id))  # the member that read it commits
        assert await committed_offsets(kafka_bootstrap, consumer.group_id, partitions) == committed


async def committed_offsets(bootstrap: str, group_id: str, partitions) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id, partitions=sorted(partitions))
        return {tp: meta.offset for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def test_a_topic_that_comes_back_with_more_partitions_is_read_on_all_of_them(db, kafka_bootstrap):
    """A topic can come back with 4 partitions instead of 3 (a broker that restarted empty makes it
    when a client asks for it before anyone creates it); deleting and making it again here stands in
    for that. The group must then read the 4th partition too: Tansu answers a member that merely
    rejoins with its old assignment, so the consumer joins again as a new member."""
    topic = unique_topic()
    await ensure_topics(kafka_bootstrap, [(topic, 3)])
    settings = service_settings(db, kafka_bootstrap)
    events = new_events([f"acct-{k}" for k in range(12)])
    # a shorter metadata refresh period than the services' only makes the test quicker
    consumer = new_consumer(db, settings, topic, consumer_options={**QUICK_GROUP_JOIN, "metadata_max_age_ms": 2000})
    async with running(consumer):
        # (nothing read yet, so no committed offsets: Tansu would keep those of the deleted topic)
        await eventually(lambda: _true(consumer.ready), message="the consumer in its group")
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
        await ensure_topics(kafka_bootstrap, [(topic, AUTO_CREATED_PARTITIONS)])
        await publish_events(settings, topic, events)
        records = await read_topic(kafka_bootstrap, topic, until=lambda got: len(got) >= len(events))
        assert AUTO_CREATED_PARTITIONS - 1 in {record.partition for record in records}
        applied = await eventually(
            lambda: _at_least(effects_of(db, consumer.name), len(events)), message="applied from every partition"
        )
    assert sorted(effect.event_id for effect in applied) == sorted(event.id for event in events)


async def test_a_batch_handler_applies_each_polled_batch_in_one_transaction_once_and_falls_back_one_by_one(
    db, kafka_bootstrap, topic
):
    subjects = [f"acct-{k}" for k in range(5)]
    events = [(subjects[i % 5], {"n": i // 5}) for i in range(100)]
    settings = service_settings(db, kafka_bootstrap, outbox_batch_size=50)
    await write_events(db, topic, events, per_transaction=50)
    name = f"test-{uuid.uuid4().hex[:8]}"
    record = recording_handler(name)
    batches: list[int] = []

    async def together(session, batch: list[CloudEvent]) -> None:
        batches.append(len(batch))
        for event in batch:
            await record(session, event)
        if len(batches) == 1:
            raise RuntimeError("the first batch fails: its records go one by one")

    consumer = EventConsumer(
        name,
        db,
        settings,
        [topic],
        record,
        batch_handler=together,
        max_records=40,
        retry_initial_s=0.05,
        consumer_options=QUICK_GROUP_JOIN,
    )
    async with running(new_relay(db, settings), consumer):
        applied = await eventually(lambda: _at_least(effects_of(db, name), 100), message="100 applied")

    assert sorted(effect.event_id for effect in applied) == sorted({effect.event_id for effect in applied})
    for subject in subjects:
        assert [effect.position for effect in applied if effect.subject == subject] == list(range(20)), subject
    assert len(batches) >= 2 and max(batches) > 1
