"""GrpcServerWorker in this process: readiness, service names, refusing a taken port, and the
Problem → status-code mapping."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2_grpc as sales_grpc
from crm_shared.errors import Problem, conflict, field_problem, forbidden, not_found
from crm_shared.grpc import GrpcServerWorker, current_principal, open_channel, status_code_for
from crm_shared.settings import ServiceSettings


def settings(port: int = 0) -> ServiceSettings:
    return ServiceSettings(service_name="grpc-lifecycle", grpc_port=port)


def add_sales(server) -> None:
    sales_grpc.add_CustomerServiceServicer_to_server(sales_grpc.CustomerServiceServicer(), server)


async def test_worker_is_ready_only_while_running_and_serves_health():
    worker = GrpcServerWorker(settings(), add_sales, grace_s=0)
    assert worker.name == "grpc-server" and not worker.ready
    await worker.start()
    try:
        assert worker.ready and worker.port
        channel = await open_channel(worker.address)
        async with channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = await health.Check(health_pb2.HealthCheckRequest(service="crm.sales.v1.CustomerService"))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            # a streaming method (Watch writes with context.write) passes the interceptors too
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING
            watch.cancel()
    finally:
        await worker.stop()
    assert not worker.ready
    await worker.stop()  # stopping twice is harmless


async def test_service_names_returned_by_register_are_served_too():
    def register(server):
        add_sales(server)
        return ["crm.sales.v1.Extra"]

    worker = GrpcServerWorker(settings(), register, grace_s=0)
    await worker.start()
    try:
        assert worker.service_names == ["crm.sales.v1.CustomerService", "crm.sales.v1.Extra"]
        async with await open_channel(worker.address) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="crm.sales.v1.Extra")
            )
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await worker.stop()


async def test_a_port_already_in_use_is_refused():
    first = GrpcServerWorker(settings(), add_sales, grace_s=0)
    await first.start()
    try:
        second = GrpcServerWorker(settings(first.port), add_sales, grace_s=0)
        with pytest.raises(RuntimeError, match=f"127.0.0.1:{first.port}"):
            await second.start()
        assert not second.ready
    finally:
        await first.stop()


def test_current_principal_outside_a_call_is_an_error():
    with pytest.raises(RuntimeError, match="only available while serving"):
        current_principal()


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        (not_found("customer", "c-1"), grpc.StatusCode.NOT_FOUND),
        (field_problem("page_size", "must be at most 100"), grpc.StatusCode.INVALID_ARGUMENT),
        (field_problem("page_token", "malformed", 400), grpc.StatusCode.INVALID_ARGUMENT),
        (forbidden("aggregates only"), grpc.StatusCode.PERMISSION_DENIED),
        (Problem(401, "Unauthorized"), grpc.StatusCode.UNAUTHENTICATED),
        (conflict("version changed"), grpc.StatusCode.ABORTED),
        (Problem(412, "Precondition failed"), grpc.StatusCode.FAILED_PRECONDITION),
        (Problem(429, "Too many requests"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (Problem(418, "Teapot"), grpc.StatusCode.INVALID_ARGUMENT),
        (Problem(500, "Internal error"), grpc.StatusCode.INTERNAL),
    ],
)
def test_problem_status_maps_to_a_grpc_code(problem, code):
    assert status_code_for(problem) is code
