"""REST API of tickets: /api/v1/tickets/tickets (create, list, read, change, workflow, notes,
attachments, assignment, relations, history) and the queue views."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.api import CurrentPrincipal, Now, ReadSession, ServiceDatabase, Session
from crm_shared.auth import Principal
from crm_shared.concurrency import IfMatch, flush_or_conflict, required_version, version_headers
from crm_shared.csv_export import CSV_MEDIA_TYPE, csv_export
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT
from crm_shared.timefmt import iso

from ..access import require_ticket_writer
from ..db.models import Attachment, Incident, Ticket
from ..domain.routing import CATEGORIES
from ..domain.sla import PRIORITIES
from ..domain.workflow import allowed_next
from ..events.publishers import note_state, ticket_state
from ..services import ticket_service
from ..services.ticket_service import OPEN_VALUES, STATUS_VALUES, NoteDraft, WorkFilters
from .deps import Customers, ReopenWindow
from .schemas import (
    AssignmentRequest,
    AttachmentCreate,
    NoteCreate,
    RatingCreate,
    RelationCreate,
    TicketCreate,
    TicketPage,
    TicketUpdate,
    TransitionRequest,
)

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], responses=OPENAPI_PROBLEMS)
BASE = "/api/v1/tickets/tickets"


def ticket_body(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    return ticket_state(ticket) | {"allowed_transitions": allowed_next(ticket.status)} | extra


def known_outage(incident: Incident | None) -> dict[str, Any] | None:
    if incident is None:
        return None
    return {
        "incident_id": incident.id,
        "title": incident.title,
        "expected_resolution_at": iso(incident.expected_resolution_at),
        "message": f"There is a known outage in this area: {incident.title}",
    }


def attachment_state(a: Attachment) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": a.name,
        "media_type": a.media_type,
        "size_bytes": a.size_bytes,
        "url": a.url,
        "added_by": a.added_by,
        "created_at": a.created_at.isoformat(),
    }


def page(rows: list[Ticket], next_cursor: str | None) -> TicketPage:
    return TicketPage(items=[ticket_body(t) for t in rows], next_cursor=next_cursor)


@router.post("/tickets", status_code=201, summary="Open a ticket for a customer")
async def create_ticket(
    body: TicketCreate,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    now: Now,
    idempotency_key: IdempotencyKey = None,
):
    require_ticket_writer(principal, customer_may=True, partner_may=True)  # before a stored answer is looked up

    async def create():
        ticket, incident = await ticket_service.open_ticket(
            session,
            principal,
            customers,
            body.customer_id,
            body.draft(),
            notes=body.notes(),
            interaction_id=body.interaction_id,
            now=now,
        )
        return ticket_body(ticket, known_outage=known_outage(incident))

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=lambda b: version_headers(b["version"], f"{BASE}/{b['id']}"),
        flush=lambda: flush_or_conflict(session, "ticket"),
    )


# --- lists ---------------------------------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"page size, 1 to {MAX_LIMIT}")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=500,
        description=(
            "`next_cursor` of the previous page, unchanged, with the same filters and sort (a malformed one is a 400 "
            "naming `cursor`)"
        ),
    ),
]
PriorityFilter = Annotated[
    list[str] | None,
    Query(
        description=(
            f"only these priorities; repeat for several (`priority=critical&priority=high`): {', '.join(PRIORITIES)}"
        )
    ),
]
CategoryFilter = Annotated[
    list[str] | None, Query(description=(f"only these categories; repeat for several: {', '.join(CATEGORIES)}"))
]
OpenStatusFilter = Annotated[
    list[str] | None,
    Query(
        description=(
            f"only these open statuses; repeat for several (default: every open one): {', '.join(OPEN_VALUES)}; "
            "a finished status is a 422 naming `status`"
        )
    ),
]
AssigneeFilter = Annotated[str | None, Query(max_length=200, description="only the tickets assigned to this user id")]
UnassignedFilter = Annotated[
    bool, Query(description=("true: only the tickets nobody is assigned to (not together with `assignee_id`)"))
]


@dataclass(frozen=True)
class TicketFilters:
    """The filters and the order of the ticket list, as its export takes them too."""

    status: list[str] | None
    customer_id: str | None
    queue: str | None
    incident_id: str | None
    branch_code: str | None
    assignee_id: str | None
    unassigned: bool
    priority: list[str] | None
    category: list[str] | None
    q: str | None
    sort: str


async def ticket_filters(
    status: Annotated[
        list[str] | None,
        Query(
            description=(
                f"only these statuses; repeat for several: {', '.join(STATUS_VALUES)} (with `sort=urgency` only the open "
                f"ones: {', '.join(OPEN_VALUES)})"
            )
        ),
    ] = None,
    customer_id: Annotated[str | None, Query(max_length=36, description="only this customer's tickets")] = None,
    queue: Annotated[str | None, Query(max_length=64, description="only this queue, `<branch>.<team>`")] = None,
    incident_id: Annotated[
        str | None, Query(max_length=36, description="only the tickets linked to this mass incident")
    ] = None,
    branch_code: Annotated[
        str | None, Query(max_length=32, description="only this branch's tickets (e.g. ALA-01)")
    ] = None,
    assignee_id: AssigneeFilter = None,
    unassigned: UnassignedFilter = False,
    priority: PriorityFilter = None,
    category: CategoryFilter = None,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description=(
                "a ticket number (the first 6 to 8 characters of its id, as the console shows it, or more; "
                "`#` or `№` before it allowed), or words found in the subject or the customer's name, any case"
            ),
        ),
    ] = None,
    sort: Annotated[
        Literal["newest", "urgency"],
        Query(
            description=(
                "newest: every status, newest first; urgency: open tickets only, the nearest SLA deadline first"
            )
        ),
    ] = "newest",
) -> TicketFilters:
    return TicketFilters(
        status, customer_id, queue, incident_id, branch_code, assignee_id, unassigned, priority, category, q, sort
    )


Filters = Annotated[TicketFilters, Depends(ticket_filters)]


async def _ticket_page(
    session: AsyncSession, principal: Principal, filters: TicketFilters, *, limit: int, cursor: str | None
) -> tuple[list[Ticket], str | None]:
    return await ticket_service.list_tickets(
        session,
        principal,
        filters=WorkFilters(
            priority=filters.priority,
            category=filters.category,
            assignee_id=filters.assignee_id,
            unassigned=filters.unassigned,
        ),
        status=filters.status,
        customer_id=filters.customer_id,
        queue=filters.queue,
        incident_id=filters.incident_id,
        branch_code=filters.branch_code,
        q=filters.q,
        sort=filters.sort,
        limit=limit,
        cursor=cursor,
    )


@router.get(
    "/tickets",
    response_model=TicketPage,
    summary="Tickets the caller sees, newest first or most urgent first",
    responses=openapi_problems(400),
    description=(
        "Every ticket in the caller's reach (branch, region or country), filtered; `sort=newest` "
        "(the default) lists every status by creation, newest first; `sort=urgency` lists the open "
        "tickets only, most urgent SLA deadline first like a queue (the ones without a deadline "
        "last). Page on with `cursor` = the previous page's `next_cursor`. The caller's own work "
        "across every queue: `assignee_id=<my id>&sort=urgency`."
    ),
)
async def list_tickets(
    principal: CurrentPrincipal,
    session: ReadSession,
    filters: Filters,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
):
    rows, next_cursor = await _ticket_page(session, principal, filters, limit=limit, cursor=cursor)
    return page(rows, next_cursor)


EXPORT_PAGE = 500
EXPORT_COLUMNS = (
    "id", "name", "customer_id", "customer_name", "category", "priority", "severity", "channel", "status",
    "queue", "branch_code", "region_code", "assignee_id", "assignee_name", "opened_by_name", "incident_id",
    "response_due_at", "resolution_due_at", "created_at", "updated_at",
)  # fmt: skip


@router.get(
    "/tickets/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {}}, "description": "the tickets as CSV, one line each, streamed"},
        **openapi_problems(400, 401, 403, 422),
    },
    summary="The ticket list as a CSV file, with the list's filters and order, within the caller's reach",
)
async def export_tickets(
    principal: CurrentPrincipal,
    db: ServiceDatabase,
    filters: Filters,
    format: Annotated[Literal["csv"], Query(description="the file format (only csv)")] = "csv",
):
    async def fetch_page(cursor: str | None):
        async with db.read_only() as session:
            rows, next_cursor = await _ticket_page(session, principal, filters, limit=EXPORT_PAGE, cursor=cursor)
            return [ticket_body(t) for t in rows], next_cursor

    return await csv_export(EXPORT_COLUMNS, fetch_page, filename="tickets.csv")


@router.get(
    "/queues/{queue}/tickets",
    response_model=TicketPage,
    summary="A queue's open tickets, most urgent SLA deadline first",
    responses=openapi_problems(400),
    description=(
        "The open tickets of one queue in the caller's reach, ordered by their next SLA deadline "
        "(the response target until the first response, then the resolution target; the ones "
        "without a deadline last), then by creation. Page on with `cursor` = the previous page's "
        "`next_cursor`."
    ),
)
async def queue_view(
    queue: Annotated[str, PathParam(max_length=64, description="the queue, `<branch>.<team>` (e.g. ALA-01.technical)")],
    principal: CurrentPrincipal,
    session: ReadSession,
    status: OpenStatusFilter = None,
    priority: PriorityFilter = None,
    category: CategoryFilter = None,
    assignee_id: AssigneeFilter = None,
    unassigned: UnassignedFilter = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
):
    rows, next_cursor = await ticket_service.queue_tickets(
        session,
        principal,
        queue,
        filters=WorkFilters(priority=priority, category=category, assignee_id=assignee_id, unassigned=unassigned),
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return page(rows, next_cursor)


# --- one ticket ----------------------------------------------------------------------------------


@router.get("/tickets/{ticket_id}", summary="One ticket, with its notes, attachments and relations")
async def get_ticket(ticket_id: str, response: Response, principal: CurrentPrincipal, session: ReadSession):
    ticket = await ticket_service.get_ticket(session, principal, ticket_id)
    response.headers.update(version_headers(ticket.version))
    return ticket_body(
        ticket,
        notes=[note_state(n) for n in await ticket_service.notes_of(session, ticket)],
        attachments=[attachment_state(a) for a in await ticket_service.attachments_of(session, ticket)],
        related_tickets=[
            {"ticket_id": other, "kind": kind} for other, kind in await ticket_service.related_of(session, ticket)
        ],
    )


@router.patch("/tickets/{ticket_id}", summary="Change a ticket's details (If-Match)")
async def update_ticket(
    ticket_id: str,
    body: TicketUpdate,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    if_match: IfMatch = None,
):
    expected = required_version(if_match, body.version, "ticket")
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    ticket = await ticket_service.update_ticket(
        session, principal, ticket_id, changes, expected_version=expected, now=now
    )
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.post("/tickets/{ticket_id}/transitions", summary="Move a ticket along its workflow")
async def change_status(
    ticket_id: str,
    body: TransitionRequest,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    reopen_window: ReopenWindow,
    if_match: IfMatch = None,
):
    ticket = await ticket_service.change_status(
        session,
        principal,
        ticket_id,
        body.status,
        body.reason,
        now=now,
        reopen_window=reopen_window,
        if_match=if_match,
    )
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.get("/tickets/{ticket_id}/history", summary="Status history: who moved the ticket, when, why")
async def status_history(ticket_id: str, principal: CurrentPrincipal, session: ReadSession):
    ticket = await ticket_service.get_ticket(session, principal, ticket_id)
    return {
        "items": [
            {
                "from_status": r.from_status,
                "to_status": r.to_status,
                "reason": r.reason,
                "actor_id": r.actor_id,
                "actor_name": r.actor_name,
                "at": r.at.isoformat(),
            }
            for r in await ticket_service.history_of(session, ticket)
        ]
    }


@router.post("/tickets/{ticket_id}/notes", status_code=201, summary="Add a note (internal or for the customer)")
async def add_note(
    ticket_id: str, body: NoteCreate, response: Response, principal: CurrentPrincipal, session: Session, now: Now
):
    ticket, note = await ticket_service.add_note(
        session, principal, ticket_id, NoteDraft(body.text, body.visibility), now=now
    )
    response.headers.update(version_headers(ticket.version))
    return note_state(note) | {"ticket_version": ticket.version}


@router.post(
    "/tickets/{ticket_id}/rating",
    summary="The customer rates their resolved ticket and the service (1-5), once",
    description="Customers only (the self-service portal): 409 before the ticket is resolved or once rated. "
    "The rating is in the ticket's state for the branch and announced as crm.tickets.ticket.rated (CSAT).",
)
async def rate_ticket(
    ticket_id: str, body: RatingCreate, response: Response, principal: CurrentPrincipal, session: Session, now: Now
):
    ticket = await ticket_service.rate_ticket(session, principal, ticket_id, body.score, body.comment, now=now)
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.post("/tickets/{ticket_id}/attachments", status_code=201, summary="Record an attachment's metadata")
async def add_attachment(
    ticket_id: str, body: AttachmentCreate, principal: CurrentPrincipal, session: Session, now: Now
):
    attachment = await ticket_service.add_attachment(session, principal, ticket_id, body.draft(), now=now)
    return attachment_state(attachment)


@router.post("/tickets/{ticket_id}/assignment", summary="Assign to a queue and/or an agent (or unassign)")
async def assign(
    ticket_id: str, body: AssignmentRequest, response: Response, principal: CurrentPrincipal, session: Session, now: Now
):
    ticket = await ticket_service.assign(
        session,
        principal,
        ticket_id,
        queue=body.queue,
        assignee_id=body.assignee_id,
        assignee_name=body.assignee_name,
        now=now,
    )
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.post("/tickets/{ticket_id}/relations", status_code=201, summary="Relate two tickets")
async def relate(ticket_id: str, body: RelationCreate, principal: CurrentPrincipal, session: Session):
    relation = await ticket_service.relate(session, principal, ticket_id, body.related_ticket_id, body.kind)
    return {"ticket_id": relation.ticket_id, "related_ticket_id": relation.related_ticket_id, "kind": relation.kind}
