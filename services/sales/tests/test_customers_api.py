"""The customer REST API against a real PostgreSQL database: create, read, search, update,
sub-resources, merge, history, duplicates, idempotency, events and bad input."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from crm_contracts.events import topic_of, validate
from crm_sales.db.models import Customer, CustomerPhone
from crm_sales.services import customer_service
from crm_shared.errors import Problem
from crm_shared.models import OutboxEvent
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"
AGENT = auth_headers(PRINCIPALS["branch_agent"])  # ALA-01
CALL_CENTER = auth_headers(PRINCIPALS["call_center_agent"])
ADMIN = auth_headers(PRINCIPALS["admin"])


async def create(client, body, headers=AGENT, **kwargs):
    response = await client.post(BASE, json=body, headers=headers, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()


async def outbox(sales_app, subject: str | None = None, type_: str | None = None) -> list[OutboxEvent]:
    async with sales_app.state.runtime.db.read_only() as session:
        stmt = select(OutboxEvent).order_by(OutboxEvent.seq)
        if subject:
            stmt = stmt.where(OutboxEvent.subject == subject)
        if type_:
            stmt = stmt.where(OutboxEvent.type == type_)
        return list(await session.scalars(stmt))


# --- create and read -----------------------------------------------------------------------------


async def test_create_individual_then_read_it_back(client, ids):
    iin = ids.iin(female=True)
    response = await client.post(
        BASE,
        headers=AGENT,
        json={
            "kind": "individual",
            "iin": iin,
            "first_name": "Aigerim",
            "middle_name": "Nurlanovna",
            "last_name": "Seitkali",
            "phone": "8 701 555 01 01",
            "email": "Aigerim@Example.KZ",
            "language": "ru",
            "data_processing_consent": True,
            "addresses": [
                {
                    "kind": "registration",
                    "city": "Almaty",
                    "street": "Abay Ave",
                    "building": "150",
                    "apartment": "12",
                    "postal_code": "050000",
                }
            ],
        },
    )
    assert response.status_code == 201, response.text
    customer = response.json()
    assert response.headers["location"] == f"{BASE}/{customer['id']}"
    assert response.headers["etag"] == '"1"'
    assert customer["iin"] == iin and customer["bin"] is None and customer["identifiers_masked"] is False
    assert customer["primary_phone"] == "+77015550101"
    assert [p["e164"] for p in customer["phones"]] == ["+77015550101"]
    assert customer["display_name"] == "Seitkali Aigerim Nurlanovna"
    assert customer["birth_date"] == f"{'19' if iin[6] in '34' else '20'}{iin[0:2]}-{iin[2:4]}-{iin[4:6]}"
    assert customer["email"] == "Aigerim@example.kz"
    assert customer["branch_code"] == "ALA-01" and customer["region_code"] == "KZ-75"  # the creator's branch
    assert customer["owner_id"] == "t-agent" and customer["owner_name"] == "agent.ala01"
    assert customer["data_processing_consent"] is True and customer["data_processing_consent_at"] is not None
    assert customer["marketing_consent"] is False and customer["marketing_consent_at"] is None
    assert customer["status"] == "active" and customer["version"] == 1
    assert customer["addresses"][0]["region_code"] == "KZ-75"  # defaults to the customer's region

    read = await client.get(response.headers["location"], headers=AGENT)
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == customer


async def test_create_business_with_contacts_in_another_branch_of_the_region(client, ids):
    regional = auth_headers(PRINCIPALS["regional_manager"])
    bin_ = ids.bin()
    customer = await create(
        client,
        {
            "kind": "business",
            "bin": bin_,
            "legal_name": 'ТОО  "Алатау Сервис"',
            "legal_form": "LLP",
            "phone": "8(727)2500000",
            "branch_code": "ALA-01",
            "contacts": [{"name": "Serik Akhmetov", "position": "Director", "phone": "+7 701 765 43 21"}],
        },
        headers=regional,
    )
    assert customer["kind"] == "business" and customer["bin"] == bin_ and customer["iin"] is None
    assert customer["legal_name"] == 'ТОО "Алатау Сервис"' and customer["display_name"] == 'ТОО "Алатау Сервис"'
    assert customer["birth_date"] is None and customer["first_name"] is None
    assert customer["primary_phone"] == "+77272500000"
    assert customer["contacts"][0]["phone"] == "+77017654321"
    assert customer["owner_id"] == "t-regional" and customer["branch_code"] == "ALA-01"

    found = await client.get(BASE, params={"q": "алатау"}, headers=AGENT)
    assert [c["id"] for c in found.json()["items"]] == [customer["id"]]


async def test_creating_outside_ones_branches_is_forbidden_and_unknown_branches_invalid(client, ids):
    response = await client.post(BASE, headers=AGENT, json=ids.individual(branch_code="KAR-01"))
    assert response.status_code == 403
    assert response.json()["errors"][0]["field"] == "branch_code"
    response = await client.post(BASE, headers=AGENT, json=ids.individual(branch_code="XXX-99"))
    assert response.status_code == 422
    assert response.json()["errors"][0] == {"field": "branch_code", "message": "unknown branch 'XXX-99'"}
    # An admin has no branch of their own: the branch must be named.
    response = await client.post(BASE, headers=ADMIN, json=ids.individual())
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "branch_code"
    for role in ("call_center_agent", "hq_analyst"):
        response = await client.post(BASE, headers=auth_headers(PRINCIPALS[role]), json=ids.individual())
        assert response.status_code == 403, role


# --- search --------------------------------------------------------------------------------------

PHONE_NOTATIONS = [
    "8 707 321 45 67",
    "+7 (707) 3214567",
    "87073214567",
    "7073214567",
    "+7 707 321-45-67",
    "+77073214567",
    "77073214567",
]


@pytest.mark.parametrize("notation", PHONE_NOTATIONS)
async def test_find_by_phone_in_any_notation(client, ids, notation):
    if not hasattr(test_find_by_phone_in_any_notation, "customer_id"):
        created = await create(client, ids.individual(phone=PHONE_NOTATIONS[0]))
        test_find_by_phone_in_any_notation.customer_id = created["id"]
    response = await client.get(BASE, params={"phone": notation}, headers=CALL_CENTER)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [c["id"] for c in items] == [test_find_by_phone_in_any_notation.customer_id]
    assert items[0]["primary_phone"] == "+77073214567"


async def test_city_number_search(client, ids):
    created = await create(client, ids.business(phone="8(7172)123456", branch_code="AST-01"), headers=ADMIN)
    response = await client.get(BASE, params={"phone": "+7 7172 12-34-56"}, headers=ADMIN)
    assert [c["id"] for c in response.json()["items"]] == [created["id"]]


async def test_search_by_iin_bin_name_branch_owner_and_pages(client, ids):
    manager = auth_headers(PRINCIPALS["branch_manager"])
    made = [
        await create(client, ids.individual(last_name="Zhumabekova", first_name=name), headers=manager)
        for name in ("Dana", "Ainur", "Madina", "Saule", "Zarina")
    ]
    business = await create(client, ids.business(legal_name="Zhumabek Trade"), headers=manager)

    by_iin = await client.get(BASE, params={"iin": made[2]["iin"]}, headers=AGENT)
    assert [c["id"] for c in by_iin.json()["items"]] == [made[2]["id"]]
    by_bin = await client.get(BASE, params={"bin": business["bin"]}, headers=AGENT)
    assert [c["id"] for c in by_bin.json()["items"]] == [business["id"]]

    # Name prefix: case-insensitive, "last first" order, in name order, two per page.
    seen, cursor = [], None
    while True:
        params = {"q": "ZHUMABEK", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(BASE, params=params, headers=AGENT)).json()
        assert len(page["items"]) <= 2
        seen += [c["display_name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [
        "Zhumabek Trade",
        "Zhumabekova Ainur",
        "Zhumabekova Dana",
        "Zhumabekova Madina",
        "Zhumabekova Saule",
        "Zhumabekova Zarina",
    ]
    narrowed = await client.get(BASE, params={"q": "zhumabekova m"}, headers=AGENT)
    assert [c["id"] for c in narrowed.json()["items"]] == [made[2]["id"]]
    # Punctuation only separates words (no LIKE wildcard); every word must be found.
    assert (await client.get(BASE, params={"q": "zhumabekova%bolat"}, headers=AGENT)).json()["items"] == []

    by_owner = await client.get(
        BASE, params={"owner_id": "t-manager", "branch_code": "ALA-01", "limit": 200}, headers=AGENT
    )
    assert {c["id"] for c in made + [business]} <= {c["id"] for c in by_owner.json()["items"]}
    assert all(c["owner_id"] == "t-manager" for c in by_owner.json()["items"])
    only_business = await client.get(BASE, params={"q": "zhumabek", "kind": "business"}, headers=AGENT)
    assert [c["id"] for c in only_business.json()["items"]] == [business["id"]]


async def test_analysts_get_no_personal_records(client):
    analyst = auth_headers(PRINCIPALS["hq_analyst"])
    response = await client.get(BASE, params={"q": "se"}, headers=analyst)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


async def test_identifiers_are_masked_for_the_call_center(client, ids):
    created = await create(client, ids.individual())
    iin = created["iin"]
    for response in (
        await client.get(f"{BASE}/{created['id']}", headers=CALL_CENTER),
        await client.get(BASE, params={"iin": iin}, headers=CALL_CENTER),
    ):
        assert response.status_code == 200
        body = response.json()
        customer = body["items"][0] if "items" in body else body
        assert customer["iin"] == "********" + iin[-4:]
        assert customer["identifiers_masked"] is True
        assert customer["primary_phone"] == created["primary_phone"]  # agents call customers back
        assert iin not in response.text
    history = await client.get(f"{BASE}/{created['id']}/history", headers=CALL_CENTER)
    assert history.status_code == 200 and iin not in history.text
    assert history.json()["items"][0]["changes"]["tax_id"] == [None, "********" + iin[-4:]]


# --- duplicates and idempotency ------------------------------------------------------------------


async def test_same_iin_or_phone_is_a_409_pointing_at_the_existing_customer(client, ids):
    existing = await create(client, ids.individual(phone="+7 702 000 11 22"))
    response = await client.post(BASE, headers=AGENT, json=ids.individual(iin=existing["iin"]))
    assert response.status_code == 409
    problem = response.json()
    assert problem["existing_customer_id"] == existing["id"]
    assert problem["existing_customer_url"] == f"{BASE}/{existing['id']}"
    assert problem["matched_field"] == "iin"

    response = await client.post(BASE, headers=AGENT, json=ids.individual(phone="87020001122"))
    assert response.status_code == 409
    assert response.json()["existing_customer_id"] == existing["id"]
    assert response.json()["matched_field"] == "phone"


async def test_duplicate_in_a_branch_the_caller_cannot_see_reveals_nothing(client, ids):
    karaganda = await create(client, ids.individual(branch_code="KAR-01", phone="+77750009988"), headers=ADMIN)
    response = await client.post(BASE, headers=AGENT, json=ids.individual(iin=karaganda["iin"]))
    assert response.status_code == 409
    problem = response.json()
    assert problem["matched_field"] == "iin"
    assert "another branch" in problem["detail"]
    assert "existing_customer_id" not in problem and karaganda["id"] not in response.text
    response = await client.post(BASE, headers=AGENT, json=ids.individual(phone="8 775 000 99 88"))
    assert response.status_code == 409 and karaganda["id"] not in response.text


async def test_idempotent_create_answers_a_retry_with_the_first_result(client, ids, sales_app):
    body = ids.individual()
    key = {"Idempotency-Key": "create-" + body["iin"]}
    first = await client.post(BASE, json=body, headers=AGENT | key)
    retry = await client.post(BASE, json=body, headers=AGENT | key)
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["location"] == first.headers["location"]
    assert retry.headers["idempotent-replayed"] == "true"
    found = await client.get(BASE, params={"iin": body["iin"]}, headers=AGENT)
    assert len(found.json()["items"]) == 1
    assert len(await outbox(sales_app, first.json()["id"], "crm.sales.customer.created")) == 1

    other_body = await client.post(BASE, json=ids.individual(), headers=AGENT | key)
    assert other_body.status_code == 422
    assert other_body.json()["errors"][0]["field"] == "Idempotency-Key"
    # The key belongs to the caller: another caller's identical key is a new request.
    manager = auth_headers(PRINCIPALS["branch_manager"])
    third = await client.post(BASE, json=ids.individual(), headers=manager | key)
    assert third.status_code == 201 and third.json()["id"] != first.json()["id"]


# --- update --------------------------------------------------------------------------------------


async def test_patch_needs_the_current_version(client, ids):
    customer = await create(client, ids.individual())
    url = f"{BASE}/{customer['id']}"
    missing = await client.patch(url, json={"email": "a@b.kz"}, headers=AGENT)
    assert missing.status_code == 428
    assert missing.json()["errors"][0]["field"] == "If-Match"

    changed = await client.patch(
        url,
        json={"email": "dana@example.kz", "language": "en", "marketing_consent": True},
        headers=AGENT | {"If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    body = changed.json()
    assert (body["email"], body["language"], body["marketing_consent"], body["version"]) == (
        "dana@example.kz",
        "en",
        True,
        2,
    )
    assert body["marketing_consent_at"] is not None

    stale = await client.patch(url, json={"email": "late@example.kz"}, headers=AGENT | {"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert (await client.get(url, headers=AGENT)).json()["email"] == "dana@example.kz"

    with_body_version = await client.patch(url, json={"first_name": "Dana", "version": 2}, headers=AGENT)
    assert with_body_version.status_code == 200
    assert with_body_version.json()["display_name"] == "Seitkali Dana"
    assert (await client.get(BASE, params={"q": "seitkali dana"}, headers=AGENT)).json()["items"][0]["id"] == customer[
        "id"
    ]

    withdrawn = await client.patch(
        url,
        json={"marketing_consent": False, "email": None, "status": "inactive"},
        headers=AGENT | {"If-Match": 'W/"3"'},
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["marketing_consent_at"] is None and withdrawn.json()["email"] is None
    assert withdrawn.json()["status"] == "inactive"

    unchanged = await client.patch(url, json={"status": "inactive"}, headers=AGENT | {"If-Match": '"4"'})
    assert unchanged.status_code == 200 and unchanged.json()["version"] == 4  # nothing changed, no new version


async def test_patch_rejects_fields_that_do_not_apply(client, ids):
    customer = await create(client, ids.individual())
    url = f"{BASE}/{customer['id']}"
    cases = [
        ({"legal_name": "X LLP"}, "legal_name"),
        ({"first_name": None}, "first_name"),
        ({"status": "merged"}, "status"),
        ({"tax_id": "1"}, "tax_id"),
        ({"owner_id": "me"}, "owner_id"),
        ({"email": "not-an-email"}, "email"),
        ({"primary_phone": "+7 916 000 00 00"}, "primary_phone"),
        ({"version": "one"}, "version"),
    ]
    for body, field in cases:
        response = await client.patch(url, json=body, headers=AGENT | {"If-Match": '"1"'})
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field, body
    conflicting = await client.patch(url, json={"version": 5}, headers=AGENT | {"If-Match": '"1"'})
    assert conflicting.status_code == 422 and conflicting.json()["errors"][0]["field"] == "version"
    bad_etag = await client.patch(url, json={}, headers=AGENT | {"If-Match": "*"})
    assert bad_etag.status_code == 400 and bad_etag.json()["errors"][0]["field"] == "If-Match"


async def test_changing_the_primary_phone_adds_it_and_checks_duplicates(client, ids):
    other = await create(client, ids.individual())
    customer = await create(client, ids.individual())
    url = f"{BASE}/{customer['id']}"
    taken = await client.patch(url, json={"primary_phone": other["primary_phone"], "version": 1}, headers=AGENT)
    assert taken.status_code == 409 and taken.json()["existing_customer_id"] == other["id"]
    new_number = ids.mobile()
    moved = await client.patch(url, json={"primary_phone": new_number[2:], "version": 1}, headers=AGENT)
    assert moved.status_code == 200
    assert moved.json()["primary_phone"] == new_number
    assert {p["e164"] for p in moved.json()["phones"]} == {customer["primary_phone"], new_number}


# --- phones, contacts, addresses -----------------------------------------------------------------


async def test_phones_contacts_and_addresses(client, ids, sales_app):
    business = await create(client, ids.business())
    url = f"{BASE}/{business['id']}"
    second = ids.mobile()
    added = await client.post(f"{url}/phones", json={"phone": "8" + second[2:], "label": "work"}, headers=AGENT)
    assert added.status_code == 201 and added.headers["etag"] == '"2"'
    assert added.json()["e164"] == second and added.json()["label"] == "work"
    again = await client.post(f"{url}/phones", json={"phone": second}, headers=AGENT)
    assert again.status_code == 409
    # The same number on another active customer is a duplicate too.
    individual = await create(client, ids.individual())
    elsewhere = await client.post(f"{BASE}/{individual['id']}/phones", json={"phone": second}, headers=AGENT)
    assert elsewhere.status_code == 409 and elsewhere.json()["existing_customer_id"] == business["id"]

    primary_id = next(
        p["id"]
        for p in (await client.get(url, headers=AGENT)).json()["phones"]
        if p["e164"] == business["primary_phone"]
    )
    assert (await client.delete(f"{url}/phones/{primary_id}", headers=AGENT)).status_code == 409
    removed = await client.delete(f"{url}/phones/{added.json()['id']}", headers=AGENT)
    assert removed.status_code == 204 and removed.headers["etag"] == '"3"'
    assert (await client.delete(f"{url}/phones/{added.json()['id']}", headers=AGENT)).status_code == 404
    assert (await client.get(BASE, params={"phone": second}, headers=AGENT)).json()["items"] == []

    contact = await client.post(
        f"{url}/contacts",
        json={"name": "Assel Omarova", "position": "Chief accountant", "email": "assel@example.kz"},
        headers=AGENT,
    )
    assert contact.status_code == 201
    no_contacts = await client.post(f"{BASE}/{individual['id']}/contacts", json={"name": "X Y"}, headers=AGENT)
    assert no_contacts.status_code == 409
    address = await client.post(
        f"{url}/addresses",
        json={
            "kind": "billing",
            "city": "Astana",
            "region_code": "KZ-71",
            "street": "Mangilik El Ave",
            "building": "55/20",
        },
        headers=AGENT,
    )
    assert address.status_code == 201 and address.json()["region_code"] == "KZ-71"
    bad_region = await client.post(
        f"{url}/addresses",
        json={"kind": "billing", "city": "X", "region_code": "KZ-00", "street": "Y", "building": "1"},
        headers=AGENT,
    )
    assert bad_region.status_code == 422 and bad_region.json()["errors"][0]["field"] == "region_code"

    current = (await client.get(url, headers=AGENT)).json()
    assert [c["name"] for c in current["contacts"]] == ["Assel Omarova"]
    assert [a["street"] for a in current["addresses"]] == ["Mangilik El Ave"]
    assert current["version"] == 5
    assert (await client.delete(f"{url}/contacts/{contact.json()['id']}", headers=AGENT)).status_code == 204
    assert (await client.delete(f"{url}/addresses/{address.json()['id']}", headers=AGENT)).status_code == 204
    final = (await client.get(url, headers=AGENT)).json()
    assert final["contacts"] == [] and final["addresses"] == [] and final["version"] == 7

    types = [e.type for e in await outbox(sales_app, business["id"])]
    assert types == [
        "crm.sales.customer.created",
        "crm.sales.customer.phone_added",
        "crm.sales.customer.phone_removed",
        "crm.sales.customer.contact_added",
        "crm.sales.customer.address_added",
        "crm.sales.customer.contact_removed",
        "crm.sales.customer.address_removed",
    ]
    stale = await client.post(f"{url}/phones", json={"phone": ids.mobile()}, headers=AGENT | {"If-Match": '"3"'})
    assert stale.status_code == 412


# --- history and merge ---------------------------------------------------------------------------


async def test_history_lists_who_changed_what(client, ids):
    customer = await create(client, ids.individual(first_name="Aruzhan"))
    url = f"{BASE}/{customer['id']}"
    manager = auth_headers(PRINCIPALS["branch_manager"])
    await client.patch(url, json={"first_name": "Aruzhana", "version": 1}, headers=manager)
    await client.post(f"{url}/phones", json={"phone": ids.mobile()}, headers=AGENT)
    history = await client.get(f"{url}/history", headers=AGENT)
    assert history.status_code == 200
    entries = history.json()["items"]
    assert [e["action"] for e in entries] == ["created", "updated", "phone_added"]
    assert [e["actor_id"] for e in entries] == ["t-agent", "t-manager", "t-agent"]
    assert entries[0]["changes"]["first_name"] == [None, "Aruzhan"]
    assert entries[0]["changes"]["tax_id"] == [None, customer["iin"]]
    assert entries[1]["changes"] == {"first_name": ["Aruzhan", "Aruzhana"]}
    assert entries[1]["actor_name"] == "manager.ala01"
    first_page = await client.get(f"{url}/history", params={"limit": 2}, headers=AGENT)
    rest = await client.get(f"{url}/history", params={"cursor": first_page.json()["next_cursor"]}, headers=AGENT)
    assert [e["id"] for e in first_page.json()["items"] + rest.json()["items"]] == [e["id"] for e in entries]


async def test_merge_moves_phones_contacts_and_addresses_to_the_survivor(client, ids, sales_app):
    survivor = await create(client, ids.business(legal_name="Dala Foods", email=None))
    duplicate = await create(
        client,
        ids.business(
            legal_name="Dala Foods (old)",
            email="office@dalafoods.example.kz",
            contacts=[{"name": "Marat Iskakov", "position": "Director"}],
            addresses=[{"kind": "service", "city": "Almaty", "street": "Tole Bi St", "building": "10"}],
        ),
    )
    response = await client.post(
        f"{BASE}/{survivor['id']}/merge", json={"duplicate_id": duplicate["id"]}, headers=AGENT | {"If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    merged = response.json()
    assert {p["e164"] for p in merged["phones"]} == {survivor["primary_phone"], duplicate["primary_phone"]}
    assert [c["name"] for c in merged["contacts"]] == ["Marat Iskakov"]
    assert [a["street"] for a in merged["addresses"]] == ["Tole Bi St"]
    assert merged["email"] == "office@dalafoods.example.kz"  # filled from the duplicate
    assert merged["version"] == 2 and response.headers["etag"] == '"2"'

    old = (await client.get(f"{BASE}/{duplicate['id']}", headers=AGENT)).json()
    assert old["status"] == "merged" and old["merged_into_id"] == survivor["id"]
    assert old["phones"] == [] and old["contacts"] == []
    by_old_phone = await client.get(BASE, params={"phone": duplicate["primary_phone"]}, headers=AGENT)
    assert [c["id"] for c in by_old_phone.json()["items"]] == [survivor["id"]]
    # The duplicate's IIN/BIN now leads to the survivor on a new registration attempt.
    again = await client.post(BASE, headers=AGENT, json=ids.business(bin=duplicate["bin"]))
    assert again.status_code == 409 and again.json()["existing_customer_id"] == survivor["id"]
    # A merged record is read-only.
    write = await client.patch(
        f"{BASE}/{duplicate['id']}", json={"email": None, "version": old["version"]}, headers=AGENT
    )
    assert write.status_code == 409 and write.json()["merged_into_id"] == survivor["id"]

    survivor_history = (await client.get(f"{BASE}/{survivor['id']}/history", headers=AGENT)).json()["items"]
    assert survivor_history[-1]["action"] == "merged"
    assert survivor_history[-1]["changes"]["merged_from"] == [None, duplicate["id"]]
    duplicate_history = (await client.get(f"{BASE}/{duplicate['id']}/history", headers=AGENT)).json()["items"]
    assert duplicate_history[-1]["action"] == "merged_into"
    assert duplicate_history[-1]["changes"]["status"] == ["active", "merged"]

    [event] = await outbox(sales_app, survivor["id"], "crm.sales.customer.merged")
    assert event.data["duplicate_id"] == duplicate["id"]
    assert event.data["duplicate"]["status"] == "merged"
    assert event.data["id"] == survivor["id"] and len(event.data["phones"]) == 2


async def test_merge_refusals(client, ids):
    survivor = await create(client, ids.individual())
    business = await create(client, ids.business())
    karaganda = await create(client, ids.individual(branch_code="KAR-01"), headers=ADMIN)
    url = f"{BASE}/{survivor['id']}/merge"
    itself = await client.post(url, json={"duplicate_id": survivor["id"]}, headers=AGENT)
    assert itself.status_code == 422 and itself.json()["errors"][0]["field"] == "duplicate_id"
    kinds = await client.post(url, json={"duplicate_id": business["id"]}, headers=AGENT)
    assert kinds.status_code == 409
    invisible = await client.post(url, json={"duplicate_id": karaganda["id"]}, headers=AGENT)
    missing = await client.post(url, json={"duplicate_id": "00000000-0000-0000-0000-000000000000"}, headers=AGENT)
    assert invisible.status_code == missing.status_code == 404
    assert invisible.json()["errors"] == missing.json()["errors"]
    assert karaganda["iin"] not in invisible.text
    call_center = await client.post(url, json={"duplicate_id": business["id"]}, headers=CALL_CENTER)
    assert call_center.status_code == 403


# --- events --------------------------------------------------------------------------------------


async def test_every_customer_event_matches_its_schema(client, ids, sales_app):
    customer = await create(client, ids.individual())
    await client.patch(f"{BASE}/{customer['id']}", json={"email": "x@example.kz", "version": 1}, headers=AGENT)
    events = await outbox(sales_app)
    assert events, "the tests above wrote events"
    kinds = set()
    for event in events:
        validate(event.type, event.data)
        assert event.topic == topic_of(event.type) == "crm.sales.customer.v1"
        assert event.key == event.subject == event.data["id"]
        assert event.source == "/crm/sales"
        assert event.dataschema == f"urn:qazaq-crm:schema:{event.type}:1"
        assert (event.region, event.branch) == (event.data["region_code"], event.data["branch_code"])
        kinds.add(event.type.rsplit(".", 1)[1])
    assert {"created", "updated", "merged", "phone_added", "phone_removed", "contact_added", "address_added"} <= kinds
    [updated] = [e for e in events if e.subject == customer["id"] and e.type.endswith("updated")]
    assert updated.data["changes"] == {"email": [None, "x@example.kz"]}
    assert updated.data["iin"] == customer["iin"]  # internal topics carry identifiers unmasked
    assert updated.data["version"] == 2


# --- bad input -----------------------------------------------------------------------------------


def _individual(ids, **changes):
    body = ids.individual()
    for key, value in changes.items():
        if value is None:
            body.pop(key)
        else:
            body[key] = value
    return body


BAD_CREATES = [
    ("invalid IIN", lambda ids: _individual(ids, iin="900515412346"), "iin", "check digit does not match"),
    ("short IIN", lambda ids: _individual(ids, iin="12345"), "iin", "must be exactly 12 digits"),
    ("impossible birth date", lambda ids: _individual(ids, iin="901301400009"), "iin", None),
    ("Russian phone", lambda ids: _individual(ids, phone="+7 916 123 45 67"), "phone", None),
    ("letters in phone", lambda ids: _individual(ids, phone="8 701 ABC 45 67"), "phone", None),
    ("unknown field", lambda ids: _individual(ids, nickname="Aiko"), "nickname", "unknown field"),
    ("number for a name", lambda ids: _individual(ids, first_name=123), "first_name", None),
    ("string for a list", lambda ids: _individual(ids, addresses="Abay 1"), "addresses", None),
    ("string for a boolean", lambda ids: _individual(ids, marketing_consent="yes"), "marketing_consent", None),
    ("missing kind", lambda ids: _individual(ids, kind=None), "kind", None),
    ("unknown kind", lambda ids: _individual(ids, kind="robot"), "kind", None),
    ("missing last name", lambda ids: _individual(ids, last_name=None), "last_name", None),
    ("bad language", lambda ids: _individual(ids, language="de"), "language", None),
    (
        "bad address",
        lambda ids: _individual(ids, addresses=[{"kind": "home", "city": "A", "street": "B", "building": "1"}]),
        "addresses.0.kind",
        None,
    ),
    (
        "bad postal code",
        lambda ids: _individual(
            ids, addresses=[{"kind": "service", "city": "A", "street": "B", "building": "1", "postal_code": "12"}]
        ),
        "addresses.0.postal_code",
        None,
    ),
    ("IIN of a business", lambda ids: ids.business(bin="900515412345"), "bin", None),
    ("array body", lambda ids: [1, 2], None, None),
    ("null body", lambda ids: None, None, None),
]


@pytest.mark.parametrize("case", BAD_CREATES, ids=[c[0] for c in BAD_CREATES])
async def test_bad_create_bodies_are_422_naming_the_field(client, ids, case):
    _, make_body, field, message = case
    response = await client.post(BASE, json=make_body(ids), headers=AGENT)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    if field:
        assert field in [e["field"] for e in problem["errors"]], problem
    if message:
        assert {"field": field, "message": message} in [
            {k: e[k] for k in ("field", "message")} for e in problem["errors"]
        ]


async def test_malformed_json_and_oversize_bodies(client, sales_settings):
    broken = await client.post(
        BASE, content=b'{"kind": "individual", "iin": ', headers=AGENT | {"content-type": "application/json"}
    )
    assert broken.status_code == 422 and broken.headers["content-type"] == "application/problem+json"
    huge = await client.post(
        BASE,
        content=b'{"kind": "individual", "first_name": "' + b"a" * (sales_settings.max_body_bytes + 10) + b'"}',
        headers=AGENT | {"content-type": "application/json"},
    )
    assert huge.status_code == 413
    assert huge.json()["status"] == 413


BAD_QUERIES = [
    ({"phone": "12"}, 422, "phone"),
    ({"phone": "+1 212 555 0100"}, 422, "phone"),
    ({"iin": "900515412346"}, 422, "iin"),
    ({"bin": "04054012345"}, 422, "bin"),
    ({"iin": "900515412345", "bin": "040540123456"}, 422, "bin"),
    ({"q": "a"}, 422, "q"),
    ({"limit": 0}, 422, "limit"),
    ({"limit": 1000}, 422, "limit"),
    ({"limit": "ten"}, 422, "limit"),
    ({"status": "deleted"}, 422, "status"),
    ({"cursor": "not-a-cursor!"}, 400, "cursor"),
    ({"cursor": "WzFd"}, 400, "cursor"),  # a valid encoding of [1], not a customer cursor
    ({"phone": "8" * 500}, 422, "phone"),
]


@pytest.mark.parametrize("params, status, field", BAD_QUERIES, ids=[str(p) for p, _, _ in BAD_QUERIES])
async def test_bad_search_parameters_name_the_parameter(client, params, status, field):
    response = await client.get(BASE, params=params, headers=AGENT)
    assert response.status_code == status, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_missing_or_forged_identity_is_401(client):
    assert (await client.get(BASE)).status_code == 401
    forged = auth_headers(PRINCIPALS["admin"], secret="not-the-secret-" + "x" * 30)
    assert (await client.get(BASE, headers=forged)).status_code == 401


async def test_ids_of_any_shape_are_a_plain_404(client):
    for customer_id in ("nope", "00000000-0000-0000-0000-000000000000", "x" * 300, "' OR 1=1 --"):
        response = await client.get(f"{BASE}/{customer_id}", headers=ADMIN)
        assert response.status_code == 404, customer_id
        assert response.headers["content-type"] == "application/problem+json"


async def test_concurrent_updates_of_one_version_let_exactly_one_through(client, ids):
    customer = await create(client, ids.individual())
    url = f"{BASE}/{customer['id']}"
    manager = auth_headers(PRINCIPALS["branch_manager"])
    responses = await asyncio.gather(
        *(
            client.patch(
                url,
                json={"email": f"writer{i}@example.kz"},
                headers=(AGENT if i % 2 else manager) | {"If-Match": '"1"'},
            )
            for i in range(4)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412, 412, 412], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()
    current = (await client.get(url, headers=AGENT)).json()
    assert current["version"] == 2 and current["email"] == winner["email"]
    history = (await client.get(f"{url}/history", headers=AGENT)).json()["items"]
    assert [e["action"] for e in history] == ["created", "updated"]


async def test_a_change_committed_between_read_and_write_is_a_412_not_a_500(client, ids, sales_app):
    customer = await create(client, ids.individual())
    db, agent = sales_app.state.runtime.db, PRINCIPALS["branch_agent"]
    async with db.read_only() as slow:
        read_early = await customer_service.get_writable_customer(slow, agent, customer["id"])
        async with db.unit_of_work() as fast:
            current = await customer_service.get_writable_customer(fast, agent, customer["id"])
            await customer_service.update_customer(fast, agent, current, {"email": "fast@example.kz"}, 1)
        with pytest.raises(Problem) as stale:
            await customer_service.update_customer(slow, agent, read_early, {"email": "slow@example.kz"}, 1)
        assert stale.value.status == 412
        await slow.rollback()
    after = (await client.get(f"{BASE}/{customer['id']}", headers=AGENT)).json()
    assert after["email"] == "fast@example.kz" and after["version"] == 2


async def test_nothing_above_left_a_half_written_customer(sales_app):
    async with sales_app.state.runtime.db.read_only() as session:
        without_phone = await session.scalar(
            select(func.count())
            .select_from(Customer)
            .where(Customer.status != "merged", ~Customer.id.in_(select(CustomerPhone.customer_id)))
        )
        assert without_phone == 0
