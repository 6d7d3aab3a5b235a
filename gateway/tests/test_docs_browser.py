"""Swagger UI renders the merged document in headless Chromium without reaching outside the machine."""

from __future__ import annotations

import asyncio
import shutil

import pytest
import uvicorn

from crm_gateway.config import GatewaySettings
from crm_gateway.db import MIGRATIONS_DIR
from crm_gateway.main import create_app
from crm_shared.broker import free_port
from crm_shared.migrations import upgrade_async

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
async def test_swagger_ui_renders_every_gateway_operation_offline(tmp_path):
    from playwright.async_api import async_playwright

    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    await upgrade_async(MIGRATIONS_DIR, url)
    app = create_app(
        GatewaySettings(
            database_url=url, relay_enabled=False, sales_url=f"http://127.0.0.1:{free_port()}", log_json=False
        )
    )
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        elsewhere: list[str] = []
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                page = await browser.new_page()
                page.on("request", lambda r: None if r.url.startswith((origin, "data:")) else elsewhere.append(r.url))
                await page.goto(f"{origin}/docs")
                await page.wait_for_selector("#operations-auth-issue_token_api_v1_auth_token_post", timeout=30_000)
                paths = await page.locator(".opblock-summary-path").all_inner_texts()
                authorize = await page.locator("button.authorize").count()
            finally:
                await browser.close()
    finally:
        server.should_exit = True
        await serving
    assert elsewhere == []
    assert {p.replace("\u200b", "") for p in paths} >= {
        "/api/v1/auth/token",
        "/api/v1/auth/me",
        "/api/v1/admin/users",
        "/api/v1/reference/regions",
    }
    assert authorize == 1
