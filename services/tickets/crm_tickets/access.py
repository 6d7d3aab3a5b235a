"""Who may see and change tickets and incidents (docs/development.md, "Visibility"), with the
tickets-specific rules: call-centre agents see and write every ticket; an OSS system (an API
key, Role.SYSTEM) sees only the tickets it opened and the incidents it owns; a partner user opens
tickets for the customers its partner brought (the only ones sales shows it) and reads them."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import (
    WRITER_ROLES,
    Principal,
    Role,
    require_personal_data_access,
    require_scope,
    visibility_clause,
)
from crm_shared.errors import forbidden
from crm_shared.records import get_visible

from .db.models import Incident, Ticket

TICKET_WRITERS = WRITER_ROLES | {Role.CALL_CENTER_AGENT}
# Who may export everything held about a customer (crm.tickets.v1.PersonalDataService). The privacy
# officer otherwise reads tickets, incidents and interactions like any national role and opens,
# works, notes and resolves nothing (it is neither a ticket writer nor an incident manager).
EXPORT_ROLES = {Role.ADMIN, Role.PRIVACY_OFFICER}
INCIDENT_MANAGERS = {Role.ADMIN, Role.REGIONAL_MANAGER, Role.SYSTEM}
READ_SCOPE, WRITE_SCOPE, INCIDENT_SCOPE = "tickets:read", "tickets:write", "tickets:incidents"


def require_reader(principal: Principal) -> None:
    require_personal_data_access(principal)
    require_scope(principal, READ_SCOPE)


def require_ticket_writer(principal: Principal, *, customer_may: bool = False, partner_may: bool = False) -> None:
    """``customer_may``: a customer (the self-service portal) may do this to their own tickets
    (open one, add a note for the branch); the ticket's visibility keeps them to their own.
    ``partner_may``: a partner user may do this (open a ticket) for a customer its partner brought."""
    require_personal_data_access(principal)
    if customer_may and principal.role is Role.CUSTOMER:
        return
    if partner_may and principal.role is Role.PARTNER:
        return
    if principal.role not in TICKET_WRITERS:
        raise forbidden(f"role {principal.role.value} may not change tickets")
    require_scope(principal, WRITE_SCOPE)


def require_incident_manager(principal: Principal) -> None:
    if principal.role not in INCIDENT_MANAGERS:
        raise forbidden(f"role {principal.role.value} may not manage mass incidents")
    require_scope(principal, INCIDENT_SCOPE)


def require_personal_data_exporter(principal: Principal, customer_id: str | None = None) -> None:
    """Privacy officers and admins export anyone's data; a customer (the portal's "my data") their own."""
    if principal.role is Role.CUSTOMER and customer_id is not None and customer_id == principal.customer_id:
        return
    if principal.role not in EXPORT_ROLES:
        raise forbidden(f"role {principal.role.value} may not export a customer's personal data")


def ticket_visibility(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.SYSTEM:
        return Ticket.opened_by == principal.subject
    return visibility_clause(principal, Ticket)


def incident_visibility(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.SYSTEM:
        return Incident.owner_id == principal.subject
    return visibility_clause(principal, Incident)


def require_customer(principal: Principal, action: str) -> None:
    if principal.role is not Role.CUSTOMER:
        raise forbidden(f"only the customer may {action}")


async def load_ticket(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    *,
    write: bool = False,
    field: str | None = None,
    customer_may: bool = False,
) -> Ticket:
    """The ticket if the caller sees it (404 otherwise); ``write`` also checks the caller may
    change tickets (403; a customer their own when ``customer_may``) and locks the row for the
    rest of the transaction."""
    if write:
        require_ticket_writer(principal, customer_may=customer_may)
    else:
        require_reader(principal)
    return await get_visible(
        session,
        principal,
        Ticket,
        ticket_id,
        what="ticket",
        for_update=write,
        field=field,
        visibility=ticket_visibility(principal),
    )


async def load_incident(
    session: AsyncSession, principal: Principal, incident_id: str, *, write: bool = False
) -> Incident:
    if write:
        require_incident_manager(principal)
    else:
        require_reader(principal)
    return await get_visible(
        session,
        principal,
        Incident,
        incident_id,
        what="incident",
        for_update=write,
        visibility=incident_visibility(principal),
    )
