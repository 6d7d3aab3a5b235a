"""One customer across every service, in the web console (headless Chromium, the suite started
the way `make run` starts it).

A duplicate with an order (fulfilled: an installed product) and a ticket is merged into its
survivor: the survivor's 360 view shows the duplicate's order, product and ticket. Then the
privacy officer (demo user `privacy.officer`) erases the person from the customer screen with a
reason: the screen shows "Erased customer" and where the erasure stands, until every service has
confirmed.
"""

from __future__ import annotations

import random

import httpx
import pytest
from playwright.async_api import expect

from crm_cli.testing import api_key, sign_in
from crm_gateway.seed import DEMO_OSS_KEY
from crm_shared.testing import Identities, eventually

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

SALES = "/api/v1/sales/customers"


async def a_merged_customer(base_url: str) -> dict:
    """Through the API: survivor and duplicate, the duplicate's fulfilled order and its ticket,
    then the merge; returns the ids once orders and tickets moved them."""
    ids = Identities(seed=random.randrange(1 << 30))
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        survivor = (await client.post(SALES, headers=agent, json=ids.individual(last_name="Konsolova"))).json()
        duplicate = (await client.post(SALES, headers=agent, json=ids.individual(last_name="Konsolova"))).json()
        order = (
            await client.post(
                "/api/v1/orders/orders",
                headers=agent,
                json={"customer_id": duplicate["id"], "items": [{"offering_id": "tv-max"}]},
            )
        ).json()
        done = await client.post(
            f"/api/v1/orders/orders/{order['id']}/items/{order['items'][0]['id']}/fulfilment",
            headers=api_key(DEMO_OSS_KEY),
            json={"state": "completed"},
        )
        assert done.status_code == 200, done.text
        ticket = await client.post(
            "/api/v1/tickets/tickets",
            headers=agent,
            json={"customer_id": duplicate["id"], "name": "Remote lost", "description": "TV", "category": "tv"},
        )
        assert ticket.status_code == 201, ticket.text
        merged = await client.post(
            f"{SALES}/{survivor['id']}/merge", headers=agent, json={"duplicate_id": duplicate["id"]}
        )
        assert merged.status_code == 200, merged.text

        async def moved():
            orders = await client.get("/api/v1/orders/orders", params={"customer_id": survivor["id"]}, headers=agent)
            tickets = await client.get("/api/v1/tickets/tickets", params={"customer_id": survivor["id"]}, headers=agent)
            return orders.json()["items"] and tickets.json()["items"]

        await eventually(moved, interval_s=0.5, message="the duplicate's order and ticket at the survivor")
    return {"survivor": survivor["id"], "order": order["id"], "ticket": ticket.json()["id"]}


async def test_the_survivor_shows_the_duplicates_records_and_the_privacy_officer_erases_the_person(console, suite):
    made = await a_merged_customer(suite.gateway_url)

    agent = await console("almaty.agent")
    page = agent.page
    await agent.open(f"customers/{made['survivor']}")
    await expect(page.locator(f"#orders [data-order='{made['order']}']")).to_be_visible()
    await expect(page.locator("#products")).to_contain_text("IPTV")
    await expect(page.locator("#tickets")).to_contain_text("Remote lost")
    await expect(page.locator("#erase")).to_have_count(0)  # erasure is not the agent's
    await agent.screenshot("customer-360-after-merge")

    officer = await console("privacy.officer")
    page = officer.page
    await expect(page.locator("main h1")).to_be_visible()  # lands on the search
    await officer.open(f"customers/{made['survivor']}")
    await expect(page.locator("h1")).to_contain_text("Konsolova")
    await page.locator("#erase summary").click()
    await page.locator("#erase button[type=submit]").click()  # no reason yet: the browser asks for it
    await expect(page.locator("#erase textarea[name=reason]")).to_be_focused()
    await page.locator("#erase textarea[name=reason]").fill("DSR-UI-1: the customer asked to be forgotten")
    await page.locator("#erase button[type=submit]").click()
    await expect(page.locator("h1")).to_have_text("Erased customer")
    await expect(page.locator("#erasure tr[data-service=sales]")).to_be_visible()

    async def complete():
        await officer.open("search")
        await officer.open(f"customers/{made['survivor']}")
        await expect(page.locator("#erasure tr[data-service=tickets]")).to_be_visible()
        return await page.locator("#erasure p.notice").count() == 1

    await eventually(complete, interval_s=1, message="the console shows the erasure complete")
    await expect(page.locator("#erase")).to_have_count(0)
    await officer.screenshot("customer-erased")
