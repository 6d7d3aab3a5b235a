"""The sales service, asked over gRPC whether a customer exists and is visible to the caller."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2 as sales_pb
from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2_grpc as sales_grpc
from crm_shared.auth import Principal
from crm_shared.errors import Problem, field_problem, not_found
from crm_shared.grpc import open_channel, principal_metadata

from .config import OrdersSettings

CALL_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CustomerRef:
    id: str
    display_name: str
    status: str
    branch_code: str
    region_code: str


class SalesCustomers:
    """A worker holding one channel to crm.sales.v1.CustomerService (opened inside the running
    loop, grpc #32480), asked with the caller's own identity so that sales applies visibility."""

    name = "sales-customers"

    def __init__(self, settings: OrdersSettings) -> None:
        self.settings = settings
        self.channel: grpc.aio.Channel | None = None
        self.stub: sales_grpc.CustomerServiceStub | None = None

    @property
    def ready(self) -> bool:
        return self.stub is not None

    async def start(self) -> None:
        self.channel = await open_channel(self.settings.sales_grpc_target)
        self.stub = sales_grpc.CustomerServiceStub(self.channel)

    async def stop(self) -> None:
        if self.channel is not None:
            await self.channel.close()
        self.channel = self.stub = None

    async def visible_customer(self, principal: Principal, customer_id: str, *, field: str) -> CustomerRef:
        """The customer if it exists and ``principal`` may see it; 404 naming ``field`` otherwise."""
        if self.stub is None:
            raise Problem(503, "Service unavailable", "the orders service is starting or stopping")
        try:
            reply = await self.stub.GetCustomer(
                sales_pb.GetCustomerRequest(id=customer_id),
                metadata=principal_metadata(principal, self.settings.internal_token_secret),
                timeout=CALL_TIMEOUT_S,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.NOT_FOUND:
                raise not_found("customer", customer_id[:64], field) from None
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise field_problem(field, exc.details() or "invalid customer id") from None
            if exc.code() == grpc.StatusCode.PERMISSION_DENIED:
                raise Problem(403, "Forbidden", exc.details() or "not allowed to see customers") from None
            raise Problem(
                503, "Service unavailable", f"the sales service did not answer ({exc.code().name})", service="sales"
            ) from None
        customer = reply.customer
        return CustomerRef(
            id=customer.id,
            display_name=customer.display_name,
            status=customer.status,
            branch_code=customer.branch_code,
            region_code=customer.region_code,
        )
