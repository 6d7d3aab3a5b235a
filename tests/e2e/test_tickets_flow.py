"""End to end: the call-centre flow and a mass incident through the gateway only, with the whole
suite started as `make run` starts it (`crm up --seed`) on PostgreSQL databases for every service.

The call centre finds a seeded caller by a phone typed another way, sees the open tickets the demo
seed opened for them and the installed product that an order (taken by almaty.agent, fulfilled
by the orders OSS key) put into the tickets service's projection through the broker; it logs the
call, opens a ticket on that product, adds a note and ends the call. The tickets OSS demo key
reports an outage for a branch: the open tickets there are linked, a new ticket is told about
the outage, and resolving the incident resolves the linked tickets.
"""

from __future__ import annotations

import httpx
import pytest

from crm_cli.testing import RunningSuite, api_key, sign_in
from crm_gateway.seed import DEMO_OSS_KEY, DEMO_TICKETS_OSS_KEY
from crm_shared.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

T = "/api/v1/tickets"
TMF_TICKET = "/tmf-api/troubleTicket/v4/troubleTicket"
AIGERIM_PHONE_TYPED = "8 (701) 123-45-67"  # +77011234567, ALA-01 (crm_sales.seed)
DANIYAR_PHONE = "+7 705 111 22 33"  # +77051112233, ALA-02


async def caller_card(client, headers, phone: str) -> dict:
    found = await client.get(f"{T}/callers", params={"phone": phone}, headers=headers)
    assert found.status_code == 200, found.text
    [card] = found.json()["items"]
    return card


async def test_the_suite_routes_and_documents_the_tickets_service(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        health = (await client.get("/healthz")).json()
        assert health["status"] == "ok" and health["services"]["tickets"] == "ok", health
        paths = (await client.get("/openapi.json")).json()["paths"]
        assert {f"{T}/tickets", f"{T}/callers", f"{T}/incidents", TMF_TICKET} <= set(paths)
        # the TMF facade answers at its standard path through the gateway
        oss = api_key(DEMO_TICKETS_OSS_KEY)
        listed = await client.get(TMF_TICKET, headers=oss)
        assert listed.status_code in (200, 206), listed.text  # 206: a page of more
        assert isinstance(listed.json(), list)
        # the demo outage is there, owned by the OSS key
        incidents = (await client.get(f"{T}/incidents", params={"status": "open"}, headers=oss)).json()["items"]
        assert "Fibre cut on Bukhar Zhyrau Blvd, Karaganda" in [i["title"] for i in incidents]


async def test_the_call_centre_flow(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        callcenter = await sign_in(client, "callcenter")
        agent = await sign_in(client, "almaty.agent")

        # the demo tickets are opened by the running service once sales answers
        async def seeded_tickets():
            card = await caller_card(client, callcenter, AIGERIM_PHONE_TYPED)
            return card if card["open_tickets"] else None

        card = await eventually(seeded_tickets, message="the demo tickets of the seeded caller")
        customer = card["customer"]
        assert customer["display_name"].startswith("Seitkali") and customer["iin_bin_masked"]
        assert "900515412345" not in str(card)
        assert [t["name"] for t in card["open_tickets"]] == ["Internet drops every evening"]

        # an order installs a product; it reaches the tickets service as an event
        order = await client.post(
            "/api/v1/orders/orders",
            headers=agent | {"Idempotency-Key": "e2e-tickets-1"},
            json={
                "customer_id": customer["id"],
                "items": [{"offering_id": "inet-gpon-300", "service_address": "Almaty, Abay Ave 150"}],
            },
        )
        assert order.status_code == 201, order.text
        order = order.json()
        fulfilled = await client.post(
            f"/api/v1/orders/orders/{order['id']}/items/{order['items'][0]['id']}/fulfilment",
            headers=api_key(DEMO_OSS_KEY),
            json={"state": "completed"},
        )
        assert fulfilled.status_code == 200, fulfilled.text

        async def product_seen():
            products = (await caller_card(client, callcenter, AIGERIM_PHONE_TYPED))["installed_products"]
            return [p for p in products if p["offering_id"] == "inet-gpon-300"]

        [product] = await eventually(product_seen, message="the installed product in the tickets projection")
        assert product["service_address"] == "Almaty, Abay Ave 150" and product["status"] == "active"

        call = await client.post(f"{T}/interactions", json={"customer_id": customer["id"]}, headers=callcenter)
        assert call.status_code == 201, call.text
        opened = await client.post(
            f"{T}/tickets",
            headers=callcenter | {"Idempotency-Key": "e2e-ticket-1"},
            json={
                "customer_id": customer["id"],
                "installed_product_id": product["id"],
                "name": "Speed far below 300",
                "description": "Speed test shows 40 Mbit/s over cable",
                "category": "internet",
                "priority": "medium",
                "interaction_id": call.json()["id"],
            },
        )
        assert opened.status_code == 201, opened.text
        ticket = opened.json()
        assert ticket["status"] == "new" and ticket["queue"].startswith("ALA-01.")
        assert ticket["location"] == "Almaty, Abay Ave 150" and ticket["sla"]["resolution_due_at"]
        note = await client.post(
            f"{T}/tickets/{ticket['id']}/notes",
            headers=callcenter,
            json={"text": "Customer asked for a call back after 18:00"},
        )
        assert note.status_code == 201, note.text
        ended = await client.post(
            f"{T}/interactions/{call.json()['id']}/end",
            headers=callcenter,
            json={"outcome": "ticket_opened", "ticket_id": ticket["id"]},
        )
        assert ended.status_code == 200 and ended.json()["ticket_id"] == ticket["id"], ended.text

        # the branch sees it in its queue with the note; another branch does not see it at all
        seen = (await client.get(f"{T}/tickets/{ticket['id']}", headers=agent)).json()
        assert [n["text"] for n in seen["notes"]] == ["Customer asked for a call back after 18:00"]
        queue = (await client.get(f"{T}/queues/{ticket['queue']}/tickets", headers=agent)).json()["items"]
        assert ticket["id"] in [t["id"] for t in queue]
        karaganda = await sign_in(client, "karaganda.agent")
        assert (await client.get(f"{T}/tickets/{ticket['id']}", headers=karaganda)).status_code == 404
        logged = (
            await client.get(f"{T}/interactions", params={"customer_id": customer["id"]}, headers=callcenter)
        ).json()["items"]
        assert [(i["outcome"], i["ticket_id"]) for i in logged] == [("ticket_opened", ticket["id"])]
        card = await caller_card(client, callcenter, AIGERIM_PHONE_TYPED)
        assert {t["id"] for t in card["open_tickets"]} >= {ticket["id"]}


async def test_a_mass_incident(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        callcenter = await sign_in(client, "callcenter")
        oss = api_key(DEMO_TICKETS_OSS_KEY)
        customer = (await caller_card(client, callcenter, DANIYAR_PHONE))["customer"]
        assert customer["branch_code"] == "ALA-02"
        body = {
            "customer_id": customer["id"],
            "name": "No internet",
            "description": "Router: no link",
            "category": "internet",
            "priority": "high",
        }
        before = (await client.post(f"{T}/tickets", json=body, headers=callcenter)).json()
        assert before["incident_id"] is None

        # an outage for the branch: the open tickets there are linked
        reported = await client.post(
            f"{T}/incidents",
            headers=oss,
            json={
                "title": "Aggregation switch down, ALA-02",
                "description": "Switch in the Medeu exchange lost power",
                "region_code": "KZ-75",
                "branch_code": "ALA-02",
                "categories": ["internet", "tv"],
                "severity": "critical",
                "external_reference": "NOC-e2e-1",
            },
        )
        assert reported.status_code == 201, reported.text
        incident = reported.json()
        assert incident["linked_tickets"] >= 1
        linked = (await client.get(f"{T}/tickets/{before['id']}", headers=callcenter)).json()
        assert linked["incident_id"] == incident["id"]

        # a new caller from that branch is told about the outage
        after = await client.post(f"{T}/tickets", json=body | {"name": "Internet down again"}, headers=callcenter)
        assert after.status_code == 201, after.text
        assert after.json()["incident_id"] == incident["id"]
        assert "known outage" in after.json()["known_outage"]["message"]
        card = await caller_card(client, callcenter, DANIYAR_PHONE)
        assert incident["id"] in [o["incident_id"] for o in card["known_outages"]]

        # staff cannot report outages; the OSS key does not see the call centre's tickets
        assert (
            await client.post(
                f"{T}/incidents", headers=callcenter, json={"title": "x", "description": "x", "region_code": "KZ-75"}
            )
        ).status_code == 403
        assert (await client.get(f"{T}/tickets/{before['id']}", headers=oss)).status_code == 404

        resolved = await client.post(
            f"{T}/incidents/{incident['id']}/resolve",
            headers=oss,
            json={"resolution": "Power restored, switch back in service"},
        )
        assert resolved.status_code == 200, resolved.text
        assert resolved.json()["status"] == "resolved" and resolved.json()["resolved_tickets"] >= 2
        for ticket_id in (before["id"], after.json()["id"]):
            state = (await client.get(f"{T}/tickets/{ticket_id}", headers=callcenter)).json()
            assert state["status"] == "resolved", state
        card = await caller_card(client, callcenter, DANIYAR_PHONE)
        assert incident["id"] not in [o["incident_id"] for o in card["known_outages"]]
