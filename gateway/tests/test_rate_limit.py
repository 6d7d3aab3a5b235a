"""Rate limits hold across gateway processes because the buckets live in the gateway database."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from crm_gateway.db import MIGRATIONS_DIR
from crm_gateway.ratelimit import RateLimiter
from crm_gateway.seed import DEMO_API_KEY
from crm_shared.db import Database
from crm_shared.migrations import upgrade_async

from .conftest import running_gateway

# One token back per minute: the burst is all a test may spend, however slow the machine is.
LIMITS = {"rate_limit_per_minute": 1, "rate_limit_burst": 3}


@pytest_asyncio.fixture(scope="module")
async def two_gateways(gateway_database):
    async with (
        running_gateway(gateway_database, seed=True, **LIMITS) as first,
        running_gateway(gateway_database, **LIMITS) as second,
    ):
        yield first, second


@pytest.mark.integration
async def test_a_users_limit_is_shared_by_two_gateway_instances(two_gateways):
    first, second = two_gateways
    headers = await first.login("almaty.agent")
    answers = [await gateway.client.get("/api/v1/auth/me", headers=headers) for gateway in (first, second, first)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    refused = await second.client.get("/api/v1/auth/me", headers=headers)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert refused.json()["retry_after_s"] == retry_after
    assert (await first.client.get("/api/v1/auth/me", headers=headers)).status_code == 429
    # Routed calls count against the same bucket, and are refused before being forwarded.
    assert (await first.client.get("/api/v1/sales/customers", headers=headers)).status_code == 429

    other_user = await second.login("karaganda.agent")
    assert (await first.client.get("/api/v1/auth/me", headers=other_user)).status_code == 200


@pytest.mark.integration
async def test_an_api_keys_limit_is_shared_and_counted_under_concurrency(two_gateways):
    first, second = two_gateways
    headers = {"X-API-Key": DEMO_API_KEY}
    answers = await asyncio.gather(
        *(gateway.client.get("/api/v1/auth/me", headers=headers) for gateway in (first, second) * 4)
    )
    assert sorted(a.status_code for a in answers) == [200] * 3 + [429] * 5


@pytest.mark.integration
async def test_repeated_wrong_api_keys_from_one_address_are_throttled(gateway_database):
    async with running_gateway(
        gateway_database, client_host="10.9.8.7", auth_failures_per_minute=1, auth_failures_burst=2
    ) as gw:
        codes = [
            (await gw.client.get("/api/v1/auth/me", headers={"X-API-Key": "crm_demobill_wrong"})).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 429]
        # Sign-in attempts from that address share the throttle.
        login = await gw.client.post("/api/v1/auth/token", data={"username": "admin", "password": "demo"})
        assert login.status_code == 429


async def test_the_limit_is_shared_through_sqlite_too(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    await upgrade_async(MIGRATIONS_DIR, url)
    first, second = Database(url), Database(url)
    try:
        clock = [5000.0]
        limiters = [RateLimiter(db, clock=lambda: clock[0]) for db in (first, second)]
        outcomes = [await limiters[i % 2].acquire("user:u1", per_minute=60, burst=2) for i in range(3)]
        assert [o.allowed for o in outcomes] == [True, True, False]
        assert outcomes[2].retry_after_s == 1
        assert (await limiters[0].peek("user:u1", 60, 2)).allowed is False
        clock[0] += 1.0  # one token per second comes back
        assert (await limiters[1].peek("user:u1", 60, 2)).allowed is True
        assert (await limiters[1].acquire("user:u1", 60, 2)).allowed is True
        assert (await limiters[0].acquire("user:u1", 60, 2)).allowed is False
        clock[0] += 3600  # a long pause refills to the burst, not beyond
        assert [(await limiters[0].acquire("user:u1", 60, 2)).allowed for _ in range(3)] == [True, True, False]
        assert (await limiters[0].acquire("user:u2", 60, 2)).allowed is True
    finally:
        await first.dispose()
        await second.dispose()
