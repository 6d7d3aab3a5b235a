"""The privacy officer's console: it starts at the search, finds a person by the full IIN (it
sees identifiers unmasked), reads the 360 view without any of the writers' actions and downloads
everything the suite holds about the person as one JSON file. The call centre, which sees the
IIN masked, is shown the birth year and never the birth date (an IIN begins with it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

AIGERIM = {"name": "Seitkali Aigerim Nurlanovna", "iin": "900515412345", "phone": "8 701 123 45 67"}


async def test_the_privacy_officer_downloads_a_persons_data_from_the_360_view(console):
    officer = await console("privacy.officer")
    page = officer.page
    await expect(page).to_have_url(re.compile(r"#/search$"))
    await page.locator("#caller-search").press_sequentially(AIGERIM["iin"])
    results = page.locator("#search-results a.result")
    await expect(results).to_have_count(1)
    await expect(results.first).to_contain_text(AIGERIM["iin"])  # unmasked for this role
    await results.first.click()
    await expect(page.locator("h1")).to_have_text(AIGERIM["name"])
    customer_id = page.url.rsplit("/", 1)[1]
    await expect(page.locator("#profile")).to_contain_text(AIGERIM["iin"])
    await expect(page.locator("#tickets")).to_be_visible()
    # it reads, it does not work the record: no edit, no activity form, no order, no ticket form
    await expect(page.locator(f"a[href='#/customers/{customer_id}/edit']")).to_have_count(0)
    await expect(page.locator("#activities form")).to_have_count(0)
    await expect(page.locator(f"a[href='#/customers/{customer_id}/orders/new']")).to_have_count(0)
    await expect(page.locator("header nav")).not_to_contain_text("Лиды")

    async with page.expect_download() as downloading:
        await page.locator("#export-personal-data").click()
    download = await downloading.value
    assert download.suggested_filename == f"personal-data-{customer_id}.json"
    document = json.loads(Path(await download.path()).read_text())
    assert document["customer"]["id"] == customer_id and document["customer"]["iin"] == AIGERIM["iin"]
    assert set(document["services"]) == {"sales", "orders", "tickets"}
    assert {"orders", "installed_products", "invoices"} <= set(document["orders"])
    assert {"tickets", "interactions"} <= set(document["tickets"])
    await expect(page.locator("#export-status")).to_contain_text("sales, orders, tickets")
    await officer.screenshot("privacy-officer-360-export")


async def test_the_call_centre_sees_the_birth_year_and_no_export(console):
    agent = await console("callcenter")
    page = agent.page
    await page.locator("#caller-search").press_sequentially(AIGERIM["phone"])
    await page.locator("#search-results a.result").first.click()
    profile = page.locator("#profile")
    await expect(profile).to_contain_text("********2345")
    await expect(profile).to_contain_text("1990")
    text = await profile.inner_text()
    assert not re.search(r"15[.\s/]0?5[.\s/]1990|1990-05-15|15 мамыр|15 мая|May 15", text), text
    await expect(page.locator("#export-personal-data")).to_have_count(0)
