"""Partners and deals over REST, with the real sales service: who may do what (a table by role),
channel conflicts (also under concurrent registrations), and approval creating the customer and a
partner-channel lead in sales exactly once."""

from __future__ import annotations

import asyncio

import pytest

from crm_shared.testing import PRINCIPALS, auth_headers

from .conftest import CHANNEL_MANAGER, partner_user

pytestmark = pytest.mark.integration

API = "/api/v1/partners"


def customer(ids, **extra) -> dict:
    return {
        "kind": "individual",
        "iin": ids.iin(),
        "first_name": "Dana",
        "last_name": "Seitova",
        "phone": ids.mobile(),
    } | extra


async def register(client, partner_id: str, person: dict, **headers):
    body = {"customer": person, "offering_ids": ["internet-100"], "expected_value_tiyn": 1_000_000}
    return await client.post(f"{API}/deals", json=body, headers=auth_headers(partner_user(partner_id)) | headers)


async def test_a_channel_manager_registers_and_activates_a_partner(client, ids):
    headers = auth_headers(CHANNEL_MANAGER)
    body = {
        "name": "Astana Dealer",
        "bin": ids.bin(),
        "kind": "agent",
        "region_codes": ["KZ-71"],
        "commission_plan": {
            "one_off_tiyn": 100,
            "recurring_percent": 2.5,
            "recurring_months": 6,
            "clawback_days": 30,
            "tiers": [{"min_activations": 10, "one_off_tiyn": 200}],
        },
    }
    created = await client.post(f"{API}/partners", json=body, headers=headers)
    assert created.status_code == 201, created.text
    partner = created.json()
    assert partner["status"] == "onboarding"
    assert partner["commission_plan"]["recurring_percent"] == "2.5"
    activated = await client.patch(f"{API}/partners/{partner['id']}", json={"status": "active"}, headers=headers)
    assert activated.status_code == 200, activated.text
    assert activated.json()["status"] == "active"
    again = await client.post(f"{API}/partners", json=body, headers=headers)
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "bin"
    bad_bin = await client.post(f"{API}/partners", json=body | {"bin": "123456789012"}, headers=headers)
    assert bad_bin.status_code == 422 and bad_bin.json()["errors"][0]["field"] == "bin"
    stale = await client.patch(
        f"{API}/partners/{partner['id']}", json={"status": "suspended"}, headers=headers | {"If-Match": '"1"'}
    )
    assert stale.status_code == 412


@pytest.mark.parametrize(
    ("caller", "create", "read_own", "read_other"),
    [
        ("admin", 201, 200, 200),
        ("channel_manager", 201, 200, 200),
        ("partner", 403, 200, 404),
        ("hq_analyst", 403, 200, 200),
        ("branch_agent", 403, 403, 403),
        ("branch_manager", 403, 403, 403),
        ("regional_manager", 403, 403, 403),
        ("call_center_agent", 403, 403, 403),
        ("privacy_officer", 403, 403, 403),
    ],
)
async def test_who_sees_and_manages_partners(client, ids, make_partner, caller, create, read_own, read_other):
    own, other = await make_partner("Own"), await make_partner("Other")
    principal = {"channel_manager": CHANNEL_MANAGER, "partner": partner_user(own)}.get(caller) or PRINCIPALS[caller]
    headers = auth_headers(principal)
    body = {
        "name": "X",
        "bin": ids.bin(),
        "kind": "dealer",
        "region_codes": ["KZ-75"],
        "commission_plan": {"one_off_tiyn": 1, "recurring_percent": 0, "recurring_months": 0, "clawback_days": 0},
    }
    assert (await client.post(f"{API}/partners", json=body, headers=headers)).status_code == create
    assert (await client.get(f"{API}/partners/{own}", headers=headers)).status_code == read_own
    assert (await client.get(f"{API}/partners/{other}", headers=headers)).status_code == read_other
    assert (await client.get(f"{API}/partners/{other}/commissions", headers=headers)).status_code == read_other
    assert (await client.get(f"{API}/partners/{other}/statements/2026-03", headers=headers)).status_code == read_other
    if caller == "partner":
        listed = await client.get(f"{API}/partners", headers=headers)
        assert [p["id"] for p in listed.json()["items"]] == [own]


async def test_a_customer_registered_by_another_partner_is_a_conflict_that_names_no_partner(client, ids, make_partner):
    first, second = await make_partner("First"), await make_partner("Second")
    person = customer(ids)
    won = await register(client, first, person)
    assert won.status_code == 201, won.text
    assert won.json()["status"] == "submitted"
    lost = await register(client, second, person | {"first_name": "Other", "phone": ids.mobile()})
    assert lost.status_code == 409
    problem = lost.json()
    assert problem["reason"] == "registered_by_another_partner"
    assert "First" not in lost.text and first not in lost.text
    # the second partner sees nothing of the first's deal
    hidden = await client.get(f"{API}/deals/{won.json()['id']}", headers=auth_headers(partner_user(second)))
    assert hidden.status_code == 404


async def test_two_partners_registering_the_same_customer_at_once_exactly_one_wins(client, ids, make_partner):
    partners = [await make_partner(f"Racer {n}") for n in range(4)]
    person = customer(ids)
    answers = await asyncio.gather(*(register(client, p, person) for p in partners))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201, 409, 409, 409], [a.text for a in answers]


async def test_an_active_customer_of_a_branch_is_a_conflict(client, ids, make_partner, sales_service):
    partner = await make_partner()
    person = customer(ids)
    in_sales = await sales_service["client"].post(
        "/api/v1/sales/customers",
        json={k: v for k, v in person.items()},
        headers=auth_headers(PRINCIPALS["branch_agent"]),
    )
    assert in_sales.status_code == 201, in_sales.text
    refused = await register(client, partner, person)
    assert refused.status_code == 409
    assert refused.json()["reason"] == "active_branch_customer"


async def test_approval_creates_the_customer_and_a_partner_lead_in_sales_once(client, ids, make_partner, sales_service):
    partner = await make_partner("Approved dealer")
    deal = (await register(client, partner, customer(ids))).json()
    partner_headers = auth_headers(partner_user(partner))
    refused = await client.post(
        f"{API}/deals/{deal['id']}/decision", json={"decision": "approved"}, headers=partner_headers
    )
    assert refused.status_code == 403
    decision = {"decision": "approved", "reason": "good fit"}
    approved = await client.post(
        f"{API}/deals/{deal['id']}/decision", json=decision, headers=auth_headers(CHANNEL_MANAGER)
    )
    assert approved.status_code == 200, approved.text
    result = approved.json()
    assert result["status"] == "approved" and result["customer_id"] and result["lead_id"]
    retried = await client.post(
        f"{API}/deals/{deal['id']}/decision", json=decision, headers=auth_headers(CHANNEL_MANAGER)
    )
    assert (retried.json()["customer_id"], retried.json()["lead_id"]) == (result["customer_id"], result["lead_id"])
    lead = await sales_service["client"].get(
        f"/api/v1/sales/leads/{result['lead_id']}", headers=auth_headers(PRINCIPALS["admin"])
    )
    assert lead.status_code == 200
    assert lead.json()["partner_id"] == partner and lead.json()["source"] == "partner"
    # the partner's user sees its lead in sales; another partner's user does not
    assert (
        await sales_service["client"].get(f"/api/v1/sales/leads/{result['lead_id']}", headers=partner_headers)
    ).status_code == 200
    other = auth_headers(partner_user(await make_partner("Other")))
    assert (
        await sales_service["client"].get(f"/api/v1/sales/leads/{result['lead_id']}", headers=other)
    ).status_code == 404
    # a brought customer is the partner's: the other partner cannot register it any more
    again = await register(client, await make_partner("Late"), {**deal["customer"]})
    assert again.status_code == 409


async def test_a_rejected_deal_frees_the_customer(client, ids, make_partner):
    first, second = await make_partner("Rejected"), await make_partner("Next")
    person = customer(ids)
    submitted = await register(client, first, person)
    assert submitted.status_code == 201, submitted.text
    deal = submitted.json()
    no_reason = await client.post(
        f"{API}/deals/{deal['id']}/decision", json={"decision": "rejected"}, headers=auth_headers(CHANNEL_MANAGER)
    )
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    rejected = await client.post(
        f"{API}/deals/{deal['id']}/decision",
        json={"decision": "rejected", "reason": "duplicate"},
        headers=auth_headers(CHANNEL_MANAGER),
    )
    assert rejected.json()["status"] == "rejected"
    assert (await register(client, second, person)).status_code == 201
