"""Sign-in, the caller's identity, user and API key administration, against real PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from sqlalchemy import select

from crm_contracts.events import topic_of, validate
from crm_gateway.db.models import ApiKey
from crm_gateway.seed import DEMO_API_KEY
from crm_shared.models import AuditEntry

from .conftest import outbox_events, running_gateway

pytestmark = pytest.mark.integration
USER_EVENT_KEYS = {"id", "username", "full_name", "role", "region_code", "branch_code", "active", "email", "language"}


async def create_user(gw, admin, **fields) -> dict:
    body = {
        "full_name": "Test User",
        "password": "correct horse 1",
        "role": "branch_agent",
        "branch_code": "ALA-02",
    } | fields
    response = await gw.client.post("/api/v1/admin/users", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


# --- sign-in -----------------------------------------------------------------------------


async def test_token_is_an_hs256_jwt_with_the_users_identity(gw):
    response = await gw.client.post("/api/v1/auth/token", data={"username": "almaty.agent", "password": "demo"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == gw.settings.access_token_ttl_s
    assert response.headers["cache-control"] == "no-store"
    claims = jwt.decode(body["access_token"], gw.settings.jwt_secret, algorithms=["HS256"])
    assert {k: claims[k] for k in ("sub", "name", "role", "region", "branch")} == {
        "sub": "user-almaty-agent",
        "name": "almaty.agent",
        "role": "branch_agent",
        "region": "KZ-75",
        "branch": "ALA-01",
    }
    assert claims["exp"] - claims["iat"] == gw.settings.access_token_ttl_s


async def test_username_is_case_insensitive(gw):
    response = await gw.client.post("/api/v1/auth/token", data={"username": " Analyst ", "password": "demo"})
    assert response.status_code == 200


async def test_unknown_user_wrong_password_and_deactivated_account_answer_alike(gw, admin):
    retired = await create_user(gw, admin, username="retired.agent")
    patched = await gw.client.patch(
        f"/api/v1/admin/users/{retired['id']}", json={"active": False}, headers=admin | {"If-Match": '"1"'}
    )
    assert patched.status_code == 200
    answers = []
    for username, password in (
        ("nobody.here", "demo"),
        ("almaty.agent", "wrong"),
        ("retired.agent", "correct horse 1"),
    ):
        response = await gw.client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")
        answers.append(response.json())
    assert answers[0] == answers[1] == answers[2]
    assert answers[0]["detail"] == "wrong username or password"


async def test_missing_form_field_is_a_problem_naming_it(gw):
    response = await gw.client.post("/api/v1/auth/token", data={"username": "admin"})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["password"]


# --- who is calling ----------------------------------------------------------------------


async def test_me_describes_a_user(gw):
    headers = await gw.login("karaganda.regional")
    me = (await gw.client.get("/api/v1/auth/me", headers=headers)).json()
    assert me == {
        "kind": "user",
        "id": "user-karaganda-regional",
        "username": "karaganda.regional",
        "full_name": me["full_name"],
        "role": "regional_manager",
        "region": "KZ-35",
        "branch": None,
        "partner_id": None,
        "scopes": [],
        "language": "ru",
    }


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
async def test_me_describes_an_api_key(gw, header):
    value = DEMO_API_KEY if header == "X-API-Key" else f"ApiKey {DEMO_API_KEY}"
    response = await gw.client.get("/api/v1/auth/me", headers={header: value})
    assert response.status_code == 200
    me = response.json()
    assert (me["kind"], me["id"], me["role"], me["scopes"]) == (
        "api_key",
        "apikey-demo-billing",
        "system",
        ["sales:read"],
    )


async def test_requests_without_valid_credentials_are_refused(gw):
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "user-admin", "gen": 1, "iat": now - 7200, "exp": now - 3600}, gw.settings.jwt_secret, algorithm="HS256"
    )
    forged = jwt.encode(
        {"sub": "user-admin", "gen": 1, "iat": now, "exp": now + 60}, "not-the-secret" * 4, algorithm="HS256"
    )
    for headers in (
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": f"Bearer {expired}"},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": "Basic YWRtaW46ZGVtbw=="},
        {"X-API-Key": "crm_nosuchkey_secret"},
        {"X-API-Key": "garbage"},
    ):
        for path in ("/api/v1/auth/me", "/api/v1/reference/regions", "/api/v1/admin/users", "/api/v1/sales/customers"):
            response = await gw.client.get(path, headers=headers)
            assert response.status_code == 401, (headers, path, response.text)
            assert response.json()["title"] == "Unauthorized"
    expired_answer = await gw.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {expired}"})
    assert "expired" in expired_answer.json()["detail"]


# --- reference data ----------------------------------------------------------------------


async def test_regions_and_branches(gw):
    headers = await gw.login("callcenter")
    regions = (await gw.client.get("/api/v1/reference/regions", headers=headers)).json()["items"]
    assert len(regions) == 20
    assert sum(r["kind"] == "city" for r in regions) == 3
    karaganda = next(r for r in regions if r["code"] == "KZ-35")
    assert karaganda["name"] == {"kk": "Қарағанды облысы", "ru": "Карагандинская область", "en": "Karaganda Region"}
    branches = (
        await gw.client.get("/api/v1/reference/branches", params={"region_code": "KZ-35"}, headers=headers)
    ).json()["items"]
    assert [b["code"] for b in branches] == ["KAR-01", "KAR-02"]


# --- user administration -----------------------------------------------------------------


async def test_admin_creates_a_privacy_officer_who_answers_data_subjects_nationally(gw, admin):
    response = await gw.client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": "dpo.two",
            "full_name": "Second Officer",
            "password": "s3cret-pass",
            "role": "privacy_officer",
        },
    )
    assert response.status_code == 201, response.text
    user = response.json()
    assert (user["role"], user["region_code"], user["branch_code"]) == ("privacy_officer", None, None)
    [event] = await outbox_events(gw, user["id"])
    validate(event.type, event.data)  # the staff directories downstream take it
    assert event.data["role"] == "privacy_officer"
    token = await gw.client.post("/api/v1/auth/token", data={"username": "dpo.two", "password": "s3cret-pass"})
    assert token.status_code == 200


async def test_admin_creates_a_user_and_the_event_is_in_the_same_transaction(gw, admin):
    response = await gw.client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={
            "username": "Shymkent.Agent",
            "full_name": "Nurlan Ospanov",
            "password": "s3cret-pass",
            "role": "branch_agent",
            "branch_code": "SHY-01",
            "language": "kk",
        },
    )
    assert response.status_code == 201
    user = response.json()
    assert (user["username"], user["region_code"], user["branch_code"], user["version"]) == (
        "shymkent.agent",
        "KZ-79",
        "SHY-01",
        1,
    )
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/api/v1/admin/users/{user['id']}"
    assert "password" not in user and "password_hash" not in user

    [event] = await outbox_events(gw, user["id"])
    assert (event.type, event.topic, event.source) == (
        "crm.gateway.user.created",
        "crm.gateway.user.v1",
        "/crm/gateway",
    )
    assert topic_of(event.type) == event.topic
    assert event.data == {
        "id": user["id"],
        "username": "shymkent.agent",
        "full_name": "Nurlan Ospanov",
        "role": "branch_agent",
        "region_code": "KZ-79",
        "branch_code": "SHY-01",
        "active": True,
        "email": None,
        "language": "kk",
    }
    validate(event.type, event.data)
    assert (event.region, event.branch) == ("KZ-79", "SHY-01")

    async with gw.gateway.db.read_only() as session:
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.entity_id == user["id"]))
    assert (audit.action, audit.actor_id) == ("created", "user-admin")

    token = await gw.client.post("/api/v1/auth/token", data={"username": "shymkent.agent", "password": "s3cret-pass"})
    assert token.status_code == 200


async def test_create_with_an_idempotency_key_replays_instead_of_duplicating(gw, admin):
    body = {"username": "idem.user", "full_name": "Idem", "password": "long-enough-1", "role": "hq_analyst"}
    headers = admin | {"Idempotency-Key": "create-idem-user"}
    first = await gw.client.post("/api/v1/admin/users", json=body, headers=headers)
    again = await gw.client.post("/api/v1/admin/users", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(await outbox_events(gw, first.json()["id"])) == 1
    different = await gw.client.post("/api/v1/admin/users", json=body | {"full_name": "Other"}, headers=headers)
    assert different.status_code == 422
    assert different.json()["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({"username": "admin"}, 409, "username"),
        ({"branch_code": "XXX-99"}, 422, "branch_code"),
        ({"branch_code": None}, 422, "branch_code"),
        ({"role": "system"}, 422, "role"),
        ({"role": "regional_manager", "branch_code": None, "region_code": "KZ-00"}, 422, "region_code"),
        ({"password": "short"}, 422, "password"),
        ({"language": "de"}, 422, "language"),
        ({"is_superuser": True}, 422, "is_superuser"),
    ],
)
async def test_bad_user_input_is_a_problem_naming_the_field(gw, admin, body, status, field):
    payload = {
        "username": "new.person",
        "full_name": "New Person",
        "password": "long-enough-1",
        "role": "branch_agent",
        "branch_code": "ALA-01",
    } | body
    response = await gw.client.post("/api/v1/admin/users", json=payload, headers=admin)
    assert response.status_code == status, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_malformed_json_is_a_422_problem(gw, admin):
    response = await gw.client.post(
        "/api/v1/admin/users", content=b"{not json", headers=admin | {"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_patch_needs_the_current_version_and_emits_updated_then_deactivated(gw, admin):
    user = await create_user(gw, admin, username="moving.agent")
    url = f"/api/v1/admin/users/{user['id']}"
    missing = await gw.client.patch(url, json={"branch_code": "KAR-02"}, headers=admin)
    assert missing.status_code == 428
    stale = await gw.client.patch(url, json={"branch_code": "KAR-02"}, headers=admin | {"If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1

    moved = await gw.client.patch(url, json={"branch_code": "KAR-02"}, headers=admin | {"If-Match": '"1"'})
    assert moved.status_code == 200
    assert (moved.json()["branch_code"], moved.json()["region_code"], moved.json()["version"]) == ("KAR-02", "KZ-35", 2)
    assert moved.headers["etag"] == '"2"'

    promoted = await gw.client.patch(
        url, json={"role": "regional_manager", "branch_code": None, "version": 2}, headers=admin
    )
    assert promoted.status_code == 200
    assert (promoted.json()["role"], promoted.json()["region_code"], promoted.json()["branch_code"]) == (
        "regional_manager",
        "KZ-35",
        None,
    )

    # the language and the address are announced: sales writes task reminders there, in that language
    language_only = await gw.client.patch(
        url, json={"language": "en", "email": "moving.agent@qazaq-telecom.kz"}, headers=admin | {"If-Match": '"3"'}
    )
    assert language_only.json()["version"] == 4
    assert language_only.json()["email"] == "moving.agent@qazaq-telecom.kz"
    bad_address = await gw.client.patch(url, json={"email": "not an address"}, headers=admin | {"If-Match": '"4"'})
    assert bad_address.status_code == 422 and "email" in bad_address.text

    deactivated = await gw.client.patch(url, json={"active": False}, headers=admin | {"If-Match": '"4"'})
    assert deactivated.json()["active"] is False

    events = await outbox_events(gw, user["id"])
    assert [e.type for e in events] == [
        "crm.gateway.user.created",
        "crm.gateway.user.updated",
        "crm.gateway.user.updated",
        "crm.gateway.user.updated",
        "crm.gateway.user.deactivated",
    ]
    assert [(e.data["role"], e.data["branch_code"], e.data["active"], e.data["language"]) for e in events] == [
        ("branch_agent", "ALA-02", True, "ru"),
        ("branch_agent", "KAR-02", True, "ru"),
        ("regional_manager", None, True, "ru"),
        ("regional_manager", None, True, "en"),
        ("regional_manager", None, False, "en"),
    ]
    assert [e.data["email"] for e in events][-2:] == ["moving.agent@qazaq-telecom.kz"] * 2
    for event in events:
        assert set(event.data) == USER_EVENT_KEYS
        validate(event.type, event.data)


async def test_a_deactivated_users_token_stops_working_at_once(gw, admin):
    user = await create_user(gw, admin, username="leaving.agent")
    headers = await gw.login("leaving.agent", "correct horse 1")
    assert (await gw.client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    await gw.client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"active": False}, headers=admin | {"If-Match": '"1"'}
    )
    assert (await gw.client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_role_change_reaches_the_callers_identity_without_a_new_token(gw, admin):
    user = await create_user(gw, admin, username="promoted.agent")
    headers = await gw.login("promoted.agent", "correct horse 1")
    assert (await gw.client.get("/api/v1/auth/me", headers=headers)).json()["role"] == "branch_agent"
    await gw.client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"role": "branch_manager"}, headers=admin | {"If-Match": '"1"'}
    )
    assert (await gw.client.get("/api/v1/auth/me", headers=headers)).json()["role"] == "branch_manager"


async def test_admins_cannot_lock_themselves_out(gw, admin):
    response = await gw.client.patch(
        "/api/v1/admin/users/user-admin", json={"active": False}, headers=admin | {"If-Match": '"1"'}
    )
    assert response.status_code == 409


async def test_password_reset_replaces_the_password_and_old_tokens(gw, admin):
    user = await create_user(gw, admin, username="forgetful.agent")
    old_headers = await gw.login("forgetful.agent", "correct horse 1")
    reset = await gw.client.post(
        f"/api/v1/admin/users/{user['id']}/password", json={"password": "brand-new-pass"}, headers=admin
    )
    assert reset.status_code == 204
    assert (await gw.client.get("/api/v1/auth/me", headers=old_headers)).status_code == 401
    refused = await gw.client.post(
        "/api/v1/auth/token", data={"username": "forgetful.agent", "password": "correct horse 1"}
    )
    assert refused.status_code == 401
    new_headers = await gw.login("forgetful.agent", "brand-new-pass")
    assert (await gw.client.get("/api/v1/auth/me", headers=new_headers)).status_code == 200
    assert len(await outbox_events(gw, user["id"])) == 1  # no credentials in events


async def test_users_are_listed_page_by_page_in_username_order(gw, admin):
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await gw.client.get("/api/v1/admin/users", params=params, headers=admin)).json()
        assert len(page["items"]) <= 3
        seen += [u["username"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    everyone = (await gw.client.get("/api/v1/admin/users", params={"limit": 200}, headers=admin)).json()["items"]
    assert seen == [u["username"] for u in everyone]
    karaganda = (await gw.client.get("/api/v1/admin/users", params={"branch_code": "KAR-01"}, headers=admin)).json()
    assert [u["username"] for u in karaganda["items"]] == ["karaganda.agent", "karaganda.manager"]
    bad_cursor = await gw.client.get("/api/v1/admin/users", params={"cursor": "!!"}, headers=admin)
    assert bad_cursor.status_code == 400


async def test_only_admins_reach_the_admin_api(gw):
    manager = await gw.login("almaty.manager")
    for headers in (manager, {"X-API-Key": DEMO_API_KEY}):
        for method, path in (
            ("GET", "/api/v1/admin/users"),
            ("POST", "/api/v1/admin/api-keys"),
            ("GET", "/api/v1/admin/api-keys"),
        ):
            response = await gw.client.request(method, path, headers=headers, json={})
            assert response.status_code == 403, (method, path)


# --- API keys ----------------------------------------------------------------------------


async def test_api_key_is_shown_once_and_its_scopes_decide_what_it_may_do(gw, admin):
    created = await gw.client.post(
        "/api/v1/admin/api-keys", headers=admin, json={"name": "OSS monitoring", "scopes": ["sales:read"]}
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(f"crm_{created.json()['prefix']}_")
    listed = (await gw.client.get("/api/v1/admin/api-keys", headers=admin)).json()["items"]
    mine = next(k for k in listed if k["id"] == created.json()["id"])
    assert "key" not in mine and mine["scopes"] == ["sales:read"] and mine["last_used_at"] is None
    async with gw.gateway.db.read_only() as session:
        stored = await session.get(ApiKey, created.json()["id"])
    assert key.split("_", 2)[2] not in stored.secret_hash and stored.secret_hash.startswith("$argon2")

    # A read key may not write: refused by the gateway, before anything is forwarded.
    post = await gw.client.post("/api/v1/sales/customers", json={"kind": "individual"}, headers={"X-API-Key": key})
    assert post.status_code == 403
    assert post.json()["required_scope"] == "sales:write"
    # A read is forwarded (the upstream in this module is down, so it answers 503).
    get = await gw.client.get("/api/v1/sales/customers", headers={"X-API-Key": key})
    assert get.status_code == 503

    used = (await gw.client.get("/api/v1/admin/api-keys", headers=admin)).json()["items"]
    assert next(k for k in used if k["id"] == created.json()["id"])["last_used_at"] is not None


async def test_bad_api_key_input_is_a_problem_naming_the_field(gw, admin):
    for body, field in (
        ({"name": "x", "scopes": ["billing:read"]}, "scopes.0"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["sales:read"], "branch_code": "NOPE"}, "branch_code"),
        ({"scopes": ["sales:read"]}, "name"),
    ):
        response = await gw.client.post("/api/v1/admin/api-keys", json=body, headers=admin)
        assert response.status_code == 422, body
        assert field in [e["field"] for e in response.json()["errors"]]


async def test_revoked_key_is_refused_by_this_process_at_once(gw, admin):
    created = (
        await gw.client.post(
            "/api/v1/admin/api-keys", headers=admin, json={"name": "Temporary", "scopes": ["sales:read", "sales:write"]}
        )
    ).json()
    headers = {"X-API-Key": created["key"]}
    assert (await gw.client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert (await gw.client.delete(f"/api/v1/admin/api-keys/{created['id']}", headers=admin)).status_code == 204
    assert (await gw.client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    listed = (await gw.client.get("/api/v1/admin/api-keys", headers=admin)).json()["items"]
    revoked = next(k for k in listed if k["id"] == created["id"])
    assert revoked["active"] is False and revoked["revoked_at"] is not None


async def test_other_processes_refuse_a_revoked_key_and_a_deactivated_user_within_the_cache_window(
    gw, admin, gateway_database
):
    key = (
        await gw.client.post("/api/v1/admin/api-keys", headers=admin, json={"name": "Shared", "scopes": ["sales:read"]})
    ).json()
    user = await create_user(gw, admin, username="shared.agent")
    user_headers = await gw.login("shared.agent", "correct horse 1")
    async with running_gateway(gateway_database) as other:
        clock = [1000.0]
        other.gateway.authenticator.clock = lambda: clock[0]
        key_headers = {"X-API-Key": key["key"]}
        assert (await other.client.get("/api/v1/auth/me", headers=key_headers)).status_code == 200
        assert (await other.client.get("/api/v1/auth/me", headers=user_headers)).status_code == 200

        await gw.client.delete(f"/api/v1/admin/api-keys/{key['id']}", headers=admin)
        await gw.client.patch(
            f"/api/v1/admin/users/{user['id']}", json={"active": False}, headers=admin | {"If-Match": '"1"'}
        )
        clock[0] += other.settings.credential_cache_s
        assert (await other.client.get("/api/v1/auth/me", headers=key_headers)).status_code == 401
        assert (await other.client.get("/api/v1/auth/me", headers=user_headers)).status_code == 401


async def test_without_its_database_the_gateway_answers_503_not_500(gateway_database):
    missing = gateway_database.rsplit("/", 1)[0] + "/crm_test_no_such_database"
    async with running_gateway(missing) as broken:
        now = int(time.time())
        token = jwt.encode(
            {"sub": "user-admin", "gen": 1, "iat": now, "exp": now + 60}, broken.settings.jwt_secret, algorithm="HS256"
        )
        for headers in ({"Authorization": f"Bearer {token}"}, {"X-API-Key": DEMO_API_KEY}):
            response = await broken.client.get("/api/v1/auth/me", headers=headers)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"] == "5"
        health = await broken.client.get("/healthz")
        assert health.status_code == 503 and health.json()["checks"]["database"].startswith("down")


async def test_concurrent_requests_with_one_new_key_share_one_verification(gw, admin, monkeypatch):
    created = (
        await gw.client.post(
            "/api/v1/admin/api-keys", headers=admin, json={"name": "Busy system", "scopes": ["sales:read"]}
        )
    ).json()
    verifications = []
    passwords = gw.gateway.passwords
    real_verify = passwords.verify

    async def counting_verify(secret_hash, secret):  # the real verification, counted
        verifications.append(secret_hash)
        return await real_verify(secret_hash, secret)

    monkeypatch.setattr(passwords, "verify", counting_verify)
    answers = await asyncio.gather(
        *(gw.client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]}) for _ in range(6))
    )
    assert [a.status_code for a in answers] == [200] * 6
    assert len(verifications) == 1


async def test_a_password_hashed_with_other_costs_is_rehashed_at_sign_in(gw, admin):
    from crm_gateway.db.models import User
    from crm_gateway.passwords import Passwords

    user = await create_user(gw, admin, username="legacy.agent")
    async with gw.gateway.db.unit_of_work() as session:
        (await session.get(User, user["id"])).password_hash = await Passwords(2, 2048).hash("legacy password")
    await gw.login("legacy.agent", "legacy password")
    async with gw.gateway.db.read_only() as session:
        rehashed = (await session.get(User, user["id"])).password_hash
    assert not gw.gateway.passwords.needs_rehash(rehashed)
    await gw.login("legacy.agent", "legacy password")


# --- partner users (the partners service's dealers and agents) -------------------------------


async def test_a_partner_user_carries_its_partner_into_the_token_and_the_identity(gw, admin):
    missing = await gw.client.post(
        "/api/v1/admin/users",
        json={"username": "dealer.nopartner", "full_name": "D", "password": "correct horse 1", "role": "partner"},
        headers=admin,
    )
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "partner_id"
    stray = await gw.client.post(
        "/api/v1/admin/users",
        json={
            "username": "agent.stray",
            "full_name": "A",
            "password": "correct horse 1",
            "role": "branch_agent",
            "branch_code": "ALA-02",
            "partner_id": "partner-x",
        },
        headers=admin,
    )
    assert stray.status_code == 422 and stray.json()["errors"][0]["field"] == "partner_id"
    user = await create_user(
        gw, admin, username="dealer.shymkent", role="partner", partner_id="partner-shymkent", branch_code=None
    )
    assert user["partner_id"] == "partner-shymkent" and user["branch_code"] is None
    token = await gw.client.post(
        "/api/v1/auth/token", data={"username": "dealer.shymkent", "password": "correct horse 1"}
    )
    claims = jwt.decode(token.json()["access_token"], gw.settings.jwt_secret, algorithms=["HS256"])
    assert claims["role"] == "partner" and claims["partner"] == "partner-shymkent"
    headers = await gw.login("dealer.shymkent", "correct horse 1")
    me = (await gw.client.get("/api/v1/auth/me", headers=headers)).json()
    assert (me["role"], me["partner_id"]) == ("partner", "partner-shymkent")
    demoted = await gw.client.patch(
        f"/api/v1/admin/users/{user['id']}", json={"role": "hq_analyst"}, headers=admin | {"If-Match": '"1"'}
    )
    assert demoted.status_code == 200 and demoted.json()["partner_id"] is None


async def test_the_demo_channel_manager_and_dealer_sign_in(gw):
    for username, role in (("channel.manager", "channel_manager"), ("dealer.almaty", "partner")):
        headers = await gw.login(username, "demo")
        me = (await gw.client.get("/api/v1/auth/me", headers=headers)).json()
        assert me["role"] == role
    assert me["partner_id"] == "partner-almaty-dealer"


async def test_a_users_address_and_language_reach_the_services(gw, admin):
    user = await create_user(gw, admin, username="mailed.agent", email="mailed.agent@qazaq-telecom.kz", language="kk")
    assert user["email"] == "mailed.agent@qazaq-telecom.kz"
    headers = await gw.login("mailed.agent", "correct horse 1")
    changed = await gw.client.patch("/api/v1/auth/me", json={"language": "en"}, headers=headers)
    assert changed.status_code == 200, changed.text
    events = await outbox_events(gw, user["id"])
    assert [(e.type, e.data["email"], e.data["language"]) for e in events] == [
        ("crm.gateway.user.created", "mailed.agent@qazaq-telecom.kz", "kk"),
        ("crm.gateway.user.updated", "mailed.agent@qazaq-telecom.kz", "en"),  # reminders follow the console's language
    ]
