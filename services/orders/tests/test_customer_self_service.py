"""A customer principal (Role.CUSTOMER, the self-service portal) straight against orders: their own
orders, installed products and balance only; another customer's, by any route or any guessed id, is
a 404 (or an empty list), and taking or changing orders is refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

ORDERS = "/api/v1/orders/orders"
AGENT = auth_headers(PRINCIPALS["branch_agent"])
OSS = auth_headers(Principal("k-oss", "demo-oss", Role.SYSTEM, scopes=("orders:read", "orders:fulfil")))
BILLING = auth_headers(Principal("k-billing", "demo-billing", Role.SYSTEM, scopes=("orders:read", "orders:billing")))


def as_customer(customer_id: str) -> dict[str, str]:
    return auth_headers(Principal(f"customer:{customer_id}", "portal", Role.CUSTOMER, customer_id=customer_id))


async def fulfilled_order(client, customer_id: str) -> dict:
    taken = await client.post(
        ORDERS,
        json={"customer_id": customer_id, "items": [{"offering_id": "inet-gpon-100", "service_address": "Almaty"}]},
        headers=AGENT,
    )
    assert taken.status_code == 201, taken.text
    order = taken.json()
    done = await client.post(
        f"{ORDERS}/{order['id']}/items/{order['items'][0]['id']}/fulfilment", json={"state": "completed"}, headers=OSS
    )
    assert done.status_code == 200, done.text
    return order


async def test_a_customer_sees_only_their_own_orders_products_and_balance(client, customers):
    mine, theirs = customers["almaty"], customers["almaty2"]
    me = as_customer(mine)
    my_order, their_order = await fulfilled_order(client, mine), await fulfilled_order(client, theirs)
    invoice = await client.post(
        "/api/v1/orders/billing/invoices",
        json={
            "invoice_id": f"INV-self-{their_order['id'][:8]}",
            "customer_id": theirs,
            "order_id": their_order["id"],
            "amount_tiyn": 100_00,
            "issued_on": date.today().isoformat(),
            "due_on": (date.today() + timedelta(days=10)).isoformat(),
        },
        headers=BILLING,
    )
    assert invoice.status_code == 201, invoice.text

    listed = (await client.get(ORDERS, headers=me)).json()["items"]
    assert {o["customer_id"] for o in listed} == {mine} and my_order["id"] in {o["id"] for o in listed}
    assert (await client.get(ORDERS, headers=me, params={"customer_id": theirs})).json()["items"] == []
    products = (await client.get("/api/v1/orders/installed-products", headers=me, params={"customer_id": mine})).json()
    assert products and {p["customer_id"] for p in products} == {mine}
    theirs_products = await client.get(
        "/api/v1/orders/installed-products", headers=AGENT, params={"customer_id": theirs}
    )
    assert (
        await client.get("/api/v1/orders/installed-products", headers=me, params={"customer_id": theirs})
    ).json() == []
    own_balance = await client.get(f"/api/v1/orders/billing/customers/{mine}/balance", headers=me)
    assert own_balance.status_code == 200, own_balance.text

    for path in (
        f"{ORDERS}/{their_order['id']}",
        f"/api/v1/orders/installed-products/{theirs_products.json()[0]['id']}",
        f"/api/v1/orders/billing/customers/{theirs}/balance",
        "/api/v1/orders/billing/customers/00000000-0000-0000-0000-000000000000/balance",
        f"{ORDERS}/00000000-0000-0000-0000-000000000000",
    ):
        hidden = await client.get(path, headers=me)
        assert hidden.status_code == 404, (path, hidden.text)

    taken = await client.post(ORDERS, json={"customer_id": mine, "items": [{"offering_id": "tv-base"}]}, headers=me)
    assert taken.status_code == 403, taken.text
