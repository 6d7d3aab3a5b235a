"""The TM Forum facades (TMF622 productOrder, TMF620 productOffering): every response, success
or problem, validated against the operation's response schema in the service's own OpenAPI
document; TMF630 conventions (id, href that resolves, @type, offset/limit with X-Total-Count and
X-Result-Count, fields); Idempotency-Key on create; bad input is a 4xx naming the TMF field."""

from __future__ import annotations

import httpx
import jsonschema
import pytest
from referencing import Registry, Resource

from crm_shared.auth import Principal, Role
from crm_shared.testing import PRINCIPALS, auth_headers

pytestmark = pytest.mark.integration

ORDERING = "/tmf-api/productOrderingManagement/v4"
CATALOG = "/tmf-api/productCatalogManagement/v4"
ORDERS = f"{ORDERING}/productOrder"
BILLING = Principal("k-billing", "demo-billing", Role.SYSTEM, scopes=("orders:read", "orders:billing"))
OSS = Principal("k-oss", "demo-oss", Role.SYSTEM, scopes=("orders:read", "orders:fulfil"))


class OpenApiResponses:
    """Checks a real response against what the OpenAPI document says that operation answers
    with that status (its media type and its schema)."""

    def __init__(self, document: dict) -> None:
        self.document = document
        self.registry = Registry().with_resource("urn:openapi", Resource.opaque(document))

    def check(self, response: httpx.Response, path: str, method: str | None = None) -> dict | list:
        method = (method or response.request.method).lower()
        documented = self.document["paths"][path][method]["responses"]
        assert str(response.status_code) in documented, (
            f"{method.upper()} {path} answered {response.status_code}, documented: {sorted(documented)}"
        )
        content = documented[str(response.status_code)]["content"]
        media_type = response.headers["content-type"].split(";")[0]
        assert media_type in content, f"{media_type} is not documented for {response.status_code}: {list(content)}"
        schema = content[media_type]["schema"]
        body = response.json()
        validator = jsonschema.Draft202012Validator(_rebased(schema), registry=self.registry)
        validator.validate(body)
        return body


def _rebased(node):
    """The schema with its local $refs (#/components/...) pointing into the registered document."""
    if isinstance(node, dict):
        return {
            k: (f"urn:openapi{v}" if k == "$ref" and isinstance(v, str) and v.startswith("#") else _rebased(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rebased(item) for item in node]
    return node


@pytest.fixture(scope="module")
def openapi(orders_app) -> OpenApiResponses:
    return OpenApiResponses(orders_app.openapi())


def as_(who) -> dict[str, str]:
    return auth_headers(PRINCIPALS[who] if isinstance(who, str) else who)


def order_body(customer_id: str, *offerings: str, **extra) -> dict:
    return {
        "@type": "ProductOrder",
        "relatedParty": [{"id": customer_id, "role": "Customer", "@referredType": "Customer"}],
        "productOrderItem": [
            {
                "id": str(n + 1),
                "action": "add",
                "quantity": 1,
                "@type": "ProductOrderItem",
                "productOffering": {"id": offering},
            }
            for n, offering in enumerate(offerings)
        ],
        **extra,
    }


def assert_tmf_resource(resource: dict, collection: str, type_: str) -> None:
    assert resource["@type"] == type_ and resource["href"] == f"{collection}/{resource['id']}"


async def test_create_get_list_and_patch_a_product_order(client, customers, openapi):
    created = await client.post(
        ORDERS,
        json=order_body(customers["almaty"], "inet-gpon-300", "tv-max"),
        headers=as_("branch_agent") | {"Idempotency-Key": "tmf-create-1"},
    )
    assert created.status_code == 201, created.text
    order = openapi.check(created, f"{ORDERING}/productOrder")
    assert_tmf_resource(order, ORDERS, "ProductOrder")
    assert created.headers["location"] == order["href"]
    assert order["state"] == "acknowledged" and order["relatedParty"][0]["id"] == customers["almaty"]
    assert [i["productOffering"]["id"] for i in order["productOrderItem"]] == ["inet-gpon-300", "tv-max"]
    assert all(i["@type"] == "ProductOrderItem" and i["state"] == "acknowledged" for i in order["productOrderItem"])
    totals = {p["priceType"]: p["price"]["taxIncludedAmount"] for p in order["orderTotalPrice"]}
    assert totals == {
        "oneTime": {"unit": "KZT", "value": "10000.00"},
        "recurring": {"unit": "KZT", "value": "14980.00"},
    }

    # a retried create (same key, same body) is the first answer again, not a second order
    retried = await client.post(
        ORDERS,
        json=order_body(customers["almaty"], "inet-gpon-300", "tv-max"),
        headers=as_("branch_agent") | {"Idempotency-Key": "tmf-create-1"},
    )
    assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true"
    assert openapi.check(retried, f"{ORDERING}/productOrder", "post") == order
    assert retried.headers["location"] == order["href"]
    reused = await client.post(
        ORDERS,
        json=order_body(customers["almaty"], "tv-base"),
        headers=as_("branch_agent") | {"Idempotency-Key": "tmf-create-1"},
    )
    assert reused.status_code == 422
    assert openapi.check(reused, f"{ORDERING}/productOrder")["errors"][0]["field"] == "Idempotency-Key"
    listed = await client.get(ORDERS, params={"relatedParty.id": customers["almaty"]}, headers=as_("admin"))
    assert [o["id"] for o in listed.json()].count(order["id"]) == 1

    # the href resolves, for the billing system too
    got = await client.get(order["href"], headers=as_(BILLING))
    assert openapi.check(got, f"{ORDERING}/productOrder/{{order_id}}") == order

    # list: filters, fields (id, href, @type always), offset/limit with the TMF630 count headers
    second = openapi.check(
        await client.post(ORDERS, json=order_body(customers["almaty"], "mob-start"), headers=as_("branch_agent")),
        f"{ORDERING}/productOrder",
        "post",
    )
    page = await client.get(
        ORDERS,
        headers=as_("branch_agent"),
        params={
            "relatedParty.id": customers["almaty"],
            "state": "acknowledged",
            "fields": "state,relatedParty",
            "limit": 1,
        },
    )
    first_page = openapi.check(page, f"{ORDERING}/productOrder")
    total = int(page.headers["x-total-count"])
    assert total >= 2 and page.headers["x-result-count"] == "1" and len(first_page) == 1
    assert set(first_page[0]) == {"id", "href", "@type", "@baseType", "@schemaLocation", "state", "relatedParty"}
    rest = await client.get(
        ORDERS,
        headers=as_("branch_agent"),
        params={"relatedParty.id": customers["almaty"], "state": "acknowledged", "offset": 1, "limit": 200},
    )
    ids = [o["id"] for o in first_page + openapi.check(rest, f"{ORDERING}/productOrder")]
    assert len(ids) == total == len(set(ids)) and {order["id"], second["id"]} <= set(ids)

    # PATCH state: hold, then cancel with a reason; an illegal move is a 409 listing the allowed ones
    held = await client.patch(order["href"], json={"state": "held"}, headers=as_("branch_agent"))
    assert openapi.check(held, f"{ORDERING}/productOrder/{{order_id}}")["state"] == "held"
    cancelled = await client.patch(
        order["href"],
        headers=as_("branch_agent"),
        json={"state": "cancelled", "cancellationReason": "customer changed their mind"},
    )
    body = openapi.check(cancelled, f"{ORDERING}/productOrder/{{order_id}}")
    assert body["state"] == "cancelled" and body["cancellationReason"] == "customer changed their mind"
    illegal = await client.patch(order["href"], json={"state": "inProgress"}, headers=as_("branch_agent"))
    assert illegal.status_code == 409 and illegal.headers["content-type"] == "application/problem+json"
    problem = openapi.check(illegal, f"{ORDERING}/productOrder/{{order_id}}")
    assert problem["current_state"] == "cancelled" and problem["allowed_transitions"] == []

    # fulfilment shows up in TMF terms: inProgress, then completed with the installed product
    rest_order = (await client.get(f"/api/v1/orders/orders/{second['id']}", headers=as_("admin"))).json()
    item_path = f"/api/v1/orders/orders/{second['id']}/items/{rest_order['items'][0]['id']}/fulfilment"
    await client.post(item_path, json={"state": "in_progress"}, headers=as_(OSS))
    in_progress = openapi.check(
        await client.get(second["href"], headers=as_(BILLING)), f"{ORDERING}/productOrder/{{order_id}}"
    )
    assert in_progress["state"] == "inProgress" and in_progress["productOrderItem"][0]["state"] == "inProgress"
    listed = await client.get(ORDERS, params={"state": "inProgress"}, headers=as_(BILLING))
    assert second["id"] in [o["id"] for o in openapi.check(listed, f"{ORDERING}/productOrder")]
    await client.post(item_path, json={"state": "completed"}, headers=as_(OSS))
    done = openapi.check(
        await client.get(second["href"], headers=as_(BILLING)), f"{ORDERING}/productOrder/{{order_id}}"
    )
    assert done["state"] == "completed" and done["completionDate"]
    assert done["productOrderItem"][0]["product"]["id"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"productOrderItem": [{"productOffering": {"id": "tv-base"}}]}, 422, "relatedParty"),
        (
            {
                "relatedParty": [{"id": "c", "role": "Owner"}],
                "productOrderItem": [{"productOffering": {"id": "tv-base"}}],
            },
            422,
            "relatedParty",
        ),
        ("unknown-offering", 404, "productOrderItem[0].productOffering.id"),
        ("retired-offering", 422, "productOrderItem[0].productOffering.id"),
        ("zero-quantity", 422, "productOrderItem[0].quantity"),
        ("huge-quantity", 422, "productOrderItem[0].quantity"),
        ("no-offering", 422, "productOrderItem[0].productOffering.id"),
        ("modify-unknown-product", 404, "productOrderItem[0].product.id"),
        ("hidden-customer", 404, "relatedParty.id"),
    ],
)
async def test_bad_product_orders_are_problems_naming_the_tmf_field(client, customers, openapi, body, status, field):
    almaty = customers["almaty2"]
    bodies = {
        "unknown-offering": order_body(almaty, "no-such-offering"),
        "retired-offering": order_body(almaty, "inet-adsl-8"),
        "zero-quantity": order_body(almaty, "tv-base")
        | {"productOrderItem": [{"action": "add", "quantity": 0, "productOffering": {"id": "tv-base"}}]},
        "huge-quantity": order_body(almaty, "tv-base")
        | {"productOrderItem": [{"action": "add", "quantity": 10**10, "productOffering": {"id": "tv-base"}}]},
        "no-offering": order_body(almaty) | {"productOrderItem": [{"action": "add"}]},
        "modify-unknown-product": order_body(almaty)
        | {
            "productOrderItem": [
                {
                    "action": "modify",
                    "product": {"id": "00000000-0000-0000-0000-000000000000"},
                    "productOffering": {"id": "tv-max"},
                }
            ]
        },
        "hidden-customer": order_body(customers["karaganda"], "tv-base"),
    }
    before = (await client.get(ORDERS, params={"relatedParty.id": almaty}, headers=as_("admin"))).headers[
        "x-total-count"
    ]
    response = await client.post(
        ORDERS, json=bodies[body] if isinstance(body, str) else body, headers=as_("branch_agent")
    )
    assert response.status_code == status, response.text
    problem = openapi.check(response, f"{ORDERING}/productOrder")
    assert field in {e["field"] for e in problem["errors"]}, problem
    after = (await client.get(ORDERS, params={"relatedParty.id": almaty}, headers=as_("admin"))).headers[
        "x-total-count"
    ]
    assert after == before


async def test_bad_queries_and_access_are_problems(client, customers, openapi):
    path = f"{ORDERING}/productOrder"
    unknown_field = await client.get(ORDERS, params={"fields": "state,secret"}, headers=as_("admin"))
    assert unknown_field.status_code == 400
    assert openapi.check(unknown_field, path)["errors"][0]["field"] == "fields"
    huge_offset = await client.get(ORDERS, params={"offset": 10**19}, headers=as_("admin"))
    assert huge_offset.status_code == 422 and openapi.check(huge_offset, path)["errors"][0]["field"] == "offset"
    bad_limit = await client.get(ORDERS, params={"limit": 0}, headers=as_("admin"))
    assert bad_limit.status_code == 422 and openapi.check(bad_limit, path)["errors"][0]["field"] == "limit"
    missing = await client.get(f"{ORDERS}/00000000-0000-0000-0000-000000000000", headers=as_("admin"))
    assert missing.status_code == 404 and openapi.check(missing, f"{path}/{{order_id}}")["status"] == 404
    analyst = await client.get(ORDERS, headers=as_("hq_analyst"))
    assert analyst.status_code == 403 and openapi.check(analyst, path)["title"] == "Forbidden"
    no_identity = await client.get(ORDERS)
    assert no_identity.status_code == 401 and openapi.check(no_identity, path)["status"] == 401
    billing_write = await client.post(ORDERS, json=order_body(customers["almaty"], "tv-base"), headers=as_(BILLING))
    assert billing_write.status_code == 403 and openapi.check(billing_write, path)["status"] == 403
    bad_state = await client.patch(
        f"{ORDERS}/00000000-0000-0000-0000-000000000000", json={"state": "completed"}, headers=as_("admin")
    )
    assert (
        bad_state.status_code == 422
        and openapi.check(bad_state, f"{path}/{{order_id}}")["errors"][0]["field"] == "state"
    )


async def test_product_offerings(client, openapi):
    path = f"{CATALOG}/productOffering"
    listed = await client.get(path, params={"limit": 200}, headers=as_("call_center_agent"))
    offerings = openapi.check(listed, path)
    assert int(listed.headers["x-total-count"]) == len(offerings) >= 16
    by_id = {o["id"]: o for o in offerings}
    for offering in offerings:
        assert_tmf_resource(offering, path, "ProductOffering")
    assert by_id["inet-adsl-8"]["lifecycleStatus"] == "Retired"
    duo = by_id["bundle-home-duo"]
    assert duo["isBundle"] is True and {b["id"] for b in duo["bundledProductOffering"]} == {"inet-gpon-100", "tv-base"}
    assert {p["id"] for p in by_id["inet-gpon-1000"]["place"]} == {"KZ-75", "KZ-71", "KZ-79"}
    prices = {
        p["priceType"]: p["price"]["taxIncludedAmount"]["value"] for p in by_id["tv-base"]["productOfferingPrice"]
    }
    assert prices == {"oneTime": "0.00", "recurring": "2990.00"}

    retired = await client.get(path, params={"lifecycleStatus": "Retired", "fields": "name"}, headers=as_(BILLING))
    assert [(o["id"], set(o)) for o in openapi.check(retired, path)] == [
        ("inet-adsl-8", {"id", "href", "@type", "@baseType", "@schemaLocation", "name"})
    ]
    got = await client.get(by_id["tv-max"]["href"], headers=as_(BILLING))
    assert openapi.check(got, f"{path}/{{offering_id}}") == by_id["tv-max"]
    missing = await client.get(f"{path}/no-such-offering", headers=as_(BILLING))
    assert missing.status_code == 404 and openapi.check(missing, f"{path}/{{offering_id}}")["status"] == 404
