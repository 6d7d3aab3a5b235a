"""Failed sign-ins are throttled per account from an address, per account, and per address; the
staff who sign in from an address every day keep signing in while someone there guesses.
(crm_gateway/throttling.py; the same through `crm up`'s real HTTP server: tests/e2e/test_edge_security.py)"""

from __future__ import annotations

import contextlib

import pytest
import pytest_asyncio

from crm_gateway.throttling import address_key

from .conftest import running_gateway

# Tokens come back at one a minute: the burst is all a test may spend, however slow the machine is.
LIMITS = {
    "auth_failures_per_minute": 1,
    "auth_failures_burst": 8,
    "account_failures_per_minute": 1,
    "account_failures_burst": 6,
    "account_address_failures_per_minute": 1,
    "account_address_failures_burst": 3,
}


@pytest_asyncio.fixture(scope="module")
async def seeded(gateway_database):
    async with running_gateway(gateway_database, seed=True):
        return gateway_database


@pytest_asyncio.fixture
async def at(seeded):
    """``await at("192.0.2.10")``: the seeded gateway as a client at that address sees it. Every
    test uses addresses and accounts of its own: the buckets live in the module's database."""
    async with contextlib.AsyncExitStack() as stack:

        async def client_at(address: str):
            return await stack.enter_async_context(running_gateway(seeded, client_host=address, **LIMITS))

        yield client_at


async def sign_in(gw, username: str, password: str = "demo", **headers) -> int:
    response = await gw.client.post(
        "/api/v1/auth/token", data={"username": username, "password": password}, headers=headers
    )
    if response.status_code == 429:
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["content-type"] == "application/problem+json"
    return response.status_code


@pytest.mark.integration
async def test_one_address_guessing_one_account_is_stopped_whatever_it_claims_to_forward(at):
    office, elsewhere = await at("192.0.2.10"), await at("192.0.2.11")
    codes = [
        await sign_in(office, "almaty.manager", f"guess-{n}", **{"X-Forwarded-For": f"10.0.{n}.1"}) for n in range(6)
    ]
    assert codes == [401, 401, 401, 429, 429, 429]
    # the right password does not get through from there either, until a token is back
    assert await sign_in(office, "almaty.manager") == 429
    # the account is not locked for its owner elsewhere: the account-wide bucket has tokens left
    assert await sign_in(elsewhere, "almaty.manager") == 200


@pytest.mark.integration
async def test_a_throttled_address_still_signs_in_the_staff_who_sign_in_there(at):
    office = await at("192.0.2.20")
    assert await sign_in(office, "karaganda.agent") == 200  # the colleague's usual office
    # someone in the office sprays a password over many (made-up) accounts until the office is throttled
    codes = [await sign_in(office, f"staff.{n}", "Qwerty123") for n in range(10)]
    assert codes == [401] * 8 + [429] * 2
    # the colleague with the right password still gets in from there
    assert await sign_in(office, "karaganda.agent") == 200
    # a first sign-in from the throttled address waits: letting it in would tell a sprayer which guess was right
    assert await sign_in(office, "karaganda.manager") == 429
    # and a wrong password for the colleague's account is still a plain failure, counted for that account
    assert await sign_in(office, "karaganda.agent", "nope") == 401


@pytest.mark.integration
async def test_many_addresses_guessing_one_account_are_stopped_but_not_its_owner(at):
    office, first, second, third, new_place = [await at(f"192.0.2.{n}") for n in (30, 31, 32, 33, 34)]
    assert await sign_in(office, "karaganda.regional") == 200  # the owner's usual office
    codes = [await sign_in(gw, "karaganda.regional", f"guess-{n}") for gw in (first, second) for n in range(3)]
    assert codes == [401] * 6  # three per address (its limit), six for the account: its limit too
    assert await sign_in(third, "karaganda.regional", "another-guess") == 429
    assert await sign_in(new_place, "karaganda.regional") == 429  # the right password from a new place waits too
    assert await sign_in(office, "karaganda.regional") == 200  # the owner, from where they always sign in


@pytest.mark.integration
async def test_an_unknown_username_is_throttled_like_a_real_one(at):
    elsewhere = await at("192.0.2.40")
    codes = [await sign_in(elsewhere, "no.such.user", f"guess-{n}") for n in range(4)]
    assert codes == [401, 401, 401, 429]
    assert await sign_in(elsewhere, "x" * 5000) == 401  # no account can have that name
    assert await sign_in(elsewhere, "nul\x00name") == 422  # refused at the door (crm_shared.inputs)


def test_an_ipv6_client_is_counted_by_its_64_and_ipv4_as_it_is():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key("192.0.2.1") == "192.0.2.1"
