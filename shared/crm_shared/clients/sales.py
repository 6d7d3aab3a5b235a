"""The client of crm.sales.v1.CustomerService: whether a customer exists and is visible to the
caller, asked with the caller's own identity, so that sales applies its visibility and masking
(a customer the caller may not see is simply not found)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
import grpc.aio
from pydantic import Field

from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2 as pb
from crm_contracts.grpc.crm.sales.v1 import customer_service_pb2_grpc as pb_grpc

from ..auth import Principal
from ..errors import Problem, field_problem, not_found
from ..grpc import field_violations, open_channel, principal_metadata
from ..settings import ServiceSettings

BATCH_LIMIT = 100


class SalesClientSettings(ServiceSettings):
    """The settings of a service that asks sales (subclass it instead of ServiceSettings)."""

    sales_grpc_target: str = "127.0.0.1:50101"
    sales_grpc_timeout_s: float = Field(5.0, gt=0)


@dataclass(frozen=True)
class CustomerRef:
    id: str
    display_name: str
    kind: str  # individual | business
    status: str
    iin_bin: str  # as sales gave it (masked for roles that must not see it)
    iin_bin_masked: bool
    primary_phone: str
    branch_code: str
    region_code: str
    merged_into_id: str | None = None  # status "merged": the survivor, where its records go

    @property
    def segment(self) -> str:
        return self.kind

    def public(self) -> dict:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "segment": self.kind,
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
        kind="business" if message.kind == pb.CUSTOMER_KIND_BUSINESS else "individual",
        status=message.status,
        iin_bin=message.iin_bin,
        iin_bin_masked=message.iin_bin_masked,
        primary_phone=message.primary_phone,
        branch_code=message.branch_code,
        region_code=message.region_code,
        merged_into_id=message.merged_into_id or None,
    )


class SalesCustomers:
    """A worker holding one channel to sales, opened inside the running loop (grpc #32480) and
    closed at stop."""

    name = "sales-client"

    def __init__(self, settings: SalesClientSettings) -> None:
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

    async def get(self, principal: Principal, customer_id: str, *, field: str | None = "customer_id") -> CustomerRef:
        """The customer as the caller sees it; 404 when unknown or not visible, naming ``field`` (the
        request body field that carried the id; None when it came in the path)."""
        stub = self._stub_or_unavailable()
        try:
            reply = await stub.GetCustomer(
                pb.GetCustomerRequest(id=customer_id), metadata=self._metadata(principal), timeout=self._deadline
            )
        except grpc.aio.AioRpcError as error:
            raise problem_of_rpc_error(error, field, customer_id) from None
        return _ref(reply.customer)

    async def get_many(self, principal: Principal, ids: list[str]) -> tuple[list[CustomerRef], list[str]]:
        """(customers found, ids not found or not visible), asked in batches of 100."""
        stub = self._stub_or_unavailable()
        found: list[CustomerRef] = []
        missing: list[str] = []
        for start in range(0, len(ids), BATCH_LIMIT):
            try:
                reply = await stub.BatchGetCustomers(
                    pb.BatchGetCustomersRequest(ids=ids[start : start + BATCH_LIMIT]),
                    metadata=self._metadata(principal),
                    timeout=self._deadline,
                )
            except grpc.aio.AioRpcError as error:
                raise problem_of_rpc_error(error, "customer_ids") from None
            found.extend(_ref(c) for c in reply.customers)
            missing.extend(reply.not_found_ids)
        return found, missing

    async def find_by_phone(self, principal: Principal, phone: str, *, limit: int = 20) -> list[CustomerRef]:
        stub = self._stub_or_unavailable()
        try:
            reply = await stub.SearchCustomers(
                pb.SearchCustomersRequest(phone=phone, page_size=limit),
                metadata=self._metadata(principal),
                timeout=self._deadline,
            )
        except grpc.aio.AioRpcError as error:
            raise problem_of_rpc_error(error, "phone") from None
        return [_ref(c) for c in reply.customers]

    async def find_by_iin_bin(self, principal: Principal, iin_bin: str) -> list[CustomerRef]:
        """The customers registered with this full IIN/BIN that the caller may see."""
        stub = self._stub_or_unavailable()
        try:
            reply = await stub.SearchCustomers(
                pb.SearchCustomersRequest(iin_bin=iin_bin, page_size=20),
                metadata=self._metadata(principal),
                timeout=self._deadline,
            )
        except grpc.aio.AioRpcError as error:
            raise problem_of_rpc_error(error, "iin_bin") from None
        return [_ref(c) for c in reply.customers]

    async def withdraw_marketing_consent(self, principal: Principal, customer_id: str, channel: str) -> str:
        """Records the customer's own withdrawal of marketing consent in sales (``principal``: an
        internal identity with the sales:consent scope); returns the customer it applied to (the
        survivor of a merge). Raises the Problem of the answer (503 while sales is down)."""
        stub = self._stub_or_unavailable()
        try:
            reply = await stub.WithdrawMarketingConsent(
                pb.WithdrawMarketingConsentRequest(customer_id=customer_id, channel=channel),
                metadata=self._metadata(principal),
                timeout=self._deadline,
            )
        except grpc.aio.AioRpcError as error:
            raise problem_of_rpc_error(error, "customer_id", customer_id) from None
        return reply.customer_id

    @property
    def _deadline(self) -> float:
        return self.settings.sales_grpc_timeout_s

    def _metadata(self, principal: Principal):
        return principal_metadata(principal, self.settings.internal_token_secret)

    def _stub_or_unavailable(self) -> pb_grpc.CustomerServiceStub:
        if self._stub is None:
            raise sales_unavailable()
        return self._stub


def sales_unavailable() -> Problem:
    return Problem(
        503,
        "Service unavailable",
        "the sales service cannot be asked about the customer right now",
        headers={"Retry-After": "5"},
        service="sales",
    )


def problem_of_rpc_error(error: grpc.aio.AioRpcError, field: str | None, ident: str | None = None) -> Problem:
    """The one mapping of sales' gRPC answers to problem details: NOT_FOUND is a 404 naming the
    request field that carried the id, INVALID_ARGUMENT a 422 naming it, PERMISSION_DENIED a 403,
    anything else (down, deadline passed) a 503 with Retry-After."""
    code = error.code()
    if code is grpc.StatusCode.NOT_FOUND:
        return not_found("customer", (ident or "")[:64] or "(unknown)", field)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        violations = field_violations(error)
        message = violations[0]["message"] if violations else (error.details() or "invalid")
        return field_problem(field or "id", message)
    if code is grpc.StatusCode.PERMISSION_DENIED:
        return Problem(403, "Forbidden", error.details() or "not allowed to see customers")
    return sales_unavailable()
