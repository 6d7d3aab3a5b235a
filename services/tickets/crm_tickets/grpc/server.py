"""crm.tickets.v1.TicketService: a customer's tickets for other services, with the caller's
visibility applied exactly as in the REST API (crm_tickets.access).
crm.tickets.v1.PersonalDataService: everything held about one customer, for the subject-access
export that sales assembles (administrators and privacy officers only)."""

from __future__ import annotations

import json
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from crm_contracts.grpc.crm.tickets.v1 import personal_data_service_pb2 as export_pb
from crm_contracts.grpc.crm.tickets.v1 import personal_data_service_pb2_grpc as export_pb_grpc
from crm_contracts.grpc.crm.tickets.v1 import ticket_service_pb2 as pb
from crm_contracts.grpc.crm.tickets.v1 import ticket_service_pb2_grpc as pb_grpc
from crm_shared.app import ServiceRuntime
from crm_shared.grpc import current_principal

from ..db.models import Ticket
from ..services import personal_data_service, ticket_service


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_message(ticket: Ticket) -> pb.Ticket:
    return pb.Ticket(
        id=ticket.id,
        customer_id=ticket.customer_id,
        name=ticket.name,
        category=ticket.category,
        priority=ticket.priority,
        status=ticket.status,
        queue=ticket.queue,
        branch_code=ticket.branch_code,
        region_code=ticket.region_code,
        incident_id=ticket.incident_id or "",
        urgency_at=_timestamp(ticket.urgency_at),
        created_at=_timestamp(ticket.created_at),
    )


class TicketServicer(pb_grpc.TicketServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def ListCustomerTickets(self, request: pb.ListCustomerTicketsRequest, context):
        async with self.runtime.db.read_only() as session:
            tickets = await ticket_service.customer_tickets(
                session,
                current_principal(),
                request.customer_id,
                page_size=request.page_size,
                include_closed=request.include_closed,
            )
        return pb.ListCustomerTicketsResponse(tickets=[to_message(t) for t in tickets])


class PersonalDataServicer(export_pb_grpc.PersonalDataServiceServicer):
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    async def ExportCustomerData(self, request: export_pb.ExportCustomerDataRequest, context):
        async with self.runtime.db.read_only() as session:
            document, counts = await personal_data_service.export_customer_data(
                session, current_principal(), request.customer_id
            )
        return export_pb.ExportCustomerDataResponse(
            customer_id=request.customer_id,
            document_json=json.dumps(document, ensure_ascii=False),
            generated_at=_timestamp(self.runtime.clock()),
            record_counts=counts,
        )


def register(server, runtime: ServiceRuntime) -> None:
    pb_grpc.add_TicketServiceServicer_to_server(TicketServicer(runtime), server)
    export_pb_grpc.add_PersonalDataServiceServicer_to_server(PersonalDataServicer(runtime), server)
