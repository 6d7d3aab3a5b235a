"""REST API of tickets: /api/v1/tickets/tickets (create, list, read, change, workflow, notes,
attachments, assignment, relations, history) and the queue views."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import and_, or_, select

from crm_shared.concurrency import IfMatch, check_version, flush_or_conflict, required_version, version_headers
from crm_shared.errors import OPENAPI_PROBLEMS, conflict, field_problem
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor
from crm_shared.records import mark_changed

from .. import ticket_service as service
from ..access import load_ticket, require_reader, require_ticket_writer, ticket_visibility
from ..db.models import Attachment, Incident, Interaction, Note, Relation, StatusChange, Ticket
from ..domain.workflow import OPEN_STATUSES, Status, allowed_next
from .deps import CurrentPrincipal, Customers, Now, Session, settings_of
from .schemas import (AssignmentRequest, AttachmentCreate, NoteCreate, RelationCreate, TicketCreate, TicketPage,
                      TicketUpdate, TransitionRequest)

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], responses=OPENAPI_PROBLEMS)
BASE = "/api/v1/tickets/tickets"


def ticket_body(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    return service.ticket_state(ticket) | {"allowed_transitions": allowed_next(ticket.status)} | extra


def reopen_window(request: Request) -> timedelta:
    return timedelta(days=settings_of(request).reopen_window_days)


@router.post("/tickets", status_code=201, summary="Open a ticket for a customer")
async def create_ticket(body: TicketCreate, request: Request, response: Response, principal: CurrentPrincipal,
                        session: Session, customers: Customers, now: Now, idempotency_key: IdempotencyKey = None):
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
            known_outage = {"incident_id": incident.id, "title": incident.title,
                            "expected_resolution_at": (incident.expected_resolution_at.isoformat() if incident.expected_resolution_at else None),
                            "message": f"There is a known outage in this area: {incident.title}"}
        return ticket_body(ticket, known_outage=known_outage)

    return await create_once(session, principal, idempotency_key, payload, response, create=create,
                             headers=lambda b: version_headers(b["version"], f"{BASE}/{b['id']}"),
                             flush=lambda: flush_or_conflict(session, "ticket"))


@router.get("/tickets", response_model=TicketPage, summary="Tickets the caller sees, newest first")
async def list_tickets(principal: CurrentPrincipal, session: Session,
                       status: list[str] | None = Query(None), customer_id: str | None = None,
                       queue: str | None = None, incident_id: str | None = None, branch_code: str | None = None,
                       limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT), cursor: str | None = None):
    require_reader(principal)
    stmt = select(Ticket).where(ticket_visibility(principal))
    if status:
        unknown = [s for s in status if s not in {x.value for x in Status}]
        if unknown:
            raise field_problem("status", f"unknown status {unknown[0]!r}")
        stmt = stmt.where(Ticket.status.in_(status))
    for column, value in ((Ticket.customer_id, customer_id), (Ticket.queue, queue),
                          (Ticket.incident_id, incident_id), (Ticket.branch_code, branch_code)):
        if value is not None:
            stmt = stmt.where(column == value)
    after = decode_cursor(cursor)
    if after:
        try:
            created, last_id = datetime.fromisoformat(after[0]), str(after[1])
        except (ValueError, IndexError, TypeError):
            raise field_problem("cursor", "malformed cursor", 400) from None
        stmt = stmt.where(or_(Ticket.created_at < created, and_(Ticket.created_at == created, Ticket.id < last_id)))
    rows = list(await session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor([rows[-1].created_at.isoformat(), rows[-1].id]) if more else None
    return TicketPage(items=[ticket_body(t) for t in rows], next_cursor=next_cursor)


@router.get("/queues/{queue}/tickets", response_model=TicketPage,
            summary="A queue's open tickets, most urgent SLA deadline first")
async def queue_view(queue: str, principal: CurrentPrincipal, session: Session,
                     limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT), assignee_id: str | None = None):
    require_reader(principal)
    stmt = (select(Ticket).where(ticket_visibility(principal), Ticket.queue == queue,
                                 Ticket.status.in_([s.value for s in OPEN_STATUSES])))
    if assignee_id is not None:
        stmt = stmt.where(Ticket.assignee_id == assignee_id)
    rows = await session.scalars(stmt.order_by(Ticket.urgency_at.asc().nulls_last(), Ticket.created_at).limit(limit))
    return TicketPage(items=[ticket_body(t) for t in rows])


@router.get("/tickets/{ticket_id}", summary="One ticket, with its notes, attachments and relations")
async def get_ticket(ticket_id: str, response: Response, principal: CurrentPrincipal, session: Session):
    ticket = await load_ticket(session, principal, ticket_id)
    response.headers.update(version_headers(ticket.version))
    return await full_ticket(session, ticket)


async def full_ticket(session, ticket: Ticket) -> dict[str, Any]:
    notes = await session.scalars(select(Note).where(Note.ticket_id == ticket.id).order_by(Note.created_at, Note.id))
    attachments = await session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id)
                                        .order_by(Attachment.created_at))
    relations = await session.scalars(select(Relation).where(
        or_(Relation.ticket_id == ticket.id, Relation.related_ticket_id == ticket.id)))
    return ticket_body(
        ticket,
        notes=[service.note_state(n) for n in notes],
        attachments=[attachment_state(a) for a in attachments],
        related_tickets=[{"ticket_id": r.related_ticket_id if r.ticket_id == ticket.id else r.ticket_id,
                          "kind": r.kind} for r in relations])


def attachment_state(a: Attachment) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "media_type": a.media_type, "size_bytes": a.size_bytes, "url": a.url,
            "added_by": a.added_by, "created_at": a.created_at.isoformat()}


@router.patch("/tickets/{ticket_id}", summary="Change a ticket's details (If-Match)")
async def update_ticket(ticket_id: str, body: TicketUpdate, response: Response, principal: CurrentPrincipal,
                        session: Session, now: Now, if_match: IfMatch = None):
    expected = required_version(if_match, body.version, "ticket")
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    check_version("ticket", ticket.version, expected)
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    for name in ("name", "description", "category", "priority", "severity"):
        if name in changes and changes[name] is None:
            raise field_problem(name, "may not be null")
    await service.update_fields(session, principal, ticket, changes, now=now)
    await flush_or_conflict(session, "ticket")
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.post("/tickets/{ticket_id}/transitions", summary="Move a ticket along its workflow")
async def change_status(ticket_id: str, body: TransitionRequest, request: Request, response: Response,
                        principal: CurrentPrincipal, session: Session, now: Now, if_match: IfMatch = None):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    if if_match is not None:
        check_version("ticket", ticket.version, required_version(if_match, None, "ticket"))
    await service.transition(session, principal, ticket, body.status, body.reason, now=now,
                             reopen_window=reopen_window(request))
    await flush_or_conflict(session, "ticket")
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.get("/tickets/{ticket_id}/history", summary="Status history: who moved the ticket, when, why")
async def status_history(ticket_id: str, principal: CurrentPrincipal, session: Session):
    ticket = await load_ticket(session, principal, ticket_id)
    rows = await session.scalars(select(StatusChange).where(StatusChange.ticket_id == ticket.id)
                                 .order_by(StatusChange.id))
    return {"items": [{"from_status": r.from_status, "to_status": r.to_status, "reason": r.reason,
                       "actor_id": r.actor_id, "actor_name": r.actor_name, "at": r.at.isoformat()} for r in rows]}


@router.post("/tickets/{ticket_id}/notes", status_code=201, summary="Add a note (internal or for the customer)")
async def add_note(ticket_id: str, body: NoteCreate, response: Response, principal: CurrentPrincipal,
                   session: Session, now: Now):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    note = await service.add_note(session, principal, ticket, body.text, body.visibility, now=now)
    await flush_or_conflict(session, "ticket")
    response.headers.update(version_headers(ticket.version))
    return service.note_state(note) | {"ticket_version": ticket.version}


@router.post("/tickets/{ticket_id}/attachments", status_code=201, summary="Record an attachment's metadata")
async def add_attachment(ticket_id: str, body: AttachmentCreate, principal: CurrentPrincipal, session: Session,
                         now: Now):
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
async def assign(ticket_id: str, body: AssignmentRequest, response: Response, principal: CurrentPrincipal,
                 session: Session, now: Now):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    await service.assign(session, principal, ticket, queue=body.queue, assignee_id=body.assignee_id,
                         assignee_name=body.assignee_name, now=now)
    await flush_or_conflict(session, "ticket")
    response.headers.update(version_headers(ticket.version))
    return ticket_body(ticket)


@router.post("/tickets/{ticket_id}/relations", status_code=201, summary="Relate two tickets")
async def relate(ticket_id: str, body: RelationCreate, principal: CurrentPrincipal, session: Session):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    if body.related_ticket_id == ticket.id:
        raise field_problem("related_ticket_id", "a ticket cannot be related to itself")
    other = await load_ticket(session, principal, body.related_ticket_id, field="related_ticket_id")
    exists = await session.scalar(select(Relation.id).where(
        or_(and_(Relation.ticket_id == ticket.id, Relation.related_ticket_id == other.id),
            and_(Relation.ticket_id == other.id, Relation.related_ticket_id == ticket.id))))
    if exists is not None:
        raise conflict("these tickets are already related")
    session.add(Relation(ticket_id=ticket.id, related_ticket_id=other.id, kind=body.kind))
    return {"ticket_id": ticket.id, "related_ticket_id": other.id, "kind": body.kind}
