"""crm.sales.v1.CustomerService served by the sales app running in a real uvicorn subprocess
(with its GrpcServerWorker), called from this process with tokens of different roles."""

from __future__ import annotations

import os
import subprocess
import sys

import grpc
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2 as pb
from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2_grpc as pb_grpc
from crm_shared.auth import Principal, Role
from crm_shared.broker import free_port, wait_for_port
from crm_shared.db import Database
from crm_shared.grpc import field_violations, open_channel, principal_metadata
from crm_shared.models import AuditEntry
from crm_shared.testing import PRINCIPALS, TEST_INTERNAL_TOKEN_SECRET, auth_headers, eventually

pytestmark = pytest.mark.integration

BASE = "/api/v1/sales/customers"


def meta(role: str):
    return principal_metadata(PRINCIPALS[role], TEST_INTERNAL_TOKEN_SECRET)


@pytest.fixture(scope="module")
def sales_process(sales_database, tmp_path_factory):
    """The sales service started the way `crm serve` starts it: uvicorn with the app factory."""
    http_port, grpc_port = free_port(), free_port()
    log = tmp_path_factory.mktemp("sales-grpc") / "sales.log"
    env = os.environ | {
        "CRM_SALES_DATABASE_URL": sales_database,
        "CRM_SALES_INTERNAL_TOKEN_SECRET": TEST_INTERNAL_TOKEN_SECRET,
        "CRM_SALES_GRPC_PORT": str(grpc_port),
        "CRM_SALES_HTTP_PORT": str(http_port),
        "CRM_SALES_RELAY_ENABLED": "false",
        "CRM_SALES_CONSUMERS_ENABLED": "false",
        "CRM_SALES_LOG_JSON": "false",
        "CRM_SALES_LOG_LEVEL": "WARNING",
        "CRM_SALES_IDENTIFIER_LOOKUPS_PER_MINUTE": "2",
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "crm_sales.main:create_app",
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
        wait_for_port("127.0.0.1", http_port, timeout_s=60, proc=process)
        wait_for_port("127.0.0.1", grpc_port, timeout_s=60, proc=process)
        yield {"http": f"http://127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}", "log": log}
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest_asyncio.fixture(scope="module")
async def http(sales_process):
    async with httpx.AsyncClient(base_url=sales_process["http"], timeout=30) as client:

        async def ready():
            response = await client.get("/readyz")
            return response.status_code == 200 and response.json()["checks"].get("grpc-server") == "ok"

        await eventually(ready, message="sales /readyz with the gRPC server")
        yield client


@pytest_asyncio.fixture(scope="module")
async def customers(http, ids) -> dict[str, dict]:
    """An individual in ALA-01 and one in KAR-01, and a business in ALA-01, created over HTTP."""
    admin = auth_headers(PRINCIPALS["admin"])
    made = {}
    for name, body in {
        "almaty": ids.individual(first_name="Gulnara", last_name="Grpcova", phone="8 701 400 00 01"),
        "karaganda": ids.individual(first_name="Irina", last_name="Grpcova", branch_code="KAR-01"),
        "business": ids.business(legal_name="Grpc Trade House", branch_code="ALA-01"),
    }.items():
        body.setdefault("branch_code", "ALA-01")
        response = await http.post(BASE, json=body, headers=admin)
        assert response.status_code == 201, response.text
        made[name] = response.json()
    return made


@pytest_asyncio.fixture(scope="module")
async def stub(sales_process):
    channel = await open_channel(sales_process["grpc"])
    async with channel:
        yield pb_grpc.CustomerServiceStub(channel)


async def test_get_customer_applies_the_callers_masking(stub, customers):
    almaty = customers["almaty"]
    full = (await stub.GetCustomer(pb.GetCustomerRequest(id=almaty["id"]), metadata=meta("branch_agent"))).customer
    assert full.id == almaty["id"] and full.kind == pb.CUSTOMER_KIND_INDIVIDUAL
    assert full.iin_bin == almaty["iin"] and not full.iin_bin_masked
    assert full.display_name == "Grpcova Gulnara"
    assert (full.first_name, full.last_name) == ("Gulnara", "Grpcova")
    assert list(full.phones) == ["+77014000001"] and full.primary_phone == "+77014000001"
    assert (full.branch_code, full.region_code, full.owner_id) == ("ALA-01", "KZ-75", "t-admin")
    assert full.status == "active" and full.version == 1
    assert full.created_at.ToDatetime().year >= 2024

    masked = await stub.GetCustomer(pb.GetCustomerRequest(id=almaty["id"]), metadata=meta("call_center_agent"))
    assert masked.customer.iin_bin == "********" + almaty["iin"][-4:] and masked.customer.iin_bin_masked
    assert masked.customer.primary_phone == "+77014000001"


async def test_invisible_and_missing_customers_are_both_not_found(stub, customers):
    with pytest.raises(grpc.aio.AioRpcError) as invisible:
        await stub.GetCustomer(pb.GetCustomerRequest(id=customers["karaganda"]["id"]), metadata=meta("branch_agent"))
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.GetCustomer(
            pb.GetCustomerRequest(id="00000000-0000-0000-0000-000000000000"), metadata=meta("branch_agent")
        )
    assert invisible.value.code() == missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert customers["karaganda"]["iin"] not in invisible.value.details()
    regional = await stub.GetCustomer(
        pb.GetCustomerRequest(id=customers["almaty"]["id"]), metadata=meta("regional_manager")
    )
    assert regional.customer.id == customers["almaty"]["id"]


async def test_roles_without_personal_data_and_callers_without_identity_are_refused(stub, customers):
    with pytest.raises(grpc.aio.AioRpcError) as analyst:
        await stub.GetCustomer(pb.GetCustomerRequest(id=customers["almaty"]["id"]), metadata=meta("hq_analyst"))
    assert analyst.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as anonymous:
        await stub.GetCustomer(pb.GetCustomerRequest(id=customers["almaty"]["id"]))
    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_search_by_phone_in_any_notation_iin_and_name(stub, customers):
    almaty = customers["almaty"]
    for notation in ("8 701 400 00 01", "+7 (701) 4000001", "7014000001"):
        reply = await stub.SearchCustomers(
            pb.SearchCustomersRequest(phone=notation), metadata=meta("call_center_agent")
        )
        assert [c.id for c in reply.customers] == [almaty["id"]]
        assert reply.customers[0].iin_bin_masked
    by_iin = await stub.SearchCustomers(pb.SearchCustomersRequest(iin_bin=almaty["iin"]), metadata=meta("admin"))
    assert [c.id for c in by_iin.customers] == [almaty["id"]]
    by_bin = await stub.SearchCustomers(
        pb.SearchCustomersRequest(iin_bin=customers["business"]["bin"]), metadata=meta("admin")
    )
    assert [c.kind for c in by_bin.customers] == [pb.CUSTOMER_KIND_BUSINESS]

    # Name prefix, filtered by visibility: the branch agent does not get the Karaganda namesake.
    agent = await stub.SearchCustomers(pb.SearchCustomersRequest(name_prefix="grpcova"), metadata=meta("branch_agent"))
    assert [c.id for c in agent.customers] == [almaty["id"]]
    everyone, token = [], ""
    while True:
        page = await stub.SearchCustomers(
            pb.SearchCustomersRequest(name_prefix="GRPCOVA", page_size=1, page_token=token), metadata=meta("admin")
        )
        everyone += [c.display_name for c in page.customers]
        token = page.next_page_token
        if not token:
            break
    assert everyone == ["Grpcova Gulnara", "Grpcova Irina"]


async def test_search_by_text_finds_what_the_rest_search_finds(http, stub, ids):
    """SearchCustomers(text) is the REST list's q: any part of any name in any script and order,
    a phone in any notation, an IIN/BIN, an e-mail; within the caller's visibility."""
    admin = auth_headers(PRINCIPALS["admin"])
    body = ids.individual(first_name="Әлия", last_name="Сейітқали", phone="8 702 555 00 17") | {
        "email": "aliya.grpc@example.kz",
        "branch_code": "ALA-01",
    }
    created = await http.post(BASE, json=body, headers=admin)
    assert created.status_code == 201, created.text
    aliya = created.json()
    other_region = await http.post(
        BASE, json=ids.individual(first_name="Алия", last_name="Сейтқали", branch_code="KAR-01"), headers=admin
    )
    assert other_region.status_code == 201, other_region.text

    async def over_grpc(text: str, role: str = "branch_agent") -> list[str]:
        reply = await stub.SearchCustomers(pb.SearchCustomersRequest(text=text, page_size=50), metadata=meta(role))
        return [c.id for c in reply.customers]

    async def over_rest(text: str, role: str = "branch_agent") -> list[str]:
        response = await http.get(BASE, params={"q": text, "limit": 50}, headers=auth_headers(PRINCIPALS[role]))
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()["items"]]

    for text in (
        "Aliya",
        "Алия",
        "әлия",
        "Seitkali",
        "Сейткали Aliya",
        "ALIYA seitqali",
        "8 (702) 555-00-17",
        "+77025550017",
        "aliya.grpc@example.kz",
        body["iin"],
    ):
        found = await over_grpc(text)
        assert aliya["id"] in found, text
        assert other_region.json()["id"] not in found, text  # Karaganda: not the Almaty agent's
        assert found == await over_rest(text), text
    assert set(await over_grpc("Aliya Seitkali", "admin")) >= {aliya["id"], other_region.json()["id"]}
    # the deprecated name_prefix is searched the same way
    by_prefix = await stub.SearchCustomers(pb.SearchCustomersRequest(name_prefix="Сейіт"), metadata=meta("admin"))
    assert aliya["id"] in [c.id for c in by_prefix.customers]


async def test_a_customer_created_over_http_is_found_over_grpc_at_once(http, stub, ids):
    body = ids.individual(phone="8 705 400 00 99")
    created = await http.post(BASE, json=body, headers=auth_headers(PRINCIPALS["branch_agent"]))
    assert created.status_code == 201
    reply = await stub.SearchCustomers(pb.SearchCustomersRequest(phone="+77054000099"), metadata=meta("branch_agent"))
    assert [c.id for c in reply.customers] == [created.json()["id"]]


@pytest.mark.parametrize(
    "request_fields, field",
    [
        ({"phone": "+7 916 123 45 67"}, "query.phone"),
        ({"iin_bin": "900515412346"}, "query.iin_bin"),
        ({"name_prefix": "a"}, "query.name_prefix"),
        ({"text": "a"}, "query.text"),
        ({}, "query"),
        ({"phone": "87014000001", "page_size": 500}, "page_size"),
        ({"phone": "87014000001", "page_token": "garbage!"}, "page_token"),
    ],
)
async def test_bad_search_requests_name_the_field(stub, customers, request_fields, field):
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.SearchCustomers(pb.SearchCustomersRequest(**request_fields), metadata=meta("admin"))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(field)
    assert [v["field"] for v in field_violations(error.value)] == [field]


async def test_batch_get_reports_what_the_caller_cannot_see(stub, customers):
    ids_ = [
        customers["business"]["id"],
        customers["karaganda"]["id"],
        "nope",
        customers["almaty"]["id"],
        customers["business"]["id"],
    ]
    reply = await stub.BatchGetCustomers(pb.BatchGetCustomersRequest(ids=ids_), metadata=meta("branch_manager"))
    assert [c.id for c in reply.customers] == [customers["business"]["id"], customers["almaty"]["id"]]
    assert list(reply.not_found_ids) == [customers["karaganda"]["id"], "nope"]
    with pytest.raises(grpc.aio.AioRpcError) as too_many:
        await stub.BatchGetCustomers(
            pb.BatchGetCustomersRequest(ids=[str(i) for i in range(101)]), metadata=meta("admin")
        )
    assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_masked_look_ups_by_iin_are_audited_and_limited_as_over_rest(stub, customers, sales_database):
    """The budget (2 in this module) and the audit hold for gRPC callers too: the tickets and
    orders services ask as their user, a call-centre agent included."""
    caller = principal_metadata(Principal("t-cc-grpc", "cc.grpc", Role.CALL_CENTER_AGENT), TEST_INTERNAL_TOKEN_SECRET)
    almaty = customers["almaty"]
    for _ in range(2):
        reply = await stub.SearchCustomers(pb.SearchCustomersRequest(iin_bin=almaty["iin"]), metadata=caller)
        assert [c.id for c in reply.customers] == [almaty["id"]] and reply.customers[0].iin_bin_masked
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await stub.SearchCustomers(pb.SearchCustomersRequest(iin_bin=almaty["iin"]), metadata=caller)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    db = Database(sales_database)
    try:
        async with db.read_only() as session:
            audited = list(
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.actor_id == "t-cc-grpc").order_by(AuditEntry.id)
                )
            )
    finally:
        await db.dispose()
    assert [(e.entity_type, e.action, e.changes["via"][1]) for e in audited] == [
        ("identifier_lookup", "iin_lookup", "grpc"),
        ("customer_access", "iin_lookup", "grpc"),
    ] * 2 + [("identifier_lookup_refused", "iin_lookup", "grpc")]
    # Unmasked callers are neither audited nor limited.
    for _ in range(3):
        await stub.SearchCustomers(pb.SearchCustomersRequest(iin_bin=almaty["iin"]), metadata=meta("branch_agent"))


OPT_OUTS = Principal("marketing:opt-outs", "marketing", Role.SYSTEM, scopes=("sales:consent",))


async def test_a_withdrawal_of_marketing_consent_is_recorded_once_and_only_for_the_consent_scope(
    http, stub, ids, sales_database
):
    body = ids.individual(branch_code="ALA-01", marketing_consent=True)
    created = (await http.post(BASE, json=body, headers=auth_headers(PRINCIPALS["admin"]))).json()
    request = pb.WithdrawMarketingConsentRequest(customer_id=created["id"], channel="sms_stop")
    for role in ("admin", "branch_agent"):  # staff change consent over REST, never through this door
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.WithdrawMarketingConsent(request, metadata=meta(role))
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await stub.WithdrawMarketingConsent(
            pb.WithdrawMarketingConsentRequest(customer_id=created["id"], channel="fax"),
            metadata=principal_metadata(OPT_OUTS, TEST_INTERNAL_TOKEN_SECRET),
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "channel" in bad.value.details()

    as_marketing = principal_metadata(OPT_OUTS, TEST_INTERNAL_TOKEN_SECRET)
    first = await stub.WithdrawMarketingConsent(request, metadata=as_marketing)
    again = await stub.WithdrawMarketingConsent(request, metadata=as_marketing)
    assert (first.customer_id, first.changed, first.version) == (created["id"], True, created["version"] + 1)
    assert (again.changed, again.version) == (False, first.version)
    now = (await http.get(f"{BASE}/{created['id']}", headers=auth_headers(PRINCIPALS["admin"]))).json()
    assert now["marketing_consent"] is False and now["marketing_consent_at"] is None
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await stub.WithdrawMarketingConsent(
            pb.WithdrawMarketingConsentRequest(
                customer_id="00000000-0000-0000-0000-000000000000", channel="email_link"
            ),
            metadata=as_marketing,
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    db = Database(sales_database)
    try:
        async with db.reads() as session:
            audit = list(await session.scalars(select(AuditEntry).where(AuditEntry.entity_id == created["id"])))
    finally:
        await db.dispose()
    assert [entry.action for entry in audit].count("updated") == 1
