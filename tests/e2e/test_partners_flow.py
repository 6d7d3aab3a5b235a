"""End to end: the Almaty demo dealer registers a deal, the channel manager approves it (the
customer and a partner-channel lead appear in sales), a branch agent takes an order for that
customer, it completes and is paid, and the dealer's commission accrues and is confirmed; the
dealer sees its own customer, lead and order in sales and orders and nothing else (404), and so
does another partner's user about the dealer's records.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from crm_cli.testing import RunningSuite, api_key, sign_in
from crm_gateway.seed import DEMO_ORDERS_BILLING_KEY, DEMO_OSS_KEY
from crm_shared.testing import Identities, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

P = "/api/v1/partners"
DEALER = "partner-almaty-dealer"


async def test_a_partner_deal_becomes_a_customer_an_order_and_a_paid_commission(suite: RunningSuite):
    ids = Identities(seed=zlib.crc32(b"e2e-partners"))
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        dealer = await sign_in(client, "dealer.almaty")
        manager = await sign_in(client, "channel.manager")
        agent = await sign_in(client, "almaty.agent")
        admin = await sign_in(client, "admin")
        other_user = await client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={
                "username": "agent.karaganda.partner",
                "full_name": "Karaganda agent user",
                "password": "correct horse 1",
                "role": "partner",
                "partner_id": "partner-karaganda-agent",
            },
        )
        assert other_user.status_code == 201, other_user.text
        other = await sign_in(client, "agent.karaganda.partner", "correct horse 1")

        person = {
            "kind": "individual",
            "iin": ids.iin(),
            "first_name": "Asel",
            "last_name": "Nurova",
            "phone": ids.mobile(),
        }
        registered = await client.post(
            f"{P}/deals",
            headers=dealer,
            json={"customer": person, "offering_ids": ["inet-gpon-100"], "expected_value_tiyn": 10000_00},
        )
        assert registered.status_code == 201, registered.text
        deal = registered.json()
        assert deal["status"] == "submitted"
        conflict = await client.post(
            f"{P}/deals", headers=other, json={"customer": person, "offering_ids": ["tv-base"]}
        )
        assert conflict.status_code == 409 and conflict.json()["reason"] == "registered_by_another_partner"

        approved = await client.post(
            f"{P}/deals/{deal['id']}/decision", headers=manager, json={"decision": "approved", "reason": "ok"}
        )
        assert approved.status_code == 200, approved.text
        customer_id, lead_id = approved.json()["customer_id"], approved.json()["lead_id"]

        async def dealer_sees_its_customer():
            return (await client.get(f"/api/v1/sales/customers/{customer_id}", headers=dealer)).status_code == 200

        await eventually(dealer_sees_its_customer, message="sales learned the partner's customer")
        assert (await client.get(f"/api/v1/sales/leads/{lead_id}", headers=dealer)).status_code == 200
        assert (await client.get(f"/api/v1/sales/customers/{customer_id}", headers=other)).status_code == 404
        assert (await client.get(f"/api/v1/sales/leads/{lead_id}", headers=other)).status_code == 404
        seeded = (await client.get("/api/v1/sales/customers", headers=agent, params={"limit": 1})).json()["items"][0]
        assert (await client.get(f"/api/v1/sales/customers/{seeded['id']}", headers=dealer)).status_code == 404
        listed = (await client.get("/api/v1/sales/customers", headers=dealer)).json()["items"]
        assert [c["id"] for c in listed] == [customer_id]

        taken = await client.post(
            "/api/v1/orders/orders",
            headers=agent | {"Idempotency-Key": f"e2e-partner-{deal['id']}"},
            json={
                "customer_id": customer_id,
                "items": [{"offering_id": "inet-gpon-100", "service_address": "Almaty, Abay 10"}],
            },
        )
        assert taken.status_code == 201, taken.text
        order = taken.json()
        oss = api_key(DEMO_OSS_KEY)
        for item in order["items"]:
            done = await client.post(
                f"/api/v1/orders/orders/{order['id']}/items/{item['id']}/fulfilment",
                headers=oss,
                json={"state": "completed"},
            )
            assert done.status_code == 200, done.text

        async def dealer_sees_its_order():
            return (await client.get(f"/api/v1/orders/orders/{order['id']}", headers=dealer)).status_code == 200

        await eventually(dealer_sees_its_order, message="orders learned the partner's customer")
        assert (await client.get(f"/api/v1/orders/orders/{order['id']}", headers=other)).status_code == 404
        dealer_orders = (await client.get("/api/v1/orders/orders", headers=dealer)).json()["items"]
        assert {o["customer_id"] for o in dealer_orders} == {customer_id}
        assert (await client.get("/api/v1/tickets/tickets", headers=dealer)).json()["items"] == []

        # the dealer opens a ticket for its customer and sees that one; nobody else's, and for nobody else
        trouble = {"name": "No internet", "description": "Router red since installation", "category": "internet"}
        opened = await client.post(
            "/api/v1/tickets/tickets",
            headers=dealer | {"Idempotency-Key": f"e2e-partner-ticket-{deal['id']}"},
            json=trouble | {"customer_id": customer_id},
        )
        assert opened.status_code == 201, opened.text
        ticket = opened.json()
        assert (ticket["customer_id"], ticket["channel"]) == (customer_id, "self_service")
        listed = (await client.get("/api/v1/tickets/tickets", headers=dealer)).json()["items"]
        assert [t["id"] for t in listed] == [ticket["id"]]
        assert (await client.get(f"/api/v1/tickets/tickets/{ticket['id']}", headers=other)).status_code == 404
        assert (await client.get(f"/api/v1/tickets/tickets/{ticket['id']}", headers=agent)).status_code == 200
        for who, customer in ((dealer, seeded["id"]), (other, customer_id)):
            refused = await client.post(
                "/api/v1/tickets/tickets", headers=who, json=trouble | {"customer_id": customer}
            )
            assert refused.status_code == 404, refused.text
        assert (await client.get("/api/v1/tickets/tickets", headers=other)).json()["items"] == []

        async def accrued():
            page = (await client.get(f"{P}/partners/{DEALER}/commissions", headers=dealer)).json()["items"]
            return [line for line in page if line["order_id"] == order["id"]] or None

        lines = await eventually(accrued, message="the commission accrued from the completed order")
        assert [(line["kind"], line["amount_tiyn"], line["status"]) for line in lines] == [
            ("one_off", 500_000, "accrued")
        ]
        assert (await client.get(f"{P}/partners/{DEALER}/commissions", headers=other)).status_code == 404

        billing = api_key(DEMO_ORDERS_BILLING_KEY)
        today = datetime.now(UTC).date()
        invoice_id, payment_id = f"INV-p-{order['id'][:8]}", f"PAY-p-{order['id'][:8]}"
        invoice = await client.post(
            "/api/v1/orders/billing/invoices",
            headers=billing,
            json={
                "invoice_id": invoice_id,
                "customer_id": customer_id,
                "order_id": order["id"],
                "amount_tiyn": 10000_00,
                "issued_on": today.isoformat(),
                "due_on": (today + timedelta(days=14)).isoformat(),
            },
        )
        assert invoice.status_code == 201, invoice.text
        payment = await client.post(
            "/api/v1/orders/billing/payments",
            headers=billing,
            json={
                "payment_id": payment_id,
                "invoice_id": invoice_id,
                "amount_tiyn": 10000_00,
                "paid_at": datetime.now(UTC).isoformat(),
            },
        )
        assert payment.status_code == 201, payment.text

        async def confirmed():
            page = (await client.get(f"{P}/partners/{DEALER}/commissions", headers=dealer)).json()["items"]
            ours = sorted((x["kind"], x["amount_tiyn"], x["status"]) for x in page if x["order_id"] == order["id"])
            return ours if ("recurring", 50_000, "confirmed") in ours else None

        assert await eventually(confirmed, message="the payment confirmed the commission") == [
            ("one_off", 500_000, "confirmed"),
            ("recurring", 50_000, "confirmed"),  # 5 % of the 10 000 KZT paid
        ]
        period = f"{today.year:04d}-{today.month:02d}"
        statement = (await client.get(f"{P}/partners/{DEALER}/statements/{period}", headers=dealer)).json()
        assert statement["totals"]["total_tiyn"] == sum(line["amount_tiyn"] for line in statement["lines"])

        # the partners service's own records, for every kind of caller: 200, 403 (no business here)
        # or 404 (another partner's: not confirmed to exist)
        analyst = await sign_in(client, "analyst")
        records = (
            f"{P}/partners/{DEALER}",
            f"{P}/deals/{deal['id']}",
            f"{P}/partners/{DEALER}/commissions",
            f"{P}/partners/{DEALER}/statements/{period}",
        )
        expected = {"admin": 200, "channel manager": 200, "analyst": 200, "dealer": 200, "agent": 403, "other": 404}
        callers = {
            "admin": admin,
            "channel manager": manager,
            "analyst": analyst,
            "dealer": dealer,
            "agent": agent,
            "other": other,
        }
        seen = {
            who: [(await client.get(path, headers=h)).status_code for path in records] for who, h in callers.items()
        }
        assert seen == {who: [code] * len(records) for who, code in expected.items()}
        own_deals = (await client.get(f"{P}/deals", headers=other)).json()["items"]
        assert deal["id"] not in {d["id"] for d in own_deals}
