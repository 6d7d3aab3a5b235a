"""The gateway's side of the console, in process over ASGI: the page and its assets, and the one
endpoint the console added to the public API, PATCH /api/v1/auth/me (the user's own language)."""

from __future__ import annotations

import httpx
import pytest

from crm_gateway.config import GatewaySettings
from crm_gateway.db import MIGRATIONS_DIR
from crm_gateway.main import create_app
from crm_gateway.seed import seed_demo
from crm_shared.broker import free_port
from crm_shared.migrations import upgrade_async

DEMO_BILLING_KEY = "crm_demobill_dev-only-billing-secret-not-for-production"


@pytest.fixture(scope="module")
async def client(tmp_path_factory):
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('console-gateway') / 'gateway.db'}"
    await upgrade_async(MIGRATIONS_DIR, url)
    settings = GatewaySettings(
        database_url=url,
        relay_enabled=False,
        log_json=False,
        sales_url=f"http://127.0.0.1:{free_port()}",
        password_hash_time_cost=1,
        password_hash_memory_kib=1024,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await seed_demo(app.state.runtime.db, settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as http:
            yield http


async def bearer(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    answer = await client.post("/api/v1/auth/token", data={"username": username, "password": "demo"})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def test_the_page_and_its_assets_are_served_without_signing_in(client):
    page = await client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/console/js/app.js">' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    script = await client.get("/console/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "function signInView" in script.text
    assert (await client.get("/console/console.css")).headers["content-type"].startswith("text/css")
    assert (await client.get("/console/js/nothing-here.js")).status_code == 404
    assert (await client.get("/console/../crm_gateway/config.py")).status_code == 404


async def test_a_user_stores_their_own_language(client):
    user = await bearer(client, "almaty.agent")
    colleague = await bearer(client, "almaty.manager")
    colleague_before = (await client.get("/api/v1/auth/me", headers=colleague)).json()
    before = (await client.get("/api/v1/auth/me", headers=user)).json()
    changed = await client.patch("/api/v1/auth/me", headers=user, json={"language": "en"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == before | {"language": "en"}
    assert (await client.get("/api/v1/auth/me", headers=user)).json()["language"] == "en"
    again = await bearer(client, "almaty.agent")  # a new sign-in finds it
    assert (await client.get("/api/v1/auth/me", headers=again)).json()["language"] == "en"
    assert (await client.get("/api/v1/auth/me", headers=colleague)).json() == colleague_before


@pytest.mark.parametrize(
    "body, field", [({"language": "de"}, "language"), ({}, "language"), ({"language": "kk", "role": "admin"}, "role")]
)
async def test_bad_preferences_are_refused_naming_the_field(client, body, field):
    user = await bearer(client, "karaganda.agent")
    answer = await client.patch("/api/v1/auth/me", headers=user, json=body)
    assert answer.status_code == 422, answer.text
    assert field in {e["field"] for e in answer.json()["errors"]}
    me = (await client.get("/api/v1/auth/me", headers=user)).json()
    assert me["role"] == "branch_agent"


async def test_only_signed_in_staff_have_preferences(client):
    assert (await client.patch("/api/v1/auth/me", json={"language": "en"})).status_code == 401
    system = await client.patch("/api/v1/auth/me", headers={"X-API-Key": DEMO_BILLING_KEY}, json={"language": "en"})
    assert system.status_code == 403
