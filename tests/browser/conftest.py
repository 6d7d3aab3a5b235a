"""The browser tests' fixtures: the suite started the way `make run` starts it (`crm up --seed`),
once for every browser test module, headless Debian chromium driven by Playwright (no browser is
downloaded), and a signed-in `Console` per user. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from crm_cli.testing import RunningSuite

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Generous waits for a loaded 2-core CI machine; an assertion still fails when the page is wrong.
WAIT_MS = 30_000


@pytest.fixture(scope="session")
async def suite(tmp_path_factory):
    # as `make run` starts it, with the cheapest password hashes (each sign-in verifies one)
    running = RunningSuite(
        tmp_path_factory.mktemp("console-var"),
        seed=True,
        env={"CRM_GATEWAY_PASSWORD_HASH_TIME_COST": "1", "CRM_GATEWAY_PASSWORD_HASH_MEMORY_KIB": "1024"},
    )
    await asyncio.to_thread(running.__enter__)
    yield running
    await asyncio.to_thread(running.stop)


@pytest.fixture(scope="session")
async def browser():
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed: `apt-get install -y chromium` (make test does it as root)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


class Console:
    """One signed-in browser session; JavaScript errors on its pages fail the test."""

    def __init__(self, page: Page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        # offline: every request stays with the gateway (no CDN, no font or script from elsewhere;
        # a file the console saves, such as the personal-data export, is a blob of the page's own)
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith((base_url, "data:", f"blob:{base_url}"))
                else self.errors.append(f"request outside the suite: {request.url}")
            ),
        )

    async def open(self, fragment: str = "") -> None:
        await self.page.goto(f"{self.base_url}/#/{fragment}")

    async def sign_in(self, username: str) -> None:
        await self.page.goto(f"{self.base_url}/")
        await self.page.locator("input[name=username]").fill(username)
        await self.page.locator("input[name=password]").fill("demo")
        await self.page.locator("button[type=submit]").click()
        await expect(self.page.locator("header nav")).to_be_visible()

    async def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    async def language(self) -> str:
        return await self.page.locator("html").get_attribute("lang")

    async def choose_language(self, code: str) -> None:
        await self.page.locator("#language").select_option(code)
        await expect(self.page.locator("html")).to_have_attribute("lang", code)


@pytest.fixture
async def console(browser: Browser, suite: RunningSuite):
    contexts = []

    async def open_console(username: str | None = None) -> Console:
        context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        session = Console(await context.new_page(), suite.gateway_url)
        sessions.append(session)
        if username:
            await session.sign_in(username)
        return session

    sessions: list[Console] = []
    expect.set_options(timeout=WAIT_MS)
    yield open_console
    for context in contexts:
        await context.close()
    errors = [e for s in sessions for e in s.errors]
    assert not errors, f"JavaScript errors or outside requests in the console: {errors}"
