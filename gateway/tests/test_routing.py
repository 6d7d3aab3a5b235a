"""Routing to services: what is forwarded (and what is not), upstream failures, and the real
sales service started as its own process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn

from crm_gateway.seed import DEMO_API_KEY
from crm_shared.auth import INTERNAL_TOKEN_HEADER, Role, verify_internal_token
from crm_shared.broker import free_port, wait_for_port
from crm_shared.migrations import upgrade_async
from crm_shared.registry import backend_services, get_service
from crm_shared.settings import project_root

from .conftest import running_gateway

pytestmark = pytest.mark.integration
INTERNAL_SECRET = "routing-test-internal-secret-0123456789abcdef"
SALES_MIGRATIONS = project_root() / "services" / "sales" / "migrations"


# --- a minimal upstream that answers with what it received ---------------------------------


async def echo_upstream(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}  # as ASGI servers read them
    status = int(
        dict(pair.split("=", 1) for pair in scope["query_string"].decode().split("&") if "=" in pair).get(
            "status", "200"
        )
    )
    payload = json.dumps(
        {
            "method": scope["method"],
            "raw_path": scope["raw_path"].decode(),
            "query": scope["query_string"].decode(),
            "headers": headers,
            "body": body.decode(),
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"etag", b'"5"'),
                (b"location", b"/api/v1/sales/things/1"),
                (b"x-upstream", b"echo"),
                (b"x-request-id", b"upstream-made-this-up"),
                (b"x-note", "қазақ".encode()),
                (b"link", b'</api/v1/sales/things?page=2>; rel="next"'),
                (b"link", b'</api/v1/sales/things>; rel="first"'),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


@pytest_asyncio.fixture(scope="module")
async def echo_url():
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(echo_upstream, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


@pytest_asyncio.fixture(scope="module")
async def echo_gateway(gateway_database, echo_url):
    async with running_gateway(
        gateway_database, seed=True, sales_url=echo_url, internal_token_secret=INTERNAL_SECRET
    ) as gw:
        yield gw


async def test_the_caller_is_replaced_by_the_internal_identity(echo_gateway):
    gw = echo_gateway
    user = await gw.login("almaty.agent")
    response = await gw.client.get(
        "/api/v1/sales/customers",
        headers=user | {INTERNAL_TOKEN_HEADER: "forged-by-the-client", "Cookie": "session=abc", "X-API-Key": "crm_x_y"},
    )
    assert response.status_code == 200
    received = response.json()["headers"]
    assert "authorization" not in received and "cookie" not in received and "x-api-key" not in received
    principal = verify_internal_token(received[INTERNAL_TOKEN_HEADER], INTERNAL_SECRET)
    assert (principal.subject, principal.username, principal.role, principal.region, principal.branch) == (
        "user-almaty-agent",
        "almaty.agent",
        Role.BRANCH_AGENT,
        "KZ-75",
        "ALA-01",
    )

    as_key = await gw.client.get("/api/v1/sales/customers", headers={"Authorization": f"ApiKey {DEMO_API_KEY}"})
    key_principal = verify_internal_token(as_key.json()["headers"][INTERNAL_TOKEN_HEADER], INTERNAL_SECRET)
    assert (key_principal.subject, key_principal.role, key_principal.scopes) == (
        "apikey-demo-billing",
        Role.SYSTEM,
        ("sales:read",),
    )
    assert "authorization" not in as_key.json()["headers"]


async def test_method_path_query_body_and_request_headers_are_forwarded(echo_gateway):
    gw = echo_gateway
    user = await gw.login("almaty.manager")
    body = '{"first_name": "Әсел"}'.encode()
    response = await gw.client.patch(
        "/api/v1/sales/customers/a%2Fb%20c?phone=%2B77011234567&tag=x&tag=y",
        content=body,
        headers=user
        | {
            "Content-Type": "application/json; charset=utf-8",
            "If-Match": '"4"',
            "Idempotency-Key": "op-17",
            "Accept-Language": "kk",
            "X-Request-Id": "req-from-client",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        },
    )
    echoed = response.json()
    assert echoed["method"] == "PATCH"
    assert echoed["raw_path"] == "/api/v1/sales/customers/a%2Fb%20c"
    assert echoed["query"] == "phone=%2B77011234567&tag=x&tag=y"
    assert echoed["body"] == body.decode()
    received = echoed["headers"]
    assert received["content-type"] == "application/json; charset=utf-8"
    assert received["if-match"] == '"4"'
    assert received["idempotency-key"] == "op-17"
    assert received["accept-language"] == "kk"
    assert received["x-request-id"] == "req-from-client"
    # The trace continues: same trace id, the gateway's own span as parent.
    version, trace_id, parent_id, _ = received["traceparent"].split("-")
    assert trace_id == "0af7651916cd43dd8448eb211c80319c" and parent_id != "b7ad6b7169203331"
    assert response.headers["x-request-id"] == "req-from-client"


async def test_a_sampled_callers_trace_is_recorded_and_an_unsampled_one_still_travels_on(echo_gateway, span_exporter):
    gw = echo_gateway
    user = await gw.login("callcenter")
    span_exporter.clear()
    sampled_trace, unsampled_trace = "0af7651916cd43dd8448eb211c80319c", "1bf7651916cd43dd8448eb211c80319d"
    response = await gw.client.get(
        "/api/v1/sales/customers", headers=user | {"traceparent": f"00-{sampled_trace}-b7ad6b7169203331-01"}
    )
    _, trace_id, parent_id, flags = response.json()["headers"]["traceparent"].split("-")
    assert (trace_id, flags) == (sampled_trace, "01")
    spans = {format(span.context.span_id, "016x"): span for span in span_exporter.get_finished_spans()}
    client_span = spans[parent_id]  # the forward's span is the service's parent ...
    server_span = spans[format(client_span.parent.span_id, "016x")]  # ... and child of the request's
    assert server_span.name == "GET /api/v1/sales/{path:path}"
    assert format(server_span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert server_span.attributes["http.response.status_code"] == 200
    assert [span.kind.name for span in spans.values()].count("SERVER") == 1  # FastAPI's own span is off

    span_exporter.clear()
    response = await gw.client.get(
        "/api/v1/sales/customers", headers=user | {"traceparent": f"00-{unsampled_trace}-b7ad6b7169203331-00"}
    )
    _, trace_id, parent_id, flags = response.json()["headers"]["traceparent"].split("-")
    assert (trace_id, flags) == (unsampled_trace, "00") and parent_id != "b7ad6b7169203331"
    assert [
        span for span in span_exporter.get_finished_spans() if span.context.trace_id == int(unsampled_trace, 16)
    ] == []


async def test_a_request_id_is_made_when_absent_and_given_to_both_sides(echo_gateway):
    gw = echo_gateway
    response = await gw.client.get("/api/v1/sales/ping", headers=await gw.login("callcenter"))
    made = response.headers["x-request-id"]
    assert made and made != "upstream-made-this-up"
    assert response.json()["headers"]["x-request-id"] == made


async def test_header_values_of_any_bytes_reach_the_service_as_they_were_sent(echo_gateway):
    gw = echo_gateway
    (token,) = (await gw.login("almaty.agent")).values()
    sent = [
        (b"idempotency-key", "қазақ-1".encode()),  # UTF-8
        (b"if-match", b'"\xb2"'),  # latin-1 superscript two: not a version, and not UTF-8 either
        (b"if-none-match", b"\xff\xfe"),
        (b"accept-language", "қаз, ru;q=0.8".encode()),
    ]
    response = await gw.client.post(
        "/api/v1/sales/things",
        content=b"{}",
        headers=[(b"authorization", token.encode()), (b"content-type", b"application/json"), *sent],
    )
    assert response.status_code == 200, response.text
    received = response.json()["headers"]
    assert {name.decode(): received[name.decode()] for name, _ in sent} == {
        name.decode(): value.decode("latin-1") for name, value in sent
    }
    # and the service's answer comes back byte for byte, whatever its header values hold
    assert (b"x-note", "қазақ".encode()) in response.headers.raw


@pytest.mark.parametrize(
    "request_id", ["сұрау-1".encode(), b"caf\xe9", b"has space", b"x" * 201], ids=["utf8", "latin1", "space", "long"]
)
async def test_a_request_id_that_is_not_plain_ascii_is_a_400_naming_it(echo_gateway, request_id):
    gw = echo_gateway
    (token,) = (await gw.login("almaty.agent")).values()
    response = await gw.client.get(
        "/api/v1/sales/ping", headers=[(b"authorization", token.encode()), (b"x-request-id", request_id)]
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"] == [{"field": "x-request-id", "message": "not 1-200 visible ASCII characters"}]
    assert response.headers["x-request-id"].isascii()  # a fresh one, to quote when reporting it


async def test_the_upstream_answer_comes_back_unchanged(echo_gateway):
    gw = echo_gateway
    response = await gw.client.post(
        "/api/v1/sales/things?status=412", json={"a": 1}, headers=await gw.login("almaty.agent")
    )
    assert response.status_code == 412
    assert response.headers["etag"] == '"5"'
    assert response.headers["location"] == "/api/v1/sales/things/1"
    assert response.headers["x-upstream"] == "echo"
    assert response.headers.get_list("link") == [
        '</api/v1/sales/things?page=2>; rel="next"',
        '</api/v1/sales/things>; rel="first"',
    ]
    assert response.headers.get_list("x-request-id") == [response.headers["x-request-id"]]
    assert response.headers["x-request-id"] != "upstream-made-this-up"
    assert response.json()["body"] == '{"a":1}'


async def test_a_service_that_is_down_is_a_503_problem(gateway_database):
    async with running_gateway(gateway_database) as gw:  # sales_url: a port nobody listens on
        response = await gw.client.get("/api/v1/sales/customers", headers=await gw.login("admin"))
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["service"] == "sales"
        health = (await gw.client.get("/healthz")).json()
        assert health["status"] == "degraded" and health["services"]["sales"].startswith("down")


async def test_a_service_that_does_not_answer_is_a_504_problem(gateway_database):
    async def never_answer(reader, writer):
        await reader.read()  # until the gateway gives up and closes
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with running_gateway(
            gateway_database, sales_url=f"http://127.0.0.1:{port}", upstream_timeout_s=0.3
        ) as gw:
            response = await gw.client.get("/api/v1/sales/customers", headers=await gw.login("admin"))
            assert response.status_code == 504
            assert response.json()["title"] == "Gateway timeout"
    finally:
        server.close()
        await server.wait_closed()


async def test_unrouted_paths_are_not_forwarded(echo_gateway):
    gw = echo_gateway
    response = await gw.client.get("/api/v1/billing/invoices", headers=await gw.login("admin"))
    assert response.status_code == 404


# --- the real sales service --------------------------------------------------------------


@pytest.fixture(scope="module")
def sales_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("sales") / "sales.log"


@pytest_asyncio.fixture(scope="module")
async def sales_url(make_database, sales_log):
    database_url = await make_database("sales")
    await upgrade_async(SALES_MIGRATIONS, database_url)
    port = free_port()
    env = os.environ | {
        "CRM_SALES_DATABASE_URL": database_url,
        "CRM_SALES_RELAY_ENABLED": "false",
        "CRM_SALES_CONSUMERS_ENABLED": "false",
        "CRM_SALES_GRPC_PORT": str(free_port()),
        "CRM_SALES_INTERNAL_TOKEN_SECRET": INTERNAL_SECRET,
        "CRM_SALES_LOG_JSON": "false",
    }
    with open(sales_log, "wb") as log:
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
                str(port),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=project_root(),
        )
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_for_port, "127.0.0.1", port, 60.0, process)
        yield url
    except Exception:
        print(sales_log.read_text()[-4000:])
        raise
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest_asyncio.fixture(scope="module")
async def sales_gateway(gateway_database, sales_url):
    async with running_gateway(
        gateway_database, seed=True, sales_url=sales_url, internal_token_secret=INTERNAL_SECRET
    ) as gw:
        yield gw


@pytest.fixture(scope="module")
def identities():
    from crm_shared.testing import Identities

    return Identities(seed=int(time.time()))


async def test_customers_are_created_and_found_through_the_gateway_as_the_caller(sales_gateway, identities):
    gw = sales_gateway
    agent = await gw.login("almaty.agent")
    body = identities.individual(first_name="Dinara", last_name="Kassymova")
    created = await gw.client.post(
        "/api/v1/sales/customers", json=body, headers=agent | {"Idempotency-Key": "gw-create-1"}
    )
    assert created.status_code == 201, created.text
    customer = created.json()
    assert (customer["owner_id"], customer["branch_code"], customer["region_code"]) == (
        "user-almaty-agent",
        "ALA-01",
        "KZ-75",
    )
    assert created.headers["etag"] == f'"{customer["version"]}"'

    replayed = await gw.client.post(
        "/api/v1/sales/customers", json=body, headers=agent | {"Idempotency-Key": "gw-create-1"}
    )
    assert replayed.json()["id"] == customer["id"]

    phone = customer["primary_phone"]
    found = await gw.client.get("/api/v1/sales/customers", params={"phone": phone}, headers=agent)
    assert [c["id"] for c in found.json()["items"]] == [customer["id"]]

    # The service applies visibility to the identity the gateway forwarded.
    other_branch = await gw.client.get(
        "/api/v1/sales/customers", params={"phone": phone}, headers=await gw.login("karaganda.agent")
    )
    assert other_branch.status_code == 200 and other_branch.json()["items"] == []
    call_centre = await gw.client.get(
        "/api/v1/sales/customers", params={"phone": phone}, headers=await gw.login("callcenter")
    )
    assert [c["id"] for c in call_centre.json()["items"]] == [customer["id"]]

    refused = await gw.client.post(
        "/api/v1/sales/customers", json=identities.individual(), headers={"X-API-Key": DEMO_API_KEY}
    )
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "sales:write"  # refused by the gateway itself


async def test_the_billing_api_key_reads_customers_through_the_gateway(sales_gateway, identities):
    gw = sales_gateway
    agent = await gw.login("almaty.agent")
    customer = (await gw.client.post("/api/v1/sales/customers", json=identities.individual(), headers=agent)).json()
    by_key = await gw.client.get(
        "/api/v1/sales/customers", params={"phone": customer["primary_phone"]}, headers={"X-API-Key": DEMO_API_KEY}
    )
    assert by_key.status_code == 200, by_key.text
    assert [c["id"] for c in by_key.json()["items"]] == [customer["id"]]


async def test_service_problems_pass_through(sales_gateway, identities):
    gw = sales_gateway
    agent = await gw.login("almaty.agent")
    invalid = await gw.client.post("/api/v1/sales/customers", json=identities.individual(iin="123"), headers=agent)
    assert invalid.status_code == 422
    assert "iin" in [e["field"] for e in invalid.json()["errors"]]
    customer = (await gw.client.post("/api/v1/sales/customers", json=identities.individual(), headers=agent)).json()
    stale = await gw.client.patch(
        f"/api/v1/sales/customers/{customer['id']}",
        json={"first_name": "Ainur"},
        headers=agent | {"If-Match": f'"{customer["version"] + 5}"'},
    )
    assert stale.status_code == 412


async def test_health_reports_the_routed_services(sales_gateway):
    health = await sales_gateway.client.get("/healthz")
    assert health.status_code == 200
    body = health.json()
    assert body["checks"] == {"database": "ok"}
    assert set(body["services"]) == {spec.name for spec in backend_services()}
    assert body["services"]["sales"] == "ok"
    # Routed services this test does not start are reported down, and make the whole "degraded".
    assert body["status"] == ("ok" if all(s == "ok" for s in body["services"].values()) else "degraded")


async def test_one_openapi_document_describes_the_gateway_and_the_services(sales_gateway):
    document = (await sales_gateway.client.get("/openapi.json")).json()
    paths = document["paths"]
    assert "post" in paths["/api/v1/sales/customers"] and "get" in paths["/api/v1/sales/customers"]
    assert "/api/v1/auth/token" in paths and "/api/v1/admin/users" in paths
    # besides /api/v1/: sales' TM Forum facades (TMF629 / TMF632) at their public prefixes
    sales_prefixes = get_service("sales").public_prefixes
    assert not [p for p in paths if not p.startswith(("/api/v1/", *sales_prefixes))]
    assert "/tmf-api/partyManagement/v4/individual" in paths
    schemas = document["components"]["schemas"]
    assert "sales.CustomerOut" in schemas and "CustomerOut" not in schemas
    assert set(document["components"]["securitySchemes"]) == {"OAuth2Password", "BearerToken", "ApiKeyHeader"}
    assert "sales" not in document.get("x-unavailable-services", [])

    refs: list[str] = []

    def collect(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(document)
    assert refs
    for ref in refs:
        section, name = ref.removeprefix("#/components/").split("/", 1)
        assert name in document["components"][section], ref


async def test_only_the_opt_out_link_reaches_marketing_without_login_and_as_an_identity_that_may_do_nothing(
    gateway_database, echo_url
):
    async with running_gateway(gateway_database, marketing_url=echo_url, internal_token_secret=INTERNAL_SECRET) as gw:
        link = await gw.client.get("/api/v1/marketing/opt-out/some-delivery.some-mac")
        assert link.status_code == 200 and link.json()["raw_path"] == "/api/v1/marketing/opt-out/some-delivery.some-mac"
        principal = verify_internal_token(link.json()["headers"][INTERNAL_TOKEN_HEADER], INTERNAL_SECRET)
        assert (principal.role, principal.scopes) == (Role.SYSTEM, ())
        for method, path in (
            ("POST", "/api/v1/marketing/opt-out/some-delivery.some-mac"),
            ("GET", "/api/v1/marketing/campaigns"),
            ("GET", "/api/v1/marketing/opt-out/a/b"),
        ):
            assert (await gw.client.request(method, path)).status_code == 401, (method, path)
