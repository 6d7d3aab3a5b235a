"""Mass incidents: an OSS system (API key with tickets:incidents) reports an outage; open
customer tickets in its area are linked (new ones too, see ticket creation); affected
customers can be attached in bulk; resolving the incident resolves its linked tickets."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from crm_shared.concurrency import flush_or_conflict, version_headers
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT

from .. import ticket_service as service
from ..access import incident_visibility, load_incident, require_incident_manager, require_reader
from ..db.models import Incident
from .deps import CurrentPrincipal, Customers, Now, Session, settings_of
from .schemas import AffectedCustomers, IncidentCreate, IncidentResolve

router = APIRouter(prefix="/api/v1/tickets/incidents", tags=["incidents"], responses=OPENAPI_PROBLEMS)


@router.post("", status_code=201, summary="Report a mass incident (outage); open tickets in its area are linked")
async def create_incident(
    body: IncidentCreate, response: Response, principal: CurrentPrincipal, session: Session, now: Now
):
    require_incident_manager(principal)
    incident, linked = await service.create_incident(session, principal, body.model_dump(), now=now)
    await flush_or_conflict(session, "incident")
    response.headers.update(version_headers(incident.version, f"/api/v1/tickets/incidents/{incident.id}"))
    return service.incident_state(incident, linked)


@router.get("", summary="Incidents the caller sees, newest first")
async def list_incidents(
    principal: CurrentPrincipal,
    session: Session,
    status: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
):
    require_reader(principal)
    stmt = select(Incident).where(incident_visibility(principal))
    if status:
        stmt = stmt.where(Incident.status == status)
    rows = list(await session.scalars(stmt.order_by(Incident.created_at.desc()).limit(limit)))
    return {"items": [service.incident_state(i, await service.count_linked(session, i.id)) for i in rows]}


@router.get("/{incident_id}", summary="One incident with the number of linked tickets")
async def get_incident(incident_id: str, principal: CurrentPrincipal, session: Session):
    incident = await load_incident(session, principal, incident_id)
    return service.incident_state(incident, await service.count_linked(session, incident.id))


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
    incident = await load_incident(session, principal, incident_id, write=True)
    unique_ids = list(dict.fromkeys(body.customer_ids))
    found, missing = await customers.get_many(principal, unique_ids)
    result = await service.attach_customers(session, principal, incident, found, body.model_dump(), now=now)
    return result | {
        "unknown_customer_ids": missing,
        "linked_tickets": await service.count_linked(session, incident.id),
    }


@router.post("/{incident_id}/resolve", summary="Resolve the incident and every open ticket linked to it")
async def resolve(
    incident_id: str, body: IncidentResolve, request: Request, principal: CurrentPrincipal, session: Session, now: Now
):
    incident = await load_incident(session, principal, incident_id, write=True)
    resolved = await service.resolve_incident(
        session,
        principal,
        incident,
        body.resolution,
        now=now,
        reopen_window=timedelta(days=settings_of(request).reopen_window_days),
    )
    return service.incident_state(incident, await service.count_linked(session, incident.id)) | {
        "resolved_tickets": resolved
    }
