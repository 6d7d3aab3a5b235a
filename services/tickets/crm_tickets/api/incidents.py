"""Mass incidents: an OSS system (API key with tickets:incidents) reports an outage; open
customer tickets in its area are linked (new ones too, see ticket creation); affected
customers can be attached in bulk; resolving the incident resolves its linked tickets."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.concurrency import version_headers
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT

from ..events.publishers import incident_state
from ..services import incident_service
from .deps import Customers, ReopenWindow
from .schemas import AffectedCustomers, IncidentCreate, IncidentResolve

router = APIRouter(prefix="/api/v1/tickets/incidents", tags=["incidents"], responses=OPENAPI_PROBLEMS)


@router.post("", status_code=201, summary="Report a mass incident (outage); open tickets in its area are linked")
async def create_incident(
    body: IncidentCreate, response: Response, principal: CurrentPrincipal, session: Session, now: Now
):
    incident, linked = await incident_service.report_incident(session, principal, body.report(), now=now)
    response.headers.update(version_headers(incident.version, f"/api/v1/tickets/incidents/{incident.id}"))
    return incident_state(incident, linked)


@router.get("", summary="Incidents the caller sees, newest first")
async def list_incidents(
    principal: CurrentPrincipal,
    session: ReadSession,
    status: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    incidents = await incident_service.list_incidents(session, principal, status=status, limit=limit)
    return {"items": [incident_state(incident, linked) for incident, linked in incidents]}


@router.get("/{incident_id}", summary="One incident with the number of linked tickets")
async def get_incident(incident_id: str, principal: CurrentPrincipal, session: ReadSession):
    incident, linked = await incident_service.get_incident(session, principal, incident_id)
    return incident_state(incident, linked)


@router.post(
    "/{incident_id}/affected-customers",
    summary="Attach affected customers: their open tickets are linked, the others get a linked ticket",
)
async def attach_customers(
    incident_id: str,
    body: AffectedCustomers,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    now: Now,
):
    return await incident_service.attach_customers(
        session, principal, customers, incident_id, body.customer_ids, priority=body.priority, now=now
    )


@router.post("/{incident_id}/resolve", summary="Resolve the incident and every open ticket linked to it")
async def resolve(
    incident_id: str,
    body: IncidentResolve,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    reopen_window: ReopenWindow,
):
    incident, resolved, linked = await incident_service.resolve_incident(
        session, principal, incident_id, body.resolution, now=now, reopen_window=reopen_window
    )
    return incident_state(incident, linked) | {"resolved_tickets": resolved}
