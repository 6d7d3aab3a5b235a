"""Branch network administration: open, rename, close and reopen branches, their events, and what
a closed branch refuses; reference and staff reads follow the table. Against real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm_contracts.events import topic_of, validate
from crm_gateway.services.user_service import user_placement
from crm_shared.auth import Role
from crm_shared.domain import DomainError
from crm_shared.errors import problem_of
from crm_shared.models import AuditEntry
from crm_shared.reference import INITIAL_BRANCHES

from .conftest import outbox_events

pytestmark = pytest.mark.integration
NEW_BRANCH = {
    "code": "kar-07",
    "region_code": "KZ-35",
    "city": "Karaganda",
    "name_kk": "Қарағанды, Майқұдық филиалы",
    "name_ru": "Караганда, филиал Майкудук",
    "name_en": "Karaganda Maikuduk branch",
}


async def open_branch(gw, admin, **fields) -> dict:
    response = await gw.client.post("/api/v1/admin/branches", json=NEW_BRANCH | fields, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_network_at_go_live_is_installed_by_the_migration(gw, admin):
    response = await gw.client.get("/api/v1/admin/branches", headers=admin)
    assert response.status_code == 200
    by_code = {b["code"]: b for b in response.json()["items"]}
    assert {b.code for b in INITIAL_BRANCHES} <= set(by_code)
    ala = by_code["ALA-01"]
    assert (ala["region_code"], ala["active"], ala["version"]) == ("KZ-75", True, 1)
    assert ala["active_users"] >= 2  # almaty.agent and almaty.manager

    karaganda = await gw.client.get("/api/v1/admin/branches", params={"region_code": "KZ-35"}, headers=admin)
    assert {"KAR-01", "KAR-02"} <= {b["code"] for b in karaganda.json()["items"]}
    assert all(b["region_code"] == "KZ-35" for b in karaganda.json()["items"])


async def test_opening_a_branch_publishes_it_and_staff_can_be_placed_there(gw, admin):
    branch = await open_branch(gw, admin)
    assert (branch["code"], branch["region_code"], branch["active"], branch["version"], branch["active_users"]) == (
        "KAR-07",
        "KZ-35",
        True,
        1,
        0,
    )

    [event] = await outbox_events(gw, "KAR-07")
    assert (event.type, event.topic) == ("crm.gateway.branch.opened", "crm.gateway.branch.v1")
    assert topic_of(event.type) == event.topic
    assert event.data == {
        "code": "KAR-07",
        "region_code": "KZ-35",
        "city": "Karaganda",
        "active": True,
        "name_kk": NEW_BRANCH["name_kk"],
        "name_ru": NEW_BRANCH["name_ru"],
        "name_en": NEW_BRANCH["name_en"],
    }
    validate(event.type, event.data)
    async with gw.gateway.db.read_only() as session:
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.entity_id == "KAR-07"))
    assert (audit.entity_type, audit.action, audit.actor_id) == ("branch", "created", "user-admin")

    reference = await gw.client.get(
        "/api/v1/reference/branches", params={"region_code": "KZ-35"}, headers=await gw.login("callcenter")
    )
    assert {
        "code": "KAR-07",
        "region_code": "KZ-35",
        "city": "Karaganda",
        "active": True,
        "name": {"kk": NEW_BRANCH["name_kk"], "ru": NEW_BRANCH["name_ru"], "en": NEW_BRANCH["name_en"]},
    } in reference.json()["items"]

    user = await gw.client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": "maikuduk.agent",
            "full_name": "Aruzhan Sadykova",
            "password": "long-enough-1",
            "role": "branch_agent",
            "branch_code": "KAR-07",
        },
    )
    assert user.status_code == 201, user.text
    assert user.json()["region_code"] == "KZ-35"
    regional = await gw.client.get(
        "/api/v1/staff", params={"branch_code": "KAR-07"}, headers=await gw.login("karaganda.regional")
    )
    assert [s["username"] for s in regional.json()["items"]] == ["maikuduk.agent"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"code": "ala7"}, "code"),
        ({"code": "ALA-1X"}, "code"),
        ({"region_code": "KZ-99"}, "region_code"),
        ({"name_ru": "   "}, "name_ru"),
        ({"city": ""}, "city"),
        ({"color": "red"}, "color"),
    ],
)
async def test_a_bad_branch_is_refused_naming_the_field(gw, admin, fields, field):
    response = await gw.client.post(
        "/api/v1/admin/branches", json=NEW_BRANCH | {"code": "TST-01"} | fields, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"].split(".")[-1] for e in response.json()["errors"]]


async def test_an_existing_code_is_a_conflict(gw, admin):
    response = await gw.client.post("/api/v1/admin/branches", json=NEW_BRANCH | {"code": "KAR-01"}, headers=admin)
    assert response.status_code == 409
    assert response.json()["errors"] == [{"field": "code", "message": "already exists"}]


async def test_only_admins_manage_branches(gw):
    manager = await gw.login("almaty.manager")
    assert (await gw.client.get("/api/v1/admin/branches", headers=manager)).status_code == 403
    refused = await gw.client.post("/api/v1/admin/branches", json=NEW_BRANCH | {"code": "ALA-08"}, headers=manager)
    assert refused.status_code == 403
    assert (await gw.client.get("/api/v1/admin/branches")).status_code == 401


async def test_renaming_needs_the_current_version_and_never_moves_the_region(gw, admin):
    await open_branch(gw, admin, code="AST-05", region_code="KZ-71", city="Astana")
    stale = await gw.client.patch(
        "/api/v1/admin/branches/AST-05", json={"name_en": "Astana Saryarka branch"}, headers=admin | {"If-Match": '"7"'}
    )
    assert stale.status_code == 412
    missing = await gw.client.patch("/api/v1/admin/branches/AST-05", json={"name_en": "x"}, headers=admin)
    assert missing.status_code == 428

    renamed = await gw.client.patch(
        "/api/v1/admin/branches/AST-05", headers=admin | {"If-Match": '"1"'}, json={"name_en": "Astana Saryarka branch"}
    )
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name_en"], renamed.json()["version"], renamed.headers["etag"]) == (
        "Astana Saryarka branch",
        2,
        '"2"',
    )
    assert [e.type for e in await outbox_events(gw, "AST-05")] == [
        "crm.gateway.branch.opened",
        "crm.gateway.branch.updated",
    ]

    moved = await gw.client.patch(
        "/api/v1/admin/branches/AST-05", json={"region_code": "KZ-75", "version": 2}, headers=admin
    )
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["field"].endswith("region_code")


async def test_a_branch_with_active_staff_cannot_close(gw, admin):
    response = await gw.client.patch(
        "/api/v1/admin/branches/KAR-01", json={"active": False, "version": 1}, headers=admin
    )
    assert response.status_code == 409
    [error] = response.json()["errors"]
    assert error["field"] == "active" and "active staff" in error["message"]


async def test_a_closed_branch_takes_no_staff_until_reopened(gw, admin):
    await open_branch(gw, admin, code="PAV-02", region_code="KZ-55", city="Ekibastuz")
    closed = await gw.client.patch("/api/v1/admin/branches/PAV-02", json={"active": False, "version": 1}, headers=admin)
    assert closed.status_code == 200, closed.text
    assert closed.json()["active"] is False
    [_, event] = await outbox_events(gw, "PAV-02")
    assert (event.type, event.data["active"]) == ("crm.gateway.branch.closed", False)
    validate(event.type, event.data)

    refused = await gw.client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": "ekibastuz.agent",
            "full_name": "Ekibastuz Agent",
            "password": "long-enough-1",
            "role": "branch_agent",
            "branch_code": "PAV-02",
        },
    )
    assert refused.status_code == 422
    assert refused.json()["errors"] == [{"field": "branch_code", "message": "branch PAV-02 is closed"}]
    key = await gw.client.post(
        "/api/v1/admin/api-keys",
        headers=admin,
        json={"name": "Ekibastuz kiosk", "scopes": ["sales:read"], "branch_code": "PAV-02"},
    )
    assert key.status_code == 422

    reference = await gw.client.get("/api/v1/reference/branches", headers=admin)
    assert {b["code"]: b["active"] for b in reference.json()["items"]}["PAV-02"] is False

    reopened = await gw.client.patch(
        "/api/v1/admin/branches/PAV-02", json={"active": True, "version": 2}, headers=admin
    )
    assert reopened.json()["active"] is True
    assert (await outbox_events(gw, "PAV-02"))[-1].type == "crm.gateway.branch.updated"
    placed = await gw.client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": "ekibastuz.agent",
            "full_name": "Ekibastuz Agent",
            "password": "long-enough-1",
            "role": "branch_agent",
            "branch_code": "PAV-02",
        },
    )
    assert placed.status_code == 201, placed.text


async def test_a_user_left_in_a_closed_branch_can_still_be_edited_but_not_reactivated_there(gw, admin):
    await open_branch(gw, admin, code="UKA-03", region_code="KZ-63", city="Ridder")
    user = (
        await gw.client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "username": "ridder.agent",
                "full_name": "Ridder Agent",
                "password": "long-enough-1",
                "role": "branch_agent",
                "branch_code": "UKA-03",
            },
        )
    ).json()
    off = await gw.client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"active": False, "version": 1}, headers=admin
    )
    assert off.status_code == 200
    closed = await gw.client.patch("/api/v1/admin/branches/UKA-03", json={"active": False, "version": 1}, headers=admin)
    assert closed.status_code == 200, closed.text

    renamed = await gw.client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"language": "kk", "version": 2}, headers=admin
    )
    assert renamed.status_code == 200, renamed.text
    back = await gw.client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"active": True, "version": 3}, headers=admin
    )
    assert back.status_code == 422
    assert back.json()["errors"][0]["field"] == "branch_code"


async def test_branch_roles_need_an_open_branch_and_get_its_region(gw):
    async with gw.gateway.db.read_only() as session:
        assert await user_placement(session, Role.BRANCH_AGENT, None, "KAR-01") == ("KZ-35", "KAR-01")
        with pytest.raises(DomainError) as missing:
            await user_placement(session, Role.BRANCH_MANAGER, "KZ-35", None)
        assert problem_of(missing.value).errors == [
            {"field": "branch_code", "message": "required for role branch_manager"}
        ]
        with pytest.raises(DomainError) as mismatch:
            await user_placement(session, Role.BRANCH_AGENT, "KZ-75", "KAR-01")
        assert problem_of(mismatch.value).errors[0]["field"] == "region_code"
        with pytest.raises(DomainError) as unknown_branch:
            await user_placement(session, Role.BRANCH_AGENT, None, "XXX-01")
        assert problem_of(unknown_branch.value).errors == [
            {"field": "branch_code", "message": "unknown branch 'XXX-01'"}
        ]


async def test_regional_roles_need_a_known_region_and_national_roles_need_nothing(gw):
    async with gw.gateway.db.read_only() as session:
        assert await user_placement(session, Role.REGIONAL_MANAGER, "KZ-35", None) == ("KZ-35", None)
        with pytest.raises(DomainError) as unknown:
            await user_placement(session, Role.REGIONAL_MANAGER, "KZ-99", None)
        assert problem_of(unknown.value).errors[0]["field"] == "region_code"
        assert await user_placement(session, Role.CALL_CENTER_AGENT, None, None) == (None, None)


async def test_a_null_in_a_patch_is_refused_naming_the_field(gw, admin):
    response = await gw.client.patch("/api/v1/admin/branches/ALA-01", json={"city": None, "version": 1}, headers=admin)
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "city", "message": "may not be null"}]
