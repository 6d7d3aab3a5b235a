"""The web console in headless Chromium (Debian's `chromium`, driven by Playwright without a
downloaded browser) against the suite started the way `make run` starts it (`crm up --seed`).

The call centre finds a seeded customer by a phone typed another way and works in the 360
view; a branch agent registers a customer, sees the API's message at the IIN field, fixes it
and saves; an agent of another region cannot open that customer by its URL; a user switches
the language and keeps it; every main screen renders for its role. The fixtures (suite,
browser, signed-in consoles, screenshots) are in conftest.py.
"""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from playwright.async_api import expect

from crm_shared.identifiers import make_iin

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

AIGERIM = {"name": "Seitkali Aigerim Nurlanovna", "iin_tail": "2345"}


def fresh_person() -> tuple[str, str]:
    """A valid IIN nobody has yet, and a phone typed the way people type it."""
    rnd = random.Random()
    iin = None
    while iin is None:
        iin = make_iin(date(1988, rnd.randint(1, 12), rnd.randint(1, 28)), True, rnd.randint(1, 9999))
    digits = f"{rnd.randint(0, 9999999):07d}"
    return iin, f"8 (707) {digits[:3]}-{digits[3:5]}-{digits[5:]}"


def with_wrong_check_digit(iin: str) -> str:
    return iin[:-1] + str((int(iin[-1]) + 1) % 10)


async def test_call_centre_finds_the_caller_by_phone_and_works_in_the_360_view(console):
    agent = await console("callcenter")
    page = agent.page
    await expect(page).to_have_url(re.compile(r"#/search$"))  # the call centre starts at the search
    search = page.locator("#caller-search")
    await expect(search).to_be_focused()

    await search.press_sequentially("8 701 123 45 67")  # stored as +77011234567
    results = page.locator("#search-results a.result")
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text(AIGERIM["name"])
    await expect(results.first).to_contain_text(f"********{AIGERIM['iin_tail']}")  # IIN masked for the call centre
    await agent.screenshot("call-centre-search")

    await search.press("ArrowDown")  # keyboard: from the box into the results, Enter opens
    await expect(results.first).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(re.compile(r"#/customers/[0-9a-f-]+$"))
    customer_url = page.url
    await expect(page.locator("h1")).to_have_text(AIGERIM["name"])
    profile = page.locator("#profile")
    await expect(profile).to_contain_text("+7 (701) 123-45-67")
    await expect(profile).to_contain_text(f"********{AIGERIM['iin_tail']}")
    await expect(page.locator("#consents .flag.yes")).to_have_count(2)
    await expect(page.locator("#activities")).to_contain_text("Follow-up on the TV offer")
    opportunities = page.locator("#opportunities")
    await expect(opportunities).to_contain_text("TV package for Aigerim Seitkali")
    await expect(opportunities).to_contain_text(re.compile(r"4\s990,00\s₸"))  # 499000 tiyn, kk/ru-KZ format
    await expect(page.locator("#balance")).to_be_visible()  # the orders service's panel
    # a call-centre agent does not edit customers: the console offers no edit
    await expect(page.locator(f"a[href='#/customers/{customer_url.rsplit('/', 1)[1]}/edit']")).to_have_count(0)

    # log the call without leaving the page: a contact of the tickets service, listed once
    log = page.locator("#contact-history form")
    await log.locator("select[name=outcome]").select_option("resolved_on_call")
    await log.locator("textarea[name=summary]").fill("Asked about the fibre tariff; sent the price list by SMS")
    await log.locator("button[type=submit]").click()
    logged = page.locator("#contact-history .timeline li", has_text="Asked about the fibre tariff")
    await expect(logged).to_have_count(1)
    await expect(logged).to_contain_text("Aigerim Bekova")  # by name, not by sign-in name
    await expect(page.locator("#activities select[name=kind] option[value=call]")).to_have_count(0)
    assert page.url == customer_url
    await agent.screenshot("customer-360")


async def test_branch_agent_sees_the_iin_message_at_the_field_and_another_region_cannot_open_the_customer(console):
    iin, typed_phone = fresh_person()
    agent = await console("almaty.agent")
    page = agent.page
    await expect(page.locator("table")).to_be_visible()  # branch staff start at the customer list
    await agent.screenshot("customer-list")
    await page.locator("a[href='#/customers/new']").click()

    form = page.locator("form.customer-form")
    await form.locator("input[name=iin]").fill(with_wrong_check_digit(iin))
    await form.locator("input[name=last_name]").fill("Omarova")
    await form.locator("input[name=first_name]").fill("Dana")
    await form.locator("input[name=phone]").fill(typed_phone)
    await form.locator("select[name=branch_code]").select_option("ALA-01")
    await form.locator("input[name=data_processing_consent]").check()
    await form.locator("button[type=submit]").click()

    iin_error = form.locator("[data-error-for=iin]")
    await expect(iin_error).to_be_visible()
    await expect(iin_error).to_have_text("check digit does not match")  # the API's own message
    await expect(form.locator("input[name=iin]")).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("input[name=iin]")).to_be_focused()
    await expect(form.locator("[data-error-for=last_name]")).to_be_hidden()
    await expect(page).to_have_url(re.compile(r"#/customers/new$"))
    await agent.screenshot("customer-form-error")

    await form.locator("input[name=iin]").fill(iin)
    await form.locator("button[type=submit]").click()
    await expect(page).to_have_url(re.compile(r"#/customers/[0-9a-f-]{36}$"))
    customer_fragment = page.url.split("#/", 1)[1]
    await expect(page.locator("h1")).to_have_text("Omarova Dana")
    await expect(page.locator("#profile")).to_contain_text(iin)  # the branch sees the IIN in full
    await expect(page.locator("#profile")).to_contain_text("ALA-01")
    await agent.screenshot("customer-created")

    other = await console("karaganda.agent")
    await other.open(customer_fragment)
    await expect(other.page.locator(".problem")).to_be_visible()
    await expect(other.page.locator("#profile")).to_have_count(0)
    await expect(other.page.locator("body")).not_to_contain_text("Omarova")
    await other.screenshot("customer-not-visible")
    search = other.page.locator("#search-results")
    await other.open("search")
    await other.page.locator("#caller-search").fill(typed_phone)
    await expect(other.page.locator("#caller-search-hint")).not_to_have_text(re.compile("…"))
    await expect(search.locator("a.result")).to_have_count(0)
    await expect(search.locator(".empty")).to_be_visible()


async def test_language_switch_is_kept_with_the_account(console):
    manager = await console("almaty.manager")
    page = manager.page
    nav = page.locator("header nav")
    await manager.choose_language("en")
    await expect(nav).to_contain_text("Customers")
    await expect(page.locator("label[for=language]")).to_have_text("Language")
    await manager.open("pipeline")
    await expect(page.locator("h1")).to_have_text("Opportunity pipeline")
    await expect(page.locator(".board")).to_contain_text(re.compile(r"KZT\s875,000\.00"))  # en amounts
    await manager.screenshot("pipeline-en")

    # a new browser session of the same user starts in the language it chose
    again = await console("almaty.manager")
    assert await again.language() == "en"
    await expect(again.page.locator("header nav")).to_contain_text("Customers")

    await again.choose_language("kk")
    await expect(again.page.locator("header nav")).to_contain_text("Клиенттер")
    await again.open("pipeline")
    await expect(again.page.locator("h1")).to_have_text("Мәмілелер воронкасы")
    await expect(again.page.locator(".board")).to_contain_text(re.compile(r"875\s000,00\s₸"))
    await again.choose_language("ru")
    await expect(again.page.locator("h1")).to_have_text("Воронка сделок")
    await expect(again.page.locator("header nav")).to_contain_text("Клиенты")
    await again.screenshot("pipeline-ru")


async def test_each_role_gets_its_screens(console):
    karaganda = await console("karaganda.agent")
    menu = karaganda.page.locator("header nav a")
    # search, customers, orders, leads, pipeline, tickets, incidents, my tasks, the loyalty card
    # look-up: no statistics, forecast, overdue list, reassignment, segments, campaigns, admin
    await expect(menu).to_have_count(9)
    await karaganda.open("reassign")
    await expect(karaganda.page.locator("#reassign-title")).to_have_count(0)

    manager = await console("karaganda.manager")
    await manager.open("reassign")
    await expect(manager.page.locator("#reassign-title")).to_be_visible()
    await expect(manager.page.locator("select[name=from_owner_id] option[value=user-karaganda-agent]")).to_have_count(1)
    await manager.screenshot("reassign")
    await manager.open("leads")
    await expect(manager.page.locator("ul.cards > li").first).to_be_visible()
    await manager.screenshot("leads")

    analyst = await console("analyst")  # aggregates only: the statistics, never a customer
    await expect(analyst.page).to_have_url(re.compile(r"#/stats$"))
    await expect(analyst.page.locator("header nav a")).to_have_count(3)  # statistics, forecast, analytics
    await expect(analyst.page.locator("table")).to_contain_text("ALA-01")
    await analyst.screenshot("statistics")
    await analyst.open("customers")
    await expect(analyst.page.locator("table")).to_have_count(0)

    admin = await console("admin")
    await admin.open("admin/users")
    await expect(admin.page.locator("ul.cards")).to_contain_text("almaty.agent")
    await admin.screenshot("admin-users")
    await admin.open("admin/keys")
    await expect(admin.page.locator("table")).to_contain_text("demobill")
    form = admin.page.locator("form[aria-labelledby=new-key-title]")
    await form.locator("input[name=name]").fill("Browser test billing")
    await form.locator("input[name=scopes]").fill("sales:read")
    await form.locator("button[type=submit]").click()
    secret = admin.page.locator("#new-key-value")
    await expect(secret).to_have_value(re.compile(r"^crm_\w+_\S+$"))  # the whole key, this once
    await expect(admin.page.locator("table")).to_contain_text("Browser test billing")
    await admin.screenshot("admin-api-keys")
    await admin.page.reload()
    await expect(admin.page.locator("table")).to_contain_text("Browser test billing")
    await expect(admin.page.locator("#new-key-value")).to_have_count(0)  # never shown again
