"""crm.partners.v1.PartnerService: one partner for other services, as the caller may see it.

The caller's identity travels in the call metadata and crm_shared.grpc verifies it; problems and
domain errors come back as status codes: NOT_FOUND for a partner that is hidden or absent,
PERMISSION_DENIED for roles with no access to partners, INVALID_ARGUMENT naming the request field.
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm_contracts.grpc.crm.partners.v1 import partner_service_pb2 as pb
from crm_contracts.grpc.crm.partners.v1 import partner_service_pb2_grpc as pb_grpc
from crm_shared.app import ServiceRuntime
from crm_shared.domain import InvalidField
from crm_shared.grpc import current_principal

from ..db.models import Partner
from ..services import partner_service


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_message(partner: Partner) -> pb.Partner:
    return pb.Partner(
        id=partner.id,
        name=partner.name,
        bin=partner.bin,
        kind=partner.kind,
        status=partner.status,
        region_codes=list(partner.region_codes),
        branch_codes=list(partner.branch_codes),
        version=partner.version,
        created_at=_timestamp(partner.created_at),
        updated_at=_timestamp(partner.updated_at),
    )


class PartnerServicer(pb_grpc.PartnerServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def GetPartner(self, request: pb.GetPartnerRequest, context) -> pb.GetPartnerResponse:
        if not request.id:
            raise InvalidField("id", "required")
        async with self.runtime.db.reads() as session:
            partner = await partner_service.get_partner(session, current_principal(), request.id)
        return pb.GetPartnerResponse(partner=to_message(partner))


def register(server, runtime: ServiceRuntime) -> None:
    """Adds the servicers to the service's gRPC server (ServiceDefinition.grpc_servicers)."""
    pb_grpc.add_PartnerServiceServicer_to_server(PartnerServicer(runtime), server)
