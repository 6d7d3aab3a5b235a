"""What the clients of the services' PersonalDataService (crm.<service>.v1, one RPC:
ExportCustomerData) share: the answer as a plain record, the one mapping of gRPC errors to problem
details, and a worker holding one channel (opened inside the running loop, grpc #32480).

The export is asked with the identity of the person exporting (an administrator or a privacy
officer): each service checks the role itself. A service that does not answer (down, deadline
passed, broken reply) is a 503 naming it, so that an export is never a partial document
presented as complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
import grpc.aio

from ..auth import Principal
from ..errors import Problem, field_problem
from ..grpc import field_violations, open_channel, principal_metadata
from ..settings import ServiceSettings

# One customer's records can be large (every ticket with its notes): well above gRPC's 4 MiB default.
MAX_EXPORT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ServiceExport:
    """What one service holds about one customer."""

    service: str
    customer_id: str
    document: dict[str, Any]
    generated_at: datetime
    record_counts: dict[str, int]


def service_unavailable(service: str, why: str = "did not answer") -> Problem:
    return Problem(
        503,
        "Service unavailable",
        f"the {service} service {why}; the personal-data export would be incomplete, so none is given",
        headers={"Retry-After": "5"},
        service=service,
    )


def problem_of_export_error(error: grpc.aio.AioRpcError, service: str) -> Problem:
    """The one mapping of an export's gRPC errors: PERMISSION_DENIED is a 403, INVALID_ARGUMENT a
    422 naming the field, anything else (down, deadline passed, UNAUTHENTICATED between services)
    a 503 naming the service."""
    code = error.code()
    if code is grpc.StatusCode.PERMISSION_DENIED:
        return Problem(403, "Forbidden", error.details() or "not allowed to export personal data", service=service)
    if code is grpc.StatusCode.INVALID_ARGUMENT:
        violations = field_violations(error)
        return field_problem(violations[0]["field"] if violations else "customer_id", error.details() or "invalid")
    return service_unavailable(service, f"did not answer ({code.name})")


class PersonalDataClient:
    """A worker holding one channel to a service's PersonalDataService. Subclasses name the
    service, its generated module pair and the settings of its target and deadline."""

    service: str
    pb: Any  # the generated personal_data_service_pb2 module
    pb_grpc: Any  # the generated personal_data_service_pb2_grpc module

    def __init__(self, settings: ServiceSettings, target: str, timeout_s: float) -> None:
        self.settings = settings
        self.target = target
        self.timeout_s = timeout_s
        self.name = f"{self.service}-client"
        self._channel: grpc.aio.Channel | None = None
        self._stub: Any = None

    @property
    def ready(self) -> bool:
        return self._stub is not None

    async def start(self) -> None:
        self._channel = await open_channel(self.target, options=[("grpc.max_receive_message_length", MAX_EXPORT_BYTES)])
        self._stub = self.pb_grpc.PersonalDataServiceStub(self._channel)

    async def stop(self) -> None:
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._stub = None

    async def export(self, principal: Principal, customer_id: str) -> ServiceExport:
        """Everything the service holds about the customer, asked as ``principal``."""
        if self._stub is None:
            raise service_unavailable(self.service, "is not connected")
        try:
            reply = await self._stub.ExportCustomerData(
                self.pb.ExportCustomerDataRequest(customer_id=customer_id),
                metadata=principal_metadata(principal, self.settings.internal_token_secret),
                timeout=self.timeout_s,
            )
        except grpc.aio.AioRpcError as error:
            raise problem_of_export_error(error, self.service) from None
        try:
            document = json.loads(reply.document_json)
        except ValueError:
            raise service_unavailable(self.service, "answered a broken document") from None
        if not isinstance(document, dict) or reply.customer_id != customer_id:
            raise service_unavailable(self.service, "answered a broken document")
        generated_at = reply.generated_at.ToDatetime(tzinfo=UTC) if reply.HasField("generated_at") else None
        return ServiceExport(
            service=self.service,
            customer_id=customer_id,
            document=document,
            generated_at=generated_at or datetime.now(UTC),
            record_counts=dict(reply.record_counts),
        )
