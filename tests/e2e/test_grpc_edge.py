"""The gateway's gRPC edge as an external system uses it: health and reflection without a key;
a service's API with an API key and the same scopes as REST (none: UNAUTHENTICATED; a key
without the scope: PERMISSION_DENIED); the service answers as that key (visibility, masking)."""

from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from crm_cli.testing import RunningSuite
from crm_contracts.grpc.crm.orders.v1 import inventory_service_pb2 as pb
from crm_contracts.grpc.crm.orders.v1 import inventory_service_pb2_grpc as pb_grpc
from crm_gateway.seed import DEMO_ORDERS_BILLING_KEY, DEMO_TICKETS_OSS_KEY

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


async def test_the_grpc_edge(suite: RunningSuite):
    target = f"127.0.0.1:{suite.env['CRM_GATEWAY_GRPC_EDGE_PORT']}"
    async with grpc.aio.insecure_channel(target) as channel:
        health = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30)
        assert health.status == health_pb2.HealthCheckResponse.SERVING

        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {s.name async for answer in answers for s in answer.list_services_response.service}
        assert {"crm.orders.v1.InventoryService", "crm.sales.v1.CustomerService", "grpc.health.v1.Health"} <= names

        inventory = pb_grpc.InventoryServiceStub(channel)
        request = pb.ListInstalledProductsRequest(customer_id="00000000-0000-4000-8000-000000000000")
        with pytest.raises(grpc.aio.AioRpcError) as no_key:
            await inventory.ListInstalledProducts(request, timeout=30)
        assert no_key.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as wrong_key:
            await inventory.ListInstalledProducts(request, metadata=(("x-api-key", "crm_nope_nope"),), timeout=30)
        assert wrong_key.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as no_scope:
            await inventory.ListInstalledProducts(
                request, metadata=(("x-api-key", DEMO_TICKETS_OSS_KEY.key),), timeout=30
            )
        assert no_scope.value.code() == grpc.StatusCode.PERMISSION_DENIED

        # the billing key reads, as itself: an unknown customer's products are simply none
        answer = await inventory.ListInstalledProducts(
            request, metadata=(("authorization", f"ApiKey {DEMO_ORDERS_BILLING_KEY.key}"),), timeout=30
        )
        assert list(answer.installed_products) == []
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await inventory.GetInstalledProduct(
                pb.GetInstalledProductRequest(id="no-such-product"),
                metadata=(("x-api-key", DEMO_ORDERS_BILLING_KEY.key),),
                timeout=30,
            )
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
