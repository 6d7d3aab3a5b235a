"""TM Forum TMF621 Trouble Ticket facade (a subset of v4) for external systems:
/tmf-api/troubleTicket/v4/troubleTicket — create, get by id, list (filters on status,
severity, ticketType, creationDate ranges; ``fields`` selection; ``offset``/``limit``), PATCH.
TMF630 conventions: id, href, @type; errors are problem details (400/404/409/422), never 500."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.errors import OPENAPI_PROBLEMS, Problem, field_problem
from crm_shared.query import extra_query_parameters

from ..access import require_reader, require_ticket_writer
from ..db.models import Ticket
from ..services import ticket_service
from ..services.ticket_service import NoteDraft, TicketDraft
from .deps import Customers, ReopenWindow
from .tmf_schemas import FIELD_NAMES, TroubleTicket, TroubleTicketCreate, TroubleTicketUpdate

BASE = "/tmf-api/troubleTicket/v4/troubleTicket"
router = APIRouter(prefix=BASE, tags=["TMF621 trouble ticket"], responses=OPENAPI_PROBLEMS)
TMF_CHANNELS = {
    "phone": "phone",
    "branch": "branch",
    "selfService": "self_service",
    "self_service": "self_service",
    "oss": "oss",
}
PRIORITY_OF_TMF = {"1": "critical", "2": "high", "3": "medium", "4": "low"} | {
    p: p for p in ("critical", "high", "medium", "low")
}
SEVERITY_OF_TMF = {"critical": "critical", "major": "major", "minor": "minor"}
STATUS_OF_TMF = {
    "acknowledged": "acknowledged",
    "inProgress": "in_progress",
    "pending": "pending",
    "resolved": "resolved",
    "closed": "closed",
    "cancelled": "cancelled",
    "new": "new",
}
TMF_OF_STATUS = {v: k for k, v in STATUS_OF_TMF.items()}
CREATION_BOUNDS = ("gt", "gte", "lt", "lte", "eq")


async def to_tmf(session, ticket: Ticket) -> dict[str, Any]:
    history = await ticket_service.history_of(session, ticket)
    notes = await ticket_service.notes_of(session, ticket)
    related_entity = (
        [{"id": ticket.installed_product_id, "role": "affectedProduct", "@referredType": "Product"}]
        if ticket.installed_product_id
        else []
    )
    relationships = [{"id": ticket.incident_id, "relationshipType": "isChildOf"}] if ticket.incident_id else []
    body = TroubleTicket(
        id=ticket.id,
        href=f"{BASE}/{ticket.id}",
        name=ticket.name,
        description=ticket.description,
        severity=ticket.severity,
        priority=ticket.priority,
        ticketType=ticket.category,
        status=TMF_OF_STATUS[ticket.status],
        statusChangeReason=ticket.status_change_reason,
        statusChangeHistory=[
            {"status": TMF_OF_STATUS[h.to_status], "statusChangeReason": h.reason, "changeDate": h.at} for h in history
        ],
        creationDate=ticket.created_at,
        lastUpdate=ticket.updated_at,
        expectedResolutionDate=ticket.resolution_due_at,
        resolutionDate=ticket.resolved_at,
        channel={"name": ticket.channel},
        relatedParty=[
            {"id": ticket.customer_id, "role": "customer", "name": ticket.customer_name, "@referredType": "Customer"}
        ],
        relatedEntity=related_entity,
        note=[
            {"id": n.id, "text": n.text, "author": n.author_name, "date": n.created_at}
            for n in notes
            if n.visibility == "customer"
        ],
        troubleTicketRelationship=relationships,
    )
    return body.model_dump(mode="json", by_alias=True)


def select_fields(body: dict[str, Any], fields: str | None) -> dict[str, Any]:
    if not fields:
        return body
    wanted = [f.strip() for f in fields.split(",") if f.strip()]
    unknown = [f for f in wanted if f not in FIELD_NAMES]
    if unknown:
        raise field_problem("fields", f"unknown attribute {unknown[0]!r}", 400)
    return {k: v for k, v in body.items() if k in {"id", "href", "@type", *wanted}}


@router.post("", status_code=201, response_model=TroubleTicket, summary="Create a trouble ticket")
async def create(
    body: TroubleTicketCreate,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    now: Now,
):
    require_ticket_writer(principal)  # before the body's own checks below
    party = next((p for p in body.relatedParty if p.role.lower() == "customer"), None)
    if party is None:
        raise field_problem("relatedParty", "one related party with role 'customer' is required")
    product = next((e.id for e in body.relatedEntity if e.referred_type.lower() == "product"), None)
    channel = "oss" if principal.role.value == "system" else "phone"
    if body.channel and body.channel.get("name"):
        channel = TMF_CHANNELS.get(body.channel["name"])
        if channel is None:
            raise field_problem("channel.name", f"one of {', '.join(TMF_CHANNELS)}")
    draft = TicketDraft(
        name=body.name,
        description=body.description,
        category=body.ticketType,
        priority=PRIORITY_OF_TMF[body.priority],
        severity=body.severity,
        channel=channel,
        installed_product_id=product,
    )
    try:
        ticket, _incident = await ticket_service.open_ticket(
            session,
            principal,
            customers,
            party.id,
            draft,
            notes=[NoteDraft(note.text, "customer") for note in body.note],
            now=now,
            customer_field="relatedParty.id",
        )
    except Problem as exc:
        if exc.errors and exc.errors[0]["field"] == "installed_product_id":
            raise field_problem("relatedEntity.id", exc.errors[0]["message"]) from None
        raise
    await session.flush()
    response.headers["Location"] = f"{BASE}/{ticket.id}"
    return await to_tmf(session, ticket)


@router.get(
    "",
    response_model=list[TroubleTicket],
    response_model_exclude_unset=False,
    summary="List trouble tickets (filters, fields, offset/limit; X-Total-Count)",
)
@extra_query_parameters("creationDate")
async def list_tickets(
    request: Request,
    principal: CurrentPrincipal,
    session: ReadSession,
    status: str | None = None,
    severity: str | None = None,
    ticketType: str | None = None,
    fields: str | None = None,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(20, ge=1, le=100),
):
    require_reader(principal)  # before the query's own checks below
    statuses = None
    if status is not None:
        statuses = [STATUS_OF_TMF.get(s) for s in status.split(",")]
        if None in statuses:
            raise field_problem("status", f"one of {', '.join(TMF_OF_STATUS.values())}", 400)
    created = []
    for key, value in request.query_params.items():  # creationDate.gt / .gte / .lt / .lte
        if key.startswith("creationDate"):
            operator = key.partition(".")[2] or "eq"
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise field_problem(key, "not an ISO 8601 date-time", 400) from None
            if moment.tzinfo is None:
                raise field_problem(key, "give a time zone (e.g. Z)", 400)
            if operator not in CREATION_BOUNDS:
                raise field_problem(key, "use creationDate.gt, .gte, .lt or .lte", 400)
            created.append((operator, moment))
    total, rows = await ticket_service.list_tickets_at_offset(
        session,
        principal,
        statuses=statuses,
        severities=severity.split(",") if severity is not None else None,
        categories=ticketType.split(",") if ticketType is not None else None,
        created=created,
        offset=offset,
        limit=limit,
    )
    items = [select_fields(await to_tmf(session, t), fields) for t in rows]
    return JSONResponse(items, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(items))})


@router.get("/{ticket_id}", response_model=TroubleTicket, summary="One trouble ticket")
async def get_one(ticket_id: str, principal: CurrentPrincipal, session: ReadSession, fields: str | None = None):
    ticket = await ticket_service.get_ticket(session, principal, ticket_id)
    return JSONResponse(select_fields(await to_tmf(session, ticket), fields))


@router.patch("/{ticket_id}", response_model=TroubleTicket, summary="Update a trouble ticket (merge patch)")
async def patch(
    ticket_id: str,
    body: TroubleTicketUpdate,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    reopen_window: ReopenWindow,
):
    changes = {
        name: value for name in ("name", "description", "severity") if (value := getattr(body, name)) is not None
    }
    if body.priority is not None:
        changes["priority"] = PRIORITY_OF_TMF[body.priority]
    ticket = await ticket_service.amend_ticket(
        session,
        principal,
        ticket_id,
        changes=changes,
        status=STATUS_OF_TMF[body.status] if body.status is not None else None,
        reason=body.statusChangeReason,
        notes=[NoteDraft(note.text, "customer") for note in body.note],
        now=now,
        reopen_window=reopen_window,
    )
    return await to_tmf(session, ticket)
