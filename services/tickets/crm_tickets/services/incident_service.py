"""Mass incidents: an OSS system (an API key with tickets:incidents) reports an outage; open
customer tickets in its area are linked (new ones too, see ticket_service.create_ticket);
affected customers can be attached in bulk; resolving the incident resolves its linked tickets,
and each ticket's status_changed event tells its customer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import creation_changes, record_change
from crm_shared.auth import Principal
from crm_shared.clients.sales import CustomerRef, SalesCustomers
from crm_shared.concurrency import flush_or_conflict
from crm_shared.db import new_id
from crm_shared.errors import conflict
from crm_shared.records import mark_changed

from ..access import incident_visibility, load_incident, require_incident_manager, require_reader
from ..db.models import Incident, Ticket
from ..domain.workflow import OPEN_STATUSES, Status
from ..events.publishers import incident_categories, incident_state, publish_incident
from .ticket_service import TicketDraft, create_ticket, link_to_incident, transition


@dataclass(frozen=True)
class IncidentReport:
    title: str
    description: str
    region_code: str
    severity: str = "major"
    branch_code: str | None = None
    area: str | None = None
    categories: Sequence[str] = field(default_factory=tuple)
    external_reference: str | None = None
    expected_resolution_at: datetime | None = None


async def count_linked(session: AsyncSession, incident_id: str) -> int:
    return await session.scalar(select(func.count()).select_from(Ticket).where(Ticket.incident_id == incident_id))


async def report_incident(
    session: AsyncSession, principal: Principal, report: IncidentReport, *, now: datetime
) -> tuple[Incident, int]:
    """(the incident, how many open tickets in its area it linked at once)."""
    require_incident_manager(principal)
    incident, linked = await create_incident(session, principal, report, now=now)
    await flush_or_conflict(session, "incident")
    return incident, linked


async def create_incident(
    session: AsyncSession,
    principal: Principal,
    report: IncidentReport,
    *,
    now: datetime,
    incident_id: str | None = None,
) -> tuple[Incident, int]:
    incident = Incident(
        id=incident_id or new_id(),
        title=report.title,
        description=report.description,
        categories=",".join(report.categories),
        region_code=report.region_code,
        branch_code=report.branch_code,
        area=report.area,
        severity=report.severity,
        status="open",
        external_reference=report.external_reference,
        owner_id=principal.subject,
        owner_name=principal.display_name,
        expected_resolution_at=report.expected_resolution_at,
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
    await publish_incident(session, incident, "created", linked)
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
    categories = incident_categories(incident)
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


async def list_incidents(
    session: AsyncSession, principal: Principal, *, status: str | None, limit: int
) -> list[tuple[Incident, int]]:
    """The incidents the caller sees, newest first, each with its number of linked tickets."""
    require_reader(principal)
    stmt = select(Incident).where(incident_visibility(principal))
    if status:
        stmt = stmt.where(Incident.status == status)
    rows = list(await session.scalars(stmt.order_by(Incident.created_at.desc()).limit(limit)))
    return [(incident, await count_linked(session, incident.id)) for incident in rows]


async def get_incident(session: AsyncSession, principal: Principal, incident_id: str) -> tuple[Incident, int]:
    incident = await load_incident(session, principal, incident_id)
    return incident, await count_linked(session, incident.id)


async def attach_customers(
    session: AsyncSession,
    principal: Principal,
    customers: SalesCustomers,
    incident_id: str,
    customer_ids: Sequence[str],
    *,
    priority: str,
    now: datetime,
) -> dict[str, Any]:
    """Each affected customer's open ticket in the incident's categories is linked; a customer
    without one gets a new ticket (``priority``), opened by the incident's reporter and linked.
    Customer ids sales does not know (or the caller may not see, or that were merged away or
    erased) are named in the answer."""
    incident = await load_incident(session, principal, incident_id, write=True)
    found, missing = await customers.get_many(principal, list(dict.fromkeys(customer_ids)))
    # customers sales merged away or erased get no ticket here (the survivor is named by its own id)
    missing += [c.id for c in found if c.status in ("merged", "erased")]
    found = [c for c in found if c.status not in ("merged", "erased")]
    result = await _attach(session, principal, incident, found, priority=priority, now=now)
    return result | {"unknown_customer_ids": missing, "linked_tickets": await count_linked(session, incident.id)}


async def _attach(
    session: AsyncSession,
    principal: Principal,
    incident: Incident,
    customers: list[CustomerRef],
    *,
    priority: str,
    now: datetime,
) -> dict[str, Any]:
    if incident.status != "open":
        raise conflict("the incident is resolved; it takes no more customers", current_status=incident.status)
    categories = incident_categories(incident)
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
        draft = TicketDraft(
            name=incident.title[:200],
            description=incident.description,
            category=categories[0] if categories else "other",
            priority=priority,
            severity=incident.severity,
            channel="oss",
            location=incident.area,
        )
        ticket = await create_ticket(session, principal, customer, draft, now=now, incident=incident)
        created.append(ticket.id)
    return {"linked_ticket_ids": linked, "created_ticket_ids": created}


async def resolve_incident(
    session: AsyncSession,
    principal: Principal,
    incident_id: str,
    resolution: str,
    *,
    now: datetime,
    reopen_window: timedelta,
) -> tuple[Incident, int, int]:
    """Resolves the incident and every open ticket linked to it; returns the incident, how many
    tickets it resolved and how many are linked to it."""
    incident = await load_incident(session, principal, incident_id, write=True)
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
    await publish_incident(session, incident, "resolved", linked, {"resolved_ticket_ids": [t.id for t in tickets]})
    return incident, len(tickets), linked
