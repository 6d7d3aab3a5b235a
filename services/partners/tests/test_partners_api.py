"""The partner API on PostgreSQL: register, read, list and change, with Idempotency-Key,
If-Match and cursor pages, and who sees and changes what, role by role."""

from __future__ import annotations

import pytest
import pytest_asyncio

from crm_shared.auth import Principal, Role
from crm_shared.pagination import encode_cursor
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

COLLECTION = "/api/v1/partners/partners"
ROLES = sorted(PRINCIPALS)


def as_(who: str | Principal) -> dict[str, str]:
    return auth_headers(PRINCIPALS[who] if isinstance(who, str) else who)


async def register(client, who: str | Principal = "branch_agent", **body) -> dict:
    response = await client.post(COLLECTION, json={"name": "Demo"} | body, headers=as_(who))
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_partner_is_registered_read_and_changed_version_by_version(client):
    created = await client.post(
        COLLECTION, json={"name": " Abay   avenue ", "notes": "first"}, headers=as_("branch_agent")
    )
    assert created.status_code == 201, created.text
    registered = created.json()
    assert registered["name"] == "Abay avenue" and registered["notes"] == "first"
    assert (registered["branch_code"], registered["region_code"]) == ("ALA-01", "KZ-75")
    assert registered["owner_id"] == PRINCIPALS["branch_agent"].subject and registered["version"] == 1
    url = f"{COLLECTION}/{registered['id']}"
    assert created.headers["location"] == url and created.headers["etag"] == '"1"'

    read = await client.get(url, headers=as_("branch_agent"))
    assert read.json() == registered and read.headers["etag"] == '"1"'

    changed = await client.patch(url, json={"notes": None}, headers=as_("branch_agent") | {"If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["notes"] is None and changed.json()["version"] == 2 and changed.headers["etag"] == '"2"'
    # the version in the body does what If-Match does
    renamed = await client.patch(url, json={"name": "Abay 10", "version": 2}, headers=as_("branch_manager"))
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["version"] == 3
    # nothing to change: no new version
    same = await client.patch(url, json={"name": "Abay  10", "version": 3}, headers=as_("branch_agent"))
    assert same.json()["version"] == 3

    stale = await client.patch(url, json={"name": "Late"}, headers=as_("branch_agent") | {"If-Match": '"2"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == 3
    unversioned = await client.patch(url, json={"name": "Blind"}, headers=as_("branch_agent"))
    assert unversioned.status_code == 428
    assert (await client.get(url, headers=as_("branch_agent"))).json()["name"] == "Abay 10"


async def test_a_retried_create_with_the_same_idempotency_key_gets_the_first_answer(client):
    headers = as_("branch_agent") | {"Idempotency-Key": "register-once"}
    first = await client.post(COLLECTION, json={"name": "Retried"}, headers=headers)
    again = await client.post(COLLECTION, json={"name": "Retried"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == first.headers["location"]
    reused = await client.post(COLLECTION, json={"name": "Something else"}, headers=headers)
    assert reused.status_code == 422 and reused.json()["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "Demo", "colour": "gold"}, "colour"),
        ({"name": "Demo", "branch_code": "Almaty"}, "branch_code"),
        ({"name": "Demo", "branch_code": "AST-01"}, "region_code"),
        ({"name": "Demo", "region_code": "KZ-35"}, "region_code"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(client, body, field):
    response = await client.post(COLLECTION, json=body, headers=as_("branch_agent"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


async def test_the_list_is_newest_first_page_by_page(client):
    # A branch no other test of this module writes to, so its agent's list holds only these.
    astana = Principal("t-agent-ast", "agent.ast01", Role.BRANCH_AGENT, region="KZ-71", branch="AST-01")
    registered = [(await register(client, astana, name=f"Astana {n}"))["id"] for n in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(COLLECTION, params=params, headers=as_(astana))).json()
        seen += [listed["id"] for listed in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == registered[::-1] and pages == 3

    # not a cursor at all, the wrong shape, a time without its zone
    for cursor in ("not-a-cursor", encode_cursor(["x"]), encode_cursor(["2026-01-01T00:00:00", registered[0]])):
        malformed = await client.get(COLLECTION, params={"cursor": cursor}, headers=as_(astana))
        assert malformed.status_code == 400, (cursor, malformed.text)
        assert malformed.json()["errors"][0]["field"] == "cursor"


# --- who sees and changes what ------------------------------------------------------------------

# Each role's reach over a partner in ALA-01 (Almaty, KZ-75) and one in KAR-01 (Karaganda,
# KZ-35): 200 seen, 404 hidden (the same answer as a missing id), 403 for a role that sees no records.
SEES = {
    "admin": {"ALA-01": 200, "KAR-01": 200},
    "branch_agent": {"ALA-01": 200, "KAR-01": 404},
    "branch_manager": {"ALA-01": 200, "KAR-01": 404},
    "regional_manager": {"ALA-01": 200, "KAR-01": 404},
    "call_center_agent": {"ALA-01": 200, "KAR-01": 200},
    "hq_analyst": {"ALA-01": 403, "KAR-01": 403},
    "privacy_officer": {"ALA-01": 200, "KAR-01": 200},
}
# The same for a change: the call centre and the privacy officer read every partner but
# change none.
CHANGES = SEES | {
    "call_center_agent": {"ALA-01": 403, "KAR-01": 403},
    "privacy_officer": {"ALA-01": 403, "KAR-01": 403},
}


@pytest_asyncio.fixture(scope="module")
async def placed(client) -> dict[str, str]:
    """The ids of a partner in ALA-01 and of one in KAR-01."""
    almaty = await register(client, "branch_agent", name="Almaty")
    karaganda = await register(client, "admin", name="Karaganda", branch_code="KAR-01", region_code="KZ-35")
    return {"ALA-01": almaty["id"], "KAR-01": karaganda["id"]}


def test_every_role_is_in_the_tables():
    assert set(SEES) == set(CHANGES) == set(ROLES)


@pytest.mark.parametrize("role", ROLES)
async def test_who_sees_which_partner(client, placed, role):
    for branch, expected in SEES[role].items():
        response = await client.get(f"{COLLECTION}/{placed[branch]}", headers=as_(role))
        assert response.status_code == expected, (role, branch, response.text)

    listed = await client.get(COLLECTION, params={"limit": 200}, headers=as_(role))
    if role == "hq_analyst":
        assert listed.status_code == 403
        return
    listed_ids = {found["id"] for found in listed.json()["items"]}
    assert {branch for branch, ident in placed.items() if ident in listed_ids} == {
        branch for branch, status in SEES[role].items() if status == 200
    }


@pytest.mark.parametrize("role", ROLES)
async def test_who_changes_which_partner(client, placed, role):
    for branch, expected in CHANGES[role].items():
        url = f"{COLLECTION}/{placed[branch]}"
        version = (await client.get(url, headers=as_("admin"))).json()["version"]
        response = await client.patch(url, json={"notes": f"by {role}", "version": version}, headers=as_(role))
        assert response.status_code == expected, (role, branch, response.text)
