"""End to end: the one search box (GET /api/v1/search) through the gateway, with the whole suite
started as `make run` starts it. A branch agent registers "Сейітқали Әлия" and opens a ticket and
an order for her; the call centre and the agent find her by her names in any script, by phone in
another notation and by e-mail, the ticket and the order by their numbers; the call centre sees
her IIN masked; a colleague in another branch finds none of it; `tickets?q=` filters."""

from __future__ import annotations

import zlib

import httpx
import pytest

from crm_cli.testing import RunningSuite, sign_in
from crm_shared.testing import Identities, eventually

MAX_PER_KIND = 50  # the most /api/v1/search answers of each type (its `limit`)

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def search(client, headers, q: str) -> list[dict]:
    # as many as a page may hold: the shared suite's other tests register people of the same surname
    response = await client.get("/api/v1/search", params={"q": q, "limit": MAX_PER_KIND}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["unavailable"] == []
    return response.json()["items"]


async def test_one_search_box_finds_customers_tickets_and_orders_within_visibility(suite: RunningSuite):
    ids = Identities(seed=zlib.crc32(b"e2e-search"))
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        callcenter = await sign_in(client, "callcenter")
        elsewhere = await sign_in(client, "karaganda.agent")
        body = ids.individual(first_name="Әлия", last_name="Сейітқали", email="aliya.seitkali@example.kz")
        created = await client.post("/api/v1/sales/customers", json=body, headers=agent)
        assert created.status_code == 201, created.text
        customer = created.json()

        async def opened_ticket():
            response = await client.post(
                "/api/v1/tickets/tickets",
                json={
                    "customer_id": customer["id"],
                    "name": "Нет интернета",
                    "description": "Red light",
                    "category": "internet",
                    "priority": "medium",
                },  # fmt: skip
                headers=callcenter,
            )
            return response.json() if response.status_code == 201 else None

        ticket = await eventually(opened_ticket, message="a ticket for the new customer")
        order = await client.post(
            "/api/v1/orders/orders",
            json={"customer_id": customer["id"], "items": [{"offering_id": "tv-max"}]},
            headers=agent,
        )
        assert order.status_code == 201, order.text
        order = order.json()

        national = body["phone"].removeprefix("+7")
        for q in ("Aliya Seitkali", "Сейткали", "Әлия", "seitkali aliya", f"8 ({national[:3]}) {national[3:]}",
                  "aliya.seitkali@example.kz"):  # fmt: skip
            for headers in (agent, callcenter):
                found = [item for item in await search(client, headers, q) if item["type"] == "customer"]
                assert customer["id"] in [item["id"] for item in found], q
        [seen_by_callcenter] = [
            item for item in await search(client, callcenter, body["iin"]) if item["id"] == customer["id"]
        ]
        assert body["iin"] not in seen_by_callcenter["subtitle"] and body["iin"][-4:] in seen_by_callcenter["subtitle"]

        by_number = await search(client, agent, ticket["id"][:8])
        assert {"type": "ticket", "id": ticket["id"]}.items() <= by_number[0].items(), by_number
        by_number = await search(client, agent, f"#{order['id'][:8]}")
        assert [(item["type"], item["id"]) for item in by_number] == [("order", order["id"])]

        assert await search(client, elsewhere, "Сейітқали Әлия") == []
        assert await search(client, elsewhere, order["id"][:8]) == []

        filtered = await client.get("/api/v1/tickets/tickets", params={"q": ticket["id"][:8]}, headers=agent)
        assert [t["id"] for t in filtered.json()["items"]] == [ticket["id"]]
        unknown = await client.get("/api/v1/tickets/tickets", params={"query": "x"}, headers=agent)
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "query"
        short = await client.get("/api/v1/search", params={"q": "-"}, headers=agent)
        assert short.status_code == 422 and short.json()["errors"][0]["field"] == "q"
