"""The partner portal and the channel manager's screens in headless Chromium, against the suite
started the way `make run` starts it: the demo dealer's user registers a deal, sees the API's
answer to a channel conflict at the form, the channel manager approves the deal, and the dealer
follows it, opens a ticket for its new customer, reads its statement and switches language. The fixtures are in conftest.py."""

from __future__ import annotations

import re
import zlib

import pytest
from playwright.async_api import expect

from crm_shared.testing import Identities, eventually

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]


async def register(dealer, iin: str, phone: str, last_name: str) -> None:
    form = dealer.page.locator("form[aria-labelledby=deal-title]")
    await form.locator("input[name='customer.iin']").fill(iin)
    await form.locator("input[name='customer.phone']").fill(phone)
    await form.locator("input[name='customer.first_name']").fill("Madina")
    await form.locator("input[name='customer.last_name']").fill(last_name)
    await form.locator("button[type=submit]").click()


async def test_a_dealer_registers_a_deal_the_channel_manager_approves_it(console):
    ids = Identities(seed=zlib.crc32(b"browser-partners"))
    dealer = await console("dealer.almaty")
    await expect(dealer.page).to_have_url(re.compile(r"#/portal$"))
    await expect(dealer.page.locator("h1")).to_contain_text("Almaty Telecom Dealer")
    iin, phone = ids.iin(), ids.mobile()
    await register(dealer, iin, phone, "Portalova")
    await expect(dealer.page.locator("table").first).to_contain_text("Portalova")
    await dealer.screenshot("partner-portal")
    # the same customer again: the API's 409 is shown on the form, naming no other partner
    await register(dealer, iin, phone, "Portalova")
    await expect(
        dealer.page.locator(
            "form[aria-labelledby=deal-title] [role=alert], form[aria-labelledby=deal-title] .field-error:not([hidden])"
        ).first
    ).to_be_visible()

    manager = await console("channel.manager")
    await expect(manager.page).to_have_url(re.compile(r"#/partners$"))
    await expect(manager.page.locator("table")).to_contain_text("Almaty Telecom Dealer")
    await manager.open("partners/approvals")
    row = manager.page.locator("tr", has_text="Portalova")
    await row.locator("button[value=approved]").click()
    await expect(manager.page.locator("tr", has_text="Portalova")).to_have_count(0)
    await manager.screenshot("partner-approvals")

    await dealer.page.reload()  # the portal is the page it is on: read the deals again
    await expect(dealer.page.locator("tr", has_text="Portalova")).to_contain_text(
        re.compile("Approved|Одобрена|Мақұлданды")
    )
    await expect(dealer.page.locator("dl.facts")).to_be_visible()

    # its new customer (once sales learned the approval) is offered for a ticket, which it then sees
    ticket_form = dealer.page.locator("form[aria-labelledby=partner-ticket-title]")

    async def customer_offered() -> bool:
        await dealer.page.reload()
        loaded = dealer.page.locator("form[aria-labelledby=partner-ticket-title], #partner-no-customers")
        await expect(loaded.first).to_be_visible()
        return await ticket_form.locator("option", has_text="Portalova").count() > 0

    await eventually(customer_offered, message="the portal offers the approved deal's customer for a ticket")
    customer_id = await ticket_form.locator("option", has_text="Portalova").get_attribute("value")
    await ticket_form.locator("select[name=customer_id]").select_option(customer_id)
    await ticket_form.locator("input[name=name]").fill("Router from the dealer is silent")
    await ticket_form.locator("textarea[name=description]").fill("No light on the router since installation")
    await ticket_form.locator("button[type=submit]").click()
    await expect(dealer.page.locator("tr", has_text="Router from the dealer is silent")).to_be_visible()
    await dealer.screenshot("partner-portal-ticket")

    await dealer.choose_language("kk")
    await expect(dealer.page.locator("h2", has_text="Менің мәмілелерім")).to_be_visible()
    assert not dealer.errors and not manager.errors, dealer.errors + manager.errors
