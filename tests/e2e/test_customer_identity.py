"""End to end: one customer across every service, through the gateway only, with the whole suite
started as `make run` starts it (`crm up --seed`) on PostgreSQL databases for every service.

A branch agent registers a customer twice. The duplicate gets an order (fulfilled by the orders
OSS key: an installed product; billed by the billing key: an invoice), a call and a ticket with a
note. The agent merges the duplicate into the survivor in sales: within seconds the survivor's
orders, installed products, tickets, calls and balance (what the customer 360 view shows) include
the duplicate's, and a new order for the duplicate is refused naming the survivor.

Then the privacy officer erases the person: sales anonymises at once and reports pending, orders
and tickets anonymise their copies and confirm, and the erasure becomes complete. The person is
gone from sales' search, from the call centre's caller lookup, and from orders' and tickets'
answers; the invoice stays on the books without a name; the erased event on the broker carries ids
only. Last, every service's outbox is replayed (`crm outbox replay`): nothing changes.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
from datetime import date, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from crm_cli.testing import RunningSuite, api_key, crm_command, sign_in
from crm_contracts.events import erasure_confirmation_topics
from crm_gateway.seed import DEMO_ORDERS_BILLING_KEY, DEMO_OSS_KEY
from crm_shared.db import Database
from crm_shared.envelope import CloudEvent
from crm_shared.models import OutboxEvent
from crm_shared.testing import Identities, eventually, group_caught_up, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SALES = "/api/v1/sales/customers"
ORDERS = "/api/v1/orders"
TICKETS = "/api/v1/tickets"
REASON = "Data subject request DSR-E2E-1: erase my personal data"


async def register(client, headers, body) -> dict:
    response = await client.post(SALES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def everything_of(client, headers, customer_id: str) -> dict:
    """What the customer 360 view of the console asks the services for."""

    async def get(path, **params):
        response = await client.get(path, params=params, headers=headers)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    return {
        "orders": (await get(f"{ORDERS}/orders", customer_id=customer_id))["items"],
        "products": await get(f"{ORDERS}/installed-products", customer_id=customer_id, include_terminated="true"),
        "balance": await get(f"{ORDERS}/billing/customers/{customer_id}/balance"),
        "tickets": (await get(f"{TICKETS}/tickets", customer_id=customer_id))["items"],
        "calls": (await get(f"{TICKETS}/interactions", customer_id=customer_id))["items"],
    }


def items(value) -> list:
    return value["items"] if isinstance(value, dict) else value


async def unsent(suite: RunningSuite) -> int:
    total = 0
    for service in ("sales", "orders", "tickets"):
        db = Database(suite.env[f"CRM_{service.upper()}_DATABASE_URL"])
        try:
            async with db.read_only() as session:
                total += await session.scalar(select(func.count()).where(OutboxEvent.sent_at.is_(None))) or 0
        finally:
            await db.dispose()
    return total


async def test_a_merge_follows_the_customer_everywhere_then_an_erasure_removes_the_person(suite: RunningSuite):
    ids = Identities(seed=random.randrange(1 << 30))
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        callcenter = await sign_in(client, "callcenter")
        privacy = await sign_in(client, "privacy.officer")
        oss, billing = api_key(DEMO_OSS_KEY), api_key(DEMO_ORDERS_BILLING_KEY)

        survivor = await register(
            client, agent, ids.individual(first_name="Madina", last_name="Zhumabayeva", email="madina@example.kz")
        )
        duplicate = await register(client, agent, ids.individual(first_name="Madina", last_name="Zhumabaeva"))

        # the duplicate's order, installed product and invoice; its call and ticket
        taken = await client.post(
            f"{ORDERS}/orders",
            headers=agent,
            json={
                "customer_id": duplicate["id"],
                "items": [{"offering_id": "inet-gpon-100", "service_address": "Almaty, Zheltoksan 40, flat 12"}],
            },
        )
        assert taken.status_code == 201, taken.text
        order = taken.json()
        done = await client.post(
            f"{ORDERS}/orders/{order['id']}/items/{order['items'][0]['id']}/fulfilment",
            headers=oss,
            json={"state": "completed"},
        )
        assert done.status_code == 200 and done.json()["state"] == "completed", done.text
        invoice = await client.post(
            f"{ORDERS}/billing/invoices",
            headers=billing,
            json={
                "invoice_id": f"INV-E2E-{ids.mobile()[-7:]}",
                "customer_id": duplicate["id"],
                "order_id": order["id"],
                "amount_tiyn": 2500_00,
                "issued_on": date.today().isoformat(),
                "due_on": (date.today() + timedelta(days=14)).isoformat(),
            },
        )
        assert invoice.status_code == 201, invoice.text
        call = await client.post(
            f"{TICKETS}/interactions",
            headers=callcenter,
            json={"customer_id": duplicate["id"], "summary": "Madina called about the fibre"},
        )
        assert call.status_code == 201, call.text
        opened = await client.post(
            f"{TICKETS}/tickets",
            headers=callcenter,
            json={
                "customer_id": duplicate["id"],
                "name": "No internet",
                "description": "Madina says the router at Zheltoksan 40 is dark",
                "category": "internet",
                "interaction_id": call.json()["id"],
                "note": "Madina's phone is the best way to reach her",
            },
        )
        assert opened.status_code == 201, opened.text
        ticket = opened.json()

        async def product_reached_tickets():  # the installed product travels to tickets as an event
            found = await client.get(
                f"{TICKETS}/callers", params={"phone": duplicate["primary_phone"]}, headers=callcenter
            )
            cards = found.json()["items"]
            return cards and cards[0]["installed_products"]

        await eventually(product_reached_tickets, message="the product in the tickets projection")
        before = await everything_of(client, agent, survivor["id"])
        assert before["orders"] == before["tickets"] == before["calls"] == [] and items(before["products"]) == []

        # --- the merge ------------------------------------------------------------------------
        merged = await client.post(
            f"{SALES}/{survivor['id']}/merge", headers=agent, json={"duplicate_id": duplicate["id"]}
        )
        assert merged.status_code == 200, merged.text

        async def moved():
            now = await everything_of(client, agent, survivor["id"])
            ready = (
                [o["id"] for o in now["orders"]] == [order["id"]]
                and len(items(now["products"])) == 1
                and [t["id"] for t in now["tickets"]] == [ticket["id"]]
                and [c["id"] for c in now["calls"]] == [call.json()["id"]]
                and now["balance"]["invoiced_tiyn"] == 2500_00
            )
            return now if ready else None

        after = await eventually(moved, timeout_s=60, interval_s=0.5, message="the duplicate's records at the survivor")
        assert after["orders"][0]["customer_name"] == merged.json()["display_name"]
        assert after["tickets"][0]["customer_name"] == merged.json()["display_name"]
        assert after["balance"]["status"] == "due" and after["balance"]["invoices"][0]["customer_id"] == survivor["id"]
        gone = await everything_of(client, agent, duplicate["id"])
        assert gone["orders"] == gone["tickets"] == gone["calls"] == [] and items(gone["products"]) == []
        # the call centre finds the survivor by either number, with the ticket and the product
        [card] = (
            await client.get(f"{TICKETS}/callers", params={"phone": duplicate["primary_phone"]}, headers=callcenter)
        ).json()["items"]
        assert card["customer"]["id"] == survivor["id"]
        assert [t["id"] for t in card["open_tickets"]] == [ticket["id"]] and len(card["installed_products"]) == 1
        # new records for the duplicate are refused, naming the survivor
        refused = await client.post(
            f"{ORDERS}/orders",
            headers=agent,
            json={"customer_id": duplicate["id"], "items": [{"offering_id": "tv-base"}]},
        )
        assert refused.status_code == 409 and refused.json()["merged_into_id"] == survivor["id"], refused.text

        # --- the erasure ----------------------------------------------------------------------
        url = f"{SALES}/{survivor['id']}/erasure"
        assert (await client.post(url, headers=agent, json={"reason": REASON})).status_code == 403
        no_reason = await client.post(url, headers=privacy, json={})
        assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
        asked = await client.post(url, headers=privacy, json={"reason": REASON})
        assert asked.status_code == 201, asked.text
        erasure = asked.json()
        assert erasure["status"] == "pending"
        assert set(erasure["services"]) == {"sales", *erasure_confirmation_topics()}  # every one that keeps copies
        assert erasure["customer_ids"] == [survivor["id"], duplicate["id"]]

        async def complete():
            report = (await client.get(url, headers=privacy)).json()
            return report if report["status"] == "complete" else None

        report = await eventually(complete, timeout_s=60, interval_s=0.5, message="every service confirmed")
        assert all(s["confirmed_at"] for s in report["services"].values()), report
        assert report["services"]["orders"]["records"]["orders"] == 1
        assert report["services"]["tickets"]["records"] == {"tickets": 1, "notes": 1, "interactions": 1}
        assert report["services"]["marketing"]["confirmed_at"]

        # the person is gone: sales search, the caller lookup, orders' and tickets' answers
        for query in (
            {"phone": survivor["primary_phone"]},
            {"phone": duplicate["primary_phone"]},
            {"iin": survivor["iin"]},
            {"q": "Zhumaba", "status": "any"},
        ):
            found = await client.get(SALES, params=query, headers=privacy)
            assert found.status_code == 200 and found.json()["items"] == [], (query, found.text)
        for phone in (survivor["primary_phone"], duplicate["primary_phone"]):
            lookup = await client.get(f"{TICKETS}/callers", params={"phone": phone}, headers=callcenter)
            assert lookup.json()["items"] == []
        record = (await client.get(f"{SALES}/{survivor['id']}", headers=privacy)).json()
        assert (record["status"], record["display_name"], record["iin"], record["phones"]) == (
            "erased",
            "Erased customer",
            None,
            [],
        )
        erased = await everything_of(client, agent, survivor["id"])
        assert erased["orders"][0]["customer_name"] == "Erased customer"
        assert erased["orders"][0]["items"][0]["service_address"] == ""
        assert erased["balance"]["invoiced_tiyn"] == 2500_00  # the books stay, without a name
        assert erased["tickets"][0]["customer_name"] == "Erased customer"
        assert erased["tickets"][0]["description"] == "[erased]"
        assert [c["summary"] for c in erased["calls"]] == ["[erased]"]
        full_ticket = (await client.get(f"{TICKETS}/tickets/{ticket['id']}", headers=agent)).json()
        assert [n["text"] for n in full_ticket["notes"]] == ["[erased]"]
        everything = repr(erased) + repr(full_ticket) + repr(record)
        for trace in ("Madina", "Zhumaba", "Zheltoksan", survivor["iin"], duplicate["iin"], survivor["primary_phone"]):
            assert trace not in everything, trace

    # the erased event on the broker names ids only
    def erased_event_read(records) -> bool:
        return any(
            dict(r.headers or ()).get("ce_type") == b"crm.sales.customer.erased" and r.key == survivor["id"].encode()
            for r in records
        )

    records = await read_topic(f"127.0.0.1:{suite.broker_port}", "crm.sales.customer.v1", erased_event_read)
    [event] = [
        CloudEvent.from_kafka(r.headers, r.value)
        for r in records
        if dict(r.headers or ()).get("ce_type") == b"crm.sales.customer.erased" and r.key == survivor["id"].encode()
    ]
    assert set(event.data) == {"customer_id", "erasure_id", "customer_ids", "requested_at"}

    # --- replay: every outbox sent again; consumers apply each event once, nothing changes ------
    for service in ("sales", "orders", "tickets"):
        replayed = await asyncio.to_thread(
            subprocess.run,
            [*crm_command(), "outbox", "replay", "--service", service, "--since", "1h"],
            env=suite.env | {"NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=os.getcwd(),
        )
        assert replayed.returncode == 0, replayed.stdout + replayed.stderr

    async def all_sent():
        return await unsent(suite) == 0

    await eventually(all_sent, timeout_s=120, interval_s=0.5, message="the relays sent the replayed events")
    bootstrap = f"127.0.0.1:{suite.broker_port}"
    for group, topic in (
        ("orders.orders.customer-identity", "crm.sales.customer.v1"),
        ("tickets.customer-identity", "crm.sales.customer.v1"),
        ("sales.erasure-confirmations", "crm.orders.erasure.v1"),
        ("sales.erasure-confirmations", "crm.tickets.erasure.v1"),
        ("marketing.customers", "crm.sales.customer.v1"),
        ("sales.erasure-confirmations", "crm.marketing.erasure.v1"),
    ):

        async def caught_up(group=group, topic=topic):
            return await group_caught_up(bootstrap, group, topic)

        await eventually(caught_up, timeout_s=120, interval_s=0.5, message=f"{group} read the replayed {topic}")
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        privacy = await sign_in(client, "privacy.officer")
        agent = await sign_in(client, "almaty.agent")
        assert (await client.get(url, headers=privacy)).json() == report
        again = await client.post(url, headers=privacy, json={"reason": "asked twice"})
        assert again.status_code == 200 and again.json() == report
        now = await everything_of(client, agent, survivor["id"])
        assert [o["version"] for o in now["orders"]] == [o["version"] for o in erased["orders"]]
        assert [t["version"] for t in now["tickets"]] == [t["version"] for t in erased["tickets"]]
        assert now["balance"] == erased["balance"] and now["calls"] == erased["calls"]
        assert (await client.get(f"{SALES}/{survivor['id']}", headers=privacy)).json() == record
