"""The customers a ticket is about, asked of the sales service over gRPC
(crm.sales.v1.CustomerService) as the caller: sales applies the caller's visibility and masking,
so a customer the caller may not see is simply not found."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2 as pb
from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2_grpc as pb_grpc
from crm_shared.auth import Principal
from crm_shared.errors import Problem, field_problem
from crm_shared.grpc import field_violations, open_channel, principal_metadata

from .config import TicketsSettings

BATCH_LIMIT = 100


@dataclass(frozen=True)
class CustomerRef:
    id: str
    display_name: str
    segment: str  # individual | business
    iin_bin: str  # as sales gave it (masked for roles that must not see it)
    iin_bin_masked: bool
    primary_phone: str
    branch_code: str
    region_code: str

    def public(self) -> dict:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "segment": self.segment,
            "iin_bin": self.iin_bin,
            "iin_bin_masked": self.iin_bin_masked,
            "primary_phone": self.primary_phone,
            "branch_code": self.branch_code,
            "region_code": self.region_code,
        }


def _ref(message: pb.Customer) -> CustomerRef:
    return CustomerRef(
        id=message.id,
        display_name=message.display_name,
        segment="business" if message.kind == pb.CUSTOMER_KIND_BUSINESS else "individual",
        iin_bin=message.iin_bin,
        iin_bin_masked=message.iin_bin_masked,
        primary_phone=message.primary_phone,
        branch_code=message.branch_code,
        region_code=message.region_code,
    )


class CustomerDirectory:
    """A Worker holding the channel to sales (opened inside the running loop, closed at stop)."""

    name = "sales-client"

    def __init__(self, settings: TicketsSettings) -> None:
        self.settings = settings
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.CustomerServiceStub | None = None

    @property
    def ready(self) -> bool:
        return self._stub is not None

    async def start(self) -> None:
        self._channel = await open_channel(self.settings.sales_grpc_target)
        self._stub = pb_grpc.CustomerServiceStub(self._channel)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None

    def _metadata(self, principal: Principal):
        return principal_metadata(principal, self.settings.internal_token_secret)

    def _unavailable(self) -> Problem:
        return Problem(
            503,
            "Service unavailable",
            "the sales service cannot be asked about the customer right now",
            headers={"Retry-After": "5"},
            service="sales",
        )

    async def get(self, principal: Principal, customer_id: str, *, field: str = "customer_id") -> CustomerRef:
        """The customer as the caller sees it; 422 naming ``field`` when unknown or not visible."""
        if self._stub is None:
            raise self._unavailable()
        try:
            reply = await self._stub.GetCustomer(
                pb.GetCustomerRequest(id=customer_id),
                metadata=self._metadata(principal),
                timeout=self.settings.sales_grpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise self._problem(error, field) from None
        return _ref(reply.customer)

    async def get_many(self, principal: Principal, ids: list[str]) -> tuple[list[CustomerRef], list[str]]:
        """(customers found, ids not found or not visible), in batches of 100."""
        if self._stub is None:
            raise self._unavailable()
        found: list[CustomerRef] = []
        missing: list[str] = []
        for start in range(0, len(ids), BATCH_LIMIT):
            try:
                reply = await self._stub.BatchGetCustomers(
                    pb.BatchGetCustomersRequest(ids=ids[start : start + BATCH_LIMIT]),
                    metadata=self._metadata(principal),
                    timeout=self.settings.sales_grpc_timeout_s,
                )
            except grpc.aio.AioRpcError as error:
                raise self._problem(error, "customer_ids") from None
            found.extend(_ref(c) for c in reply.customers)
            missing.extend(reply.not_found_ids)
        return found, missing

    async def find_by_phone(self, principal: Principal, phone: str) -> list[CustomerRef]:
        if self._stub is None:
            raise self._unavailable()
        try:
            reply = await self._stub.SearchCustomers(
                pb.SearchCustomersRequest(phone=phone, page_size=20),
                metadata=self._metadata(principal),
                timeout=self.settings.sales_grpc_timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise self._problem(error, "phone") from None
        return [_ref(c) for c in reply.customers]

    def _problem(self, error: grpc.aio.AioRpcError, field: str) -> Problem:
        code = error.code()
        if code is grpc.StatusCode.NOT_FOUND:
            return field_problem(field, "no such customer, or not visible to you")
        if code is grpc.StatusCode.INVALID_ARGUMENT:
            violations = field_violations(error)
            message = violations[0]["message"] if violations else (error.details() or "invalid")
            return field_problem(field, message)
        if code is grpc.StatusCode.PERMISSION_DENIED:
            return Problem(403, "Forbidden", error.details() or "not allowed to see customers")
        return self._unavailable()
