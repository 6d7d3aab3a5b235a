"""Pytest fixtures shared by every service's tests (registered in the root conftest.py).

Callers of every role (``PRINCIPALS``) and their signed identity header (``auth_headers``) are
here too: every service's API tests call it as these users.

Integration tests use the real PostgreSQL (CRM_TEST_POSTGRES_URL, default the local server)
with a fresh database per test module, and the real Kafka-protocol broker (Tansu started
once per test session on a free port, or an external one via CRM_TEST_KAFKA_BOOTSTRAP).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy import text

from .auth import INTERNAL_TOKEN_HEADER, Principal, Role, issue_internal_token
from .broker import EmbeddedBroker, free_port
from .envelope import CloudEvent
from .identifiers import make_bin, make_iin
from .settings import process_secret

# One caller per role, placed in Almaty (KZ-75, branch ALA-01) where a place matters.
PRINCIPALS: dict[str, Principal] = {
    "admin": Principal("t-admin", "admin", Role.ADMIN),
    "branch_agent": Principal("t-agent", "agent.ala01", Role.BRANCH_AGENT, region="KZ-75", branch="ALA-01"),
    "branch_manager": Principal("t-manager", "manager.ala01", Role.BRANCH_MANAGER, region="KZ-75", branch="ALA-01"),
    "regional_manager": Principal(
        "t-regional", "regional.kz75", Role.REGIONAL_MANAGER, region="KZ-75", branch="ALA-02"
    ),
    "call_center_agent": Principal("t-callcenter", "callcenter", Role.CALL_CENTER_AGENT),
    "hq_analyst": Principal("t-analyst", "analyst", Role.HQ_ANALYST),
    "privacy_officer": Principal("t-privacy", "privacy.officer", Role.PRIVACY_OFFICER),
}

# This test session's own internal token secret: random, made in this process, and the one every
# settings object built here in the dev profile defaults to, so that the services a test runs in
# process accept the headers below (and no other process, nor any committed value, can sign them).
TEST_INTERNAL_TOKEN_SECRET = process_secret("internal_token_secret")

# Test modules build their headers once at import; a long lifetime keeps them valid however long
# the whole suite runs (the production lifetime, crm_shared.auth.INTERNAL_TOKEN_TTL_S, is 2 minutes).
TEST_TOKEN_TTL_S = 24 * 3600


def auth_headers(principal: Principal, secret: str = TEST_INTERNAL_TOKEN_SECRET) -> dict[str, str]:
    return {INTERNAL_TOKEN_HEADER: issue_internal_token(principal, secret, ttl_s=TEST_TOKEN_TTL_S)}


POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


T = TypeVar("T")


def rest_only_settings(settings_class: type[T], database_url: str, **overrides) -> T:
    """A service's settings for an in-process test: no relay, no consumers, no gRPC server, quiet
    plain logs; ``overrides`` add what a test needs (a broker, the gRPC server, its own knobs)."""
    defaults = dict(
        relay_enabled=False, consumers_enabled=False, grpc_enabled=False, log_json=False, log_level="WARNING"
    )
    return settings_class(database_url=database_url, **(defaults | overrides))


def _async_url(dsn: str, database: str) -> str:
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


@pytest_asyncio.fixture(scope="session")
async def make_database() -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """A factory: ``url = await make_database("sales")`` creates an empty PostgreSQL database
    and returns its SQLAlchemy async URL; every database made is dropped at session end."""
    created: list[str] = []

    async def make(label: str) -> str:
        name = f"crm_test_{label}_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        created.append(name)
        return _async_url(POSTGRES_URL, name)

    yield make
    conn = await asyncpg.connect(POSTGRES_URL)
    try:
        for name in created:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory) -> str:
    """Bootstrap servers of a real Kafka-protocol broker for this test session."""
    external = os.environ.get("CRM_TEST_KAFKA_BOOTSTRAP")
    if external:
        yield external
        return
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    broker = EmbeddedBroker(port=free_port(), log_path=log)
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


def unique_topic(prefix: str = "crm.test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:8]}.v1"


async def eventually(
    check: Callable[[], Awaitable[object]],
    *,
    timeout_s: float = 60.0,
    interval_s: float = 0.05,
    message: str = "condition",
) -> object:
    """Polls the async ``check`` until it returns something truthy, and returns that. The timeout
    only bounds a hung test; it is not an assertion about speed."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{message} still not met after {timeout_s}s (last result: {result!r})")
        await asyncio.sleep(interval_s)


async def read_topic(bootstrap: str, topic: str, until: Callable[[list], bool], *, timeout_s: float = 60.0) -> list:
    """Reads ``topic`` from the beginning (all partitions, no consumer group) until
    ``until(records_so_far)`` holds; returns the aiokafka ConsumerRecords read."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not until(records):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{topic}: condition not met after {timeout_s}s with {len(records)} records")
            batch = await consumer.getmany(timeout_ms=200)
            for partition_records in batch.values():
                records.extend(partition_records)
    finally:
        await consumer.stop()
    return records


async def group_caught_up(bootstrap: str, group_id: str, topic: str) -> bool:
    """True when the consumer group has committed offsets at the end of every partition of ``topic``
    (the end as a fetch reports it: ``kafka.EndOffsets``, since Tansu's ListOffsets falls short)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import TopicPartition

    from .kafka import EndOffsets
    from .settings import ServiceSettings

    probe = EndOffsets(ServiceSettings(kafka_bootstrap_servers=bootstrap, kafka_client_id="crm-tests"))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        ends = {TopicPartition(topic, p): end for p, end in (await probe.fetch([topic]))[topic].items()}
        committed = await admin.list_consumer_group_offsets(group_id, partitions=sorted(ends))
        return bool(ends) and all(
            end == 0 or (tp in committed and committed[tp].offset >= end) for tp, end in ends.items()
        )
    finally:
        await admin.close()
        await probe.close()


async def publish_events(settings, topic: str, events) -> None:
    """Sends CloudEvents to ``topic`` in order, as a service's relay would (``settings``: a
    ServiceSettings naming the broker)."""
    from .kafka import make_producer

    producer = make_producer(settings)
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic, event.kafka_value(), key=event.kafka_key(), headers=event.kafka_headers()
            )
    finally:
        await producer.stop()


@asynccontextmanager
async def running_consumer(name: str, db, settings, topic: str, handler) -> AsyncIterator[object]:
    """Runs consumer ``name`` (an EventConsumer, as a service's main builds it, in a fresh group)
    on ``topic`` and yields it once the group has read everything published so far."""
    from .consumer import EventConsumer

    group_id = f"test.{name}.{uuid.uuid4().hex[:8]}"
    consumer = EventConsumer(name, db, settings, [topic], handler, group_id=group_id, retry_initial_s=0.05)
    await consumer.start()
    try:
        await eventually(
            lambda: group_caught_up(settings.kafka_bootstrap_servers, group_id, topic),
            message=f"{name} caught up with {topic}",
        )
        yield consumer
    finally:
        await consumer.stop()


@pytest.fixture(scope="session")
def span_exporter():
    """Every span finished in this process from now on, in memory (call ``.clear()`` first), every
    new trace sampled. Installs an SDK tracer provider when none is set yet, else adds to the
    existing one."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from .telemetry import set_sample_ratio, setup_tracing

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = setup_tracing("crm-tests")  # the process-wide provider, as a service would install it
    set_sample_ratio(1.0)  # every trace, whatever ratio a service app of this test run installed
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield exporter
    exporter.shutdown()


async def schema_differences(url: str, service_base) -> list:
    """What the migrated database at ``url`` lacks or has beyond the models (the service's
    ``service_base`` tables and the platform's), as Alembic's autogenerate compares them; [] when
    the migrations build exactly the models' schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import MetaData

    from . import models as platform_models  # noqa: F401  (the platform tables on PlatformBase)
    from .db import Database, PlatformBase

    metadata = MetaData()
    for table in [*PlatformBase.metadata.tables.values(), *service_base.metadata.tables.values()]:
        table.to_metadata(metadata)
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
            )
    finally:
        await db.dispose()


# --- customer identities for tests of any service -----------------------------------------------


class Identities:
    """Fresh valid IINs, BINs and mobile numbers; distinct from each other within one instance
    (seeded from ``seed``, so two instances with different seeds rarely collide)."""

    def __init__(self, seed: int | None = None) -> None:
        self._rng = random.Random(seed)
        self._serials = itertools.count(self._rng.randrange(0, 9000))
        self._used: set[str] = set()

    def iin(self, *, female: bool | None = None, birth_date: date | None = None) -> str:
        while True:
            born = birth_date or date(1950, 1, 1) + timedelta(days=self._rng.randrange(0, 365 * 55))
            value = make_iin(born, self._rng.random() < 0.5 if female is None else female, next(self._serials) % 10000)
            if value and value not in self._used:
                self._used.add(value)
                return value

    def bin(self) -> str:
        while True:
            registered = date(2000, 1, 1) + timedelta(days=self._rng.randrange(0, 365 * 24))
            value = make_bin(registered, self._rng.choice((4, 4, 4, 6)), self._rng.randrange(0, 100000))
            if value and value not in self._used:
                self._used.add(value)
                return value

    def mobile(self) -> str:
        while True:
            value = (
                "+7"
                + self._rng.choice(("700", "701", "702", "705", "707", "747", "771", "775", "777", "778"))
                + f"{self._rng.randrange(0, 10_000_000):07d}"
            )
            if value not in self._used:
                self._used.add(value)
                return value

    def individual(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "kind": "individual",
            "iin": self.iin(),
            "first_name": "Aigerim",
            "last_name": "Seitkali",
            "phone": self.mobile(),
        }
        return body | overrides

    def business(self, **overrides: Any) -> dict[str, Any]:
        body = {
            "kind": "business",
            "bin": self.bin(),
            "legal_name": "Steppe Logistics",
            "legal_form": "LLP",
            "phone": self.mobile(),
        }
        return body | overrides


# --- what a masked caller must never be able to read ------------------------------------------------

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def derivable_leaks(text: str, identifier: str, birth_date: date | None = None) -> list[str]:
    """What ``text`` (a response body) gives away of an IIN/BIN beyond its last four digits: the
    identifier, its first eight digits, or the birth date in a common notation (1990-05-15,
    15.05.1990, 15/05/1990, 19900515, and 900515 where a number starts: an IIN begins with it).
    Record ids (UUIDs) are taken out first, and a six-digit run is only counted where it does not
    continue a number, a time (after "." or ":") or a phone (after "+"), so that ids, timestamps and
    amounts do not match by chance. Empty when nothing leaks."""
    text = _UUID.sub("<uuid>", text)
    found = [what for what in (identifier, identifier[:8]) if what in text]
    if birth_date is not None:
        for shown in (
            f"{birth_date:%Y-%m-%d}",
            f"{birth_date:%d.%m.%Y}",
            f"{birth_date:%d/%m/%Y}",
            f"{birth_date:%Y%m%d}",
        ):
            if shown in text:
                found.append(shown)
        if re.search(rf"(?<![0-9A-Za-z.:+\-]){birth_date:%y%m%d}", text):
            found.append(f"{birth_date:%y%m%d}")
    return found


# --- partner users (crm_shared.partner_customers) ----------------------------------------------


def partner_principal(partner_id: str) -> Principal:
    """A user of the partner ``partner_id`` (role partner), as the gateway forwards it."""
    return Principal(f"t-partner-{partner_id}", f"user.{partner_id}", Role.PARTNER, partner_id=partner_id)


def partner_deal_approved(customer_id: str, partner_id: str) -> CloudEvent:
    """The crm.partners.deal.approved event that makes ``customer_id`` the partner's."""
    deal_id = str(uuid.uuid4())
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    data = {
        "id": deal_id,
        "partner_id": partner_id,
        "status": "approved",
        "customer_id": customer_id,
        "lead_id": None,
        "offering_ids": ["inet-gpon-100"],
        "expected_value_tiyn": 0,
        "decision_reason": None,
        "created_at": now,
        "updated_at": now,
        "decided_at": now,
    }
    return CloudEvent(
        id=str(uuid.uuid4()), source="/crm/partners", type="crm.partners.deal.approved", subject=deal_id, data=data
    )


async def bring_customer(database_url: str, customer_id: str, partner_id: str) -> None:
    """Makes ``customer_id`` the partner's in another service's database (``partner_customers``,
    as its consumer of crm.partners.deal.approved would), for a service that runs in a subprocess
    with its consumers off."""
    from .db import Database

    database = Database(database_url)
    try:
        async with database.unit_of_work() as session:
            await session.execute(
                text(
                    "INSERT INTO partner_customers (customer_id, partner_id, deal_id, approved_at) "
                    "VALUES (:customer_id, :partner_id, :deal_id, :approved_at) "
                    "ON CONFLICT (customer_id) DO UPDATE SET partner_id = excluded.partner_id"
                ),
                {
                    "customer_id": customer_id,
                    "partner_id": partner_id,
                    "deal_id": str(uuid.uuid4()),
                    "approved_at": datetime.now(UTC),
                },
            )
    finally:
        await database.dispose()
