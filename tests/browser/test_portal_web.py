"""The customer self-service portal (/portal/) in headless Chromium on a phone-sized screen, against
the suite started as `make run` starts it. A customer signs in with the code the suite's SMS channel
delivered (read back from the dev outbox), sees their products and what is due, opens a ticket,
rates a resolved one, withdraws their marketing consent and asks for erasure, in English after switching from the
default Kazakh; the page loads nothing but its own assets and the portal API. Screenshots in
test-artifacts/screenshots/portal-*.png."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from crm_cli.testing import api_key, sign_in
from crm_gateway.seed import DEMO_ORDERS_BILLING_KEY, DEMO_OSS_KEY
from crm_shared.testing import Identities, eventually

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WAIT_MS = 30_000  # generous on a loaded 2-core machine; a wrong page still fails


async def customer_with_a_product_a_bill_and_a_resolved_ticket(client) -> dict:
    agent = await sign_in(client, "almaty.agent")
    ids = Identities(seed=random.randrange(1 << 30))
    created = await client.post(
        "/api/v1/sales/customers",
        headers=agent,
        json=ids.individual(
            first_name="Zhanna", last_name="Portalova", marketing_consent=True, data_processing_consent=True
        ),
    )
    assert created.status_code == 201, created.text
    customer = created.json()
    order = (
        await client.post(
            "/api/v1/orders/orders",
            headers=agent | {"Idempotency-Key": f"portal-web-{customer['id']}"},
            json={
                "customer_id": customer["id"],
                "items": [{"offering_id": "inet-gpon-100", "service_address": "Almaty, Abay 10"}],
            },
        )
    ).json()
    for item in order["items"]:
        done = await client.post(
            f"/api/v1/orders/orders/{order['id']}/items/{item['id']}/fulfilment",
            headers=api_key(DEMO_OSS_KEY),
            json={"state": "completed"},
        )
        assert done.status_code == 200, done.text
    today = datetime.now(UTC).date()
    invoice = await client.post(
        "/api/v1/orders/billing/invoices",
        headers=api_key(DEMO_ORDERS_BILLING_KEY),
        json={
            "invoice_id": f"INV-web-{order['id'][:8]}",
            "customer_id": customer["id"],
            "order_id": order["id"],
            "amount_tiyn": 6990_00,
            "issued_on": today.isoformat(),
            "due_on": (today + timedelta(days=14)).isoformat(),
        },
    )
    assert invoice.status_code == 201, invoice.text
    ticket = (
        await client.post(
            "/api/v1/tickets/tickets",
            headers=agent,
            json={
                "customer_id": customer["id"],
                "name": "Slow internet",
                "description": "evenings",
                "category": "internet",
            },
        )
    ).json()
    resolved = await client.post(
        f"/api/v1/tickets/tickets/{ticket['id']}/transitions",
        headers=agent,
        json={"status": "resolved", "reason": "port replaced"},
    )
    assert resolved.status_code == 200, resolved.text
    return customer | {"resolved_ticket": ticket["id"]}


async def test_a_customer_signs_in_sees_products_and_balance_opens_and_rates_tickets_and_changes_consent(
    browser, suite
):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        customer = await customer_with_a_product_a_bill_and_a_resolved_ticket(client)
        admin = await sign_in(client, "admin")
        agent = await sign_in(client, "almaty.agent")

        context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="kk-KZ", is_mobile=True)
        context.set_default_timeout(WAIT_MS)
        expect.set_options(timeout=WAIT_MS)
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "request",
            lambda request: (
                None
                if request.url.startswith(
                    (f"{suite.gateway_url}/portal", f"{suite.gateway_url}/api/v1/portal/", "data:")
                )
                else errors.append(f"not the portal's: {request.url}")
            ),
        )
        try:
            await page.goto(f"{suite.gateway_url}/portal/")
            await expect(page.locator("html")).to_have_attribute("lang", "kk")
            await expect(page.get_by_label("Телефон нөмірі")).to_be_visible()
            await page.get_by_role("button", name="ENG").click()
            await expect(page.locator("html")).to_have_attribute("lang", "en")

            # sign-in with the keyboard: the labelled phone field, Enter, then the code from the SMS
            await page.get_by_label("Phone number").fill("8" + customer["primary_phone"][2:])
            await page.get_by_label("Phone number").press("Enter")
            await expect(page.get_by_text("a code is on its way by SMS")).to_be_visible()

            async def sms():
                outbox = await client.get(
                    "/api/v1/admin/dev-outbox", headers=admin, params={"to": customer["primary_phone"]}
                )
                items = outbox.json()["items"]
                return items[0]["body"] if items else None

            code = re.search(r"(?<!\d)\d{6}(?!\d)", await eventually(sms, message="the SMS code")).group()
            await page.get_by_label("SMS code").fill(code)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / "portal-sign-in.png"), full_page=True)
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.locator("main h1")).to_have_text(f"Hello, {customer['display_name']}")

            # products and what is due
            await expect(page.locator("#products")).to_contain_text("Fibre 100")
            await expect(page.locator("#balance")).to_contain_text("6,990")
            await page.screenshot(path=str(SCREENSHOTS / "portal-products-and-balance.png"), full_page=True)

            # open a ticket
            tickets = page.locator("#tickets")
            await tickets.get_by_label("Summary").fill("TV has no sound")
            await tickets.get_by_label("Description").fill("Since the update last night")
            await tickets.get_by_label("Category").select_option("tv")
            await tickets.get_by_role("button", name="Send").click()
            await expect(tickets.locator("li", has_text="TV has no sound")).to_contain_text("New")

            # rate the resolved one
            resolved = tickets.locator(f"li[data-ticket='{customer['resolved_ticket']}']")
            await resolved.get_by_label("4").check()
            await resolved.get_by_label("Comment").fill("fixed the same day")
            await resolved.get_by_role("button", name="Rate").click()
            await expect(tickets.locator(f"li[data-ticket='{customer['resolved_ticket']}']")).to_contain_text(
                "Rated: 4/5"
            )
            await page.screenshot(path=str(SCREENSHOTS / "portal-ticket-opened-and-rated.png"), full_page=True)
            staff_view = (
                await client.get(f"/api/v1/tickets/tickets/{customer['resolved_ticket']}", headers=agent)
            ).json()
            assert staff_view["rating"]["score"] == 4

            # withdraw marketing consent
            await expect(page.get_by_label("I agree to receive marketing messages")).to_be_checked()
            await page.get_by_label("I agree to receive marketing messages").uncheck()
            await page.get_by_role("button", name="Save").click()
            await expect(page.locator("#status")).to_have_text("Saved")
            await expect(page.get_by_label("I agree to receive marketing messages")).not_to_be_checked()
            await page.screenshot(path=str(SCREENSHOTS / "portal-consent-withdrawn.png"), full_page=True)
            record = (await client.get(f"/api/v1/sales/customers/{customer['id']}", headers=agent)).json()
            assert record["marketing_consent"] is False and record["data_processing_consent"] is True

            # ask for erasure: a second, explicit step; the privacy officer finds the request
            await page.get_by_role("button", name="Ask to delete my data").click()
            await page.get_by_role("button", name="Yes, delete it").click()
            await expect(page.locator("#status")).to_have_text("Your request was sent")
            officer = await sign_in(client, "privacy.officer")
            asks = (await client.get("/api/v1/sales/erasure-asks", headers=officer, params={"limit": 200})).json()
            assert customer["id"] in [a["customer_id"] for a in asks["items"]]
        finally:
            await context.close()
        assert not errors, errors
