"""Who may read, list and change which customer: every role against a record in the caller's
own branch, in another branch of the same region, and in another region; and id guessing,
which must never tell an invisible record apart from a missing one."""

from __future__ import annotations

import uuid

import pytest
import pytest_asyncio

from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"
# The callers of crm_shared.testing.PRINCIPALS are placed in ALA-01 (branch roles) or KZ-75
# (regional manager); the records are in ALA-01, ALA-02 (same region KZ-75) and KAR-01 (KZ-35).
PLACES = {"own_branch": "ALA-01", "same_region": "ALA-02", "other_region": "KAR-01"}
OK, HIDDEN, FORBIDDEN = 200, 404, 403
READ = {
    "admin": (OK, OK, OK),
    "branch_agent": (OK, HIDDEN, HIDDEN),
    "branch_manager": (OK, HIDDEN, HIDDEN),
    "regional_manager": (OK, OK, HIDDEN),
    "call_center_agent": (OK, OK, OK),
    "hq_analyst": (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "privacy_officer": (OK, OK, OK),
}
UPDATE = READ | {
    "call_center_agent": (FORBIDDEN, FORBIDDEN, FORBIDDEN),
    "privacy_officer": (FORBIDDEN, FORBIDDEN, FORBIDDEN),
}
PREFIX = "Matrixtest"


@pytest_asyncio.fixture(scope="module")
async def records(client, ids) -> dict[str, dict]:
    admin = auth_headers(PRINCIPALS["admin"])
    made = {}
    for place, branch in PLACES.items():
        response = await client.post(
            BASE, headers=admin, json=ids.business(legal_name=f"{PREFIX} {place}", branch_code=branch)
        )
        assert response.status_code == 201, response.text
        made[place] = response.json()
    return made


def _cases(table):
    return [(role, place, expected[i]) for role, expected in table.items() for i, place in enumerate(PLACES)]


@pytest.mark.parametrize("role, place, expected", _cases(READ))
async def test_read(client, records, role, place, expected):
    response = await client.get(f"{BASE}/{records[place]['id']}", headers=auth_headers(PRINCIPALS[role]))
    assert response.status_code == expected, response.text
    if expected == OK:
        assert response.json()["id"] == records[place]["id"]
        masked = role == "call_center_agent"  # the privacy officer sees identifiers unmasked
        assert response.json()["identifiers_masked"] is masked
        assert (response.json()["bin"] == records[place]["bin"]) is not masked
    else:
        assert records[place]["bin"] not in response.text and records[place]["legal_name"] not in response.text


@pytest.mark.parametrize("role, place, expected", _cases(READ))
async def test_list(client, records, role, place, expected):
    response = await client.get(BASE, params={"q": PREFIX, "limit": 200}, headers=auth_headers(PRINCIPALS[role]))
    if expected == FORBIDDEN:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    listed = {c["id"] for c in response.json()["items"]}
    assert (records[place]["id"] in listed) is (expected == OK)
    # Filtering by a branch one cannot see gives nothing rather than an error that confirms it.
    by_branch = await client.get(
        BASE, params={"branch_code": PLACES[place], "q": PREFIX}, headers=auth_headers(PRINCIPALS[role])
    )
    assert by_branch.status_code == 200
    assert ({c["id"] for c in by_branch.json()["items"]} == {records[place]["id"]}) is (expected == OK)


@pytest.mark.parametrize("role, place, expected", _cases(UPDATE))
async def test_update(client, records, role, place, expected):
    url = f"{BASE}/{records[place]['id']}"
    admin = auth_headers(PRINCIPALS["admin"])
    version = (await client.get(url, headers=admin)).json()["version"]
    email = f"{role}@example.kz"
    response = await client.patch(
        url, json={"email": email}, headers=auth_headers(PRINCIPALS[role]) | {"If-Match": f'"{version}"'}
    )
    assert response.status_code == expected, response.text
    after = (await client.get(url, headers=admin)).json()
    if expected == OK:
        assert after["email"] == email and after["version"] == version + 1
    else:
        assert after["version"] == version  # nothing was written


WRITES_TO_ANOTHER_BRANCH = [
    ("POST", "/phones", {"phone": "+77019998877"}),
    ("POST", "/contacts", {"name": "Some One"}),
    ("POST", "/addresses", {"kind": "billing", "city": "Almaty", "street": "Abay Ave", "building": "1"}),
    ("DELETE", "/phones/{phone_id}", None),
    ("POST", "/merge", {"duplicate_id": "{own_id}"}),
    ("PATCH", "", {"email": "x@example.kz", "version": 1}),
    ("GET", "/history", None),
]


@pytest.mark.parametrize(
    "method, suffix, body", WRITES_TO_ANOTHER_BRANCH, ids=[f"{m} {s or '/'}" for m, s, _ in WRITES_TO_ANOTHER_BRANCH]
)
async def test_everything_about_another_branchs_record_is_404_for_a_branch_agent(client, records, method, suffix, body):
    target = records["same_region"]
    path = suffix.format(phone_id=target["phones"][0]["id"])
    payload = None
    if body is not None:
        payload = {
            k: v.format(own_id=records["own_branch"]["id"]) if isinstance(v, str) else v for k, v in body.items()
        }
    response = await client.request(
        method, f"{BASE}/{target['id']}{path}", json=payload, headers=auth_headers(PRINCIPALS["branch_agent"])
    )
    assert response.status_code == 404, response.text
    # ... and nothing changed.
    current = await client.get(f"{BASE}/{target['id']}", headers=auth_headers(PRINCIPALS["admin"]))
    assert current.json()["phones"] == target["phones"] and current.json()["status"] == "active"


@pytest.mark.parametrize("role", [r for r in PRINCIPALS if r != "hq_analyst"])
async def test_guessed_ids_look_exactly_like_invisible_ones(client, records, role):
    headers = auth_headers(PRINCIPALS[role])
    guessed = str(uuid.uuid4())
    missing = await client.get(f"{BASE}/{guessed}", headers=headers)
    assert missing.status_code == 404
    invisible_id = records["other_region"]["id"]
    invisible = await client.get(f"{BASE}/{invisible_id}", headers=headers)
    if invisible.status_code == 200:  # this role sees the whole country
        return
    assert invisible.status_code == 404

    def normalise(response, ident):
        return {k: (v.replace(ident, "<id>") if isinstance(v, str) else v) for k, v in response.json().items()}

    assert normalise(invisible, invisible_id) == normalise(missing, guessed)
    assert invisible.headers.keys() - {"content-length", "x-request-id"} == missing.headers.keys() - {
        "content-length",
        "x-request-id",
    }


async def test_a_partner_user_sees_only_the_customers_its_partner_brought(client, records, db):
    from crm_sales.events.consumers import CONSUMERS
    from crm_shared.consumer import apply_once
    from crm_shared.testing import partner_deal_approved, partner_principal

    spec = next(s for s in CONSUMERS if s.name == "partner-customers")
    brought = records["other_region"]
    await apply_once(db, spec.name, partner_deal_approved(brought["id"], "p-sa-1"), spec.contract_checked())
    partner = auth_headers(partner_principal("p-sa-1"))
    assert (await client.get(f"{BASE}/{brought['id']}", headers=partner)).status_code == OK
    for place in ("own_branch", "same_region"):
        assert (await client.get(f"{BASE}/{records[place]['id']}", headers=partner)).status_code == HIDDEN
    stranger = auth_headers(partner_principal("p-sa-2"))
    assert (await client.get(f"{BASE}/{brought['id']}", headers=stranger)).status_code == HIDDEN
    listed = (await client.get(BASE, headers=partner)).json()["items"]
    assert [c["id"] for c in listed] == [brought["id"]]
    changed = await client.patch(
        f"{BASE}/{brought['id']}", json={"email": "x@example.kz"}, headers=partner | {"If-Match": '"1"'}
    )
    assert changed.status_code == FORBIDDEN


async def test_a_merge_moves_the_partner_customer_to_the_survivor_and_a_late_approval_follows(client, ids, db):
    from crm_sales.events.consumers import CONSUMERS
    from crm_shared.consumer import apply_once
    from crm_shared.testing import partner_deal_approved, partner_principal

    spec = next(s for s in CONSUMERS if s.name == "partner-customers")
    admin = auth_headers(PRINCIPALS["admin"])
    made = []
    for n in range(3):
        body = ids.business(legal_name=f"{PREFIX} merge {n}", branch_code="ALA-01")
        response = await client.post(BASE, headers=admin, json=body)
        assert response.status_code == 201, response.text
        made.append(response.json())
    survivor, duplicate, late = made
    await apply_once(db, spec.name, partner_deal_approved(duplicate["id"], "p-sa-merge"), spec.contract_checked())
    partner = auth_headers(partner_principal("p-sa-merge"))
    assert (await client.get(f"{BASE}/{survivor['id']}", headers=partner)).status_code == HIDDEN
    merged = await client.post(f"{BASE}/{survivor['id']}/merge", headers=admin, json={"duplicate_id": duplicate["id"]})
    assert merged.status_code == OK, merged.text
    assert (await client.get(f"{BASE}/{survivor['id']}", headers=partner)).status_code == OK
    assert [c["id"] for c in (await client.get(BASE, headers=partner)).json()["items"]] == [survivor["id"]]

    merged = await client.post(f"{BASE}/{survivor['id']}/merge", headers=admin, json={"duplicate_id": late["id"]})
    assert merged.status_code == OK, merged.text
    await apply_once(db, spec.name, partner_deal_approved(late["id"], "p-sa-late"), spec.contract_checked())
    later = auth_headers(partner_principal("p-sa-late"))
    assert (await client.get(f"{BASE}/{survivor['id']}", headers=later)).status_code == OK
    assert (await client.get(f"{BASE}/{survivor['id']}", headers=partner)).status_code == HIDDEN
