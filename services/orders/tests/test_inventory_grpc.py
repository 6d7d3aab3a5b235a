"""crm.orders.v1.InventoryService served by the orders app in a real uvicorn subprocess (its
GrpcServerWorker), called from this process with the tokens of different roles; the installed
products come from orders taken and fulfilled through the REST API on the same database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_contracts.grpc.crm.orders.v1 import inventory_service_pb2 as pb
from crm_contracts.grpc.crm.orders.v1 import inventory_service_pb2_grpc as pb_grpc
from crm_contracts.grpc.crm.orders.v1 import personal_data_service_pb2 as export_pb
from crm_contracts.grpc.crm.orders.v1 import personal_data_service_pb2_grpc as export_pb_grpc
from crm_shared.auth import Principal, Role
from crm_shared.broker import free_port, wait_for_port
from crm_shared.grpc import field_violations, open_channel, principal_metadata
from crm_shared.pagination import encode_cursor
from crm_shared.testing import PRINCIPALS, TEST_INTERNAL_TOKEN_SECRET, auth_headers

pytestmark = pytest.mark.integration

ORDERS = "/api/v1/orders/orders"
OSS = Principal("k-oss", "demo-oss", Role.SYSTEM, scopes=("orders:read", "orders:fulfil"))
TICKETS = Principal("svc-tickets", "tickets", Role.SYSTEM, scopes=("orders:read",))


def meta(who):
    return principal_metadata(PRINCIPALS[who] if isinstance(who, str) else who, TEST_INTERNAL_TOKEN_SECRET)


@pytest.fixture(scope="module")
def orders_process(orders_database, sales_process, tmp_path_factory):
    """The orders service started the way `crm serve` starts it: uvicorn with the app factory."""
    http_port, grpc_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("orders-grpc") / "orders.log"
    env = os.environ | {
        "CRM_ORDERS_DATABASE_URL": orders_database,
        "CRM_ORDERS_INTERNAL_TOKEN_SECRET": TEST_INTERNAL_TOKEN_SECRET,
        "CRM_ORDERS_GRPC_PORT": str(grpc_port),
        "CRM_ORDERS_HTTP_PORT": str(http_port),
        "CRM_ORDERS_SALES_GRPC_TARGET": sales_process["grpc"],
        "CRM_ORDERS_RELAY_ENABLED": "false",
        "CRM_ORDERS_CONSUMERS_ENABLED": "false",
        "CRM_ORDERS_LOG_JSON": "false",
        "CRM_ORDERS_LOG_LEVEL": "WARNING",
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "crm_orders.main:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(http_port),
                "--log-level",
                "warning",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port("127.0.0.1", grpc_port, timeout_s=60, proc=process)
        yield f"127.0.0.1:{grpc_port}"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest_asyncio.fixture(scope="module")
async def channel(orders_process):
    opened = await open_channel(orders_process)
    yield opened
    await opened.close()


@pytest.fixture
def inventory(channel) -> pb_grpc.InventoryServiceStub:
    return pb_grpc.InventoryServiceStub(channel)


async def fulfilled(client, customer_id: str, items: list[dict], who="branch_agent") -> dict:
    taken = await client.post(
        ORDERS, json={"customer_id": customer_id, "items": items}, headers=auth_headers(PRINCIPALS[who])
    )
    assert taken.status_code == 201, taken.text
    order = taken.json()
    for item in order["items"]:
        response = await client.post(
            f"{ORDERS}/{order['id']}/items/{item['id']}/fulfilment",
            json={"state": "completed"},
            headers=auth_headers(OSS),
        )
        assert response.status_code == 200, response.text
        order = response.json()
    assert order["state"] == "completed"
    return order


@pytest_asyncio.fixture(scope="module")
async def products(client, customers) -> dict[str, list[str]]:
    """Almaty: fibre at an address, two mobile lines, a TV product then terminated. Karaganda: one line."""
    first = await fulfilled(
        client,
        customers["almaty"],
        [
            {"offering_id": "inet-gpon-300", "service_address": "Almaty, Abay 10"},
            {"offering_id": "mob-start", "quantity": 2},
            {"offering_id": "tv-base"},
        ],
    )
    tv = first["items"][2]["result_product_ids"][0]
    await fulfilled(client, customers["almaty"], [{"action": "delete", "installed_product_id": tv}])
    karaganda = await fulfilled(client, customers["karaganda"], [{"offering_id": "fix-home"}], who="admin")
    return {
        "almaty": [p for i in first["items"] for p in i["result_product_ids"]],
        "internet": first["items"][0]["result_product_ids"],
        "tv": [tv],
        "karaganda": karaganda["items"][0]["result_product_ids"],
    }


async def test_the_server_reports_serving(channel):
    health = health_pb2_grpc.HealthStub(channel)
    reply = await health.Check(health_pb2.HealthCheckRequest(service="crm.orders.v1.InventoryService"))
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


async def test_list_pages_through_a_customers_products_newest_first(inventory, customers, products):
    seen: list[pb.InstalledProduct] = []
    token = ""
    while True:
        reply = await inventory.ListInstalledProducts(
            pb.ListInstalledProductsRequest(customer_id=customers["almaty"], page_size=2, page_token=token),
            metadata=meta("branch_agent"),
        )
        assert len(reply.installed_products) <= 2
        seen.extend(reply.installed_products)
        token = reply.next_page_token
        if not token:
            break
    assert sorted(p.id for p in seen) == sorted(products["almaty"])  # terminated ones too, each once
    stamps = [p.activated_at.ToDatetime() for p in seen]
    assert stamps == sorted(stamps, reverse=True)
    by_id = {p.id: p for p in seen}
    internet = by_id[products["internet"][0]]
    assert internet.product_line == pb.PRODUCT_LINE_INTERNET and internet.status == pb.INSTALLED_PRODUCT_STATUS_ACTIVE
    assert internet.characteristics["download_speed_mbps"] == "300" and internet.service_address == "Almaty, Abay 10"
    assert (internet.branch_code, internet.region_code, internet.customer_id) == (
        "ALA-01",
        "KZ-75",
        customers["almaty"],
    )
    assert not internet.HasField("terminated_at")
    tv = by_id[products["tv"][0]]
    assert tv.status == pb.INSTALLED_PRODUCT_STATUS_TERMINATED and tv.HasField("terminated_at")
    assert sum(p.product_line == pb.PRODUCT_LINE_MOBILE for p in seen) == 2


async def test_visibility_follows_the_callers_scope(inventory, customers, products):
    hidden = await inventory.ListInstalledProducts(
        pb.ListInstalledProductsRequest(customer_id=customers["karaganda"]), metadata=meta("branch_agent")
    )
    assert list(hidden.installed_products) == [] and hidden.next_page_token == ""
    national = await inventory.ListInstalledProducts(
        pb.ListInstalledProductsRequest(customer_id=customers["karaganda"]), metadata=meta("call_center_agent")
    )
    assert [p.id for p in national.installed_products] == products["karaganda"]
    for who in ("call_center_agent", TICKETS, "admin"):
        got = await inventory.GetInstalledProduct(
            pb.GetInstalledProductRequest(id=products["karaganda"][0]), metadata=meta(who)
        )
        assert got.installed_product.product_line == pb.PRODUCT_LINE_FIXED_LINE
    with pytest.raises(grpc.aio.AioRpcError) as outside:
        await inventory.GetInstalledProduct(
            pb.GetInstalledProductRequest(id=products["karaganda"][0]), metadata=meta("branch_agent")
        )
    assert outside.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as absent:
        await inventory.GetInstalledProduct(
            pb.GetInstalledProductRequest(id="00000000-0000-0000-0000-000000000000"), metadata=meta("admin")
        )
    assert absent.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as analyst:
        await inventory.ListInstalledProducts(
            pb.ListInstalledProductsRequest(customer_id=customers["almaty"]), metadata=meta("hq_analyst")
        )
    assert analyst.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await inventory.ListInstalledProducts(pb.ListInstalledProductsRequest(customer_id=customers["almaty"]))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize(
    ("request_fields", "field"),
    [
        ({}, "customer_id"),
        ({"customer_id": "c", "page_size": 101}, "page_size"),
        ({"customer_id": "c", "page_size": -1}, "page_size"),
        ({"customer_id": "c", "page_token": "not-a-token"}, "page_token"),
        ({"customer_id": "c", "page_token": encode_cursor(["not-a-time", "x"])}, "page_token"),
    ],
)
async def test_malformed_requests_are_invalid_arguments_naming_the_field(inventory, request_fields, field):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await inventory.ListInstalledProducts(
            pb.ListInstalledProductsRequest(**request_fields), metadata=meta("branch_agent")
        )
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v["field"] for v in field_violations(error.value)] == [field]
    assert error.value.details().startswith(field)


async def test_get_without_an_id_is_an_invalid_argument(inventory):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await inventory.GetInstalledProduct(pb.GetInstalledProductRequest(), metadata=meta("admin"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v["field"] for v in field_violations(error.value)] == ["id"]


# --- crm.orders.v1.PersonalDataService ------------------------------------------------------------

BILLING = Principal("k-billing", "demo-billing", Role.SYSTEM, scopes=("orders:read", "orders:billing"))


async def test_the_export_holds_everything_of_one_customer_for_privacy_officers(client, channel, customers, products):
    almaty = customers["almaty"]
    orders = await client.get(ORDERS, params={"customer_id": almaty}, headers=auth_headers(PRINCIPALS["admin"]))
    first_order = orders.json()["items"][-1]["id"]
    invoice = await client.post(
        "/api/v1/orders/billing/invoices",
        json={
            "invoice_id": f"INV-{almaty[:8]}",
            "customer_id": almaty,
            "order_id": first_order,
            "amount_tiyn": 1_234_500,
            "issued_on": "2026-01-05",
            "due_on": "2026-01-20",
        },
        headers=auth_headers(BILLING),
    )
    assert invoice.status_code == 201, invoice.text
    payment = await client.post(
        "/api/v1/orders/billing/payments",
        json={
            "payment_id": f"PAY-{almaty[:8]}",
            "invoice_id": f"INV-{almaty[:8]}",
            "amount_tiyn": 1_234_500,
            "paid_at": "2026-01-10T08:00:00Z",
        },
        headers=auth_headers(BILLING),
    )
    assert payment.status_code == 201, payment.text

    stub = export_pb_grpc.PersonalDataServiceStub(channel)
    reply = await stub.ExportCustomerData(
        export_pb.ExportCustomerDataRequest(customer_id=almaty), metadata=meta("privacy_officer")
    )
    document = json.loads(reply.document_json)
    assert reply.customer_id == almaty and reply.generated_at.ToDatetime().year >= 2026
    assert [o["customer_id"] for o in document["orders"]] == [almaty, almaty]
    assert [i["offering_id"] for i in document["orders"][0]["items"]] == ["inet-gpon-300", "mob-start", "tv-base"]
    assert document["orders"][0]["history"][0]["action"] == "created"
    assert sorted(p["id"] for p in document["installed_products"]) == sorted(products["almaty"])  # terminated too
    assert document["invoices"] == [
        {
            "invoice_id": f"INV-{almaty[:8]}",
            "order_id": first_order,
            "amount_tiyn": 1_234_500,
            "paid_tiyn": 1_234_500,
            "issued_on": "2026-01-05",
            "due_on": "2026-01-20",
            "payments": [
                {"payment_id": f"PAY-{almaty[:8]}", "amount_tiyn": 1_234_500, "paid_at": "2026-01-10T08:00:00Z"}
            ],
        }
    ]
    assert document["balance"]["status"] == "paid" and isinstance(document["balance"]["paid_tiyn"], int)
    assert document["billing_account"]["branch_code"] == "ALA-01"
    assert dict(reply.record_counts) == {
        "orders": 2,
        "order_items": 4,
        "installed_products": len(products["almaty"]),
        "invoices": 1,
        "payments": 1,
    }
    assert customers["karaganda"] not in reply.document_json

    admin = await stub.ExportCustomerData(
        export_pb.ExportCustomerDataRequest(customer_id=customers["karaganda"]), metadata=meta("admin")
    )
    assert [p["id"] for p in json.loads(admin.document_json)["installed_products"]] == products["karaganda"]
    nothing = await stub.ExportCustomerData(
        export_pb.ExportCustomerDataRequest(customer_id="00000000-0000-0000-0000-000000000000"), metadata=meta("admin")
    )
    assert json.loads(nothing.document_json)["orders"] == [] and nothing.record_counts["orders"] == 0


@pytest.mark.parametrize("who", ["branch_agent", "regional_manager", "call_center_agent", "hq_analyst", TICKETS])
async def test_only_privacy_officers_and_admins_export(channel, customers, who):
    stub = export_pb_grpc.PersonalDataServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.ExportCustomerData(
            export_pb.ExportCustomerDataRequest(customer_id=customers["almaty"]), metadata=meta(who)
        )
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.ExportCustomerData(export_pb.ExportCustomerDataRequest(), metadata=meta("privacy_officer"))
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert [v["field"] for v in field_violations(missing.value)] == ["customer_id"]
