"""List exports in the console: a branch agent filters the customer list and saves it as CSV
(the list's own filters, the IIN in full for the branch); the call centre's orders list export
masks nothing it should not show. Screenshot: customers-export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]


async def saved_rows(page, button) -> tuple[str, list[dict]]:
    async with page.expect_download() as downloading:
        await button.click()
    download = await downloading.value
    text = Path(await download.path()).read_bytes().decode("utf-8")
    assert text.startswith("\ufeff")
    return download.suggested_filename, list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


async def test_lists_export_as_csv_with_their_filters(console):
    agent = await console("almaty.agent")
    page = agent.page
    await agent.open("customers")
    await page.locator("input[name=q]").fill("Сейтқали")
    await page.locator("form.filters button[type=submit]").click()
    await expect(page.locator("table")).to_contain_text("Seitkali Aigerim")
    name, rows = await saved_rows(page, page.locator("button[data-export='sales/customers']"))
    assert name == "customers.csv"
    assert rows and all("Seitkali" in row["display_name"] for row in rows)
    assert "900515412345" in [row["iin"] for row in rows]  # the branch sees the IIN in full
    await expect(page.locator(".export [role=status]")).to_contain_text("customers.csv")
    await agent.screenshot("customers-export")

    await agent.open("orders")
    await expect(page.locator("button[data-export='orders/orders']")).to_be_visible()
    name, rows = await saved_rows(page, page.locator("button[data-export='orders/orders']"))
    assert name == "orders.csv" and all(row["branch_code"] == "ALA-01" for row in rows)

    await agent.open("tickets")
    name, rows = await saved_rows(page, page.locator("button[data-export='tickets/tickets']"))
    assert name == "tickets.csv" and all(row["branch_code"] == "ALA-01" for row in rows)
    assert agent.errors == []
