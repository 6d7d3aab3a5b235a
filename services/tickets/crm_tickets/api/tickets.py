"""REST API of tickets: /api/v1/tickets/tickets (create, list, read, change, workflow, notes,
attachments, assignment, relations, history) and the queue views."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from sqlalchemy import and_, literal, or_, select, tuple_

from crm_shared.concurrency import (
    IfMatch,
    check_version,
    flush_or_conflict,
    patch_changes,
    required_version,
    version_headers,
)
from crm_shared.errors import OPENAPI_PROBLEMS, conflict, field_problem, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from crm_shared.records import mark_changed

from .. import ticket_service as service
from ..access import load_ticket, require_reader, require_ticket_writer, ticket_visibility
from ..db.models import Attachment, Incident, Interaction, Note, Relation, StatusChange, Ticket
from ..domain.workflow import OPEN_STATUSES, Status, allowed_next
from .deps import CurrentPrincipal, Customers, Now, Session, settings_of
from .schemas import (
    AssignmentRequest,
    AttachmentCreate,
    Category,
    NoteCreate,
    Priority,
    RelationCreate,
    TicketCreate,
    TicketPage,
    TicketUpdate,
    TransitionRequest,
)

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], responses=OPENAPI_PROBLEMS)
BASE = "/api/v1/tickets/tickets"


def ticket_body(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    return service.ticket_state(ticket) | {"allowed_transitions": allowed_next(ticket.status)} | extra


def reopen_window(request: Request) -> timedelta:
    return timedelta(days=settings_of(request).reopen_window_days)


@router.post("/tickets", status_code=201, summary="Open a ticket for a customer")
async def create_ticket(
    body: TicketCreate,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    now: Now,
    idempotency_key: IdempotencyKey = None,
):
    require_ticket_writer(principal)
    payload = body.model_dump(mode="json")

    async def create():
        customer = await customers.get(principal, body.customer_id)
        fields = body.model_dump(exclude={"note", "customer_id", "interaction_id"})
        ticket = await service.create_ticket(session, principal, customer, fields, now=now)
        if body.note:
            await service.add_note(session, principal, ticket, body.note, "internal", now=now)
        if body.interaction_id:
            interaction = await session.get(Interaction, body.interaction_id, with_for_update=True)
            if interaction is None or interaction.customer_id != customer.id:
                raise field_problem("interaction_id", "no such interaction with this customer")
            interaction.ticket_id = ticket.id
        known_outage = None
        if ticket.incident_id:
            incident = await session.get(Incident, ticket.incident_id)
            known_outage = {
                "incident_id": incident.id,
                "title": incident.title,
                "expected_resolution_at": (
                    incident.expected_resolution_at.isoformat() if incident.expected_resolution_at else None
                ),
                "message": f"There is a known outage in this area: {incident.title}",
            }
        return ticket_body(ticket, known_outage=known_outage)

    return await create_once(
        session,
        principal,
        idempotency_key,
        payload,
        response,
        create=create,
        headers=lambda b: version_headers(b["version"], f"{BASE}/{b['id']}"),
        flush=lambda: flush_or_conflict(session, "ticket"),
    )


# --- lists: filters, the two orders and their keyset cursors -------------------------------------

OPEN_VALUES = tuple(s.value for s in OPEN_STATUSES)
STATUS_VALUES = tuple(s.value for s in Status)
PRIORITY_VALUES, CATEGORY_VALUES = get_args(Priority), get_args(Category)

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
            f"only these priorities; repeat for several (`priority=critical&priority=high`): {', '.join(PRIORITY_VALUES)}"
        )
    ),
]
CategoryFilter = Annotated[
    list[str] | None, Query(description=(f"only these categories; repeat for several: {', '.join(CATEGORY_VALUES)}"))
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


def one_of(field: str, values: list[str] | None, allowed: tuple[str, ...], what: str) -> list[str]:
    """A repeatable filter's values, or a 422 naming ``field`` at the first one not allowed."""
    for value in values or ():
        if value not in allowed:
            raise field_problem(field, f"{what} {value!r}; one of {', '.join(allowed)}")
    return values or []


def open_only():
    # Written into the SQL rather than bound, so that PostgreSQL can prove the partial indexes'
    # predicate (status IN the open statuses) in a prepared, generic plan too.
    return Ticket.status.in_([literal(s, literal_execute=True) for s in OPEN_VALUES])


def work_filters(
    *, priority: list[str] | None, category: list[str] | None, assignee_id: str | None, unassigned: bool
) -> list[Any]:
    if unassigned and assignee_id is not None:
        raise field_problem("unassigned", "either assignee_id or unassigned=true, not both")
    clauses = []
    if priority := one_of("priority", priority, PRIORITY_VALUES, "unknown priority"):
        clauses.append(Ticket.priority.in_(priority))
    if category := one_of("category", category, CATEGORY_VALUES, "unknown category"):
        clauses.append(Ticket.category.in_(category))
    if assignee_id is not None:
        clauses.append(Ticket.assignee_id == assignee_id)
    if unassigned:
        clauses.append(Ticket.assignee_id.is_(None))
    return clauses


def open_status_filter(status: list[str] | None) -> list[Any]:
    wanted = one_of("status", status, OPEN_VALUES, "not an open status:")
    return [open_only()] + ([Ticket.status.in_(wanted)] if wanted else [])


def parsed_cursor(cursor: str | None, parse) -> list[Any] | None:
    """The sort key a cursor carries, or a 400 naming ``cursor`` (also for a cursor of the other order)."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        return parse(*values)
    except (ValueError, TypeError):
        raise field_problem(
            "cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400
        ) from None


def newest_after(cursor: str | None) -> list[Any] | None:
    return parsed_cursor(cursor, lambda created, last_id: [moment(created), identifier(last_id)])


def urgency_after(cursor: str | None) -> list[Any] | None:
    return parsed_cursor(
        cursor,
        lambda urgency, created, last_id: [
            None if urgency is None else moment(urgency),
            moment(created),
            identifier(last_id),
        ],
    )


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a cursor's times are UTC")
    return value


def identifier(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("a ticket id is a string")
    return value


def page_of(rows: list[Ticket], limit: int, key) -> TicketPage:
    more = len(rows) > limit
    rows = rows[:limit]
    return TicketPage(items=[ticket_body(t) for t in rows], next_cursor=encode_cursor(key(rows[-1])) if more else None)


def urgency_key(ticket: Ticket) -> list[Any]:
    return [ticket.urgency_at.isoformat() if ticket.urgency_at else None, ticket.created_at.isoformat(), ticket.id]


async def newest_first(session, stmt, after: list[Any] | None, limit: int) -> TicketPage:
    if after:
        stmt = stmt.where(tuple_(Ticket.created_at, Ticket.id) < tuple(after))
    rows = list(await session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit + 1)))
    return page_of(rows, limit, lambda t: [t.created_at.isoformat(), t.id])


async def most_urgent_first(session, stmt, after: list[Any] | None, limit: int) -> TicketPage:
    """urgency_at ascending with the tickets without a deadline last, then created_at, id: the
    order of the indexes on (..., urgency_at, created_at, id), each page read as one range of one.
    A row comparison drops the nulls (and "or urgency_at is null" would cost the range), so a page
    after a ticket with a deadline that runs out of them goes on with a second range, the nulls."""

    async def read(query, room: int) -> list[Ticket]:
        # the whole index order even among the nulls: without urgency_at in it, PostgreSQL may
        # misjudge how few open tickets lack a deadline and walk another index instead
        order = (Ticket.urgency_at.asc().nulls_last(), Ticket.created_at, Ticket.id)
        return list(await session.scalars(query.order_by(*order).limit(room)))

    undated = stmt.where(Ticket.urgency_at.is_(None))
    if after is None:
        rows = await read(stmt, limit + 1)
    elif after[0] is None:
        rows = await read(undated.where(tuple_(Ticket.created_at, Ticket.id) > tuple(after[1:])), limit + 1)
    else:
        rows = await read(stmt.where(tuple_(Ticket.urgency_at, Ticket.created_at, Ticket.id) > tuple(after)), limit + 1)
        if len(rows) <= limit:
            rows += await read(undated, limit + 1 - len(rows))
    return page_of(rows, limit, urgency_key)


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
    session: Session,
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
    sort: Annotated[
        Literal["newest", "urgency"],
        Query(
            description=(
                "newest: every status, newest first; urgency: open tickets only, the nearest SLA deadline first"
            )
        ),
    ] = "newest",
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
):
    require_reader(principal)
    stmt = select(Ticket).where(
        ticket_visibility(principal),
        *work_filters(priority=priority, category=category, assignee_id=assignee_id, unassigned=unassigned),
    )
    for column, value in (
        (Ticket.customer_id, customer_id),
        (Ticket.queue, queue),
        (Ticket.incident_id, incident_id),
        (Ticket.branch_code, branch_code),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if sort == "urgency":
        return await most_urgent_first(session, stmt.where(*open_status_filter(status)), urgency_after(cursor), limit)
    if status := one_of("status", status, STATUS_VALUES, "unknown status"):
        stmt = stmt.where(Ticket.status.in_(status))
    return await newest_first(session, stmt, newest_after(cursor), limit)


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
    session: Session,
    status: OpenStatusFilter = None,
    priority: PriorityFilter = None,
    category: CategoryFilter = None,
    assignee_id: AssigneeFilter = None,
    unassigned: UnassignedFilter = False,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
):
    require_reader(principal)
    stmt = select(Ticket).where(
        ticket_visibility(principal),
        Ticket.queue == queue,
        *open_status_filter(status),
        *work_filters(priority=priority, category=category, assignee_id=assignee_id, unassigned=unassigned),
    )
    return await most_urgent_first(session, stmt, urgency_after(cursor), limit)


@router.get("/tickets/{ticket_id}", summary="One ticket, with its notes, attachments and relations")
async def get_ticket(ticket_id: str, response: Response, principal: CurrentPrincipal, session: Session):
    ticket = await load_ticket(session, principal, ticket_id)
    response.headers.update(version_headers(ticket.version))
    return await full_ticket(session, ticket)


async def full_ticket(session, ticket: Ticket) -> dict[str, Any]:
    notes = await session.scalars(select(Note).where(Note.ticket_id == ticket.id).order_by(Note.created_at, Note.id))
    attachments = await session.scalars(
        select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.created_at)
    )
    relations = await session.scalars(
        select(Relation).where(or_(Relation.ticket_id == ticket.id, Relation.related_ticket_id == ticket.id))
    )
    return ticket_body(
        ticket,
        notes=[service.note_state(n) for n in notes],
        attachments=[attachment_state(a) for a in attachments],
        related_tickets=[
            {"ticket_id": r.related_ticket_id if r.ticket_id == ticket.id else r.ticket_id, "kind": r.kind}
            for r in relations
        ],
    )


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
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    check_version("ticket", ticket.version, expected)
    changes = patch_changes(body, ("name", "description", "category", "priority", "severity"))
    await service.update_fields(session, principal, ticket, changes, now=now)
    await flush_or_conflict(session, "ticket")
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.post("/tickets/{ticket_id}/transitions", summary="Move a ticket along its workflow")
async def change_status(
    ticket_id: str,
    body: TransitionRequest,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    if_match: IfMatch = None,
):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    if if_match is not None:
        check_version("ticket", ticket.version, required_version(if_match, None, "ticket"))
    await service.transition(
        session, principal, ticket, body.status, body.reason, now=now, reopen_window=reopen_window(request)
    )
    await flush_or_conflict(session, "ticket")
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.get("/tickets/{ticket_id}/history", summary="Status history: who moved the ticket, when, why")
async def status_history(ticket_id: str, principal: CurrentPrincipal, session: Session):
    ticket = await load_ticket(session, principal, ticket_id)
    rows = await session.scalars(
        select(StatusChange).where(StatusChange.ticket_id == ticket.id).order_by(StatusChange.id)
    )
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
            for r in rows
        ]
    }


@router.post("/tickets/{ticket_id}/notes", status_code=201, summary="Add a note (internal or for the customer)")
async def add_note(
    ticket_id: str, body: NoteCreate, response: Response, principal: CurrentPrincipal, session: Session, now: Now
):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    note = await service.add_note(session, principal, ticket, body.text, body.visibility, now=now)
    await flush_or_conflict(session, "ticket")
    response.headers.update(version_headers(ticket.version))
    return service.note_state(note) | {"ticket_version": ticket.version}


@router.post("/tickets/{ticket_id}/attachments", status_code=201, summary="Record an attachment's metadata")
async def add_attachment(
    ticket_id: str, body: AttachmentCreate, principal: CurrentPrincipal, session: Session, now: Now
):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise conflict(f"a {ticket.status} ticket takes no more attachments", current_status=ticket.status)
    attachment = Attachment(ticket_id=ticket.id, added_by=principal.subject, created_at=now, **body.model_dump())
    session.add(attachment)
    mark_changed(ticket, now)
    await session.flush()
    await service.emit(session, ticket, "updated")
    return attachment_state(attachment)


@router.post("/tickets/{ticket_id}/assignment", summary="Assign to a queue and/or an agent (or unassign)")
async def assign(
    ticket_id: str, body: AssignmentRequest, response: Response, principal: CurrentPrincipal, session: Session, now: Now
):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    await service.assign(
        session,
        principal,
        ticket,
        queue=body.queue,
        assignee_id=body.assignee_id,
        assignee_name=body.assignee_name,
        now=now,
    )
    await flush_or_conflict(session, "ticket")
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.post("/tickets/{ticket_id}/relations", status_code=201, summary="Relate two tickets")
async def relate(ticket_id: str, body: RelationCreate, principal: CurrentPrincipal, session: Session):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    if body.related_ticket_id == ticket.id:
        raise field_problem("related_ticket_id", "a ticket cannot be related to itself")
    other = await load_ticket(session, principal, body.related_ticket_id, field="related_ticket_id")
    exists = await session.scalar(
        select(Relation.id).where(
            or_(
                and_(Relation.ticket_id == ticket.id, Relation.related_ticket_id == other.id),
                and_(Relation.ticket_id == other.id, Relation.related_ticket_id == ticket.id),
            )
        )
    )
    if exists is not None:
        raise conflict("these tickets are already related")
    session.add(Relation(ticket_id=ticket.id, related_ticket_id=other.id, kind=body.kind))
    return {"ticket_id": ticket.id, "related_ticket_id": other.id, "kind": body.kind}
