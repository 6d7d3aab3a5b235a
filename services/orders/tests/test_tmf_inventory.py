"""TMF637 Product Inventory (the installed products: list with relatedParty.id, status and
productOffering.id, get by id, fields, 206 for a partial page, @schemaLocation that resolves;
the visibility of the REST inventory) and the TMF622 / TMF620 enumerations in any casing."""

from __future__ import annotations

import pytest
import pytest_asyncio

from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

INVENTORY = "/tmf-api/productInventory/v4/product"
ORDERS = "/api/v1/orders/orders"
TMF_ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
CATALOG = "/tmf-api/productCatalogManagement/v4/productOffering"
OSS = Principal("k-oss", "demo-oss", Role.SYSTEM, scopes=("orders:read", "orders:fulfil"))
BILLING = Principal("k-billing", "demo-billing", Role.SYSTEM, scopes=("orders:read", "orders:billing"))


def as_(who) -> dict[str, str]:
    return auth_headers(PRINCIPALS[who] if isinstance(who, str) else who)


async def fulfilled(client, customer_id: str, items: list[dict], who="branch_agent") -> dict:
    taken = await client.post(ORDERS, json={"customer_id": customer_id, "items": items}, headers=as_(who))
    assert taken.status_code == 201, taken.text
    order = taken.json()
    for item in order["items"]:
        response = await client.post(
            f"{ORDERS}/{order['id']}/items/{item['id']}/fulfilment", json={"state": "completed"}, headers=as_(OSS)
        )
        assert response.status_code == 200, response.text
        order = response.json()
    return order


@pytest_asyncio.fixture(scope="module")
async def products(client, customers) -> dict[str, list[str]]:
    first = await fulfilled(
        client,
        customers["almaty"],
        [{"offering_id": "inet-gpon-300", "service_address": "Almaty, Abay 10"}, {"offering_id": "tv-base"}],
    )
    tv = first["items"][1]["result_product_ids"][0]
    await fulfilled(client, customers["almaty"], [{"action": "delete", "installed_product_id": tv}])
    karaganda = await fulfilled(client, customers["karaganda"], [{"offering_id": "fix-home"}], who="admin")
    return {
        "internet": first["items"][0]["result_product_ids"],
        "tv": [tv],
        "karaganda": karaganda["items"][0]["result_product_ids"],
    }


async def test_product_inventory_list_filters_and_get(client, customers, products):
    mine = await client.get(INVENTORY, params={"relatedParty.id": customers["almaty"]}, headers=as_(BILLING))
    assert mine.status_code == 200, mine.text
    by_id = {p["id"]: p for p in mine.json()}
    assert set(products["internet"] + products["tv"]) <= set(by_id)
    internet = by_id[products["internet"][0]]
    assert internet["@type"] == "Product" and internet["@baseType"] == "Product"
    assert internet["status"] == "active" and internet["productOffering"]["id"] == "inet-gpon-300"
    assert internet["relatedParty"][0] == {"id": customers["almaty"], "role": "Customer", "@referredType": "Customer"}
    assert internet["place"] == [{"role": "serviceAddress", "name": "Almaty, Abay 10"}]
    assert by_id[products["tv"][0]]["status"] == "terminated" and by_id[products["tv"][0]]["terminationDate"]

    # every href resolves: the product, its offering, its order, its schema
    for href in (
        internet["href"],
        internet["productOffering"]["href"],
        internet["productOrderItem"][0]["orderHref"],
        internet["@schemaLocation"],
    ):
        assert (await client.get(href, headers=as_(BILLING))).status_code == 200, href
    assert (await client.get(internet["href"], headers=as_(BILLING))).json() == internet

    # status in any casing, several at once; productOffering.id; fields
    terminated = await client.get(
        INVENTORY,
        params={"relatedParty.id": customers["almaty"], "status": "TERMINATED", "fields": "status"},
        headers=as_(BILLING),
    )
    assert [(p["id"], p["status"]) for p in terminated.json()] == [(products["tv"][0], "terminated")]
    assert set(terminated.json()[0]) == {"id", "href", "@type", "@baseType", "@schemaLocation", "status"}
    by_offering = await client.get(INVENTORY, params={"productOffering.id": "fix-home"}, headers=as_("admin"))
    assert products["karaganda"][0] in [p["id"] for p in by_offering.json()]

    page = await client.get(
        INVENTORY, params={"relatedParty.id": customers["almaty"], "limit": 1}, headers=as_(BILLING)
    )
    assert page.status_code == 206 and page.headers["X-Result-Count"] == "1"
    assert int(page.headers["X-Total-Count"]) == len([p for p in by_id if p in products["internet"] + products["tv"]])


@pytest.mark.parametrize(
    ("who", "sees_karaganda"),
    [("admin", True), ("branch_agent", False), (BILLING, True)],
)
async def test_product_inventory_visibility(client, products, who, sees_karaganda):
    got = await client.get(f"{INVENTORY}/{products['karaganda'][0]}", headers=as_(who))
    assert got.status_code == (200 if sees_karaganda else 404), got.text
    listed = await client.get(INVENTORY, params={"limit": 200}, headers=as_(who))
    assert (products["karaganda"][0] in [p["id"] for p in listed.json()]) is sees_karaganda


async def test_product_inventory_refusals(client, products):
    assert (await client.get(INVENTORY)).status_code == 401
    bad_field = await client.get(INVENTORY, params={"fields": "secret"}, headers=as_("admin"))
    assert bad_field.status_code == 400 and bad_field.json()["errors"][0]["field"] == "fields"
    missing = await client.get(f"{INVENTORY}/no-such-product", headers=as_("admin"))
    assert missing.status_code == 404


async def test_ordering_and_catalog_enumerations_in_any_casing(client, customers):
    created = await client.post(
        TMF_ORDERS,
        headers=as_("branch_agent"),
        json={
            "@type": "ProductOrder",
            "priority": "1",
            "category": "B2C product order",
            "relatedParty": [{"id": customers["almaty"], "role": "customer"}],
            "productOrderItem": [{"id": "1", "action": "Add", "productOffering": {"id": "tv-base"}}],
        },
    )
    assert created.status_code == 201, created.text
    order = created.json()
    listed = await client.get(
        TMF_ORDERS, params={"state": "Acknowledged", "relatedParty.id": customers["almaty"]}, headers=as_("admin")
    )
    assert order["id"] in [o["id"] for o in listed.json()]
    held = await client.patch(order["href"], json={"state": "HELD"}, headers=as_("branch_agent"))
    assert held.status_code == 200 and held.json()["state"] == "held"
    unknown = await client.post(
        TMF_ORDERS,
        headers=as_("branch_agent"),
        json={
            "relatedParty": [{"id": customers["almaty"], "role": "Customer"}],
            "productOrderItem": [{"action": "teleport", "productOffering": {"id": "tv-base"}}],
        },
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "productOrderItem[0].action"
    retired = await client.get(CATALOG, params={"lifecycleStatus": "RETIRED"}, headers=as_(BILLING))
    assert [o["id"] for o in retired.json()] == ["inet-adsl-8"]
    assert (await client.get(retired.json()[0]["@schemaLocation"], headers=as_(BILLING))).status_code == 200
