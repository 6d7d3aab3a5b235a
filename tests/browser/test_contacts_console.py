"""Every contact logged once, in the console: a branch agent opens a ticket from a customer's 360
view without a call in progress; "Calls and visits" then shows that contact once, ended, with
the ticket it led to (the list is sales' copy of tickets' interactions, so the page is reloaded
until the copy has it, within a minute). Screenshot: call-logged."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from playwright.async_api import expect

from crm_cli.testing import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]


async def test_a_ticket_opened_from_the_360_view_logs_the_call_once(console, suite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        headers = await sign_in(client, "almaty.agent")
        found = await client.get("/api/v1/sales/customers", params={"q": "Seitkali Arman"}, headers=headers)
        customer_id = found.json()["items"][0]["id"]
    agent = await console("almaty.agent")
    page = agent.page
    await agent.open(f"customers/{customer_id}")
    await expect(page.locator("h1")).to_contain_text("Seitkali Arman")

    form = page.locator("#tickets form")
    await form.locator("input[name=name]").fill("TV box restarts every evening")
    await form.locator("textarea[name=description]").fill("Since the last update, every evening around nine.")
    await form.locator("button[type=submit]").click()
    opened = page.locator("#opened-ticket-link")
    await expect(opened).to_be_visible()
    ticket_fragment = (await opened.get_attribute("href")).removeprefix("#/")
    assert re.fullmatch(r"tickets/[0-9a-f-]{36}", ticket_fragment)

    # the 360 view lists sales' copy of tickets' contacts: it shows the call once the copy has it
    logged = page.locator(f"#contact-history li:has(a[href='#/{ticket_fragment}'])")
    for _ in range(60):
        await page.reload()
        await expect(page.locator("h1")).to_contain_text("Seitkali Arman")
        await expect(page.locator("#contact-history .loading")).to_have_count(0)
        if await logged.count():
            break
        await asyncio.sleep(1)
    await expect(logged).to_have_count(1)
    await expect(logged).to_contain_text(re.compile(r"\S"))
    await agent.screenshot("call-logged")
    assert agent.errors == []
