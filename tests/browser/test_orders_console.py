"""The order screens of the web console in headless Chromium, against the suite started the way
`make run` starts it (demo data: Seitkali Aigerim in ALA-01 with a registered address, the demo
catalogue).

A branch agent starts an order from the customer's 360 view, sees the API's message at the
quantity of the line it is about, fixes it and lands on the order with its items and totals;
finds it in the customer's orders and in the order list; a stale page gets the API's 412, and
after a refresh the agent cancels the order with a reason. An agent of another region cannot
open the order by its URL; the call centre reads orders but is offered no order capture.
The fixtures (suite, browser, signed-in consoles, screenshots) are in conftest.py.
"""
from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

AIGERIM = {"name": "Seitkali Aigerim Nurlanovna", "typed_phone": "8 701 123 45 67", "shown_phone": "+7 (701) 123-45-67"}
STALE_KK = "Бұл жазбаны басқа біреу өзгертті. Жаңартып, қайталаңыз."  # almaty.agent works in Kazakh


def tenge(whole: str) -> re.Pattern:
    """An amount as kk/ru-KZ write it: "12 970" -> 12 970,00 ₸ (any space the browser puts)."""
    return re.compile(whole.replace(" ", r"\s") + r",00\s₸")


async def signed_in(console, username: str):
    """A console whose home screen has rendered (so that it does not replace the next screen)."""
    session = await console(username)
    await expect(session.page.locator("main .loading")).to_have_count(0)
    await expect(session.page.locator("main h1")).to_be_visible()
    return session


async def open_aigerim(session) -> str:
    """Finds the customer by phone and opens the 360 view; returns its fragment (customers/<id>)."""
    page = session.page
    await session.open("search")
    await page.locator("#caller-search").press_sequentially(AIGERIM["typed_phone"])
    results = page.locator("#search-results a.result")
    await expect(results).to_have_count(1)
    await results.first.click()
    await expect(page.locator("h1")).to_have_text(AIGERIM["name"])
    return page.url.split("#/", 1)[1]


async def capture_order(agent) -> tuple[str, str]:
    """Fibre 100 and two IPTV Base from the 360 view, via a refused quantity; returns the
    customer's and the order's fragments."""
    page = agent.page
    customer = await open_aigerim(agent)
    await page.locator("#orders a[href$='/orders/new']").click()
    await expect(page).to_have_url(re.compile(rf"#/{customer}/orders/new$"))
    card = page.locator("#order-customer")
    await expect(card).to_contain_text(AIGERIM["name"])
    await expect(card).to_contain_text(AIGERIM["shown_phone"])
    await expect(card).to_contain_text("ALA-01")

    catalogue = page.locator("#catalogue")
    await expect(catalogue.locator("tr[data-offering=inet-gpon-100]")).to_contain_text(tenge("6 990"))
    await expect(catalogue.locator("tr[data-offering=inet-adsl-8]")).to_have_count(0)  # retired: not offered
    await catalogue.locator("select[name=product_line]").select_option("internet")
    await expect(catalogue.locator("tr[data-offering=tv-base]")).to_have_count(0)
    await catalogue.locator("tr[data-offering=inet-gpon-100] button").click()
    form = page.locator("#order-form")
    await expect(form.locator("select[name='items.0.offering_id']")).to_have_value("inet-gpon-100")
    # the service address comes from the customer's registered address
    await expect(form.locator("input[name='items.0.service_address']")).to_have_value(re.compile(r"Almaty, Abay Ave, 150"))
    await catalogue.locator("select[name=product_line]").select_option("tv")
    await catalogue.locator("tr[data-offering=tv-base] button").click()
    await expect(form.locator("select[name='items.1.offering_id']")).to_have_value("tv-base")

    quantity = form.locator("input[name='items.1.quantity']")
    await quantity.fill("1000")
    await form.locator("button[type=submit]").click()
    error = form.locator("[data-error-for='items.1.quantity']")
    await expect(error).to_have_text("must be at most 100")  # the API's own message, at the second line
    await expect(quantity).to_have_attribute("aria-invalid", "true")
    await expect(quantity).to_be_focused()
    await expect(form.locator("[data-error-for='items.0.quantity']")).to_be_hidden()
    await expect(page).to_have_url(re.compile(r"/orders/new$"))
    await agent.screenshot("order-capture")

    await quantity.fill("2")
    await expect(form.locator(".total-one-off")).to_have_text(tenge("10 000"))
    await expect(form.locator(".total-monthly")).to_have_text(tenge("12 970"))  # 6 990 + 2 × 2 990
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"#/orders/[0-9a-f-]{36}$"))
    return customer, page.url.split("#/", 1)[1]


async def test_branch_agent_captures_an_order_and_cancels_it(console):
    agent = await signed_in(console, "almaty.agent")
    page = agent.page
    customer, order = await capture_order(agent)
    order_id = order.rsplit("/", 1)[1]

    state = page.locator(".title-row [data-state]")
    await expect(state).to_have_attribute("data-state", "acknowledged")
    items = page.locator("#order-items")
    await expect(items.locator("tr[data-item]")).to_have_count(2)
    await expect(items.locator("tr[data-item]").first).to_contain_text("Fibre 100 Mbit/s")
    await expect(items.locator("tr[data-item]").nth(1)).to_contain_text("IPTV Base (120 channels)")
    await expect(items.locator("tr[data-item][data-item-state=acknowledged]")).to_have_count(2)
    await expect(items.locator(".total-one-off")).to_have_text(tenge("10 000"))
    await expect(items.locator(".total-monthly")).to_have_text(tenge("12 970"))
    await expect(page.locator("#order-progress")).to_have_attribute("value", "0")
    await expect(page.locator(f"#order-summary a[href='#/{customer}']")).to_have_text(AIGERIM["name"])
    await agent.screenshot("order-detail")

    # the order is in the customer's orders and in the order list
    await page.locator(f"#order-summary a[href='#/{customer}']").click()
    await expect(page.locator(f"#orders tr[data-order='{order_id}'] a[href='#/{order}']")).to_be_visible()
    await agent.open("orders")
    await expect(page.locator(f"tr[data-order='{order_id}']")).to_contain_text("Fibre 100 Mbit/s")
    await expect(page.locator(f"tr[data-order='{order_id}']")).to_contain_text(AIGERIM["name"])
    await agent.screenshot("orders-list")
    await page.locator("select[name=state]").select_option("cancelled")
    await page.locator("form.filters button[type=submit]").click()
    await expect(page.locator(f"tr[data-order='{order_id}']")).to_have_count(0)

    # meanwhile the branch manager puts it on hold: the agent's page is stale and the API says so
    await agent.open(order)
    cancel = page.locator("#order-cancel")
    await expect(cancel).to_be_visible()
    manager = await signed_in(console, "almaty.manager")
    await manager.open(order)
    await manager.page.locator("#order-moves button[data-state=held]").click()
    await expect(manager.page.locator(".title-row [data-state]")).to_have_attribute("data-state", "held")
    await cancel.locator("textarea[name=reason]").fill("The customer is moving to another city")
    await cancel.locator("button[type=submit]").click()
    await expect(cancel.locator(".form-alert")).to_have_text(STALE_KK)
    await expect(state).to_have_attribute("data-state", "acknowledged")

    await page.locator("#order-refresh").click()
    await expect(state).to_have_attribute("data-state", "held")
    moves = page.locator("#order-moves button")
    await expect(moves).to_have_count(2)  # from held: back to acknowledged or on to in_progress
    await expect(page.locator("#order-moves button[data-state=held]")).to_have_count(0)
    cancel = page.locator("#order-cancel")
    await cancel.locator("button[type=submit]").click()  # no reason: the API names the field
    await expect(cancel.locator("[data-error-for=reason]")).to_have_text("a cancelled order needs a reason")
    await cancel.locator("textarea[name=reason]").fill("The customer is moving to another city")
    await cancel.locator("button[type=submit]").click()
    await expect(state).to_have_attribute("data-state", "cancelled")
    await expect(page.locator("#order-summary")).to_contain_text("The customer is moving to another city")
    await expect(page.locator("#order-actions")).to_have_count(0)  # cancelled is final


async def test_other_region_cannot_open_the_order_and_the_call_centre_only_reads(console):
    agent = await signed_in(console, "almaty.agent")
    customer, order = await capture_order(agent)
    order_id = order.rsplit("/", 1)[1]

    other = await signed_in(console, "karaganda.agent")
    await other.open(order)
    await expect(other.page.locator(".problem")).to_be_visible()
    await expect(other.page.locator("#order-items")).to_have_count(0)
    await expect(other.page.locator("body")).not_to_contain_text("Fibre 100")
    await expect(other.page.locator("body")).not_to_contain_text(AIGERIM["name"])

    callcenter = await signed_in(console, "callcenter")
    page = callcenter.page
    await callcenter.open(customer)
    await expect(page.locator(f"#orders tr[data-order='{order_id}']")).to_be_visible()
    await expect(page.locator("#orders a[href$='/orders/new']")).to_have_count(0)  # the API takes no orders from it
    await callcenter.open(order)
    await expect(page.locator("#order-items tr[data-item]")).to_have_count(2)
    await expect(page.locator("#order-actions")).to_have_count(0)
    await callcenter.open(f"{customer}/orders/new")
    await expect(page.locator("h1")).to_be_visible()
    await expect(page.locator("#order-form")).to_have_count(0)


async def test_a_draft_from_a_won_opportunity_gets_its_items_and_is_submitted(console):
    manager = await signed_in(console, "almaty.manager")
    page = manager.page
    await manager.open("orders?state=draft")
    results = page.locator("main div[aria-live=polite]")
    drafts = results.locator("tbody tr[data-order]")
    # the draft is started by the won opportunity's event, which may still be on its way
    for _ in range(30):
        await expect(results.locator(":scope > table, :scope > p.empty")).to_have_count(1)  # a page is shown
        if await drafts.count():
            break
        await page.reload()
    await drafts.first.locator("a[href^='#/orders/']").click()
    await expect(page.locator(".title-row [data-state]")).to_have_attribute("data-state", "draft")
    await expect(page.locator("#order-items")).not_to_contain_text("Fibre 500")
    customer = page.locator("#order-summary a[href^='#/customers/']")
    unnamed = await customer.text_content()  # the won opportunity's event carries no customer name

    add = page.locator("#order-add-item")
    await add.locator("select[name=offering_id]").select_option("inet-gpon-500")
    await add.locator("input[name=quantity]").fill("0")
    await add.locator("button[type=submit]").click()
    await expect(add.locator("[data-error-for=quantity]")).to_have_text("must be at least 1")
    await add.locator("input[name=quantity]").fill("1")
    await add.locator("button[type=submit]").click()
    await expect(page.locator("#order-items tr[data-item]")).to_have_count(1)
    await expect(page.locator("#order-items")).to_contain_text("Fibre 500 Mbit/s")
    await expect(customer).not_to_have_text(unnamed)  # adding the item asked sales for the customer

    await page.locator("#order-moves button[data-state=acknowledged]").click()
    await expect(page.locator(".title-row [data-state]")).to_have_attribute("data-state", "acknowledged")
    await expect(page.locator("#order-add-item")).to_have_count(0)  # items are added to drafts only
