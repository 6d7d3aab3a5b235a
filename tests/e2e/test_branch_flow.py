"""End to end: an administrator opens a branch at the gateway; the sales service learns of it from
crm.gateway.branch.v1 over the real broker and accepts customers there; once the branch is closed
it refuses new ones while its existing customers stay reachable."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from crm_cli.testing import RunningSuite, sign_in

from .test_suite_flow import fresh_identity

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
EVENT_WAIT_S = 60


async def create_customer(client: httpx.AsyncClient, headers: dict[str, str], **fields) -> httpx.Response:
    iin, phone, _ = fresh_identity()
    return await client.post(
        "/api/v1/sales/customers",
        headers=headers,
        json={"kind": "individual", "iin": iin, "first_name": "Aidos", "last_name": "Temirov", "phone": phone} | fields,
    )


async def until(answer, done, what: str) -> httpx.Response:
    """Polls ``answer()`` until ``done(response)``: the branch event travels through the outbox and Kafka."""
    deadline = time.monotonic() + EVENT_WAIT_S
    while True:
        response = await answer()
        if done(response):
            return response
        assert time.monotonic() < deadline, f"{what}: still {response.status_code} {response.text}"
        await asyncio.sleep(0.5)


async def test_a_branch_opened_by_an_admin_takes_customers_until_it_closes(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        admin = await sign_in(client, "admin")
        opened = await client.post(
            "/api/v1/admin/branches",
            headers=admin,
            json={
                "code": "SHY-04",
                "region_code": "KZ-79",
                "city": "Shymkent",
                "name_kk": "Шымкент, Әл-Фараби филиалы",
                "name_ru": "Шымкент, филиал Аль-Фараби",
                "name_en": "Shymkent Al-Farabi branch",
            },
        )
        assert opened.status_code == 201, opened.text
        manager = await client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "username": "alfarabi.manager",
                "full_name": "Bakhyt Yusupov",
                "password": "long-enough-1",
                "role": "branch_manager",
                "branch_code": "SHY-04",
            },
        )
        assert manager.status_code == 201, manager.text
        staff = await sign_in(client, "alfarabi.manager", "long-enough-1")

        created = await until(
            lambda: create_customer(client, staff), lambda r: r.status_code != 422, "sales never learned of SHY-04"
        )
        assert created.status_code == 201, created.text
        customer = created.json()
        assert (customer["branch_code"], customer["region_code"]) == ("SHY-04", "KZ-79")

        refused = await client.patch(
            "/api/v1/admin/branches/SHY-04", headers=admin, json={"active": False, "version": 1}
        )
        assert refused.status_code == 409
        off = await client.patch(
            f"/api/v1/admin/users/{manager.json()['id']}", headers=admin, json={"active": False, "version": 1}
        )
        assert off.status_code == 200, off.text
        closed = await client.patch(
            "/api/v1/admin/branches/SHY-04", headers=admin, json={"active": False, "version": 1}
        )
        assert closed.status_code == 200, closed.text

        refusal = await until(
            lambda: create_customer(client, admin, branch_code="SHY-04"),
            lambda r: r.status_code == 422,
            "sales never learned that SHY-04 closed",
        )
        assert refusal.json()["errors"] == [{"field": "branch_code", "message": "branch SHY-04 is closed"}]
        kept = await client.get(
            f"/api/v1/sales/customers/{customer['id']}", headers=await sign_in(client, "callcenter")
        )
        assert kept.status_code == 200
