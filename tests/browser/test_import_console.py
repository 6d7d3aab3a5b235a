"""Customer CSV import in the console, as a branch migrating from a spreadsheet does it: a branch
agent uploads the file, reads the check (every bad row by line and column: an IIN check digit,
a branch of another region), starts the import, watches it run and reads the result with the
errors by line; the imported customers are then found in the list. Screenshots: customer-import-check,
customer-import-done."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from .test_customer_upkeep_console import fresh_iin, fresh_phone

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]


def wrong_check_digit(iin: str) -> str:
    return iin[:-1] + str((int(iin[-1]) + 1) % 10)


async def test_a_branch_agent_checks_imports_and_follows_a_customer_file(console):
    text = "\n".join(
        [
            "kind;iin;last_name;first_name;phone;branch_code;data_processing_consent;city;street;building",
            f"individual;{fresh_iin()};Жанұзақова;Әсемгүл;{fresh_phone('701')};ALA-01;иә;Алматы;Абай даңғылы;12",
            f"individual;{wrong_check_digit(fresh_iin())};Omarova;Dana;{fresh_phone('701')};ALA-01;yes;;;",
            f"individual;{fresh_iin()};Kim;Olga;{fresh_phone('701')};KAR-01;yes;;;",
            f"individual;{fresh_iin()};Жанұзақова;Меруерт;{fresh_phone('701')};;yes;Алматы;Достық;5",
        ]
    )
    agent = await console("almaty.agent")
    page = agent.page
    await agent.open("customers")
    await page.locator("a[href='#/customers/import']").click()
    await expect(page.locator("h1")).to_be_visible()
    await page.locator("#import-file").set_input_files(
        {"name": "branch-customers.csv", "mimeType": "text/csv", "buffer": text.encode()}
    )
    await page.locator("form.import-form button[type=submit]").click()

    report = page.locator(".import-report")
    await expect(report.locator("[data-count=rows]")).to_have_text("4")
    await expect(report.locator("[data-count=new]")).to_have_text("2")
    await expect(report.locator("tbody tr")).to_have_count(2)
    await expect(report.locator("tbody tr").nth(0)).to_contain_text("3")
    await expect(report.locator("tbody tr").nth(0)).to_contain_text("iin")
    await expect(report.locator("tbody tr").nth(1)).to_contain_text("branch_code")
    await agent.screenshot("customer-import-check")

    await page.locator("[data-action=start-import]").click()
    progress = page.locator(".import-progress")
    await expect(progress.locator("[data-status=completed]")).to_be_visible()
    await expect(progress.locator("[data-count=created]")).to_have_text("2")
    await expect(progress.locator("[data-count=rejected]")).to_have_text("2")
    await expect(progress.locator("progress")).to_have_attribute("value", "4")
    await expect(progress.locator("tbody tr")).to_have_count(2)
    await expect(page.locator(".import-recent")).to_contain_text("branch-customers.csv")
    await agent.screenshot("customer-import-done")

    await agent.open("customers")
    await page.locator("input[name=q]").fill("Жанұзақова")
    await page.locator("form.filters button[type=submit]").click()
    await expect(page.locator("table tbody tr")).to_have_count(2)
    assert agent.errors == []
