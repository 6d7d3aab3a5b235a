"""The portal's one-time codes on the gateway's real database (expiry, single use, the wrong-guess
budget, a new code retiring the last) and the customer token at the gateway's door: refused on
every staff route, the only key to the portal's; staff tokens and API keys refused there. The whole
sign-in with the suite's SMS channel and the services is tests/e2e/test_portal.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from crm_gateway.domain.portal import code_hash, is_code_shaped, masked_name, new_code
from crm_gateway.services import portal_sign_in_service

from .conftest import running_gateway

pytestmark = pytest.mark.integration

SECRET = "portal-test-secret"
T0 = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
ACCOUNTS = [{"id": "c-1", "name": "Seitkali Aigerim"}]


def test_codes_are_six_digits_kept_only_as_a_phone_bound_hmac():
    codes = {new_code() for _ in range(50)}
    assert all(is_code_shaped(code) for code in codes) and len(codes) > 1
    assert code_hash(SECRET, "+77011234567", "123456") != code_hash(SECRET, "+77011234568", "123456")
    assert "123456" not in code_hash(SECRET, "+77011234567", "123456")
    assert not is_code_shaped("12345") and not is_code_shaped("１２３４５６") and not is_code_shaped("12a456")
    assert masked_name("Seitkali Aigerim") == "S******* A******"


async def check(gw, phone, code, now, *, use=True, max_wrong=3):
    async with gw.gateway.db.unit_of_work() as session:
        return await portal_sign_in_service.check_code(
            session, secret=SECRET, phone=phone, code=code, now=now, max_wrong=max_wrong, use=use
        )


async def store(gw, phone, code, now, ttl_s=300):
    async with gw.gateway.db.unit_of_work() as session:
        await portal_sign_in_service.store_code(
            session, secret=SECRET, phone=phone, code=code, accounts=ACCOUNTS, now=now, ttl_s=ttl_s
        )


async def test_a_code_expires_is_used_once_and_dies_after_wrong_guesses(gw):
    await store(gw, "+77010000001", "111111", T0)
    assert not (await check(gw, "+77010000001", "111111", T0 + timedelta(seconds=300))).right  # expired
    assert not (await check(gw, "+77010000002", "111111", T0)).right  # another phone has no code

    await store(gw, "+77010000003", "222222", T0)
    peeked = await check(gw, "+77010000003", "222222", T0, use=False)  # still to choose the account
    assert peeked.right and peeked.accounts == ACCOUNTS
    assert (await check(gw, "+77010000003", "222222", T0)).right
    assert not (await check(gw, "+77010000003", "222222", T0)).right  # used

    await store(gw, "+77010000004", "333333", T0)
    for _ in range(3):
        assert not (await check(gw, "+77010000004", "333334", T0)).right
    assert not (await check(gw, "+77010000004", "333333", T0)).right  # three wrong guesses killed it

    await store(gw, "+77010000005", "444444", T0)
    await store(gw, "+77010000005", "555555", T0 + timedelta(seconds=10))
    assert not (await check(gw, "+77010000005", "444444", T0 + timedelta(seconds=20))).right  # retired
    assert (await check(gw, "+77010000005", "555555", T0 + timedelta(seconds=20))).right


async def test_customer_tokens_open_only_the_portal_and_staff_tokens_never_do(gw, admin):
    token, _ = gw.gateway.authenticator.issue_customer_token("c-1", "Seitkali Aigerim")
    customer = {"Authorization": f"Bearer {token}"}
    for path in ("/api/v1/auth/me", "/api/v1/admin/users", "/api/v1/staff", "/api/v1/reference/regions"):
        refused = await gw.client.get(path, headers=customer)
        assert refused.status_code == 403, (path, refused.text)
    for path in ("/api/v1/sales/customers/c-1", "/api/v1/tickets/tickets", "/tmf-api/troubleTicket/v4/troubleTicket"):
        refused = await gw.client.get(path, headers=customer)
        assert refused.status_code == 403, (path, refused.text)
    for method, path in (
        ("GET", "/api/v1/portal/me"),
        ("GET", "/api/v1/portal/me/tickets"),
        ("PATCH", "/api/v1/portal/me"),
    ):
        refused = await gw.client.request(method, path, headers=admin, json={})
        assert refused.status_code == 403, (path, refused.text)

    # a token signed with another key, or a customer token without its customer: 401
    forged = jwt.encode(
        {"sub": "customer:c-2", "role": "customer", "customer": "c-2", "iat": 0, "exp": 4_000_000_000},
        "a-guessed-key-of-thirty-two-bytes!!",
        "HS256",
    )
    assert (await gw.client.get("/api/v1/portal/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401
    unbound = jwt.encode(
        {"sub": "customer:", "role": "customer", "iat": 0, "exp": 4_000_000_000}, gw.settings.jwt_secret, "HS256"
    )
    assert (await gw.client.get("/api/v1/portal/me", headers={"Authorization": f"Bearer {unbound}"})).status_code == 401


async def test_sign_in_input_is_checked_field_by_field(gw):
    for body, field in (
        ({"phone": "12"}, "phone"),
        ({"phone": "+77011234567", "extra": 1}, "extra"),
    ):
        answer = await gw.client.post("/api/v1/portal/auth/code", json=body)
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"].endswith(field), answer.text
    answer = await gw.client.post("/api/v1/portal/auth/token", json={"phone": "+77011234567", "code": "12ab56"})
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "code", answer.text
    # no code was ever sent to this phone: the same 401 as a wrong one
    answer = await gw.client.post("/api/v1/portal/auth/token", json={"phone": "+77011234599", "code": "123456"})
    assert answer.status_code == 401, answer.text


async def test_codes_and_guesses_are_limited_per_client_address(gateway_database):
    async with running_gateway(
        gateway_database,
        client_host="198.51.100.7",
        portal_codes_per_address_burst=2,
        portal_guesses_per_address_burst=3,
    ) as gw:
        for phone in ("+77012000001", "+77012000002"):
            assert (await gw.client.post("/api/v1/portal/auth/code", json={"phone": phone})).status_code == 202
        limited = await gw.client.post("/api/v1/portal/auth/code", json={"phone": "+77012000003"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0, limited.text
        guesses = [
            (
                await gw.client.post("/api/v1/portal/auth/token", json={"phone": f"+7701300000{n}", "code": "123456"})
            ).status_code
            for n in range(4)
        ]
        assert guesses == [401, 401, 401, 429]


async def test_no_staff_account_has_the_customer_role(gw, admin):
    refused = await gw.client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={"username": "not.a.customer", "full_name": "X", "password": "long enough pass 1", "role": "customer"},
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "role", refused.text
