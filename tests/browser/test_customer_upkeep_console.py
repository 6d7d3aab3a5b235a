"""Customer upkeep in the 360 view, in headless Chromium against the suite as `make run` starts it:
a branch agent adds a phone typed the way people type it and sees it formatted, sees the API's
message at the phone field, adds and removes an address, adds a business customer's contact
person and reads the change history; a branch manager merges a duplicate into a customer, and
the duplicate's page then says so and links to the survivor. Fixtures are in conftest.py.
"""

from __future__ import annotations

import random
import re
from datetime import date

import httpx
import pytest
from playwright.async_api import expect

from crm_cli.testing import sign_in
from crm_shared.identifiers import make_bin, make_iin
from crm_shared.phones import PhoneError, normalize_phone

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]
rnd = random.Random()


def fresh_phone(area: str = "777") -> str:
    """A phone nobody has yet, typed the way people type it: "8 (777) 123-45-67"."""
    digits = f"{rnd.randint(0, 9999999):07d}"
    return f"8 ({area}) {digits[:3]}-{digits[3:5]}-{digits[5:]}"


def shown(typed_phone: str, language: str) -> str:
    """The phone as the console writes it in ``language`` (the user's, kept with the account)."""
    area, a, b, c = re.fullmatch(r"\+7(\d{3})(\d{3})(\d{2})(\d{2})", normalize_phone(typed_phone)).groups()
    return f"+7 {area} {a} {b}{c}" if language == "en" else f"+7 ({area}) {a}-{b}-{c}"


def fresh_iin() -> str:
    iin = None
    while iin is None:
        iin = make_iin(date(1979, rnd.randint(1, 12), rnd.randint(1, 28)), True, rnd.randint(1, 9999))
    return iin


def fresh_bin() -> str:
    bin_ = None
    while bin_ is None:
        bin_ = make_bin(date(2012, rnd.randint(1, 12), 1), 4, rnd.randint(0, 99999))
    return bin_


def api_message(typed_phone: str) -> str:
    """What the sales API says about a phone (its own words, shown at the field)."""
    with pytest.raises(PhoneError) as refused:
        normalize_phone(typed_phone)
    return str(refused.value)


async def create_customer(suite, username: str, **fields) -> dict:
    """A customer registered in ALA-01 through the public API with ``username``'s token."""
    body = {"branch_code": "ALA-01", "data_processing_consent": True, "phone": fresh_phone("707")} | fields
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        headers = await sign_in(client, username)
        response = await client.post("/api/v1/sales/customers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def person(suite, username: str, last_name: str, first_name: str, **fields) -> dict:
    return await create_customer(
        suite, username, kind="individual", iin=fresh_iin(), last_name=last_name, first_name=first_name, **fields
    )


async def test_an_agent_keeps_phones_addresses_and_contacts_up_to_date(console, suite):
    customer = await person(suite, "almaty.agent", "Zhaksybekova", "Madina")
    company = await create_customer(
        suite, "almaty.agent", kind="business", bin=fresh_bin(), legal_name="Medeu Print Service", legal_form="LLP"
    )
    agent = await console("almaty.agent")
    page = agent.page
    language = await agent.language()
    await agent.open(f"customers/{customer['id']}")
    profile = page.locator("#profile")
    await expect(page.locator("h1")).to_have_text("Zhaksybekova Madina")

    # a second phone, typed the way people type it, shown formatted
    typed = fresh_phone()
    second = shown(typed, language)
    phone_form = profile.locator("form").filter(has=page.locator("input[name=label]"))
    await profile.locator("summary").nth(0).click()
    await phone_form.locator("input[name=phone]").fill(typed)
    await phone_form.locator("input[name=label]").fill("home")
    await phone_form.locator("button[type=submit]").click()
    await expect(profile.locator("dl")).to_contain_text(f"{second} (home)")
    await expect(phone_form.locator("input[name=phone]")).to_have_value("")
    # the primary phone has no remove button (the API refuses that); the new one has
    await expect(profile.locator("dl li").filter(has_text="home").locator("button")).to_have_count(2)
    primary = profile.locator("dl li").filter(has_text=shown(customer["primary_phone"], language))
    await expect(primary.locator("button")).to_have_count(0)

    # an invalid phone: the API's own message at the field
    await phone_form.locator("input[name=phone]").fill("8 (777) 12")
    await phone_form.locator("button[type=submit]").click()
    error = phone_form.locator("[data-error-for=phone]")
    await expect(error).to_have_text(api_message("8 (777) 12"))
    await expect(phone_form.locator("input[name=phone]")).to_have_attribute("aria-invalid", "true")
    await expect(phone_form.locator("input[name=phone]")).to_be_focused()

    # an address: added, shown, removed
    address_form = profile.locator("form").filter(has=page.locator("input[name=street]"))
    await profile.locator("summary").nth(1).click()
    await address_form.locator("select[name=kind]").select_option("service")
    await expect(address_form.locator("select[name=region_code]")).to_have_value("KZ-75")  # the customer's region
    await address_form.locator("input[name=city]").fill("Almaty")
    await address_form.locator("input[name=street]").fill("Dostyk avenue")
    await address_form.locator("input[name=building]").fill("97")
    await address_form.locator("input[name=apartment]").fill("12")
    await address_form.locator("input[name=postal_code]").fill("050000")
    await address_form.locator("button[type=submit]").click()
    address = profile.locator("dl li").filter(has_text="Dostyk avenue")
    await expect(address).to_contain_text("050000, Almaty, Dostyk avenue, 97")
    await expect(address_form.locator("select[name=kind]")).to_have_value("service")  # the form is ready for another
    await agent.screenshot("customer-upkeep")
    await address.locator("button").click()
    await expect(profile.locator("dl li").filter(has_text="Dostyk avenue")).to_have_count(0)
    await expect(page.locator("#profile-title")).to_be_focused()  # the keyboard continues from the panel

    # a business customer's contact person
    await agent.open(f"customers/{company['id']}")
    contacts = page.locator("#contacts")
    await expect(page.locator("h1")).to_contain_text("Medeu Print Service")
    await contacts.locator("summary").click()
    contact_phone = fresh_phone("701")
    await contacts.locator("input[name=name]").fill("Aliya Nurmagambetova")
    await contacts.locator("input[name=position]").fill("Director")
    await contacts.locator("input[name=phone]").fill(contact_phone)
    await contacts.locator("button[type=submit]").click()
    row = contacts.locator("tbody tr").filter(has_text="Aliya Nurmagambetova")
    await expect(row).to_contain_text("Director")
    await expect(row).to_contain_text(shown(contact_phone, language))

    # the history of the individual customer: who, when, what
    await agent.open(f"customers/{customer['id']}")
    await page.locator(f"a[href='#/customers/{customer['id']}/history']").click()
    await expect(page).to_have_url(re.compile(rf"#/customers/{customer['id']}/history$"))
    history = page.locator("#history tbody tr")
    await expect(history).to_have_count(4)  # registered, phone added, address added, address removed
    await expect(history.nth(1)).to_contain_text(second)
    await expect(history.nth(2)).to_contain_text("Dostyk avenue")
    await expect(history.nth(3)).to_contain_text("Dostyk avenue")
    for entry in range(4):
        await expect(history.nth(entry)).to_contain_text("Dana Nurlanovna")  # by name, not by sign-in name
    await agent.screenshot("customer-history")


async def test_a_manager_merges_a_duplicate_and_the_duplicate_points_at_the_survivor(console, suite):
    survivor = await person(suite, "almaty.manager", "Abenov", "Arman")
    duplicate_phone = fresh_phone()
    duplicate = await person(
        suite, "almaty.manager", "Abenov", "Arman", phone=duplicate_phone, email="arman.abenov@example.kz"
    )
    manager = await console("almaty.manager")
    page = manager.page
    duplicate_shown = shown(duplicate_phone, await manager.language())
    await manager.open(f"customers/{survivor['id']}")
    await expect(page.locator("h1")).to_have_text("Abenov Arman")

    merge = page.locator("#merge")
    await merge.locator("summary").click()
    search = merge.locator("#merge-search")
    await search.fill(duplicate["iin"])  # the call centre's search: a 12-digit IIN
    candidates = merge.locator("button.result")
    await expect(candidates).to_have_count(1)
    await expect(candidates.first).to_contain_text(duplicate["iin"])
    await search.press("ArrowDown")
    await expect(candidates.first).to_be_focused()
    await page.keyboard.press("Enter")

    compare = merge.locator(".compare table")
    await expect(compare).to_contain_text(survivor["iin"])
    await expect(compare).to_contain_text(duplicate["iin"])
    await expect(compare).to_contain_text(duplicate_shown)
    await expect(merge.locator("button[type=submit]")).to_be_focused()
    await manager.screenshot("customer-merge")
    await merge.locator("button[type=submit]").click()

    # the surviving record, with the duplicate's phone and e-mail
    profile = page.locator("#profile")
    await expect(profile.locator("dl")).to_contain_text(duplicate_shown)
    await expect(profile).to_contain_text("arman.abenov@example.kz")
    await expect(page).to_have_url(re.compile(rf"#/customers/{survivor['id']}$"))

    # the duplicate says it was merged and links to the survivor; no changes offered there
    await manager.open(f"customers/{duplicate['id']}")
    notice = page.locator("p.notice")
    await expect(notice).to_be_visible()
    survivor_link = notice.locator("a.survivor")
    await expect(survivor_link).to_have_attribute("href", f"#/customers/{survivor['id']}")
    await expect(survivor_link).to_have_text("Abenov Arman")
    await expect(page.locator("#merge")).to_have_count(0)
    await expect(page.locator("#profile details")).to_have_count(0)
    await survivor_link.click()
    await expect(page).to_have_url(re.compile(rf"#/customers/{survivor['id']}$"))

    await manager.open(f"customers/{survivor['id']}/history")
    merged = page.locator("#history tbody tr").last
    await expect(merged).to_contain_text(duplicate["id"])
    await expect(merged).to_contain_text(duplicate_shown)
    await expect(merged).to_contain_text("Yerlan Abenov")  # by name, not by sign-in name
