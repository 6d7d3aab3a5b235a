"""The ticket screens in headless Chromium against the suite started as `make run` starts it.

The call centre opens a ticket from a customer's 360 view and follows the link to it; the agent
of the customer's branch finds it in the work queue (and in its team's queue, filtered by the API:
unassigned only, not when asking for critical ones), takes it, moves it through the workflow
(acknowledge, start, resolve with a resolution text), adds an internal and a customer-visible
note, sees the API's message at the field a move needs, sees a stale page refused (If-Match)
and reloads; an agent of another branch cannot open it by its URL; the mass incidents list and
page, with resolving offered only to the roles that may; a call logged by the telephony
integration shows in the 360 view's calls and visits. Fixtures are in conftest.py.
"""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.async_api import expect

from crm_cli.testing import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.integration]

AIGERIM = "Seitkali Aigerim Nurlanovna"  # crm_sales.seed: +77011234567, branch ALA-01
KARAGANDA_OUTAGE = "Fibre cut on Bukhar Zhyrau Blvd, Karaganda"  # crm_tickets.seed
PENDING_NEEDS_A_REASON = "say what the ticket is waiting for (customer or third party)"  # crm_tickets.domain.workflow


async def signed_in(console, username: str):
    """A signed-in console whose home screen has rendered: a screen still loading when the test
    moves on could otherwise land on top of the next one."""
    session = await console(username)
    await expect(session.page.locator("main h1")).to_be_visible()
    return session


async def open_ticket_from_the_360_view(console, summary: str) -> str:
    """The call centre finds Aigerim by phone, opens a ticket and follows the offered link."""
    agent = await signed_in(console, "callcenter")
    page = agent.page
    await page.locator("#caller-search").press_sequentially("8 701 123 45 67")
    await page.locator("#search-results a.result").first.click()
    await expect(page.locator("h1")).to_have_text(AIGERIM)
    customer_fragment = page.url.split("#/", 1)[1]

    form = page.locator("#tickets form")
    await form.locator("input[name=name]").fill(summary)
    await form.locator("select[name=category]").select_option("internet")
    await form.locator("textarea[name=description]").fill(
        "The router's light blinks red; no internet since the morning."
    )
    await form.locator("button[type=submit]").click()
    opened = page.locator("#opened-ticket-link")
    await expect(opened).to_contain_text(summary)
    ticket_fragment = (await opened.get_attribute("href")).removeprefix("#/")
    assert re.fullmatch(r"tickets/[0-9a-f-]{36}", ticket_fragment)
    await expect(page.locator(f"#tickets table a[href='#/{ticket_fragment}']")).to_have_text(
        summary
    )  # its row links too

    await opened.click()
    await expect(page).to_have_url(re.compile(f"#/{ticket_fragment}$"))
    await expect(page.locator("h1")).to_have_text(summary)
    await expect(page.locator("#ticket-customer")).to_have_text(AIGERIM)
    await expect(page.locator("#ticket-customer")).to_have_attribute("href", f"#/{customer_fragment}")
    await expect(page.locator("#ticket-details")).to_contain_text("ALA-01")  # routed to the branch's technical queue
    await expect(page.locator("#ticket-status")).to_have_class(re.compile(r"\bstatus-new\b"))
    await expect(page.locator("#ticket-history tbody tr")).to_have_count(1)
    return ticket_fragment


async def test_the_branch_agent_works_a_ticket_the_call_centre_opened(console):
    summary = f"Router blinks red {uuid.uuid4().hex[:8]}"
    ticket_fragment = await open_ticket_from_the_360_view(console, summary)

    agent = await signed_in(console, "almaty.agent")
    page = agent.page
    await agent.open("tickets")  # the team queues of ALA-01, most urgent deadline first
    row = page.locator("#ticket-results tr", has_text=summary)
    await expect(row).to_have_count(1)
    await expect(row.locator(".badge[class*=sla-]")).to_be_visible()  # its SLA state is marked
    await agent.screenshot("ticket-queue")

    # one team's queue: the API filters and pages it (nobody has taken the new ticket yet)
    filters = page.locator("form[role=search]")
    await filters.locator("select[name=team]").select_option("technical")
    await filters.locator("input[name=unassigned]").check()
    async with page.expect_response(
        re.compile(r"/api/v1/tickets/queues/ALA-01\.technical/tickets\?.*unassigned=true")
    ) as asked:
        await filters.locator("button[type=submit]").click()
    assert (await asked.value).ok
    await expect(row).to_have_count(1)
    await filters.locator("select[name=priority]").select_option("critical")  # it was opened with the medium priority
    await filters.locator("button[type=submit]").click()
    await expect(row).to_have_count(0)
    await expect(page.locator("#ticket-results .empty")).to_be_visible()
    await filters.locator("select[name=priority]").select_option("")
    await filters.locator("button[type=submit]").click()
    await row.get_by_role("link", name=summary).click()
    await expect(page).to_have_url(re.compile(f"#/{ticket_fragment}$"))

    # only the moves the workflow allows from "new"; none of those from later statuses
    workflow = page.locator("#ticket-workflow")
    await expect(workflow.locator("button[data-transition=acknowledged]")).to_be_visible()
    await expect(workflow.locator("[data-transition=closed]")).to_have_count(0)

    await page.locator("#take-ticket").click()
    await expect(page.locator("#ticket-assignment dl")).to_contain_text("Dana Nurlanovna")
    await expect(page.locator("#take-ticket")).to_have_count(0)  # it is mine already

    await workflow.locator("button[data-transition=acknowledged]").click()
    await expect(page.locator("#ticket-status")).to_have_class(re.compile(r"\bstatus-acknowledged\b"))
    await workflow.locator("button[data-transition=in_progress]").click()
    await expect(page.locator("#ticket-status")).to_have_class(re.compile(r"\bstatus-in_progress\b"))

    # putting it on hold needs a reason: the API's message is shown at that field
    hold = workflow.locator("details[data-transition=pending]")
    await hold.locator("summary").click()
    await hold.locator("button[type=submit]").click()
    reason_error = hold.locator("[data-error-for=reason]")
    await expect(reason_error).to_have_text(PENDING_NEEDS_A_REASON)
    await expect(hold.locator("textarea[name=reason]")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#ticket-status")).to_have_class(re.compile(r"\bstatus-in_progress\b"))

    notes = page.locator("#ticket-notes")
    await notes.locator("textarea[name=text]").fill("Line test shows a fault at the distribution box.")
    await notes.locator("select[name=visibility]").select_option("internal")
    await notes.locator("button[type=submit]").click()
    await expect(notes.locator("li.note-internal", has_text="distribution box")).to_have_count(1)
    await notes.locator("textarea[name=text]").fill(
        "A technician replaced the faulty equipment; please restart your router."
    )
    await notes.locator("select[name=visibility]").select_option("customer")
    await notes.locator("button[type=submit]").click()
    await expect(notes.locator("li.note-customer", has_text="restart your router")).to_have_count(1)
    await expect(notes.locator("li.note-internal", has_text="restart your router")).to_have_count(0)

    resolve = workflow.locator("details[data-transition=resolved]")
    await resolve.locator("summary").click()
    await resolve.locator("textarea[name=reason]").fill("Distribution box port replaced")
    await resolve.locator("button[type=submit]").click()
    await expect(page.locator("#ticket-status")).to_have_class(re.compile(r"\bstatus-resolved\b"))
    history = page.locator("#ticket-history tbody tr")
    await expect(history).to_have_count(4)  # opened, acknowledged, in progress, resolved
    await expect(history.last).to_contain_text("Distribution box port replaced")
    await expect(history.last).to_contain_text("Dana Nurlanovna")  # by name, not by sign-in name
    await expect(workflow.locator("button[data-transition=closed]")).to_be_visible()
    await agent.screenshot("ticket-detail")

    # someone else changes the ticket meanwhile: this page's version is stale, the API refuses (412)
    changed = await page.evaluate(
        """async (path) => {
        const answer = await fetch(`/api/v1/tickets/${path}/notes`, { method: "POST",
          headers: { Authorization: `Bearer ${sessionStorage.getItem("crm.console.token")}`, "Content-Type": "application/json" },
          body: JSON.stringify({ text: "Customer called back: works now.", visibility: "internal" }) });
        return answer.status;
    }""",
        ticket_fragment,
    )
    assert changed == 201
    close = workflow.locator("form", has=page.locator("button[data-transition=closed]"))
    await close.locator("button[type=submit]").click()
    await expect(close.locator(".form-alert")).to_be_visible()
    await expect(page.locator("#ticket-status")).to_have_class(re.compile(r"\bstatus-resolved\b"))
    await close.locator(".form-alert button").click()  # reload the ticket, then the move goes through
    await expect(notes.locator("li", has_text="works now")).to_have_count(1)
    await workflow.locator("button[data-transition=closed]").click()
    await expect(page.locator("#ticket-status")).to_have_class(re.compile(r"\bstatus-closed\b"))
    await expect(page.locator("#ticket-workflow")).to_have_count(0)  # a closed ticket has no moves left
    await expect(page.locator("#ticket-notes form")).to_have_count(0)

    other = await signed_in(console, "karaganda.agent")  # another branch: the ticket does not exist for it
    await other.open(ticket_fragment)
    await expect(other.page.locator(".problem")).to_be_visible()
    await expect(other.page.locator("#ticket-details")).to_have_count(0)
    await expect(other.page.locator("body")).not_to_contain_text(summary)
    await expect(other.page.locator("body")).not_to_contain_text(AIGERIM)


async def test_assigned_to_me_lists_what_the_agent_took(console):
    summary = f"Second router {uuid.uuid4().hex[:8]}"
    ticket_fragment = await open_ticket_from_the_360_view(console, summary)
    agent = await signed_in(console, "almaty.manager")
    page = agent.page
    await agent.open(ticket_fragment)
    await page.locator("#take-ticket").click()
    await expect(page.locator("#ticket-assignment dl")).to_contain_text("Yerlan Abenov")

    # every queue the manager sees, most urgent first: the API's list of what is assigned to him
    mine = re.compile(r"/api/v1/tickets/tickets\?(?=.*assignee_id=)(?=.*sort=urgency)")
    async with page.expect_response(mine) as asked:
        await agent.open("tickets?view=mine")
    assert (await asked.value).ok
    await expect(page.locator("select[name=view]")).to_have_value("mine")
    await expect(page.locator("#ticket-results tr", has_text=summary)).to_have_count(1)
    await expect(page.locator("input[name=unassigned]")).to_have_count(0)  # mine are assigned by definition
    await page.locator("select[name=category]").select_option("billing")  # none of mine is about billing
    await page.locator("form[role=search] button[type=submit]").click()
    await expect(page.locator("#ticket-results tr", has_text=summary)).to_have_count(0)


async def test_incidents_are_listed_and_resolving_is_offered_to_the_roles_that_may(console):
    agent = await signed_in(console, "karaganda.agent")
    page = agent.page
    await agent.open("incidents")
    row = page.locator("main table tr", has_text=KARAGANDA_OUTAGE)
    await expect(row).to_have_count(1)
    await agent.screenshot("incidents")
    await row.get_by_role("link", name=KARAGANDA_OUTAGE).click()
    await expect(page.locator("h1")).to_have_text(KARAGANDA_OUTAGE)
    await expect(page.locator("#incident-tickets")).to_contain_text("Office internet down")  # the linked demo ticket
    await expect(page.locator("#resolve-incident-title")).to_have_count(0)  # branch agents do not resolve outages
    incident_fragment = page.url.split("#/", 1)[1]

    regional = await signed_in(console, "karaganda.regional")
    await regional.open(incident_fragment)
    await expect(regional.page.locator("#resolve-incident-title")).to_be_visible()
    resolve = regional.page.locator("form[aria-labelledby=resolve-incident-title]")
    await resolve.locator("button[type=submit]").click()  # without a resolution: the API's message at the field
    await expect(resolve.locator("[data-error-for=resolution]")).to_be_visible()
    await expect(resolve.locator("textarea[name=resolution]")).to_have_attribute("aria-invalid", "true")
    await expect(regional.page.locator("h1 + .badge.incident-open")).to_be_visible()  # still open

    almaty = await signed_in(console, "almaty.agent")  # outside its branch: neither listed nor open by URL
    await almaty.open("incidents")
    await expect(almaty.page.locator("main .empty")).to_be_visible()
    await almaty.open(incident_fragment)
    await expect(almaty.page.locator(".problem")).to_be_visible()
    await expect(almaty.page.locator("body")).not_to_contain_text(KARAGANDA_OUTAGE)


async def test_a_logged_call_shows_in_the_360_views_contact_history(console, suite):
    marker = uuid.uuid4().hex[:8]
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as http:  # the telephony integration
        headers = await sign_in(http, "callcenter")
        customer = (await http.get("/api/v1/sales/customers", params={"phone": "87011234567"}, headers=headers)).json()[
            "items"
        ][0]
        call = await http.post(
            "/api/v1/tickets/interactions",
            headers=headers,
            json={"customer_id": customer["id"], "summary": f"Asked when the technician comes ({marker})"},
        )
        assert call.status_code == 201, call.text
        ended = await http.post(
            f"/api/v1/tickets/interactions/{call.json()['id']}/end",
            headers=headers,
            json={"outcome": "callback_needed"},
        )
        assert ended.status_code == 200, ended.text

    agent = await signed_in(console, "callcenter")
    await agent.open(f"customers/{customer['id']}")
    logged = agent.page.locator(f"#contact-history li[data-interaction='{call.json()['id']}']")
    await expect(logged).to_contain_text(marker)
    await expect(logged.locator("strong")).not_to_be_empty()  # the outcome, in the user's language
    await expect(logged).to_contain_text("Aigerim Bekova")  # the agent by name, not by login
