"""What callers who see identifiers masked learn about a customer: the birth year, never the
birth date (an IIN begins with it); their look-ups by IIN/BIN are audited and held to a budget
per minute; the duplicate check's "in another branch" answer is audited under the existing
customer although the refused request rolls back."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from crm_sales.config import SalesSettings
from crm_shared.auth import Principal, Role
from crm_shared.models import AuditEntry
from crm_shared.testing import PRINCIPALS, auth_headers, rest_only_settings

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"
AGENT = auth_headers(PRINCIPALS["branch_agent"])  # ALA-01
ADMIN = auth_headers(PRINCIPALS["admin"])
BUDGET = 3


@pytest.fixture(scope="module")
def sales_settings(sales_database) -> SalesSettings:
    return rest_only_settings(
        SalesSettings,
        sales_database,
        identifier_lookups_per_minute=BUDGET,
    )


def call_centre(name: str) -> dict[str, str]:
    """A call-centre agent of its own, so that each test starts with a full budget."""
    return auth_headers(Principal(f"t-cc-{name}", f"cc.{name}", Role.CALL_CENTER_AGENT))


def api_key(name: str, *scopes: str) -> dict[str, str]:
    return auth_headers(Principal(f"t-key-{name}", f"key.{name}", Role.SYSTEM, scopes=scopes or ("sales:read",)))


async def entries(db, entity_type: str, entity_id: str | None = None) -> list[AuditEntry]:
    async with db.read_only() as session:
        stmt = select(AuditEntry).where(AuditEntry.entity_type == entity_type)
        if entity_id is not None:
            stmt = stmt.where(AuditEntry.entity_id == entity_id)
        return list(await session.scalars(stmt.order_by(AuditEntry.id)))


async def test_masked_callers_see_the_birth_year_and_never_the_birth_date(client, ids):
    iin = ids.iin(birth_date=date(1987, 11, 23))
    created = await client.post(BASE, json=ids.individual(iin=iin), headers=AGENT)
    assert created.status_code == 201, created.text
    customer = created.json()
    assert (customer["birth_date"], customer["birth_year"]) == ("1987-11-23", 1987)
    url = f"{BASE}/{customer['id']}"

    for headers in (call_centre("year"), api_key("year")):
        for response in (
            await client.get(url, headers=headers),
            await client.get(BASE, params={"q": customer["last_name"], "limit": 200}, headers=headers),
            await client.get(f"{url}/history", headers=headers),
        ):
            assert response.status_code == 200, response.text
            assert "1987-11-23" not in response.text and "871123" not in response.text
            assert iin[:8] not in response.text
        view = (await client.get(url, headers=headers)).json()
        assert (view["birth_date"], view["birth_year"], view["identifiers_masked"]) == (None, 1987, True)

    unmasked = (await client.get(url, headers=auth_headers(PRINCIPALS["privacy_officer"]))).json()
    assert (unmasked["iin"], unmasked["birth_date"], unmasked["identifiers_masked"]) == (iin, "1987-11-23", False)


async def test_an_iin_anywhere_else_in_the_record_is_masked_too(client, ids):
    iin = ids.iin()
    created = await client.post(BASE, json=ids.individual(iin=iin, email=f"{iin}@mail.kz"), headers=AGENT)
    assert created.status_code == 201, created.text
    masked = await client.get(f"{BASE}/{created.json()['id']}", headers=call_centre("email"))
    assert masked.json()["email"] == f"********{iin[-4:]}@mail.kz"
    assert iin not in masked.text
    history = await client.get(f"{BASE}/{created.json()['id']}/history", headers=call_centre("email"))
    assert iin not in history.text and iin[-4:] in history.text


async def test_masked_look_ups_by_iin_are_audited_and_held_to_a_budget(client, ids, db):
    customer = (await client.post(BASE, json=ids.individual(), headers=AGENT)).json()
    iin = customer["iin"]
    caller = call_centre("budget")
    found = await client.get(BASE, params={"iin": iin}, headers=caller)
    assert [c["id"] for c in found.json()["items"]] == [customer["id"]]
    missed = await client.get(BASE, params={"iin": ids.iin()}, headers=caller)
    assert missed.json()["items"] == []

    mine = await entries(db, "identifier_lookup", "t-cc-budget")
    assert [(e.action, e.actor_name, e.changes["found"][1]) for e in mine] == [
        ("iin_lookup", "cc.budget", [customer["id"]]),
        ("iin_lookup", "cc.budget", []),
    ]
    assert mine[0].changes["query"] == [None, "********" + iin[-4:]] and mine[0].changes["via"] == [None, "rest"]
    assert all(iin not in str(e.changes) for e in mine)  # the audit keeps no new copy of the IIN
    accessed = await entries(db, "customer_access", customer["id"])
    assert [(e.action, e.actor_id) for e in accessed] == [("iin_lookup", "t-cc-budget")]

    await client.get(BASE, params={"iin": iin}, headers=caller)  # the third of three
    refused = await client.get(BASE, params={"iin": iin}, headers=caller)
    assert refused.status_code == 429, refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert customer["id"] not in refused.text and iin not in refused.text
    assert [e.action for e in await entries(db, "identifier_lookup_refused", "t-cc-budget")] == ["iin_lookup"]
    # The budget is the caller's: another agent, and searches by phone or name, go on.
    assert (await client.get(BASE, params={"iin": iin}, headers=call_centre("other"))).status_code == 200
    by_phone = await client.get(BASE, params={"phone": customer["primary_phone"]}, headers=caller)
    assert by_phone.status_code == 200 and by_phone.json()["items"][0]["id"] == customer["id"]


async def test_api_keys_are_held_to_the_budget_and_unmasked_roles_are_not(client, ids, db):
    business = (await client.post(BASE, json=ids.business(), headers=AGENT)).json()
    key = api_key("bin")
    statuses = [(await client.get(BASE, params={"bin": business["bin"]}, headers=key)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert [e.action for e in await entries(db, "identifier_lookup", "t-key-bin")] == ["bin_lookup"] * 3

    for _ in range(BUDGET + 2):
        assert (await client.get(BASE, params={"bin": business["bin"]}, headers=AGENT)).status_code == 200
    assert await entries(db, "identifier_lookup", PRINCIPALS["branch_agent"].subject) == []


async def test_the_cross_branch_duplicate_answer_is_audited_under_the_existing_customer(client, ids, db):
    karaganda = (await client.post(BASE, json=ids.individual(branch_code="KAR-01"), headers=ADMIN)).json()
    again = await client.post(BASE, json=ids.individual(iin=karaganda["iin"]), headers=AGENT)
    assert again.status_code == 409
    assert again.json()["matched_field"] == "iin" and "another branch" in again.json()["detail"]
    assert karaganda["id"] not in again.text
    same_phone = await client.post(BASE, json=ids.individual(phone=karaganda["primary_phone"]), headers=AGENT)
    assert same_phone.status_code == 409

    checks = await entries(db, "customer_access", karaganda["id"])
    assert [(e.action, e.actor_id, e.changes["matched_field"][1], e.changes["caller_branch"][1]) for e in checks] == [
        ("duplicate_check", PRINCIPALS["branch_agent"].subject, "iin", "ALA-01"),
        ("duplicate_check", PRINCIPALS["branch_agent"].subject, "phone", "ALA-01"),
    ]
    # Nothing of the refused creates was kept besides the audit.
    listed = await client.get(BASE, params={"phone": karaganda["primary_phone"], "status": "any"}, headers=ADMIN)
    assert [c["id"] for c in listed.json()["items"]] == [karaganda["id"]]
    # A duplicate the caller may see names the customer and is no disclosure: not audited.
    almaty = (await client.post(BASE, json=ids.individual(), headers=AGENT)).json()
    assert (await client.post(BASE, json=ids.individual(iin=almaty["iin"]), headers=AGENT)).status_code == 409
    assert await entries(db, "customer_access", almaty["id"]) == []


# --- the privacy officer: reads everything, changes nothing ----------------------------------------

PRIVACY = auth_headers(PRINCIPALS["privacy_officer"])


async def test_the_privacy_officer_reads_every_record_and_changes_none(client, ids):
    karaganda = (await client.post(BASE, json=ids.individual(branch_code="KAR-01"), headers=ADMIN)).json()
    url = f"{BASE}/{karaganda['id']}"
    read = await client.get(url, headers=PRIVACY)
    assert read.status_code == 200 and read.json()["iin"] == karaganda["iin"]
    assert (await client.get(BASE, params={"iin": karaganda["iin"]}, headers=PRIVACY)).json()["items"][0]["id"] == (
        karaganda["id"]
    )
    assert (await client.get(f"{url}/history", headers=PRIVACY)).status_code == 200
    for path in ("/api/v1/sales/leads", "/api/v1/sales/opportunities", "/api/v1/sales/activities"):
        assert (await client.get(path, headers=PRIVACY)).status_code == 200, path

    refused = {
        "create a customer": await client.post(BASE, json=ids.individual(branch_code="KAR-01"), headers=PRIVACY),
        "change it": await client.patch(url, json={"email": "po@example.kz", "version": 1}, headers=PRIVACY),
        "add a phone": await client.post(f"{url}/phones", json={"phone": ids.mobile()}, headers=PRIVACY),
        "register a lead": await client.post(
            "/api/v1/sales/leads",
            json={"source": "web", "name": "Lead Person", "phone": ids.mobile(), "interest": "internet"},
            headers=PRIVACY,
        ),
        "open an opportunity": await client.post(
            "/api/v1/sales/opportunities", json={"customer_id": karaganda["id"], "name": "Fibre"}, headers=PRIVACY
        ),
        "log an activity": await client.post(
            "/api/v1/sales/activities",
            json={"kind": "note", "related_type": "customer", "related_id": karaganda["id"], "subject": "Hello"},
            headers=PRIVACY,
        ),
        "reassign": await client.post(
            "/api/v1/sales/reassignments",
            json={"from_owner_id": "t-admin", "to_owner_id": "t-agent", "reason": "leaving"},
            headers=PRIVACY,
        ),
        "read statistics": await client.get("/api/v1/sales/stats/customers", headers=PRIVACY),
    }
    assert {what: r.status_code for what, r in refused.items()} == {what: 403 for what in refused}
    assert (await client.get(url, headers=ADMIN)).json()["version"] == karaganda["version"]
