"""`crm migrate`, `crm seed`, `crm outbox replay` and `crm topics --create` against the real
PostgreSQL and the real broker, run as a user runs them (a subprocess)."""

from __future__ import annotations

import asyncio
import os
import subprocess

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from crm_cli import services as registry
from crm_cli.testing import crm_command
from crm_cli.topics import catalogue

pytestmark = pytest.mark.integration

GATEWAY = registry.gateway()
SALES = registry.get_service("sales")


def needs(*specs):
    missing = {s.name: registry.missing_parts(s, need_seed=True) for s in specs}
    return pytest.mark.skipif(any(missing.values()), reason=f"not there yet: {missing}")


async def crm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return await asyncio.to_thread(
        subprocess.run, [*crm_command(), *args], env={**os.environ, **(env or {})}, capture_output=True, text=True
    )


def plain_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="module")
async def databases(make_database) -> dict[str, str]:
    """Empty PostgreSQL databases, one per service, as CRM_<SERVICE>_DATABASE_URL."""
    return {spec.env_name("database_url"): await make_database(f"cli_{spec.name}") for spec in registry.SERVICES}


@pytest.fixture(scope="module")
async def seeded_gateway(databases, tmp_path_factory) -> subprocess.CompletedProcess:
    """`crm seed gateway` once (it migrates first)."""
    result = await crm("seed", "gateway", "--var-dir", str(tmp_path_factory.mktemp("var")), env=databases)
    assert result.returncode == 0, result.stderr
    return result


@needs(GATEWAY, SALES)
async def test_migrate_brings_every_service_database_to_its_newest_revision(databases, tmp_path):
    result = await crm("migrate", "--var-dir", str(tmp_path), env=databases)
    assert result.returncode == 0, result.stderr
    for spec in registry.SERVICES:
        url = databases[spec.env_name("database_url")]
        assert f"{spec.name}: " in result.stdout and "is at the newest migration" in result.stdout
        assert url.split("@")[1] in result.stdout  # the database is named, without credentials
        conn = await asyncpg.connect(plain_dsn(url))
        try:
            assert await conn.fetchval("SELECT count(*) FROM alembic_version") == 1
            assert await conn.fetchval("SELECT to_regclass('outbox_events') IS NOT NULL")
        finally:
            await conn.close()
    assert not any(tmp_path.iterdir())  # PostgreSQL was used, no SQLite file was made


@needs(GATEWAY)
async def test_seed_is_idempotent_and_writes_events_through_the_outbox(databases, seeded_gateway, tmp_path):
    url = databases[GATEWAY.env_name("database_url")]
    assert "gateway: demo data is in place" in seeded_gateway.stdout
    second = await crm("seed", "gateway", "--var-dir", str(tmp_path), env=databases)
    assert second.returncode == 0, second.stderr
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        usernames = {r["username"] for r in await conn.fetch("SELECT username FROM users")}
        events = await conn.fetchval("SELECT count(*) FROM outbox_events WHERE type = 'crm.gateway.user.created'")
    finally:
        await conn.close()
    assert {"admin", "almaty.agent", "callcenter"} <= usernames
    assert events == len(usernames)  # one event per user, none again on the second run


@needs(GATEWAY)
async def test_outbox_replay_marks_the_recent_events_unsent(databases, seeded_gateway):
    url = databases[GATEWAY.env_name("database_url")]
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        total = await conn.fetchval(
            "UPDATE outbox_events SET sent_at = now() - interval '3 hours' "
            "RETURNING (SELECT count(*) FROM outbox_events)"
        )
        await conn.execute(
            "UPDATE outbox_events SET created_at = now() - interval '3 hours' "
            "WHERE seq = (SELECT min(seq) FROM outbox_events)"
        )
        other_topic = await crm(
            "outbox",
            "replay",
            "--service",
            "gateway",
            "--since",
            "1d",
            "--topic",
            "crm.sales.customer.v1",
            env=databases,
        )
        assert other_topic.returncode == 0, other_topic.stderr
        assert "gateway: 0 events on crm.sales.customer.v1" in other_topic.stdout
        result = await crm("outbox", "replay", "--service", "gateway", "--since", "2h", env=databases)
        assert result.returncode == 0, result.stderr
        unsent = await conn.fetchval("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL")
    finally:
        await conn.close()
    assert total >= 2
    assert unsent == total - 1  # all but the event created before --since
    assert f"gateway: {total - 1} events created since" in result.stdout


async def test_outbox_replay_names_the_service_it_does_not_know():
    result = await crm("outbox", "replay", "--service", "billing", "--since", "2h")
    assert result.returncode == 2
    assert "unknown service 'billing'" in " ".join(result.stderr.replace("│", " ").split())


@pytest.fixture
def own_broker(tmp_path):
    """A broker of its own: on the session's broker, consumers of every catalogue topic (analytics,
    webhooks) may have had the broker create a topic with its default partitions first."""
    from crm_shared.broker import EmbeddedBroker, free_port

    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


async def test_topics_create_puts_the_whole_catalogue_on_the_broker(own_broker):
    kafka_bootstrap = own_broker
    expected = {t["name"]: int(t.get("partitions") or 3) for t in catalogue()}
    first = await crm("topics", "--create", "--kafka", kafka_bootstrap)
    assert first.returncode == 0, first.stderr
    second = await crm("topics", "--create", "--kafka", kafka_bootstrap)  # keeps what exists
    assert second.returncode == 0, second.stderr
    assert f"{len(expected)} topics are on {kafka_bootstrap} (0 created now)" in second.stdout
    assert all(name in first.stdout for name in expected)  # the catalogue is listed too
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(expected))
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described if not d["error_code"]}
    assert partitions == expected


async def test_topics_create_says_when_the_broker_is_unreachable():
    from crm_shared.broker import free_port

    result = await crm("topics", "--create", "--kafka", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert "error: creating the topics on 127.0.0.1:" in result.stderr
