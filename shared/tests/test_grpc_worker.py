"""GrpcServerWorker in its own process, called from this one: health, caller authentication,
the principal reaching the servicer, errors as status codes, and trace context propagation.

Run as a script (``python test_grpc_worker.py serve PORT_FILE TRACE_FILE``) this file is the
server: a worker with a sales CustomerService that answers from the caller's principal.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from opentelemetry import trace

from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2 as sales_pb2
from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2_grpc as sales_grpc
from crm_shared.auth import Principal, Role
from crm_shared.errors import field_problem, not_found
from crm_shared.grpc import (
    GrpcServerWorker,
    current_principal,
    field_violations,
    open_channel,
    principal_metadata,
)
from crm_shared.settings import ServiceSettings
from crm_shared.telemetry import set_sample_ratio, setup_tracing
from crm_shared.testing import TEST_INTERNAL_TOKEN_SECRET

SECRET = TEST_INTERNAL_TOKEN_SECRET
SECRET_VARIABLE = "CRM_TEST_GRPC_SERVER_SECRET"
SERVICE = "crm.sales.v1.CustomerService"
AGENT = Principal(subject="u-42", username="aigerim", role=Role.BRANCH_AGENT, region="ALA", branch="ALA-01")
TRACE_ID_KEY = "x-test-trace-id"
PARENT_SPAN_KEY = "x-test-parent-span-id"


# --- the server process --------------------------------------------------------------------


class FixedCustomerServicer(sales_grpc.CustomerServiceServicer):
    """Answers with a customer built from the caller, and reports the trace it ran in."""

    async def GetCustomer(self, request, context):
        if request.id == "missing":
            raise not_found("customer", request.id)
        if request.id == "crash":
            raise ValueError("secret internal detail")
        principal = current_principal()
        span = trace.get_current_span().get_span_context()
        context.set_trailing_metadata(
            (
                (TRACE_ID_KEY, format(span.trace_id, "032x")),
                (PARENT_SPAN_KEY, format(span.span_id, "016x")),
            )
        )
        return sales_pb2.GetCustomerResponse(
            customer=sales_pb2.Customer(
                id=request.id,
                kind=sales_pb2.CUSTOMER_KIND_INDIVIDUAL,
                display_name=principal.username,
                owner_id=principal.subject,
                branch_code=principal.branch or "",
                region_code=principal.region or "",
                status=principal.role.value,
            )
        )

    async def SearchCustomers(self, request, context):
        raise field_problem("query.phone", "not a Kazakhstan phone number")

    # BatchGetCustomers stays the generated UNIMPLEMENTED stub.


async def serve(port_file: Path, trace_file: Path) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from crm_shared.telemetry import JsonLinesSpanExporter

    # Spans are written as each one ends, so the server span is on disk before the client
    # receives the reply.
    setup_tracing("grpc-test-server").add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(str(trace_file))))
    settings = ServiceSettings(
        service_name="grpc-test-server", grpc_port=0, internal_token_secret=os.environ[SECRET_VARIABLE]
    )
    worker = GrpcServerWorker(
        settings, lambda server: sales_grpc.add_CustomerServiceServicer_to_server(FixedCustomerServicer(), server)
    )
    await worker.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    written = port_file.with_suffix(".tmp")
    written.write_text(json.dumps({"port": worker.port, "services": worker.service_names, "ready": worker.ready}))
    written.rename(port_file)
    await stop.wait()
    await worker.stop()


# --- the tests -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("grpc-worker")
    port_file, trace_file = workdir / "port.json", workdir / "spans.jsonl"
    process = subprocess.Popen(
        [sys.executable, __file__, "serve", str(port_file), str(trace_file)],
        env={**os.environ, SECRET_VARIABLE: SECRET},  # the server process has a random secret of its own
    )
    try:
        while not port_file.exists():
            try:
                process.wait(0.05)
                pytest.fail(f"gRPC test server exited with {process.returncode} before listening")
            except subprocess.TimeoutExpired:
                pass
        info = json.loads(port_file.read_text())
        yield {"address": f"127.0.0.1:{info['port']}", "trace_file": trace_file, **info}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert process.returncode == 0, "the worker did not stop cleanly on SIGTERM"


@pytest.fixture(scope="module")
async def channel(server):
    channel = await open_channel(server["address"])
    yield channel
    await channel.close()


@pytest.fixture(scope="module")
def client_spans():
    """Spans this process finishes (the client side of the calls) while the module runs."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    setup_tracing("grpc-test-client").add_span_processor(SimpleSpanProcessor(exporter))
    set_sample_ratio(1.0)  # a service app of this test run may have installed its own ratio
    yield exporter
    exporter.shutdown()


def test_worker_reports_its_services(server):
    assert server["ready"] is True
    assert server["services"] == [SERVICE]


async def test_health_is_serving_without_a_token(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", SERVICE):
        reply = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await health.Check(health_pb2.HealthCheckRequest(service="crm.nope.v1.Nothing"))
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND


async def test_reflection_lists_the_services_without_a_token(channel):
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    requests = [reflection_pb2.ServerReflectionRequest(list_services="")]
    names = set()
    async for reply in reflection.ServerReflectionInfo(iter(requests)):
        names |= {s.name for s in reply.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health"} <= names


async def test_call_without_a_token_is_unauthenticated(channel):
    stub = sales_grpc.CustomerServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetCustomer(sales_pb2.GetCustomerRequest(id="c-1"))
    assert error.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "x-crm-principal" in error.value.details()


async def test_token_signed_with_another_secret_is_unauthenticated(channel):
    stub = sales_grpc.CustomerServiceStub(channel)
    forged = principal_metadata(AGENT, "not-the-suite-secret-" + "x" * 32)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetCustomer(sales_pb2.GetCustomerRequest(id="c-1"), metadata=forged)
    assert error.value.code() is grpc.StatusCode.UNAUTHENTICATED


async def test_the_principal_reaches_the_servicer(channel):
    stub = sales_grpc.CustomerServiceStub(channel)
    reply = await stub.GetCustomer(sales_pb2.GetCustomerRequest(id="c-1"), metadata=principal_metadata(AGENT, SECRET))
    customer = reply.customer
    assert customer.id == "c-1"
    assert (customer.owner_id, customer.display_name) == ("u-42", "aigerim")
    assert (customer.region_code, customer.branch_code, customer.status) == ("ALA", "ALA-01", "branch_agent")


async def test_trace_context_crosses_the_call(channel, server, client_spans):
    stub = sales_grpc.CustomerServiceStub(channel)
    with trace.get_tracer("test_grpc_worker").start_as_current_span("caller") as caller:
        call = stub.GetCustomer(sales_pb2.GetCustomerRequest(id="c-traced"), metadata=principal_metadata(AGENT, SECRET))
        await call
        trailing = dict(await call.trailing_metadata())
    client_trace_id = format(caller.get_span_context().trace_id, "032x")
    assert trailing[TRACE_ID_KEY] == client_trace_id

    spans = [json.loads(line) for line in server["trace_file"].read_text().splitlines() if line]
    server_spans = [s for s in spans if s["span_id"] == trailing[PARENT_SPAN_KEY]]
    assert len(server_spans) == 1
    server_span = server_spans[0]
    assert server_span["kind"] == "SERVER"
    assert server_span["name"] == f"/{SERVICE}/GetCustomer"
    assert server_span["trace_id"] == client_trace_id
    assert server_span["service"] == "grpc-test-server"
    # caller -> client span (this process) -> server span (the server process)
    client_span = next(
        s
        for s in client_spans.get_finished_spans()
        if s.kind is trace.SpanKind.CLIENT and s.context.trace_id == caller.get_span_context().trace_id
    )
    assert client_span.parent.span_id == caller.get_span_context().span_id
    assert server_span["parent_id"] == format(client_span.context.span_id, "016x")


async def test_health_checks_are_not_traced(channel, server):
    await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
    spans = [json.loads(line) for line in server["trace_file"].read_text().splitlines() if line]
    assert not [s for s in spans if "Health" in s["name"]]


async def test_problem_not_found_becomes_not_found(channel):
    stub = sales_grpc.CustomerServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetCustomer(sales_pb2.GetCustomerRequest(id="missing"), metadata=principal_metadata(AGENT, SECRET))
    assert error.value.code() is grpc.StatusCode.NOT_FOUND
    assert "not visible to you" in error.value.details()


async def test_field_problem_becomes_invalid_argument_naming_the_field(channel):
    stub = sales_grpc.CustomerServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.SearchCustomers(
            sales_pb2.SearchCustomersRequest(phone="12"), metadata=principal_metadata(AGENT, SECRET)
        )
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith("query.phone: ")
    assert field_violations(error.value) == [{"field": "query.phone", "message": "not a Kazakhstan phone number"}]


async def test_unexpected_error_is_internal_without_details(channel):
    stub = sales_grpc.CustomerServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.GetCustomer(sales_pb2.GetCustomerRequest(id="crash"), metadata=principal_metadata(AGENT, SECRET))
    assert error.value.code() is grpc.StatusCode.INTERNAL
    assert "secret internal detail" not in error.value.details()


async def test_unimplemented_method_stays_unimplemented(channel):
    stub = sales_grpc.CustomerServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await stub.BatchGetCustomers(
            sales_pb2.BatchGetCustomersRequest(ids=["c-1"]), metadata=principal_metadata(AGENT, SECRET)
        )
    assert error.value.code() is grpc.StatusCode.UNIMPLEMENTED


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    asyncio.run(serve(Path(sys.argv[2]), Path(sys.argv[3])))
