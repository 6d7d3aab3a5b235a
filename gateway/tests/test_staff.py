"""GET /api/v1/staff, the staff directory, against real PostgreSQL: who sees whom, the name
filter, cursor paging, and the refusals (no token, analysts, API keys, bad parameters)."""

from __future__ import annotations

import pytest
import pytest_asyncio

from crm_gateway.seed import DEMO_API_KEY

from .conftest import running_gateway

pytestmark = pytest.mark.integration
STAFF_KEYS = {"id", "username", "full_name", "role", "branch_code", "region_code", "active"}
ALMATY_BRANCH = {"almaty.agent", "almaty.manager"}
KARAGANDA_BRANCH = {"karaganda.agent", "karaganda.manager"}
DEMO_STAFF = (
    ALMATY_BRANCH
    | KARAGANDA_BRANCH
    | {"admin", "karaganda.regional", "callcenter", "analyst", "privacy.officer", "marketer"}
)
# Added by the module's fixture: another Karaganda-region branch, another region, a retired agent.
EXTRA_STAFF = {
    "temirtau.agent": {"full_name": "Olga Temirtau", "branch_code": "KAR-02"},
    "pavlodar.agent": {"full_name": "Nurlan Pavlodar", "branch_code": "PAV-01"},
    "retired.almaty": {"full_name": "Asel Retired", "branch_code": "ALA-01"},
}


@pytest_asyncio.fixture(scope="module")
async def gw(gateway_database):
    async with running_gateway(gateway_database, seed=True) as running:
        admin = await running.login("admin")
        for username, fields in EXTRA_STAFF.items():
            created = await running.client.post(
                "/api/v1/admin/users",
                headers=admin,
                json={"username": username, "password": "correct horse 1", "role": "branch_agent", **fields},
            )
            assert created.status_code == 201, created.text
        retired = (
            await running.client.get(
                "/api/v1/admin/users", headers=admin, params={"role": "branch_agent", "branch_code": "ALA-01"}
            )
        ).json()
        retired_id = next(u["id"] for u in retired["items"] if u["username"] == "retired.almaty")
        patched = await running.client.patch(
            f"/api/v1/admin/users/{retired_id}", json={"active": False}, headers=admin | {"If-Match": '"1"'}
        )
        assert patched.status_code == 200, patched.text
        yield running


async def staff(gw, username: str, **params) -> list[dict]:
    """Every page of the directory as ``username`` sees it."""
    headers = await gw.login(username)
    items, cursor = [], None
    while True:
        response = await gw.client.get(
            "/api/v1/staff", headers=headers, params=params | ({"cursor": cursor} if cursor else {})
        )
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def usernames(items: list[dict]) -> set[str]:
    return {item["username"] for item in items}


async def test_admin_sees_everyone_and_the_retired_only_when_asked(gw):
    active = await staff(gw, "admin")
    assert usernames(active) == DEMO_STAFF | {"temirtau.agent", "pavlodar.agent"}
    assert usernames(await staff(gw, "admin", include_inactive="true")) == DEMO_STAFF | set(EXTRA_STAFF)
    for item in active:
        assert set(item) == STAFF_KEYS  # never a password hash, a token generation or a language
        assert item["active"] is True


async def test_a_regional_manager_sees_the_staff_of_its_region(gw):
    seen = await staff(gw, "karaganda.regional")
    assert usernames(seen) == KARAGANDA_BRANCH | {"karaganda.regional", "temirtau.agent"}
    assert {item["region_code"] for item in seen} == {"KZ-35"}


async def test_branch_staff_see_their_branch(gw):
    assert usernames(await staff(gw, "almaty.manager")) == ALMATY_BRANCH
    assert usernames(await staff(gw, "almaty.manager", include_inactive="true")) == ALMATY_BRANCH | {"retired.almaty"}
    assert usernames(await staff(gw, "karaganda.agent")) == KARAGANDA_BRANCH
    # a filter outside the branch narrows nothing into view
    assert await staff(gw, "karaganda.manager", branch_code="KAR-02") == []


async def test_the_call_centre_sees_active_staff_everywhere(gw):
    everyone_active = DEMO_STAFF | {"temirtau.agent", "pavlodar.agent"}
    assert usernames(await staff(gw, "callcenter")) == everyone_active
    assert usernames(await staff(gw, "callcenter", include_inactive="true")) == everyone_active


async def test_ids_are_the_principals_that_services_see_as_owners(gw):
    for username in ("almaty.agent", "karaganda.regional"):
        me = (await gw.client.get("/api/v1/auth/me", headers=await gw.login(username))).json()
        listed = next(item for item in await staff(gw, "admin") if item["username"] == username)
        assert listed["id"] == me["id"]
    assert {item["id"] for item in await staff(gw, "almaty.manager")} == {"user-almaty-agent", "user-almaty-manager"}


async def test_q_matches_part_of_the_name_or_username_in_any_case(gw):
    assert usernames(await staff(gw, "admin", q="kim")) == {"karaganda.agent"}  # Irina Kim
    assert usernames(await staff(gw, "admin", q="IRINA")) == {"karaganda.agent"}
    assert usernames(await staff(gw, "admin", q="almaty.")) == ALMATY_BRANCH  # a username prefix
    assert usernames(await staff(gw, "karaganda.regional", q="a.m")) == {"karaganda.manager"}
    assert await staff(gw, "admin", q="%") == []  # a wildcard is a character here
    assert usernames(await staff(gw, "admin", role="regional_manager")) == {"karaganda.regional"}
    assert usernames(await staff(gw, "admin", region_code="KZ-35", q="agent")) == {"karaganda.agent", "temirtau.agent"}


async def test_cursor_pages_walk_the_directory_by_full_name_once(gw):
    headers = await gw.login("admin")
    pages, cursor = [], None
    while True:
        response = await gw.client.get(
            "/api/v1/staff",
            headers=headers,
            params={"limit": 3, "include_inactive": "true"} | ({"cursor": cursor} if cursor else {}),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["items"]) <= 3
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    walked = [item for page in pages for item in page]
    everyone = DEMO_STAFF | set(EXTRA_STAFF)
    assert len(pages) == -(-len(everyone) // 3) and len(walked) == len(everyone)
    assert [item["full_name"] for item in walked] == sorted(item["full_name"] for item in walked)
    assert len({item["id"] for item in walked}) == len(walked)


async def test_without_a_token_401(gw):
    response = await gw.client.get("/api/v1/staff")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_analysts_and_api_keys_403(gw):
    analyst = await gw.client.get("/api/v1/staff", headers=await gw.login("analyst"))
    assert analyst.status_code == 403 and analyst.headers["content-type"] == "application/problem+json"
    system = await gw.client.get("/api/v1/staff", headers={"X-API-Key": DEMO_API_KEY})
    assert system.status_code == 403 and "API keys" in system.json()["detail"]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"limit": 0}, 422, "limit"),
        ({"limit": 100000}, 422, "limit"),
        ({"limit": "many"}, 422, "limit"),
        ({"include_inactive": "perhaps"}, 422, "include_inactive"),
        ({"role": "wizard"}, 422, "role"),
        ({"role": "system"}, 422, "role"),
        ({"branch_code": "NOPE-01"}, 422, "branch_code"),
        ({"region_code": "KZ-00"}, 422, "region_code"),
        ({"q": "x" * 101}, 422, "q"),
        ({"cursor": "not a cursor"}, 400, "cursor"),
        ({"cursor": "WzFd"}, 400, "cursor"),  # [1]: a list, but not a (full_name, id) pair
    ],
)
async def test_bad_parameters_are_problems_naming_the_field(gw, params, status, field):
    response = await gw.client.get("/api/v1/staff", headers=await gw.login("admin"), params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == [field]


async def test_the_directory_is_in_the_public_openapi_document(gw):
    document = (await gw.client.get("/openapi.json")).json()
    operation = document["paths"]["/api/v1/staff"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "q",
        "role",
        "branch_code",
        "region_code",
        "include_inactive",
        "limit",
        "cursor",
    }
    assert {"200", "401", "403", "422"} <= set(operation["responses"])
    schema = document["components"]["schemas"]["StaffOut"]
    assert set(schema["properties"]) == STAFF_KEYS
