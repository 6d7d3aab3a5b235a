"""The marketer's console: it starts at the campaigns, builds a segment (its live size shown),
drafts a campaign on it and launches it; the admin's outbox shows what the suite sent through
the local SMTP and SMPP servers; a cashier looks a loyalty card up (a wrong check digit is named)."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]


async def test_the_marketer_builds_a_segment_and_launches_a_campaign(console):
    marketer = await console("marketer")
    page = marketer.page
    await expect(page).to_have_url(re.compile(r"#/marketing/campaigns$"))
    await marketer.open("marketing/segments")
    await page.locator("input[name=name]").fill("Алматы, физлица")
    await page.locator("input[name=region_codes]").fill("KZ-75")
    await page.locator("select[name=kinds]").select_option("individual")
    await page.locator("form button[type=submit]").click()
    row = page.locator("tr", has_text="Алматы, физлица")
    await expect(row).to_have_count(1)
    await expect(row.locator("td.num")).to_have_text(re.compile(r"^\d[\d\s ]*$"))

    await marketer.open("marketing/campaigns")
    await page.locator("input[name=name]").fill("Осенняя акция")
    option = page.locator("select[name=segment_id] option", has_text="Алматы, физлица")
    await page.locator("select[name=segment_id]").select_option(await option.get_attribute("value"))
    await page.locator("textarea[name='message.ru']").fill("Скидка 20% на домашний интернет")
    await page.locator("textarea[name='message.kk']").fill("Үй интернетіне 20% жеңілдік")
    await page.locator("form button[type=submit]").click()
    campaign = page.locator("tr[data-campaign]", has_text="Осенняя акция")
    await expect(campaign).to_contain_text("Жоба")  # the demo marketer works in Kazakh
    await campaign.locator("button").click()
    await expect(page.locator("tr[data-campaign]", has_text="Осенняя акция")).not_to_contain_text("Жоба")
    await marketer.screenshot("marketing-campaigns")
    # the marketer has no administration and no outbox
    await expect(page.locator("header nav")).not_to_contain_text("Шығыс хаттар")


async def test_the_admin_reads_the_dev_outbox_and_a_wrong_card_is_named(console):
    admin = await console("admin")
    page = admin.page
    await admin.open("admin/outbox")
    await expect(page.locator("h1")).to_have_text("Outbox (dev)")  # the demo admin works in English
    await admin.open("marketing/loyalty")
    await page.locator("input[name=card_number]").fill("7707000000000000")
    await page.locator("form button[type=submit]").click()
    await expect(page.locator(".form-alert, [data-error-for=card_number]").first).to_be_visible()
    await admin.screenshot("marketing-loyalty-lookup")
