"""The order screens of the web console in headless Chromium, against the suite started the way
`make run` starts it (demo data: Seitkali Aigerim in ALA-01 with a registered address, the demo
catalogue).

A branch agent starts an order from the customer's 360 view, sees the API's message at the
quantity of the line it is about, fixes it and lands on the order with its items and totals;
finds it in the customer's orders and in the order list; a stale page gets the API's 412, and
after a refresh the agent cancels the order with a reason. An agent of another region cannot
open the order by its URL; the call centre reads orders but is offered no order capture.

Installed products (none are seeded: each test orders them for Aigerim through the API and the
demo OSS key fulfils them, as OSS does): from the 360 view an agent changes a tariff (the order
shows from → to, before and after fulfilment) and disconnects another product; a change the API
refuses (an offering withdrawn from sale meanwhile) gets its message at that line's offering.
The fixtures (suite, browser, signed-in consoles, screenshots) are in conftest.py.
"""

from __future__ import annotations

import re
from contextlib import asynccontextmanager

import httpx
import pytest
from playwright.async_api import expect

from crm_cli.testing import api_key, sign_in
from crm_gateway.seed import DEMO_OSS_KEY

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

AIGERIM = {"name": "Seitkali Aigerim Nurlanovna", "typed_phone": "8 701 123 45 67", "shown_phone": "+7 (701) 123-45-67"}
STALE_KK = "Бұл жазбаны басқа біреу өзгертті. Жаңартып, қайталаңыз."  # almaty.agent works in Kazakh
ORDERS = "/api/v1/orders/orders"
SERVICE_ADDRESS = "Almaty, Abay Ave, 150"


def tenge(whole: str) -> re.Pattern:
    """An amount as kk/ru-KZ write it: "12 970" -> 12 970,00 ₸ (any space the browser puts)."""
    return re.compile(whole.replace(" ", r"\s") + r",00\s₸")


# The offerings as the console names them in its users' languages (crm_orders.seed.NAMES): almaty.agent
# and the call centre work in Kazakh, the others in Russian; the fibre tariffs read the same in both.


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
    await expect(form.locator("input[name='items.0.service_address']")).to_have_value(
        re.compile(r"Almaty, Abay Ave, 150")
    )
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
    await expect(items.locator("tr[data-item]").first).to_contain_text("Оптика 100 Мбит/с")
    await expect(items.locator("tr[data-item]").nth(1)).to_contain_text("IPTV Базалық (120 арна)")
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
    await expect(page.locator(f"tr[data-order='{order_id}']")).to_contain_text("Оптика 100 Мбит/с")
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
    await expect(other.page.locator("body")).not_to_contain_text("Оптика 100")
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
    await manager.choose_language("ru")  # the account keeps a language another test may have switched
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
    await expect(page.locator("#order-items")).not_to_contain_text("Оптика 500")
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
    await expect(page.locator("#order-items")).to_contain_text("Оптика 500 Мбит/с")
    await expect(customer).not_to_have_text(unnamed)  # adding the item asked sales for the customer

    await page.locator("#order-moves button[data-state=acknowledged]").click()
    await expect(page.locator(".title-row [data-state]")).to_have_attribute("data-state", "acknowledged")
    await expect(page.locator("#order-add-item")).to_have_count(0)  # items are added to drafts only


# --- tariff changes and disconnections ------------------------------------------------------------


async def fulfil(client: httpx.AsyncClient, order_id: str) -> dict:
    """Every item of the order reported completed by the demo OSS key; returns the completed order."""
    oss = api_key(DEMO_OSS_KEY)
    order = (await client.get(f"{ORDERS}/{order_id}", headers=oss)).json()
    for item in order["items"]:
        reported = await client.post(
            f"{ORDERS}/{order_id}/items/{item['id']}/fulfilment", headers=oss, json={"state": "completed"}
        )
        assert reported.status_code == 200, reported.text
        order = reported.json()
    assert order["state"] == "completed", order
    return order


async def fulfilled_by_oss(suite, order_id: str) -> dict:
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        return await fulfil(client, order_id)


async def installed_for_aigerim(suite, *offerings: str) -> tuple[str, list[str]]:
    """Aigerim's id and new installed products of ``offerings`` (in that order): an order taken by
    almaty.agent through the API and fulfilled by OSS."""
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        found = await client.get("/api/v1/sales/customers", headers=agent, params={"phone": AIGERIM["typed_phone"]})
        assert found.status_code == 200, found.text
        customer_id = found.json()["items"][0]["id"]
        taken = await client.post(
            ORDERS,
            headers=agent,
            json={
                "customer_id": customer_id,
                "items": [{"offering_id": offering, "service_address": SERVICE_ADDRESS} for offering in offerings],
            },
        )
        assert taken.status_code == 201, taken.text
        completed = await fulfil(client, taken.json()["id"])
    return customer_id, [item["result_product_ids"][0] for item in completed["items"]]


@asynccontextmanager
async def withdrawn_from_sale(suite, offering_id: str):
    """The offering retired by an administrator for the time of the block, then sold again."""
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        admin = await sign_in(client, "admin")
        path = f"/api/v1/orders/offerings/{offering_id}"
        current = (await client.get(path, headers=admin)).json()
        retired = await client.patch(path, headers=admin, json={"version": current["version"], "status": "retired"})
        assert retired.status_code == 200, retired.text
        try:
            yield
        finally:
            again = await client.patch(
                path, headers=admin, json={"version": retired.json()["version"], "status": "active"}
            )
            assert again.status_code == 200, again.text


def order_of(page) -> str:
    return page.url.rsplit("/", 1)[1]


async def test_a_branch_agent_changes_a_tariff_and_disconnects_a_product(console, suite):
    customer_id, (fibre_id, tv_id) = await installed_for_aigerim(suite, "inet-gpon-100", "tv-base")
    agent = await signed_in(console, "almaty.agent")
    page = agent.page
    customer = await open_aigerim(agent)
    assert customer == f"customers/{customer_id}"
    fibre = page.locator(f"#products li[data-product='{fibre_id}']")
    await expect(fibre).to_contain_text("Оптика 100 Мбит/с")
    await expect(fibre).to_contain_text("Белсенді")  # active, in the agent's Kazakh
    await expect(fibre).to_contain_text(tenge("6 990"))
    await expect(fibre).to_contain_text(SERVICE_ADDRESS)

    # change the tariff: the capture opens with the product's line prefilled
    await fibre.locator("a[data-action=modify]").click()
    await expect(page).to_have_url(re.compile(rf"#/{customer}/orders/new\?change={fibre_id}$"))
    form = page.locator("#order-form")
    line = form.locator("[data-line='0']")
    await expect(line).to_have_attribute("data-action", "modify")
    await expect(line.locator("select[name='items.0.installed_product_id']")).to_have_value(fibre_id)
    await expect(line.locator(".line-details")).to_contain_text("Оптика 100 Мбит/с")
    await expect(line.locator(".line-details")).to_contain_text(SERVICE_ADDRESS)
    offering = line.locator("select[name='items.0.offering_id']")
    await expect(offering).to_be_focused()
    # only what the API takes: another offering of the same product line
    await expect(offering.locator("option[value=inet-gpon-300]")).to_have_count(1)
    await expect(offering.locator("option[value=inet-gpon-100]")).to_have_count(0)  # its own: nothing would change
    await expect(offering.locator("option[value=tv-base]")).to_have_count(0)
    await expect(offering.locator("option[value=inet-adsl-8]")).to_have_count(0)  # retired
    await offering.select_option("inet-gpon-300")
    await expect(line.locator(".line-details")).to_contain_text(
        re.compile(r"\+" + tenge("3 000").pattern)
    )  # 9 990 - 6 990
    # what the API counts for a change: the new offering's one-off and monthly prices
    await expect(form.locator(".total-one-off")).to_have_text(tenge("10 000"))
    await expect(form.locator(".total-monthly")).to_have_text(tenge("9 990"))
    await agent.screenshot("order-change")
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"#/orders/[0-9a-f-]{36}$"))
    change_order = order_of(page)

    item = page.locator("#order-items tr[data-item-action=modify]")
    await expect(item).to_have_count(1)
    await expect(item.locator(".from")).to_have_text("Оптика 100 Мбит/с")
    await expect(item.locator(".to")).to_have_text("Оптика 300 Мбит/с")
    await expect(item.locator(".order-action")).to_have_text("Өзгерту")  # "Change"
    await expect(page.locator("#order-items .total-monthly")).to_have_text(tenge("9 990"))

    # once OSS has changed the product, the order still tells where it came from
    await fulfilled_by_oss(suite, change_order)
    await page.locator("#order-refresh").click()
    await expect(page.locator(".title-row [data-state]")).to_have_attribute("data-state", "completed")
    await expect(item.locator(".from")).to_have_text("Оптика 100 Мбит/с")
    await expect(item.locator(".to")).to_have_text("Оптика 300 Мбит/с")
    await agent.open(customer)
    await expect(fibre).to_contain_text("Оптика 300 Мбит/с")
    await expect(fibre).to_contain_text(tenge("9 990"))

    # disconnect the TV: nothing to pay
    tv = page.locator(f"#products li[data-product='{tv_id}']")
    await tv.locator("a[data-action=delete]").click()
    await expect(page).to_have_url(re.compile(rf"#/{customer}/orders/new\?disconnect={tv_id}$"))
    line = form.locator("[data-line='0']")
    await expect(line).to_have_attribute("data-action", "delete")
    await expect(line.locator("select[name='items.0.installed_product_id']")).to_have_value(tv_id)
    await expect(line.locator(".line-details")).to_contain_text("IPTV Базалық (120 арна)")
    await expect(line.locator("[name='items.0.offering_id']")).to_have_count(0)
    await expect(form.locator(".total-one-off")).to_have_text(tenge("0"))
    await expect(form.locator(".total-monthly")).to_have_text(tenge("0"))
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"#/orders/[0-9a-f-]{36}$"))
    item = page.locator("#order-items tr[data-item-action=delete]")
    await expect(item).to_contain_text("IPTV Базалық (120 арна)")
    await expect(item.locator(".order-action")).to_have_text("Ажырату")  # "Disconnection"
    await fulfilled_by_oss(suite, order_of(page))
    await agent.open(customer)
    await expect(tv).to_have_attribute("data-status", "terminated")
    await expect(tv.locator("a[data-action]")).to_have_count(0)  # nothing left to change
    await expect(fibre.locator("a[data-action]")).to_have_count(2)

    # the call centre sees the products, and no change it could not make
    callcenter = await signed_in(console, "callcenter")
    await callcenter.open(customer)
    await expect(callcenter.page.locator(f"#products li[data-product='{fibre_id}']")).to_contain_text(
        "Оптика 300 Мбит/с"
    )
    await expect(callcenter.page.locator("#products a[data-action]")).to_have_count(0)


async def test_a_change_the_api_refuses_shows_its_message_at_that_lines_offering(console, suite):
    customer_id, (fibre_id,) = await installed_for_aigerim(suite, "inet-gpon-100")
    agent = await signed_in(console, "almaty.agent")
    page = agent.page
    await agent.open(f"customers/{customer_id}/orders/new")
    form = page.locator("#order-form")
    await page.locator("#catalogue tr[data-offering=tv-max] button").click()
    await expect(form.locator("select[name='items.0.offering_id']")).to_have_value("tv-max")
    # the capture lists the customer's products: the change goes on a line of its own
    await page.locator(f"#order-products tr[data-product='{fibre_id}'] button[data-action=modify]").click()
    line = form.locator("[data-line='1']")
    await expect(line).to_have_attribute("data-action", "modify")
    offering = line.locator("select[name='items.1.offering_id']")
    await expect(offering).to_be_focused()
    await expect(offering.locator("option[value=tv-max]")).to_have_count(0)  # a product keeps its product line

    error = line.locator("[data-error-for='items.1.offering_id']")
    await form.locator("button[type=submit]").click()  # a tariff change names its new tariff
    await expect(error).to_have_text("Тариф қай қызметке ауысатынын таңдаңыз.")
    await expect(offering).to_be_focused()

    await offering.select_option("inet-gpon-1000")
    await expect(form.locator(".total-one-off")).to_have_text(tenge("15 000"))
    await expect(form.locator(".total-monthly")).to_have_text(tenge("22 980"))  # 4 990 + 17 990
    async with withdrawn_from_sale(suite, "inet-gpon-1000"):  # meanwhile, by an administrator
        await form.locator("button[type=submit]").click()
        await expect(error).to_have_text("offering inet-gpon-1000 is retired and no longer sold")  # the API's words
    await expect(offering).to_have_attribute("aria-invalid", "true")
    await expect(offering).to_be_focused()
    await expect(form.locator("[data-error-for='items.0.offering_id']")).to_be_hidden()
    await expect(page).to_have_url(re.compile(r"/orders/new$"))

    await offering.select_option("inet-gpon-500")
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"#/orders/[0-9a-f-]{36}$"))
    items = page.locator("#order-items tr[data-item]")
    await expect(items).to_have_count(2)
    await expect(items.first).to_have_attribute("data-item-action", "add")
    change = page.locator("#order-items tr[data-item-action=modify]")
    await expect(change.locator(".from")).to_have_text("Оптика 100 Мбит/с")
    await expect(change.locator(".to")).to_have_text("Оптика 500 Мбит/с")
