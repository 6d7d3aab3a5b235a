"""The offline Swagger UI, the migration history against the models, and the demo seed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from crm_gateway.config import GatewaySettings
from crm_gateway.db import MIGRATIONS_DIR
from crm_gateway.db.base import GatewayBase
from crm_gateway.db.models import ApiKey, User
from crm_gateway.seed import DEMO_API_KEY, DEMO_USERS, seed_demo
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async
from crm_shared.models import OutboxEvent
from crm_shared.testing import schema_differences

from .conftest import CHEAP_HASHES, running_gateway

EXTERNAL_URL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


@pytest.fixture
async def sqlite_url(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    await upgrade_async(MIGRATIONS_DIR, url)
    return url


async def test_docs_page_and_its_assets_are_served_locally(sqlite_url):
    async with running_gateway(sqlite_url) as gw:
        page = await gw.client.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert not EXTERNAL_URL.search(html)
        assert "http://" not in html and "https://" not in html
        assets = re.findall(r"""(?:src|href)="(/[^"]+)\"""", html)
        assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"} <= set(assets)
        for asset in assets:
            response = await gw.client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000
        assert 'url: "/openapi.json"' in html
        document = await gw.client.get("/openapi.json")
        assert document.status_code == 200 and document.json()["openapi"].startswith("3.")


@pytest.mark.integration
async def test_the_migration_creates_exactly_what_the_models_describe(make_database):
    url = await make_database("gateway_schema")
    await upgrade_async(MIGRATIONS_DIR, url)
    assert await schema_differences(url, GatewayBase) == []


async def test_seed_is_idempotent_and_emits_each_user_once(sqlite_url, capsys):
    settings = GatewaySettings(database_url=sqlite_url, **CHEAP_HASHES)
    db = Database(sqlite_url)
    try:
        first = await seed_demo(db, settings)
        second = await seed_demo(db, settings)
        assert len(first.users_created) == len(DEMO_USERS) and first.api_key_created
        assert second.users_created == [] and not second.api_key_created
        assert DEMO_API_KEY in capsys.readouterr().out
        async with db.read_only() as session:
            users = {u.id: u for u in await session.scalars(select(User))}
            events = list(await session.scalars(select(OutboxEvent)))
            key = await session.get(ApiKey, "apikey-demo-billing")
        assert set(users) == {
            "user-admin",
            "user-almaty-agent",
            "user-almaty-manager",
            "user-karaganda-agent",
            "user-karaganda-manager",
            "user-karaganda-regional",
            "user-callcenter",
            "user-analyst",
            "user-privacy-officer",
            "user-marketer",
        }
        placed = {u.username: (u.role, u.region_code, u.branch_code) for u in users.values()}
        assert placed["almaty.manager"] == ("branch_manager", "KZ-75", "ALA-01")
        assert placed["karaganda.agent"] == ("branch_agent", "KZ-35", "KAR-01")
        assert placed["karaganda.regional"] == ("regional_manager", "KZ-35", None)
        assert placed["admin"] == ("admin", None, None)
        assert placed["privacy.officer"] == ("privacy_officer", None, None)
        assert sorted(e.subject for e in events) == sorted(users)
        assert {e.type for e in events} == {"crm.gateway.user.created"}
        assert key.scopes == ["sales:read"] and key.active
    finally:
        await db.dispose()


async def test_seed_refuses_the_production_profile(sqlite_url):
    settings = GatewaySettings(
        profile="production", database_url=sqlite_url, jwt_secret="j" * 48, internal_token_secret="i" * 48
    )
    db = Database(sqlite_url)
    try:
        with pytest.raises(RuntimeError, match="dev profile"):
            await seed_demo(db, settings)
        async with db.read_only() as session:
            assert list(await session.scalars(select(User))) == []
    finally:
        await db.dispose()


async def test_the_embedded_sqlite_gateway_signs_in_and_routes(sqlite_url):
    async with running_gateway(sqlite_url, seed=True) as gw:
        headers = await gw.login("almaty.agent")
        assert (await gw.client.get("/api/v1/auth/me", headers=headers)).json()["branch"] == "ALA-01"
        assert (await gw.client.get("/api/v1/sales/customers", headers=headers)).status_code == 503
