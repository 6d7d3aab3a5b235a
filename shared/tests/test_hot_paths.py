"""The cheaper request path: plain-ASGI request ids and metrics, read sessions without a
transaction, and a pool that replaces connections the server closed without pinging."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, Request
from sqlalchemy import text

from crm_shared.app import REQUEST_ID_HEADER, create_service_app
from crm_shared.db import Database
from crm_shared.settings import ServiceSettings
from crm_shared.testing import POSTGRES_URL, eventually


def small_app():
    router = APIRouter()

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str, request: Request):
        return {"thing": thing_id, "request_id": request.state.request_id}

    settings = ServiceSettings(service_name="hot-path-test", database_url="sqlite+aiosqlite:///:memory:")
    return create_service_app(settings, title="hot paths", routers=[router])


async def test_the_callers_request_id_reaches_the_endpoint_and_comes_back_once():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=small_app()), base_url="http://t") as client:
        given = await client.get("/things/a", headers={REQUEST_ID_HEADER: "req-from-caller"})
        made = await client.get("/things/b")
    assert given.json() == {"thing": "a", "request_id": "req-from-caller"}
    assert given.headers.get_list(REQUEST_ID_HEADER) == ["req-from-caller"]
    made_id = made.headers[REQUEST_ID_HEADER]
    assert len(made_id) == 32 and made.json()["request_id"] == made_id


async def test_request_latency_is_observed_by_route_template_and_status():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=small_app()), base_url="http://t") as client:
        await client.get("/things/x")
        await client.get("/nowhere")
        exposed = (await client.get("/metrics")).text
    assert (
        'crm_http_request_duration_seconds_count{method="GET",route="/things/{thing_id}",'
        'service="hot-path-test",status="200"}'
    ) in exposed
    assert (
        'crm_http_request_duration_seconds_count{method="GET",route="unmatched",service="hot-path-test",status="404"}'
    ) in exposed


@pytest_asyncio.fixture(scope="module")
async def db(make_database):
    database = Database(await make_database("hot_paths"))
    yield database
    await database.dispose()


TRANSACTION_ID = text("SELECT pg_current_xact_id()::text")


@pytest.mark.integration
async def test_a_read_session_runs_each_statement_without_a_transaction_block(db):
    async with db.reads() as session:
        assert await session.scalar(TRANSACTION_ID) != await session.scalar(TRANSACTION_ID)
    async with db.unit_of_work() as session:
        assert await session.scalar(TRANSACTION_ID) == await session.scalar(TRANSACTION_ID)


@pytest.mark.integration
async def test_a_pooled_connection_the_server_closed_is_replaced_at_checkout(db):
    async with db.reads() as session:
        first_backend = await session.scalar(text("SELECT pg_backend_pid()"))
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", first_backend)

        async def backend_gone():
            return not await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", first_backend)

        await eventually(backend_gone)
    finally:
        await admin.close()
    async with db.reads() as session:
        assert await session.scalar(text("SELECT pg_backend_pid()")) != first_backend
