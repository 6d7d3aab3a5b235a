"""Pytest fixtures shared by every service's tests (registered in the root conftest.py).

Integration tests use the real PostgreSQL (CRM_TEST_POSTGRES_URL, default the local server)
with a fresh database per test module, and the real Kafka-protocol broker (Tansu started
once per test session on a free port, or an external one via CRM_TEST_KAFKA_BOOTSTRAP).
"""
from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio

from .broker import EmbeddedBroker, free_port

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


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
