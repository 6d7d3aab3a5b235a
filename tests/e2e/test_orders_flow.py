"""End to end: an order taken, fulfilled and billed through the gateway, with the whole suite
started as `make run` starts it (`crm up --seed`) on PostgreSQL databases for every service.

almaty.agent takes an order for a seeded customer (orders asks sales over gRPC, at the address
`crm up` gives it); the OSS demo key fulfils the items; the order completes and the installed
products appear; the billing demo key reads the completed order through the TM Forum facade and
reports an invoice and a payment; staff see the balance paid; a plain Kafka consumer sees the
order's completed event exactly once.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from crm_cli.testing import RunningSuite, api_key, descendants, processes_with_env, sign_in
from crm_gateway.seed import DEMO_ORDERS_BILLING_KEY, DEMO_OSS_KEY
from crm_shared.testing import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

ORDERS = "/api/v1/orders/orders"
TMF_ORDER = "/tmf-api/productOrderingManagement/v4/productOrder"
ORDER_TOPIC = "crm.orders.order.v1"


async def test_the_suite_routes_and_documents_the_orders_service(suite: RunningSuite):
    # the orders process was given the sales gRPC server `crm up` started (and it is one of the suite's)
    sales_target = f"127.0.0.1:{suite.port('sales', 'grpc')}"
    orders_processes = processes_with_env("CRM_ORDERS_SALES_GRPC_TARGET", sales_target)
    assert orders_processes and orders_processes <= descendants(suite.proc.pid)
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        health = (await client.get("/healthz")).json()
        assert health["status"] == "ok" and health["services"]["orders"] == "ok", health
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert {
        f"{ORDERS}",
        f"{ORDERS}/{{order_id}}/items/{{item_id}}/fulfilment",
        "/api/v1/orders/billing/invoices",
        TMF_ORDER,
        "/tmf-api/productCatalogManagement/v4/productOffering",
    } <= set(paths)


async def test_an_order_is_taken_fulfilled_and_billed_through_the_gateway(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        agent = await sign_in(client, "almaty.agent")
        seeded = await client.get("/api/v1/sales/customers", headers=agent, params={"limit": 1})
        assert seeded.status_code == 200, seeded.text
        customer = seeded.json()["items"][0]

        taken = await client.post(
            ORDERS,
            headers=agent | {"Idempotency-Key": "e2e-order-1"},
            json={
                "customer_id": customer["id"],
                "items": [
                    {"offering_id": "inet-gpon-100", "service_address": "Almaty, Dostyk 5"},
                    {"offering_id": "tv-base"},
                ],
            },
        )
        assert taken.status_code == 201, taken.text
        order = taken.json()
        assert order["state"] == "acknowledged" and order["customer_name"] == customer["display_name"]
        assert order["branch_code"] == customer["branch_code"] == "ALA-01"
        assert (order["one_off_total_tiyn"], order["recurring_total_tiyn"]) == (10000_00, 6990_00 + 2990_00)

        # another branch's agent cannot see it; staff cannot report fulfilment
        karaganda = await sign_in(client, "karaganda.agent")
        assert (await client.get(f"{ORDERS}/{order['id']}", headers=karaganda)).status_code == 404
        first_item = f"{ORDERS}/{order['id']}/items/{order['items'][0]['id']}/fulfilment"
        assert (await client.post(first_item, headers=agent, json={"state": "completed"})).status_code == 403

        oss = api_key(DEMO_OSS_KEY)
        for item in order["items"]:
            reported = await client.post(
                f"{ORDERS}/{order['id']}/items/{item['id']}/fulfilment", headers=oss, json={"state": "completed"}
            )
            assert reported.status_code == 200, reported.text
        completed = (await client.get(f"{ORDERS}/{order['id']}", headers=agent)).json()
        assert completed["state"] == "completed" and completed["completed_at"]

        products = (
            await client.get("/api/v1/orders/installed-products", headers=agent, params={"customer_id": customer["id"]})
        ).json()
        ours = sorted((p["offering_id"], p["status"]) for p in products if p["order_id"] == order["id"])
        assert ours == [("inet-gpon-100", "active"), ("tv-base", "active")]

        billing = api_key(DEMO_ORDERS_BILLING_KEY)
        tmf = await client.get(f"{TMF_ORDER}/{order['id']}", headers=billing)
        assert tmf.status_code == 200, tmf.text
        product_order = tmf.json()
        assert product_order["state"] == "completed" and product_order["@type"] == "ProductOrder"
        assert product_order["href"] == f"{TMF_ORDER}/{order['id']}"
        assert product_order["relatedParty"][0]["id"] == customer["id"]
        first_bill = sum(
            int(price["price"]["taxIncludedAmount"]["value"].replace(".", ""))
            for price in product_order["orderTotalPrice"]
        )
        assert first_bill == 10000_00 + 9980_00

        today = datetime.now(UTC).date()
        invoice_id, payment_id = f"INV-e2e-{order['id'][:8]}", f"PAY-e2e-{order['id'][:8]}"
        invoice = await client.post(
            "/api/v1/orders/billing/invoices",
            headers=billing,
            json={
                "invoice_id": invoice_id,
                "customer_id": customer["id"],
                "order_id": order["id"],
                "amount_tiyn": first_bill,
                "issued_on": today.isoformat(),
                "due_on": (today + timedelta(days=14)).isoformat(),
            },
        )
        assert invoice.status_code == 201, invoice.text
        balance_path = f"/api/v1/orders/billing/customers/{customer['id']}/balance"
        due = (await client.get(balance_path, headers=agent)).json()
        assert due["status"] == "due" and due["outstanding_tiyn"] == first_bill, due

        payment = await client.post(
            "/api/v1/orders/billing/payments",
            headers=billing,
            json={
                "payment_id": payment_id,
                "invoice_id": invoice_id,
                "amount_tiyn": first_bill,
                "paid_at": datetime.now(UTC).isoformat(),
            },
        )
        assert payment.status_code == 201, payment.text
        callcenter = await sign_in(client, "callcenter")
        paid = (await client.get(balance_path, headers=callcenter)).json()
        assert paid["status"] == "paid" and paid["paid_tiyn"] == first_bill and paid["outstanding_tiyn"] == 0
        # the billing key only reports; it never takes orders
        refused = await client.post(
            ORDERS, headers=billing, json={"customer_id": customer["id"], "items": [{"offering_id": "tv-base"}]}
        )
        assert refused.status_code == 403

    events = await completed_events(suite, order["id"])
    assert len(events) == 1, events
    assert events[0]["value"]["state"] == "completed" and events[0]["key"] == order["id"]
    assert events[0]["headers"]["ce_branch"] == "ALA-01"


async def test_won_opportunities_of_the_demo_pipeline_become_draft_orders(suite: RunningSuite):
    async with httpx.AsyncClient(base_url=suite.gateway_url, timeout=30) as client:
        admin = await sign_in(client, "admin")

        async def drafts():
            response = await client.get(ORDERS, headers=admin, params={"state": "draft", "limit": 200})
            return [o for o in response.json()["items"] if o["source"] == "opportunity"]

        found = await eventually(drafts, interval_s=0.5, message="draft orders from won opportunities")
    assert all(o["opportunity_id"] and o["items"] == [] for o in found)
    assert len({o["opportunity_id"] for o in found}) == len(found)  # one draft per opportunity


async def completed_events(suite: RunningSuite, order_id: str) -> list[dict]:
    """Every crm.orders.order.completed event of the order on the topic, read to its end."""
    consumer = AIOKafkaConsumer(
        ORDER_TOPIC,
        bootstrap_servers=f"127.0.0.1:{suite.broker_port}",
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[dict] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for msg in messages:
                    headers = {k: v.decode() for k, v in msg.headers}
                    if headers.get("ce_subject") == order_id and headers.get("ce_type") == "crm.orders.order.completed":
                        found.append({"headers": headers, "key": msg.key.decode(), "value": json.loads(msg.value)})
            if found and not batch:
                assignment = consumer.assignment()
                ends = await consumer.end_offsets(list(assignment))
                positions = {tp: await consumer.position(tp) for tp in assignment}
                if all(positions[tp] >= ends[tp] for tp in assignment):
                    return found
        raise AssertionError(f"no completed event for {order_id} read to the end of {ORDER_TOPIC}: {found}")
    finally:
        await consumer.stop()
