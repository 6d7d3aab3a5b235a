"""crm.tickets.v1.TicketService: a customer's tickets for other services, with the caller's
visibility applied exactly as in the REST API (crm_tickets.access)."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import case, select

from crm_contracts.grpc.crm.tickets.v1 import ticket_service_pb2 as pb
from crm_contracts.grpc.crm.tickets.v1 import ticket_service_pb2_grpc as pb_grpc
from crm_shared.app import ServiceRuntime
from crm_shared.errors import field_problem
from crm_shared.grpc import current_principal

from ..access import require_reader, ticket_visibility
from ..db.models import Ticket
from ..domain.workflow import OPEN_STATUSES

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


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
        principal = current_principal()
        require_reader(principal)
        if not request.customer_id:
            raise field_problem("customer_id", "required")
        if len(request.customer_id) > 36:
            raise field_problem("customer_id", "at most 36 characters")
        if not 0 <= request.page_size <= MAX_PAGE_SIZE:
            raise field_problem("page_size", f"must be 0..{MAX_PAGE_SIZE}")
        open_values = [s.value for s in OPEN_STATUSES]
        stmt = select(Ticket).where(Ticket.customer_id == request.customer_id, ticket_visibility(principal))
        if not request.include_closed:
            stmt = stmt.where(Ticket.status.in_(open_values))
        is_finished = case((Ticket.status.in_(open_values), 0), else_=1)
        stmt = stmt.order_by(is_finished, Ticket.urgency_at.asc().nulls_last(), Ticket.created_at.desc())
        async with self.runtime.db.read_only() as session:
            rows = await session.scalars(stmt.limit(request.page_size or DEFAULT_PAGE_SIZE))
            return pb.ListCustomerTicketsResponse(tickets=[to_message(t) for t in rows])


def register_servicers(server, runtime: ServiceRuntime) -> None:
    pb_grpc.add_TicketServiceServicer_to_server(TicketServicer(runtime), server)
