"""The TM Forum facades as a TMF client meets them through the gateway: the requests the TM Forum
conformance test kits send for TMF621, TMF622, TMF620 and TMF637 (create with the mandatory
attributes, get by the href, list with fields / offset / limit and filters, patch), payloads as
the specifications and OSS systems write them (free strings in their own casing), and a TMF hub
listener on a real HTTP endpoint receiving the signed notification of a new trouble ticket."""

from __future__ import annotations

import asyncio
import time

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from crm_cli.testing import RunningSuite, api_key, sign_in
from crm_gateway.seed import DEMO_ORDERS_BILLING_KEY, DEMO_TICKETS_OSS_KEY
from crm_shared.testing import eventually
from crm_webhooks.domain.deliveries import SIGNATURE_HEADER, verify

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TICKETS = "/tmf-api/troubleTicket/v4/troubleTicket"
HUB = "/tmf-api/troubleTicket/v4/hub"
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
OFFERINGS = "/tmf-api/productCatalogManagement/v4/productOffering"
PRODUCTS = "/tmf-api/productInventory/v4/product"
AIGERIM_PHONE = "+77011234567"  # a seeded customer in ALA-01 (crm_sales.seed)
ALWAYS = {"id", "href", "@type", "@baseType", "@schemaLocation"}


def assert_page(response: httpx.Response) -> list[dict]:
    assert response.status_code in (200, 206), response.text
    total, shown = int(response.headers["X-Total-Count"]), int(response.headers["X-Result-Count"])
    assert shown == len(response.json()) and total >= shown
    assert (response.status_code == 206) == (total > shown)
    return response.json()


async def customer_id(client) -> str:
    callcenter = await sign_in(client, "callcenter")
    found = await client.get("/api/v1/tickets/callers", params={"phone": AIGERIM_PHONE}, headers=callcenter)
    assert found.status_code == 200, found.text
    return found.json()["items"][0]["customer"]["id"]


async def test_tmf621_as_an_oss_sends_it(suite: RunningSuite):
    oss = api_key(DEMO_TICKETS_OSS_KEY)
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        customer = await customer_id(client)
        created = await client.post(
            TICKETS,
            headers=oss,
            json={
                "name": "LOS alarm on OLT port",
                "description": "Loss of signal on OLT-7 port 1/3 since 02:14",
                "severity": "Major",
                "priority": "High",
                "ticketType": "Incident",
                "channel": {"id": "noc", "name": "NOC"},
                "relatedParty": [{"id": customer, "role": "Customer", "@referredType": "Individual"}],
            },
        )
        assert created.status_code == 201, created.text
        ticket = created.json()
        assert (ticket["severity"], ticket["priority"], ticket["ticketType"]) == ("Major", "High", "Incident")
        # the href and the schema location resolve
        got = await client.get(ticket["href"], headers=oss)
        assert got.status_code == 200 and got.json()["id"] == ticket["id"]
        assert (await client.get(ticket["@schemaLocation"], headers=oss)).status_code == 200
        # list: fields, offset/limit, filters in any casing
        page = assert_page(
            await client.get(TICKETS, headers=oss, params={"fields": "status", "limit": 1, "severity": "major"})
        )
        assert set(page[0]) == ALWAYS | {"status"}
        found = assert_page(
            await client.get(TICKETS, headers=oss, params={"severity": "MAJOR", "ticketType": "incident", "limit": 100})
        )
        assert ticket["id"] in [t["id"] for t in found]
        # the spec's own example (no name; a ticketType this CRM has no word for)
        example = await client.post(
            TICKETS,
            headers=oss,
            json={
                "description": "Trouble Ticket example",
                "severity": "Urgent",
                "ticketType": "Bills, charges or payment",
                "relatedParty": [{"id": customer, "role": "customer", "@referredType": "Individual"}],
                "@baseType": "TroubleTicket",
                "@type": "TroubleTicket",
            },
        )
        assert example.status_code == 201, example.text
        patched = await client.patch(ticket["href"], headers=oss, json={"status": "inProgress"})
        assert patched.status_code == 200 and patched.json()["status"] == "inProgress"


async def test_tmf622_tmf620_tmf637_for_a_billing_system(suite: RunningSuite):
    billing = api_key(DEMO_ORDERS_BILLING_KEY)
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        customer = await customer_id(client)
        offerings = assert_page(
            await client.get(OFFERINGS, headers=billing, params={"lifecycleStatus": "active", "limit": 3})
        )
        assert all(o["lifecycleStatus"] == "Active" for o in offerings)
        assert (await client.get(offerings[0]["href"], headers=billing)).json()["id"] == offerings[0]["id"]
        orders = assert_page(await client.get(ORDERS, headers=billing, params={"relatedParty.id": customer}))
        for order in orders[:2]:
            assert (await client.get(order["href"], headers=billing)).status_code == 200
        products = assert_page(
            await client.get(PRODUCTS, headers=billing, params={"relatedParty.id": customer, "status": "Active"})
        )
        for product in products[:2]:
            assert product["@type"] == "Product" and product["relatedParty"][0]["id"] == customer
            assert (await client.get(product["href"], headers=billing)).json() == product
        missing_scope = await client.post(HUB, headers=billing, json={"callback": "http://127.0.0.1:9/x"})
        assert missing_scope.status_code == 403  # no webhooks:write on the billing key


async def test_a_hub_listener_receives_the_signed_notification(suite: RunningSuite):
    oss = api_key(DEMO_TICKETS_OSS_KEY)
    received: list[tuple[dict, bytes]] = []

    async def endpoint(request: Request) -> Response:
        received.append((dict(request.headers), await request.body()))
        return Response(status_code=201)

    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/oss", endpoint, methods=["POST"])]), port=0, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: asyncio.sleep(0, server.started), message="listener started")
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
            hub = await client.post(
                HUB,
                headers=oss,
                json={"callback": f"http://127.0.0.1:{port}/oss", "query": "eventType=TroubleTicketCreateEvent"},
            )
            assert hub.status_code == 201, hub.text
            secret = hub.json()["secret"]
            customer = await customer_id(client)
            created = await client.post(
                TICKETS,
                headers=oss,
                json={
                    "description": "Customer reports no dial tone",
                    "severity": "minor",
                    "ticketType": "fixed_line",
                    "relatedParty": [{"id": customer, "role": "customer"}],
                },
            )
            assert created.status_code == 201, created.text
            ticket_id = created.json()["id"]

            def notified():
                for headers, body in received:
                    if orjson.loads(body)["data"]["event"]["troubleTicket"]["id"] == ticket_id:
                        return headers, body
                return None

            headers, body = await eventually(lambda: asyncio.sleep(0, notified()), message="notification")
            assert verify(secret, headers[SIGNATURE_HEADER.lower()], body, int(time.time()), 300)
            notification = orjson.loads(body)
            assert notification["type"] == "TroubleTicketCreateEvent"
            href = notification["data"]["event"]["troubleTicket"]["href"]
            assert (await client.get(href, headers=oss)).json()["id"] == ticket_id
            assert (await client.delete(f"{HUB}/{hub.json()['id']}", headers=oss)).status_code == 204
            # the CRM's own webhooks at the bare collection path, for an administrator
            admin = await sign_in(client, "admin")
            hook = await client.post(
                "/api/v1/webhooks",
                headers=admin,
                json={"url": f"http://127.0.0.1:{port}/crm", "event_types": ["crm.tickets.ticket.created"]},
            )
            assert hook.status_code == 201, hook.text
            assert (await client.delete(f"/api/v1/webhooks/{hook.json()['id']}", headers=admin)).status_code == 204
    finally:
        server.should_exit = True
        await serving
