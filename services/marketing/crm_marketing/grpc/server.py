"""crm.marketing.v1.SegmentService: one segment for other services, as the caller may see it.

The caller's identity travels in the call metadata and crm_shared.grpc verifies it; problems and
domain errors come back as status codes: NOT_FOUND for a segment that is hidden or absent,
PERMISSION_DENIED for roles that see no records, INVALID_ARGUMENT naming the request field.
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm_contracts.grpc.crm.marketing.v1 import segment_service_pb2 as pb
from crm_contracts.grpc.crm.marketing.v1 import segment_service_pb2_grpc as pb_grpc
from crm_shared.app import ServiceRuntime
from crm_shared.domain import InvalidField
from crm_shared.grpc import current_principal

from ..db.models import Segment
from ..services import segment_service


def _timestamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_message(segment: Segment) -> pb.Segment:
    return pb.Segment(
        id=segment.id,
        name=segment.name,
        notes=segment.notes,
        owner_id=segment.owner_id,
        branch_code=segment.branch_code,
        region_code=segment.region_code,
        version=segment.version,
        created_at=_timestamp(segment.created_at),
        updated_at=_timestamp(segment.updated_at),
    )


class SegmentServicer(pb_grpc.SegmentServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def GetSegment(self, request: pb.GetSegmentRequest, context) -> pb.GetSegmentResponse:
        if not request.id:
            raise InvalidField("id", "required")
        async with self.runtime.db.reads() as session:
            segment = await segment_service.get_segment(session, current_principal(), request.id)
        return pb.GetSegmentResponse(segment=to_message(segment))


def register(server, runtime: ServiceRuntime) -> None:
    """Adds the servicers to the service's gRPC server (ServiceDefinition.grpc_servicers)."""
    pb_grpc.add_SegmentServiceServicer_to_server(SegmentServicer(runtime), server)
