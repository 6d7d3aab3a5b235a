"""The ticket operations, shared by the REST API, the TMF621 facade and the SLA scheduler:
each runs inside the caller's unit of work and writes the change, its status history, its
audit entry and its events together."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import creation_changes, diff, record_change
from crm_shared.auth import Principal
from crm_shared.db import new_id
from crm_shared.errors import conflict, field_problem
from crm_shared.outbox import EventWriter
from crm_shared.records import mark_changed

from .customers import CustomerRef
from .db.models import Incident, InstalledProduct, Note, StatusChange, Ticket
from .domain import sla
from .domain.routing import queue_for
from .domain.workflow import OPEN_STATUSES, RESPONDED_STATUSES, RUNNING_STATUSES, Status, check_transition, is_reopen

Clock = Callable[[], datetime]
EVENTS = EventWriter("tickets")


# --- state ---------------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_state(ticket: Ticket) -> dict[str, Any]:
    """The full state of a ticket: the REST body and the payload of every ticket event."""
    return {
        "id": ticket.id,
        "version": ticket.version,
        "name": ticket.name,
        "description": ticket.description,
        "customer_id": ticket.customer_id,
        "customer_name": ticket.customer_name,
        "customer_segment": ticket.customer_segment,
        "installed_product_id": ticket.installed_product_id,
        "category": ticket.category,
        "priority": ticket.priority,
        "severity": ticket.severity,
        "channel": ticket.channel,
        "location": ticket.location,
        "status": ticket.status,
        "status_change_reason": ticket.status_change_reason,
        "queue": ticket.queue,
        "branch_code": ticket.branch_code,
        "region_code": ticket.region_code,
        "assignee_id": ticket.assignee_id,
        "assignee_name": ticket.assignee_name,
        "opened_by": ticket.opened_by,
        "opened_by_name": ticket.opened_by_name,
        "incident_id": ticket.incident_id,
        "sla": {
            "policy": ticket.sla_policy,
            "response_due_at": _iso(ticket.response_due_at),
            "resolution_due_at": _iso(ticket.resolution_due_at),
            "first_response_at": _iso(ticket.first_response_at),
            "paused_at": _iso(ticket.paused_at),
            "response_state": ticket.response_state,
            "resolution_state": ticket.resolution_state,
            "escalation_level": ticket.escalation_level,
        },
        "resolved_at": _iso(ticket.resolved_at),
        "closed_at": _iso(ticket.closed_at),
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
    }


def incident_state(incident: Incident, linked_tickets: int | None = None) -> dict[str, Any]:
    state = {
        "id": incident.id,
        "version": incident.version,
        "title": incident.title,
        "description": incident.description,
        "categories": [c for c in incident.categories.split(",") if c],
        "region_code": incident.region_code,
        "branch_code": incident.branch_code,
        "area": incident.area,
        "severity": incident.severity,
        "status": incident.status,
        "external_reference": incident.external_reference,
        "owner_id": incident.owner_id,
        "owner_name": incident.owner_name,
        "expected_resolution_at": _iso(incident.expected_resolution_at),
        "resolution": incident.resolution,
        "resolved_at": _iso(incident.resolved_at),
        "created_at": _iso(incident.created_at),
        "updated_at": _iso(incident.updated_at),
    }
    if linked_tickets is not None:
        state["linked_tickets"] = linked_tickets
    return state


async def emit(session: AsyncSession, ticket: Ticket, action: str, extra: dict[str, Any] | None = None) -> None:
    await EVENTS.add(
        session,
        aggregate="ticket",
        action=action,
        subject=ticket.id,
        data=ticket_state(ticket) | (extra or {}),
        region=ticket.region_code,
        branch=ticket.branch_code,
    )


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


def history_row(
    ticket: Ticket, before: str | None, reason: str | None, principal: Principal, at: datetime
) -> StatusChange:
    return StatusChange(
        ticket_id=ticket.id,
        from_status=before,
        to_status=ticket.status,
        reason=reason,
        actor_id=principal.subject,
        actor_name=principal.username,
        at=at,
    )


# --- create --------------------------------------------------------------------------------


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
        categories = [c for c in incident.categories.split(",") if c]
        if categories and ticket.category not in categories:
            continue
        if incident.area and (not ticket.location or incident.area.lower() not in ticket.location.lower()):
            continue
        return incident
    return None


async def create_ticket(
    session: AsyncSession,
    principal: Principal,
    customer: CustomerRef,
    fields: dict[str, Any],
    *,
    now: datetime,
    incident: Incident | None = None,
) -> Ticket:
    product = await check_product(session, customer, fields.get("installed_product_id"))
    policy = sla.policy_for(fields["priority"], customer.segment)
    response_due, resolution_due = sla.due_times(policy, now)
    ticket = Ticket(
        id=new_id(),
        customer_id=customer.id,
        customer_name=customer.display_name,
        customer_segment=customer.segment,
        installed_product_id=product.id if product else None,
        name=fields["name"],
        description=fields["description"],
        category=fields["category"],
        priority=fields["priority"],
        severity=fields["severity"],
        channel=fields["channel"],
        location=fields.get("location") or (product.service_address if product else None),
        status=Status.NEW.value,
        queue=queue_for(customer.branch_code, fields["category"]),
        branch_code=customer.branch_code,
        region_code=customer.region_code,
        opened_by=principal.subject,
        opened_by_name=principal.username,
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
    await emit(session, ticket, "created")
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
    await emit(session, ticket, "incident_linked")


# --- workflow ------------------------------------------------------------------------------


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
    if to is Status.PENDING and not reason:
        raise field_problem("reason", "say what the ticket is waiting for (customer or third party)")
    if is_reopen(before, to):
        if ticket.resolved_at is not None and now - ticket.resolved_at > reopen_window:
            raise conflict(
                f"the reopen window of {reopen_window.days} days has passed; open a new ticket",
                allowed_transitions=["closed"],
            )
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
    await session.flush()
    await emit(session, ticket, "status_changed", {"previous_status": before})
    return ticket


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


async def add_note(
    session: AsyncSession, principal: Principal, ticket: Ticket, text: str, visibility: str, *, now: datetime
) -> Note:
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise conflict(f"a {ticket.status} ticket takes no more notes", current_status=ticket.status)
    note = Note(
        id=new_id(),
        ticket_id=ticket.id,
        text=text,
        visibility=visibility,
        author_id=principal.subject,
        author_name=principal.username,
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
    await emit(session, ticket, "note_added", {"note": note_state(note)})
    return note


def note_state(note: Note) -> dict[str, Any]:
    return {
        "id": note.id,
        "text": note.text,
        "visibility": note.visibility,
        "author_id": note.author_id,
        "author_name": note.author_name,
        "created_at": _iso(note.created_at),
    }


async def update_fields(
    session: AsyncSession, principal: Principal, ticket: Ticket, changes: dict[str, Any], *, now: datetime
) -> Ticket:
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise conflict(f"a {ticket.status} ticket cannot be changed", current_status=ticket.status)
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
    await emit(session, ticket, "updated")
    return ticket


def reprice_sla(ticket: Ticket, now: datetime) -> None:
    """A new priority: the targets of its policy, counted from when the ticket was opened."""
    policy = sla.policy_for(ticket.priority, ticket.customer_segment)
    ticket.sla_policy = policy.name
    response_due, resolution_due = sla.due_times(policy, ticket.created_at)
    if ticket.first_response_at is None:
        ticket.response_due_at = response_due
    ticket.resolution_due_at = resolution_due


async def assign(
    session: AsyncSession,
    principal: Principal,
    ticket: Ticket,
    *,
    queue: str | None,
    assignee_id: str | None,
    assignee_name: str | None,
    now: datetime,
) -> Ticket:
    if ticket.status in (Status.CLOSED, Status.CANCELLED):
        raise conflict(f"a {ticket.status} ticket cannot be reassigned", current_status=ticket.status)
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
    await emit(session, ticket, "assigned")
    return ticket


# --- incidents -----------------------------------------------------------------------------


async def create_incident(
    session: AsyncSession,
    principal: Principal,
    fields: dict[str, Any],
    *,
    now: datetime,
    incident_id: str | None = None,
) -> tuple[Incident, int]:
    incident = Incident(
        id=incident_id or new_id(),
        title=fields["title"],
        description=fields["description"],
        categories=",".join(fields.get("categories") or ()),
        region_code=fields["region_code"],
        branch_code=fields.get("branch_code"),
        area=fields.get("area"),
        severity=fields["severity"],
        status="open",
        external_reference=fields.get("external_reference"),
        owner_id=principal.subject,
        owner_name=principal.username,
        expected_resolution_at=fields.get("expected_resolution_at"),
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(incident)
    await session.flush()
    record_change(
        session,
        principal,
        entity_type="incident",
        entity_id=incident.id,
        action="created",
        changes=creation_changes(incident_state(incident)),
    )
    await session.flush()
    linked = await link_open_tickets(session, principal, incident, now=now)
    await EVENTS.add(
        session,
        aggregate="incident",
        action="created",
        subject=incident.id,
        data=incident_state(incident, linked),
        region=incident.region_code,
        branch=incident.branch_code,
    )
    return incident, linked


async def link_open_tickets(session: AsyncSession, principal: Principal, incident: Incident, *, now: datetime) -> int:
    """Links every open customer ticket in the incident's area that has no incident yet."""
    conditions = [
        Ticket.status.in_([s.value for s in OPEN_STATUSES]),
        Ticket.incident_id.is_(None),
        Ticket.region_code == incident.region_code,
    ]
    if incident.branch_code:
        conditions.append(Ticket.branch_code == incident.branch_code)
    categories = [c for c in incident.categories.split(",") if c]
    if categories:
        conditions.append(Ticket.category.in_(categories))
    if incident.area:
        conditions.append(func.lower(Ticket.location).contains(incident.area.lower()))
    tickets = list(
        await session.scalars(
            select(Ticket).where(and_(*conditions)).order_by(Ticket.created_at).with_for_update(skip_locked=True)
        )
    )
    for ticket in tickets:
        await link_to_incident(session, principal, ticket, incident, now=now)
    return len(tickets)


async def attach_customers(
    session: AsyncSession,
    principal: Principal,
    incident: Incident,
    customers: list[CustomerRef],
    fields: dict[str, Any],
    *,
    now: datetime,
) -> dict[str, Any]:
    """Each affected customer's open ticket in the incident's categories is linked; a customer
    without one gets a new ticket, opened by the incident's owner and linked."""
    if incident.status != "open":
        raise conflict("the incident is resolved; it takes no more customers", current_status=incident.status)
    categories = [c for c in incident.categories.split(",") if c]
    ids = [c.id for c in customers]
    existing: dict[str, Ticket] = {}
    if ids:
        stmt = select(Ticket).where(Ticket.customer_id.in_(ids), Ticket.status.in_([s.value for s in OPEN_STATUSES]))
        if categories:
            stmt = stmt.where(Ticket.category.in_(categories))
        for ticket in await session.scalars(stmt.order_by(Ticket.created_at).with_for_update()):
            existing.setdefault(ticket.customer_id, ticket)
    linked, created = [], []
    for customer in customers:
        ticket = existing.get(customer.id)
        if ticket is not None:
            if ticket.incident_id != incident.id:
                await link_to_incident(session, principal, ticket, incident, now=now)
            linked.append(ticket.id)
            continue
        ticket = await create_ticket(
            session,
            principal,
            customer,
            {
                "name": incident.title[:200],
                "description": incident.description,
                "category": categories[0] if categories else "other",
                "priority": fields["priority"],
                "severity": incident.severity,
                "channel": "oss",
                "location": incident.area,
            },
            now=now,
            incident=incident,
        )
        created.append(ticket.id)
    return {"linked_ticket_ids": linked, "created_ticket_ids": created}


async def resolve_incident(
    session: AsyncSession,
    principal: Principal,
    incident: Incident,
    resolution: str,
    *,
    now: datetime,
    reopen_window: timedelta,
) -> int:
    """Resolves the incident and every open ticket linked to it; each ticket's customer is
    notified by its status_changed event (the notification service reacts to those)."""
    if incident.status != "open":
        raise conflict("the incident is already resolved", current_status=incident.status)
    incident.status = "resolved"
    incident.resolution = resolution
    incident.resolved_at = now
    mark_changed(incident, now)
    tickets = list(
        await session.scalars(
            select(Ticket)
            .where(Ticket.incident_id == incident.id, Ticket.status.in_([s.value for s in OPEN_STATUSES]))
            .with_for_update()
        )
    )
    for ticket in tickets:
        await transition(
            session,
            principal,
            ticket,
            Status.RESOLVED.value,
            f"incident resolved: {resolution}"[:500],
            now=now,
            reopen_window=reopen_window,
        )
    record_change(
        session,
        principal,
        entity_type="incident",
        entity_id=incident.id,
        action="resolved",
        changes={"status": ["open", "resolved"], "resolved_tickets": [None, len(tickets)]},
    )
    linked = await count_linked(session, incident.id)
    await EVENTS.add(
        session,
        aggregate="incident",
        action="resolved",
        subject=incident.id,
        data=incident_state(incident, linked) | {"resolved_ticket_ids": [t.id for t in tickets]},
        region=incident.region_code,
        branch=incident.branch_code,
    )
    return len(tickets)


async def count_linked(session: AsyncSession, incident_id: str) -> int:
    return await session.scalar(select(func.count()).select_from(Ticket).where(Ticket.incident_id == incident_id))
