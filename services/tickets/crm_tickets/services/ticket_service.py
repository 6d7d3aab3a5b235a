"""The ticket use cases, shared by the REST API, the TMF621 facade, the gRPC server, mass
incidents, the SLA scheduler and the demo stories: each runs inside the caller's unit of work
and writes the change, its status history, its audit entry and its events together.

The functions taking a ticket id load the ticket as the caller may see or change it
(crm_tickets.access); the ones taking a Ticket work on one already loaded and locked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import creation_changes, diff, record_change
from crm_shared.auth import Principal, Role
from crm_shared.clients.sales import CustomerRef, SalesCustomers
from crm_shared.concurrency import check_version, flush_or_conflict, required_version
from crm_shared.db import new_id
from crm_shared.errors import conflict, field_problem
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.records import mark_changed
from crm_shared.search import search_clause

from ..access import load_ticket, require_customer, require_reader, require_ticket_writer, ticket_visibility
from ..db.models import Attachment, Incident, InstalledProduct, Interaction, Note, Relation, StatusChange, Ticket
from ..domain import sla
from ..domain.routing import CATEGORIES, queue_for
from ..domain.workflow import (
    OPEN_STATUSES,
    RESPONDED_STATUSES,
    RUNNING_STATUSES,
    Status,
    check_not_finished,
    check_ratable,
    check_reason,
    check_reopen_window,
    check_transition,
    is_reopen,
)
from ..events.publishers import incident_categories, note_state, publish_interaction, publish_ticket, ticket_state
from .customer_identity_service import check_in_use

OPEN_VALUES = tuple(s.value for s in OPEN_STATUSES)
STATUS_VALUES = tuple(s.value for s in Status)
# What a PATCH may set but never to null.
REQUIRED_FIELDS = ("name", "description", "category", "priority", "severity")
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class TicketDraft:
    """What a new ticket says (its customer comes separately, from sales)."""

    name: str
    description: str
    category: str
    priority: str = "medium"
    severity: str = "minor"
    channel: str = "phone"
    location: str | None = None
    installed_product_id: str | None = None


@dataclass(frozen=True)
class NoteDraft:
    text: str
    visibility: str = "internal"  # internal | customer


@dataclass(frozen=True)
class AttachmentDraft:
    name: str
    media_type: str
    size_bytes: int
    url: str | None = None


@dataclass(frozen=True)
class WorkFilters:
    """The filters of the work lists (every ticket, a queue): each list names allowed values."""

    priority: Sequence[str] | None = None
    category: Sequence[str] | None = None
    assignee_id: str | None = None
    unassigned: bool = False


# --- the SLA clock on a ticket ---------------------------------------------------------------------


def sla_view(ticket: Ticket) -> sla.SlaView:
    return sla.SlaView(
        policy=sla.POLICIES_BY_NAME[ticket.sla_policy],
        response_due_at=ticket.response_due_at,
        resolution_due_at=ticket.resolution_due_at,
        responded=ticket.first_response_at is not None,
        response_state=ticket.response_state,
        resolution_state=ticket.resolution_state,
        escalation_level=ticket.escalation_level,
    )


def refresh_clock_columns(ticket: Ticket) -> None:
    """sla_check_at (when the scheduler looks next) and urgency_at (queue order) from the state."""
    running = ticket.status in RUNNING_STATUSES and ticket.paused_at is None
    ticket.sla_check_at = sla.next_check(sla_view(ticket)) if running else None
    open_ = ticket.status in OPEN_STATUSES
    ticket.urgency_at = (
        (ticket.response_due_at if ticket.first_response_at is None else ticket.resolution_due_at) if open_ else None
    )


def resume_sla(ticket: Ticket, now: datetime) -> None:
    policy = sla.POLICIES_BY_NAME[ticket.sla_policy]
    if ticket.first_response_at is None and ticket.response_due_at is not None:
        ticket.response_due_at = sla.resume(policy, ticket.response_due_at, ticket.paused_at, now)
    ticket.resolution_due_at = sla.resume(policy, ticket.resolution_due_at, ticket.paused_at, now)
    ticket.paused_at = None


def restart_sla(ticket: Ticket, now: datetime) -> None:
    """A reopened ticket gets a new resolution target (a new SLA cycle, so signals can recur)."""
    policy = sla.POLICIES_BY_NAME[ticket.sla_policy]
    _response, resolution = sla.due_times(policy, now)
    ticket.resolution_due_at = resolution
    ticket.resolution_state = "ok"
    ticket.escalation_level = 0
    ticket.sla_cycle += 1
    ticket.resolved_at = None


def reprice_sla(ticket: Ticket, now: datetime) -> None:
    """A new priority: the targets of its policy, counted from when the ticket was opened."""
    policy = sla.policy_for(ticket.priority, ticket.customer_segment)
    ticket.sla_policy = policy.name
    response_due, resolution_due = sla.due_times(policy, ticket.created_at)
    if ticket.first_response_at is None:
        ticket.response_due_at = response_due
    ticket.resolution_due_at = resolution_due


def history_row(
    ticket: Ticket, before: str | None, reason: str | None, principal: Principal, at: datetime
) -> StatusChange:
    return StatusChange(
        ticket_id=ticket.id,
        from_status=before,
        to_status=ticket.status,
        reason=reason,
        actor_id=principal.subject,
        actor_name=principal.display_name,
        at=at,
    )


# --- opening a ticket ------------------------------------------------------------------------------


async def check_product(
    session: AsyncSession, customer: CustomerRef, product_id: str | None
) -> InstalledProduct | None:
    if product_id is None:
        return None
    product = await session.get(InstalledProduct, product_id)
    if product is None or product.customer_id != customer.id:
        raise field_problem("installed_product_id", "is not an installed product of this customer")
    if product.terminated:
        raise field_problem("installed_product_id", "this product is terminated")
    return product


async def matching_incident(session: AsyncSession, ticket: Ticket) -> Incident | None:
    """The newest open incident whose area covers the ticket (region, branch when given, area
    text when given, categories when given)."""
    stmt = (
        select(Incident)
        .where(
            Incident.status == "open",
            Incident.region_code == ticket.region_code,
            or_(Incident.branch_code.is_(None), Incident.branch_code == ticket.branch_code),
        )
        .order_by(Incident.created_at.desc())
    )
    for incident in await session.scalars(stmt):
        categories = incident_categories(incident)
        if categories and ticket.category not in categories:
            continue
        if incident.area and (not ticket.location or incident.area.lower() not in ticket.location.lower()):
            continue
        return incident
    return None


async def open_ticket(
    session: AsyncSession,
    principal: Principal,
    customers: SalesCustomers,
    customer_id: str,
    draft: TicketDraft,
    *,
    now: datetime,
    notes: Sequence[NoteDraft] = (),
    interaction_id: str | None = None,
    customer_field: str = "customer_id",
) -> tuple[Ticket, Incident | None]:
    """A ticket for a customer the caller sees in sales (404 naming ``customer_field``
    otherwise), with its first notes, linked to the call it was opened in; returns the ticket and
    the known outage it was linked to, if any. A customer (the portal) opens one for themselves
    only (sales answers 404 for anyone else), on the self-service channel, at the default priority,
    without internal notes or a call. A partner user opens one for a customer its partner brought
    (sales answers 404 for any other) through its portal: the self-service channel, no call, no
    internal notes."""
    require_ticket_writer(principal, customer_may=True, partner_may=True)
    if principal.role in (Role.CUSTOMER, Role.PARTNER) and (notes or interaction_id):
        who = "customers" if principal.role is Role.CUSTOMER else "partner users"
        raise field_problem("note" if notes else "interaction_id", f"not for {who}", 403)
    if principal.role is Role.CUSTOMER:
        draft = replace(draft, channel="self_service", priority="medium", severity="minor")
    elif principal.role is Role.PARTNER:
        draft = replace(draft, channel="self_service")
    customer = await customers.get(principal, customer_id, field=customer_field)
    await check_in_use(session, customer, customer_field)
    ticket = await create_ticket(session, principal, customer, draft, now=now)
    for note in notes:
        await append_note(session, principal, ticket, note, now=now)
    if interaction_id:
        interaction = await session.get(Interaction, interaction_id, with_for_update=True)
        if interaction is None or interaction.customer_id != customer.id:
            raise field_problem("interaction_id", "no such interaction with this customer")
        interaction.ticket_id = ticket.id
    elif draft.channel in CONTACT_CHANNELS and principal.role is not Role.SYSTEM:
        await log_contact_of(session, principal, ticket, now=now)
    incident = await session.get(Incident, ticket.incident_id) if ticket.incident_id else None
    return ticket, incident


# A ticket opened by staff on these channels is opened in a contact with the customer (a call, a
# visit at the branch): the contact is logged with it, once (docs/interactions.md).
CONTACT_CHANNELS = ("phone", "branch")


async def log_contact_of(session: AsyncSession, principal: Principal, ticket: Ticket, *, now: datetime) -> Interaction:
    """The contact a ticket was opened in: the agent's call with the customer still going on (its
    end will say what came of it), or else one logged now, ended with the outcome "ticket opened"."""
    ongoing = await session.scalar(
        select(Interaction)
        .where(
            Interaction.customer_id == ticket.customer_id,
            Interaction.agent_id == principal.subject,
            Interaction.ended_at.is_(None),
        )
        .order_by(Interaction.started_at.desc())
        .limit(1)
        .with_for_update()
    )
    if ongoing is not None:
        if ongoing.ticket_id is None:
            ongoing.ticket_id = ticket.id
        return ongoing
    contact = Interaction(
        id=new_id(),
        customer_id=ticket.customer_id,
        channel=ticket.channel,
        direction="inbound",
        started_at=now,
        ended_at=now,
        outcome="ticket_opened",
        summary=ticket.name,
        ticket_id=ticket.id,
        agent_id=principal.subject,
        agent_name=principal.display_name,
        branch_code=ticket.branch_code,
        region_code=ticket.region_code,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(contact)
    await session.flush()
    await publish_interaction(session, contact, "started")
    await publish_interaction(session, contact, "ended")
    return contact


async def create_ticket(
    session: AsyncSession,
    principal: Principal,
    customer: CustomerRef,
    draft: TicketDraft,
    *,
    now: datetime,
    incident: Incident | None = None,
) -> Ticket:
    """A new ticket for ``customer`` (already known visible): SLA targets of its priority and
    segment, the queue of its branch and category, linked to ``incident`` or to an open one that
    covers it."""
    product = await check_product(session, customer, draft.installed_product_id)
    policy = sla.policy_for(draft.priority, customer.segment)
    response_due, resolution_due = sla.due_times(policy, now)
    ticket = Ticket(
        id=new_id(),
        customer_id=customer.id,
        customer_name=customer.display_name,
        customer_segment=customer.segment,
        installed_product_id=product.id if product else None,
        name=draft.name,
        description=draft.description,
        category=draft.category,
        priority=draft.priority,
        severity=draft.severity,
        channel=draft.channel,
        location=draft.location or (product.service_address if product else None),
        status=Status.NEW.value,
        queue=queue_for(customer.branch_code, draft.category),
        branch_code=customer.branch_code,
        region_code=customer.region_code,
        opened_by=principal.subject,
        opened_by_name=principal.display_name,
        sla_policy=policy.name,
        response_due_at=response_due,
        resolution_due_at=resolution_due,
        response_state="ok",
        resolution_state="ok",
        escalation_level=0,
        sla_cycle=0,
        created_at=now,
        updated_at=now,
        version=1,
    )
    refresh_clock_columns(ticket)
    session.add(ticket)
    await session.flush()  # the ticket row first: the tables reference it without ORM relationships
    session.add(history_row(ticket, None, "opened", principal, now))
    record_change(
        session,
        principal,
        entity_type="ticket",
        entity_id=ticket.id,
        action="created",
        changes=creation_changes(ticket_state(ticket)),
    )
    await session.flush()
    await publish_ticket(session, ticket, "created")
    incident = incident or await matching_incident(session, ticket)
    if incident is not None:
        await link_to_incident(session, principal, ticket, incident, now=now)
    return ticket


async def link_to_incident(
    session: AsyncSession, principal: Principal, ticket: Ticket, incident: Incident, *, now: datetime
) -> None:
    ticket.incident_id = incident.id
    ticket.status_change_reason = f"known outage: {incident.title}"
    mark_changed(ticket, now)
    record_change(
        session,
        principal,
        entity_type="ticket",
        entity_id=ticket.id,
        action="incident_linked",
        changes={"incident_id": [None, incident.id]},
    )
    await session.flush()
    await publish_ticket(session, ticket, "incident_linked")


# --- workflow --------------------------------------------------------------------------------------


async def change_status(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    target: str,
    reason: str | None,
    *,
    now: datetime,
    reopen_window: timedelta,
    if_match: str | None = None,
) -> Ticket:
    """A move along the workflow; ``if_match`` (the ETag the caller read) is optional here."""
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    if if_match is not None:
        check_version("ticket", ticket.version, required_version(if_match, None, "ticket"))
    await transition(session, principal, ticket, target, reason, now=now, reopen_window=reopen_window)
    await flush_or_conflict(session, "ticket")
    return ticket


async def transition(
    session: AsyncSession,
    principal: Principal,
    ticket: Ticket,
    target: str,
    reason: str | None,
    *,
    now: datetime,
    reopen_window: timedelta,
) -> Ticket:
    before = ticket.status
    to = check_transition(before, target)
    check_reason(to, reason)
    if is_reopen(before, to):
        check_reopen_window(ticket.resolved_at, now, reopen_window)
        restart_sla(ticket, now)
    if before == Status.PENDING and to is not Status.PENDING and ticket.paused_at is not None:
        resume_sla(ticket, now)
    if to is Status.PENDING:
        ticket.paused_at = now
    if to in RESPONDED_STATUSES and ticket.first_response_at is None:
        ticket.first_response_at = now
        ticket.response_state = "met" if ticket.response_state != "breached" else "breached"
    if to is Status.RESOLVED:
        ticket.resolved_at = now
        if ticket.resolution_state != "breached":
            ticket.resolution_state = "met"
    if to is Status.CLOSED:
        ticket.closed_at = now
    ticket.status = to.value
    ticket.status_change_reason = reason
    mark_changed(ticket, now)
    refresh_clock_columns(ticket)
    session.add(history_row(ticket, before, reason, principal, now))
    record_change(
        session,
        principal,
        entity_type="ticket",
        entity_id=ticket.id,
        action="status_changed",
        changes={"status": [before, to.value]},
    )
    await flush_or_conflict(session, "ticket")
    await publish_ticket(session, ticket, "status_changed", {"previous_status": before})
    return ticket


# --- notes, details, assignment, attachments, relations ---------------------------------------------


async def add_note(
    session: AsyncSession, principal: Principal, ticket_id: str, note: NoteDraft, *, now: datetime
) -> tuple[Ticket, Note]:
    ticket = await load_ticket(session, principal, ticket_id, write=True, customer_may=True)
    if principal.role is Role.CUSTOMER:  # what a customer writes is for the branch and for them
        note = replace(note, visibility="customer")
    written = await append_note(session, principal, ticket, note, now=now)
    await flush_or_conflict(session, "ticket")
    return ticket, written


async def append_note(
    session: AsyncSession, principal: Principal, ticket: Ticket, draft: NoteDraft, *, now: datetime
) -> Note:
    check_not_finished(ticket.status, "takes no more notes")
    note = Note(
        id=new_id(),
        ticket_id=ticket.id,
        text=draft.text,
        visibility=draft.visibility,
        author_id=principal.subject,
        author_name=principal.display_name,
        created_at=now,
    )
    session.add(note)
    mark_changed(ticket, now)
    record_change(
        session,
        principal,
        entity_type="ticket",
        entity_id=ticket.id,
        action="note_added",
        changes={"note": [None, note.id]},
    )
    await session.flush()
    await publish_ticket(session, ticket, "note_added", {"note": note_state(note)})
    return note


async def rate_ticket(
    session: AsyncSession, principal: Principal, ticket_id: str, score: int, comment: str | None, *, now: datetime
) -> Ticket:
    """The customer's rating (1-5, a comment) of their resolved ticket, once: CSAT for the branch
    (in the ticket's state) and for analytics (crm.tickets.ticket.rated)."""
    require_customer(principal, "rate a ticket")
    ticket = await load_ticket(session, principal, ticket_id, write=True, customer_may=True)
    check_ratable(ticket.status, ticket.rating_score is not None)
    ticket.rating_score = score
    ticket.rating_comment = comment
    ticket.rated_at = now
    mark_changed(ticket, now)
    record_change(
        session,
        principal,
        entity_type="ticket",
        entity_id=ticket.id,
        action="rated",
        changes={"rating_score": [None, score], "rating_comment": [None, comment]},
    )
    await flush_or_conflict(session, "ticket")
    await publish_ticket(session, ticket, "rated")
    return ticket


async def update_ticket(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    changes: dict[str, Any],
    *,
    expected_version: int,
    now: datetime,
) -> Ticket:
    """The details a PATCH sets (``changes``: only the fields it sent)."""
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    check_version("ticket", ticket.version, expected_version)
    for name in REQUIRED_FIELDS:
        if name in changes and changes[name] is None:
            raise field_problem(name, "may not be null")
    await apply_changes(session, principal, ticket, changes, now=now)
    await flush_or_conflict(session, "ticket")
    return ticket


async def apply_changes(
    session: AsyncSession, principal: Principal, ticket: Ticket, changes: dict[str, Any], *, now: datetime
) -> Ticket:
    """A new category moves the ticket to that team's queue; a new priority reprices its SLA."""
    check_not_finished(ticket.status, "cannot be changed")
    before = ticket_state(ticket)
    for name, value in changes.items():
        setattr(ticket, name, value)
    if "category" in changes:
        ticket.queue = queue_for(ticket.branch_code, ticket.category)
    if "priority" in changes and changes["priority"] != before["priority"]:
        reprice_sla(ticket, now)
    mark_changed(ticket, now)
    refresh_clock_columns(ticket)
    after = ticket_state(ticket)
    record_change(
        session, principal, entity_type="ticket", entity_id=ticket.id, action="updated", changes=diff(before, after)
    )
    await session.flush()
    await publish_ticket(session, ticket, "updated")
    return ticket


async def amend_ticket(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    *,
    changes: dict[str, Any],
    status: str | None,
    reason: str | None,
    notes: Sequence[NoteDraft],
    now: datetime,
    reopen_window: timedelta,
) -> Ticket:
    """One merge patch of details, status and notes together (TMF621)."""
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    if changes:
        await apply_changes(session, principal, ticket, changes, now=now)
    if status is not None and status != ticket.status:
        await transition(session, principal, ticket, status, reason, now=now, reopen_window=reopen_window)
    for note in notes:
        await append_note(session, principal, ticket, note, now=now)
    await session.flush()
    return ticket


async def assign(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    *,
    queue: str | None,
    assignee_id: str | None,
    assignee_name: str | None,
    now: datetime,
) -> Ticket:
    """To a queue and/or an agent; no agent unassigns."""
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    check_not_finished(ticket.status, "cannot be reassigned")
    before = ticket_state(ticket)
    if queue is not None:
        ticket.queue = queue
    ticket.assignee_id = assignee_id
    ticket.assignee_name = assignee_name if assignee_id else None
    mark_changed(ticket, now)
    refresh_clock_columns(ticket)
    record_change(
        session,
        principal,
        entity_type="ticket",
        entity_id=ticket.id,
        action="assigned",
        changes=diff(before, ticket_state(ticket)),
    )
    await session.flush()
    await publish_ticket(session, ticket, "assigned")
    await flush_or_conflict(session, "ticket")
    return ticket


async def add_attachment(
    session: AsyncSession, principal: Principal, ticket_id: str, draft: AttachmentDraft, *, now: datetime
) -> Attachment:
    """An attachment's metadata (the file itself lives where ``url`` says)."""
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    check_not_finished(ticket.status, "takes no more attachments")
    attachment = Attachment(
        ticket_id=ticket.id,
        added_by=principal.subject,
        created_at=now,
        name=draft.name,
        media_type=draft.media_type,
        size_bytes=draft.size_bytes,
        url=draft.url,
    )
    session.add(attachment)
    mark_changed(ticket, now)
    await session.flush()
    await publish_ticket(session, ticket, "updated")
    return attachment


async def relate(
    session: AsyncSession, principal: Principal, ticket_id: str, related_ticket_id: str, kind: str
) -> Relation:
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    if related_ticket_id == ticket.id:
        raise field_problem("related_ticket_id", "a ticket cannot be related to itself")
    other = await load_ticket(session, principal, related_ticket_id, field="related_ticket_id")
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
    relation = Relation(ticket_id=ticket.id, related_ticket_id=other.id, kind=kind)
    session.add(relation)
    return relation


async def get_ticket(session: AsyncSession, principal: Principal, ticket_id: str) -> Ticket:
    return await load_ticket(session, principal, ticket_id)


async def notes_of(session: AsyncSession, ticket: Ticket) -> list[Note]:
    return list(
        await session.scalars(select(Note).where(Note.ticket_id == ticket.id).order_by(Note.created_at, Note.id))
    )


async def history_of(session: AsyncSession, ticket: Ticket) -> list[StatusChange]:
    return list(
        await session.scalars(select(StatusChange).where(StatusChange.ticket_id == ticket.id).order_by(StatusChange.id))
    )


async def attachments_of(session: AsyncSession, ticket: Ticket) -> list[Attachment]:
    return list(
        await session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.created_at)
        )
    )


async def related_of(session: AsyncSession, ticket: Ticket) -> list[tuple[str, str]]:
    """(the other ticket's id, the kind of relation) for every relation in either direction."""
    relations = await session.scalars(
        select(Relation).where(or_(Relation.ticket_id == ticket.id, Relation.related_ticket_id == ticket.id))
    )
    return [(r.related_ticket_id if r.ticket_id == ticket.id else r.ticket_id, r.kind) for r in relations]


# --- lists: filters, the two orders and their keyset cursors -----------------------------------------


def one_of(field: str, values: Sequence[str] | None, allowed: Sequence[str], what: str) -> list[str]:
    """A repeatable filter's values, or a 422 naming ``field`` at the first one not allowed."""
    for value in values or ():
        if value not in allowed:
            raise field_problem(field, f"{what} {value!r}; one of {', '.join(allowed)}")
    return list(values or [])


def open_only() -> ColumnElement[bool]:
    # Written into the SQL rather than bound, so that PostgreSQL can prove the partial indexes'
    # predicate (status IN the open statuses) in a prepared, generic plan too.
    return Ticket.status.in_([literal(s, literal_execute=True) for s in OPEN_VALUES])


def work_filters(filters: WorkFilters) -> list[Any]:
    if filters.unassigned and filters.assignee_id is not None:
        raise field_problem("unassigned", "either assignee_id or unassigned=true, not both")
    clauses = []
    if priority := one_of("priority", filters.priority, sla.PRIORITIES, "unknown priority"):
        clauses.append(Ticket.priority.in_(priority))
    if category := one_of("category", filters.category, CATEGORIES, "unknown category"):
        clauses.append(Ticket.category.in_(category))
    if filters.assignee_id is not None:
        clauses.append(Ticket.assignee_id == filters.assignee_id)
    if filters.unassigned:
        clauses.append(Ticket.assignee_id.is_(None))
    return clauses


def open_status_filter(status: Sequence[str] | None) -> list[Any]:
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


def page_of(rows: list[Ticket], limit: int, key) -> tuple[list[Ticket], str | None]:
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(key(rows[-1])) if more else None


def urgency_key(ticket: Ticket) -> list[Any]:
    return [ticket.urgency_at.isoformat() if ticket.urgency_at else None, ticket.created_at.isoformat(), ticket.id]


async def newest_first(session, stmt, after: list[Any] | None, limit: int) -> tuple[list[Ticket], str | None]:
    if after:
        stmt = stmt.where(tuple_(Ticket.created_at, Ticket.id) < tuple(after))
    rows = list(await session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit + 1)))
    return page_of(rows, limit, lambda t: [t.created_at.isoformat(), t.id])


async def most_urgent_first(session, stmt, after: list[Any] | None, limit: int) -> tuple[list[Ticket], str | None]:
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


async def list_tickets(
    session: AsyncSession,
    principal: Principal,
    *,
    filters: WorkFilters,
    status: Sequence[str] | None = None,
    customer_id: str | None = None,
    queue: str | None = None,
    incident_id: str | None = None,
    branch_code: str | None = None,
    q: str | None = None,
    sort: str = "newest",
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Ticket], str | None]:
    """Every ticket in the caller's reach, filtered: ``newest`` lists every status by creation,
    newest first; ``urgency`` the open ones only, nearest SLA deadline first. ``q``: a ticket
    number or words of the subject or the customer's name (crm_shared.search). Returns a page and
    the cursor of the next one."""
    require_reader(principal)
    stmt = select(Ticket).where(ticket_visibility(principal), *work_filters(filters))
    for column, value in (
        (Ticket.customer_id, customer_id),
        (Ticket.queue, queue),
        (Ticket.incident_id, incident_id),
        (Ticket.branch_code, branch_code),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if q is not None:
        stmt = stmt.where(search_clause(q, Ticket.id, (Ticket.name, Ticket.customer_name)))
    if sort == "urgency":
        return await most_urgent_first(session, stmt.where(*open_status_filter(status)), urgency_after(cursor), limit)
    if wanted := one_of("status", status, STATUS_VALUES, "unknown status"):
        stmt = stmt.where(Ticket.status.in_(wanted))
    return await newest_first(session, stmt, newest_after(cursor), limit)


async def queue_tickets(
    session: AsyncSession,
    principal: Principal,
    queue: str,
    *,
    filters: WorkFilters,
    status: Sequence[str] | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Ticket], str | None]:
    """A queue's open tickets in the caller's reach, nearest SLA deadline first."""
    require_reader(principal)
    stmt = select(Ticket).where(
        ticket_visibility(principal),
        Ticket.queue == queue,
        *open_status_filter(status),
        *work_filters(filters),
    )
    return await most_urgent_first(session, stmt, urgency_after(cursor), limit)


async def list_tickets_at_offset(
    session: AsyncSession,
    principal: Principal,
    *,
    statuses: Sequence[str] | None,
    severities: Sequence[str] | None,
    categories: Sequence[str] | None,
    created: Sequence[tuple[str, datetime]] = (),
    offset: int,
    limit: int,
) -> tuple[int, list[Ticket]]:
    """(how many tickets the caller sees with these filters, the slice at offset, newest first);
    ``created``: (gt | gte | lt | lte | eq, moment) bounds on the creation time."""
    require_reader(principal)
    stmt = select(Ticket).where(ticket_visibility(principal))
    if statuses is not None:
        stmt = stmt.where(Ticket.status.in_(statuses))
    if severities is not None:
        stmt = stmt.where(Ticket.severity.in_(severities))
    if categories is not None:
        stmt = stmt.where(Ticket.category.in_(categories))
    column = Ticket.created_at
    for operator, at in created:
        bounds = {"gt": column > at, "gte": column >= at, "lt": column < at, "lte": column <= at, "eq": column == at}
        stmt = stmt.where(bounds[operator])
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = list(await session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id).offset(offset).limit(limit)))
    return total or 0, rows


async def customer_tickets(
    session: AsyncSession, principal: Principal, customer_id: str, *, page_size: int, include_closed: bool
) -> list[Ticket]:
    """A customer's tickets for another service: the open ones first, most urgent first, then
    (with ``include_closed``) the finished ones, newest first. ``page_size`` 0 is the default."""
    require_reader(principal)
    if not customer_id:
        raise field_problem("customer_id", "required")
    if len(customer_id) > 36:
        raise field_problem("customer_id", "at most 36 characters")
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise field_problem("page_size", f"must be 0..{MAX_PAGE_SIZE}")
    stmt = select(Ticket).where(Ticket.customer_id == customer_id, ticket_visibility(principal))
    if not include_closed:
        stmt = stmt.where(Ticket.status.in_(OPEN_VALUES))
    is_finished = case((Ticket.status.in_(OPEN_VALUES), 0), else_=1)
    stmt = stmt.order_by(is_finished, Ticket.urgency_at.asc().nulls_last(), Ticket.created_at.desc())
    return list(await session.scalars(stmt.limit(page_size or DEFAULT_PAGE_SIZE)))
