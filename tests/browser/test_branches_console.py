"""Branch administration in the web console, in headless Chromium against the suite as `make run`
starts it: an administrator opens a branch (after the API's message at the code field), sees it in
the list, renames it, finds it offered in a user's branch select without reloading the page,
closes it (then it is marked closed and no longer offered for placing anyone or anything), reopens
it, and is refused closing ALA-01, where staff still work. Each run opens a branch code nobody has
yet and leaves the seeded network as it was. Fixtures are in conftest.py.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import expect

from crm_cli.testing import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

STAFFED_BRANCH = "ALA-01"  # almaty.agent and almaty.manager work there (crm_gateway.seed)


async def unused_branch_code(suite, prefix: str = "ALA") -> str:
    """The first `<prefix>-NN` from 09 up that the network does not have yet."""
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        headers = await sign_in(client, "admin")
        response = await client.get("/api/v1/admin/branches", headers=headers)
        assert response.status_code == 200, response.text
    taken = {branch["code"] for branch in response.json()["items"]}
    return next(code for code in (f"{prefix}-{n:02d}" for n in range(9, 100)) if code not in taken)


async def signed_in(console, username: str):
    """A console whose home screen has rendered (so that it does not replace the next screen)."""
    session = await console(username)
    await expect(session.page.locator("main .loading")).to_have_count(0)
    await expect(session.page.locator("main h1")).to_be_visible()
    return session


async def go_by_menu(page, fragment: str) -> None:
    """Moves to another screen through the menu: the same page, no reload (the reference cache stays)."""
    await page.locator(f"header nav a[href='#/{fragment}']").click()
    await expect(page).to_have_url(re.compile(rf"#/{re.escape(fragment)}$"))
    await expect(page.locator("main .loading")).to_have_count(0)


async def test_admin_opens_renames_closes_and_reopens_a_branch(console, suite):
    code = await unused_branch_code(suite)
    admin = await signed_in(console, "admin")
    page = admin.page
    page.on("dialog", lambda dialog: dialog.accept())  # "close the branch?"
    await admin.choose_language("en")
    await go_by_menu(page, "admin/branches")
    await expect(page.locator("h1")).to_have_text("Branches")
    listing = page.locator("#branch-list")
    staffed = listing.locator(f"tr[data-code={STAFFED_BRANCH}]")
    await expect(staffed).to_contain_text("Almaty Medeu branch")  # the name in the user's language
    await expect(staffed.locator(".branch-state")).to_have_text("Open")

    # the API's message at the code field, then the branch opened
    await page.locator("details:has(#new-branch) > summary").click()
    form = page.locator("#new-branch")
    await form.locator("input[name=code]").fill("ala9")
    await form.locator("select[name=region_code]").select_option("KZ-75")
    await form.locator("input[name=city]").fill("Almaty")
    await form.locator("input[name=name_kk]").fill("Алматы, Алатау филиалы")
    await form.locator("input[name=name_ru]").fill("Алматы, филиал Алатау")
    await form.locator("input[name=name_en]").fill("Almaty Alatau branch")
    await form.locator("button[type=submit]").click()
    code_error = form.locator("[data-error-for=code]")
    await expect(code_error).to_be_visible()
    await expect(form.locator("input[name=code]")).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("input[name=code]")).to_be_focused()
    await expect(form.locator("[data-error-for=name_en]")).to_be_hidden()
    await expect(listing.locator(f"tr[data-code={code}]")).to_have_count(0)
    await admin.screenshot("admin-branch-form-error")

    await form.locator("input[name=code]").fill(code)
    await form.locator("button[type=submit]").click()
    row = listing.locator(f"tr[data-code={code}]")
    await expect(row).to_contain_text("Almaty Alatau branch")
    await expect(row).to_contain_text("Almaty")
    await expect(row.locator(".branch-state")).to_have_text("Open")
    await expect(row.locator("td.num")).to_have_text("0")
    await expect(form.locator("input[name=code]")).to_have_value("")  # the form is ready for the next one

    # the same code again: the API's 409 at the code field
    await form.locator("input[name=code]").fill(code)
    await form.locator("select[name=region_code]").select_option("KZ-75")
    await form.locator("input[name=city]").fill("Almaty")
    for name in ("name_kk", "name_ru", "name_en"):
        await form.locator(f"input[name={name}]").fill("Duplicate")
    await form.locator("button[type=submit]").click()
    await expect(code_error).to_be_visible()
    await expect(listing.locator(f"tr[data-code={code}]")).to_have_count(1)

    # rename: a cleared name is the API's message at that field, then the new name is listed
    await row.locator("button.edit-branch").click()
    editor = listing.locator(f"tr[data-detail-of={code}] form")
    await editor.locator("input[name=name_en]").fill("")
    await editor.locator("button[type=submit]").click()
    await expect(editor.locator("[data-error-for=name_en]")).to_be_visible()
    await admin.screenshot("admin-branch-editor")
    await editor.locator("input[name=name_en]").fill("Almaty Alatau-2 branch")
    await editor.locator("button[type=submit]").click()
    await expect(row).to_contain_text("Almaty Alatau-2 branch")
    await expect(listing.locator(f"tr[data-detail-of={code}]")).to_be_hidden()

    # offered in a user's branch select without reloading the page
    await go_by_menu(page, "admin/users")
    agent = page.locator(
        "ul.cards details", has=page.locator("summary strong", has_text=re.compile(r"^almaty\.agent$"))
    )
    await agent.locator("summary").click()
    await expect(agent.locator(f"select[name=branch_code] option[value={code}]")).to_have_count(1)

    # closed: marked so, and offered no more for placing staff or registering customers
    await go_by_menu(page, "admin/branches")
    row = page.locator(f"#branch-list tr[data-code={code}]")
    await row.locator("button.state-action").click()
    await expect(row.locator(".branch-state")).to_have_text("Closed")
    await expect(row.locator("button.state-action")).to_have_text("Reopen")
    await expect(row.locator("button.state-action")).to_be_focused()
    await page.locator("form.filters select[name=active]").select_option("false")  # only the closed ones
    await expect(page.locator(f"#branch-list tr[data-code={code}]")).to_be_visible()
    await expect(page.locator(f"#branch-list tr[data-code={STAFFED_BRANCH}]")).to_have_count(0)
    await page.locator("form.filters select[name=active]").select_option("")

    await go_by_menu(page, "admin/users")
    await agent.locator("summary").click()
    await expect(agent.locator(f"select[name=branch_code] option[value={STAFFED_BRANCH}]")).to_have_count(1)
    await expect(agent.locator(f"select[name=branch_code] option[value={code}]")).to_have_count(0)
    await expect(
        page.locator(f"form[aria-labelledby=new-user-title] select[name=branch_code] option[value={code}]")
    ).to_have_count(0)
    await go_by_menu(page, "customers")
    await page.locator("a[href='#/customers/new']").click()
    branch_select = page.locator("form.customer-form select[name=branch_code]")
    await expect(branch_select.locator(f"option[value={STAFFED_BRANCH}]")).to_have_count(1)
    await expect(branch_select.locator(f"option[value={code}]")).to_have_count(0)
    await go_by_menu(page, "customers")  # the customer filter still knows every branch
    await expect(page.locator(f"form.filters select[name=branch_code] option[value={code}]")).to_have_count(1)

    # reopened
    await go_by_menu(page, "admin/branches")
    row = page.locator(f"#branch-list tr[data-code={code}]")
    await row.locator("button.state-action").click()
    await expect(row.locator(".branch-state")).to_have_text("Open")
    await expect(row.locator("button.state-action")).to_have_text("Close")
    await row.locator("button.state-action").click()  # and closed again: a test branch stays out of the way
    await expect(row.locator(".branch-state")).to_have_text("Closed")


async def test_closing_a_branch_where_staff_work_is_refused(console):
    admin = await signed_in(console, "admin")
    page = admin.page
    dialogs = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message) or dialog.accept())
    await admin.choose_language("en")
    await go_by_menu(page, "admin/branches")
    await page.locator("form.filters select[name=region_code]").select_option("KZ-75")  # the filter by region
    listing = page.locator("#branch-list")
    await expect(listing.locator("tr[data-code=AST-01]")).to_have_count(0)
    row = listing.locator(f"tr[data-code={STAFFED_BRANCH}]")
    await expect(row.locator("td.num")).not_to_have_text("0")

    await row.locator("button.state-action").click()
    refusal = listing.locator(f"tr[data-detail-of={STAFFED_BRANCH}] .problem")
    await expect(refusal).to_be_visible()
    await expect(refusal).to_contain_text("active staff")  # the API's own words
    await expect(refusal.locator("a[href='#/admin/users']")).to_be_visible()
    await expect(row.locator(".branch-state")).to_have_text("Open")
    assert dialogs and STAFFED_BRANCH in dialogs[0]  # asked before closing
    await admin.screenshot("admin-branches")
