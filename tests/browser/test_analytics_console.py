"""The analytics screen in headless Chromium against the seeded suite: the head-office analyst
sees the figures of every section and the charts drawn as SVG bars (no CDN, nothing from outside),
filters by region, downloads a chart's table as CSV, and reads it all in Russian; a regional
manager's region is fixed to its own."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]


async def test_the_analyst_reads_the_dashboards_with_charts_and_downloads_a_csv(console):
    analyst = await console("analyst")
    await analyst.open("analytics")
    page = analyst.page
    for section in ("customers", "pipeline", "orders_revenue", "installed_base", "tickets"):
        await expect(page.locator(f"#analytics-{section} dl.figures dd").first).to_be_visible()
    # the seeded customers reach the store within seconds: the bars are there
    await expect(page.locator("figure[data-chart=customers_by_region] svg rect.bar").first).to_be_visible()
    await expect(page.locator("figure[data-chart=customers_by_region] svg")).to_contain_text("KZ-75")

    async with page.expect_download() as downloading:
        await page.locator("figure[data-chart=customers_by_region] figcaption button").click()
    download = await downloading.value
    assert download.suggested_filename == "customers_by_region.csv"
    assert (await download.path()).read_text().startswith("region_code,")

    await page.locator("#analytics-region").select_option("KZ-35")
    await page.locator("form.filters button[type=submit]").click()
    await expect(page.locator("figure[data-chart=customers_by_region] svg")).not_to_contain_text("KZ-75")
    await analyst.choose_language("ru")
    await expect(page.locator("h1")).to_have_text("Аналитика")
    await expect(page.locator("#analytics-tickets h2")).to_have_text("Заявки и SLA")
    await analyst.screenshot("analytics-ru")

    regional = await console("karaganda.regional")
    await regional.open("analytics")
    await expect(regional.page.locator("#analytics-region")).to_be_disabled()
    await expect(regional.page.locator("#analytics-region")).to_have_value("KZ-35")
