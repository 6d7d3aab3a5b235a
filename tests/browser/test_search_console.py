"""The one search box in the console (GET /api/v1/search): the call centre finds the seeded
Aigerim Seitkali by her surname typed in Kazakh Cyrillic and by her e-mail, then one of her
tickets by its number, and opens it. Screenshots: search-any-script, search-ticket-number."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from crm_cli.testing import sign_in
from crm_shared.testing import eventually

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

AIGERIM = "Seitkali Aigerim Nurlanovna"


async def test_the_search_box_finds_people_in_any_script_and_tickets_by_number(console, suite):
    agent = await console("callcenter")
    page = agent.page
    await expect(page).to_have_url(re.compile(r"#/search$"))
    box = page.locator("#caller-search")
    results = page.locator("#search-results a.result")

    await box.fill("Сейтқали Айгерим")
    await expect(results.filter(has_text=AIGERIM)).to_have_count(1)
    await expect(results.filter(has_text=AIGERIM).first).to_contain_text("********2345")  # masked for the call centre
    await agent.screenshot("search-any-script")

    await box.fill("aigerim.seitkali@example.kz")
    await expect(results.filter(has_text=AIGERIM)).to_have_count(1)

    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        headers = await sign_in(client, "callcenter")
        customers = (await client.get("/api/v1/sales/customers", params={"q": AIGERIM}, headers=headers)).json()

        async def her_ticket():  # the demo seed opens her tickets once sales answers
            tickets = await client.get(
                "/api/v1/tickets/tickets", params={"customer_id": customers["items"][0]["id"]}, headers=headers
            )
            return (tickets.json()["items"] or [None])[0]

        ticket = await eventually(her_ticket, message="a demo ticket of Aigerim Seitkali")
    await box.fill(f"#{ticket['id'][:8]}")
    found = results.filter(has_text=ticket["id"][:8])
    await expect(found).to_have_count(1)
    await expect(found).to_contain_text(ticket["name"])
    await agent.screenshot("search-ticket-number")
    await found.click()
    await expect(page).to_have_url(re.compile(rf"#/tickets/{ticket['id']}$"))
    assert agent.errors == []
