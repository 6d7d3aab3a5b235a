"""TM Forum TMF621 Trouble Ticket facade (a subset of v4) for external systems:
/tmf-api/troubleTicket/v4/troubleTicket — create, get by id, list (filters on status,
severity, ticketType, creationDate ranges; ``fields`` selection; ``offset``/``limit``), PATCH.
TMF630 conventions: id, href, @type; errors are problem details (400/404/409/422), never 500."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from crm_shared.errors import OPENAPI_PROBLEMS, Problem, field_problem

from .. import ticket_service as service
from ..access import load_ticket, require_reader, require_ticket_writer, ticket_visibility
from ..db.models import MAX_DESCRIPTION, MAX_NAME, MAX_NOTE, Note, StatusChange, Ticket
from .deps import CurrentPrincipal, Customers, Now, Session, settings_of
from .schemas import Category, Severity

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


class TmfModel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RelatedParty(TmfModel):
    id: str = Field(min_length=1, max_length=36)
    role: str = Field("customer", max_length=50)
    name: str | None = Field(None, max_length=300)
    referred_type: str | None = Field(None, alias="@referredType", max_length=50)


class RelatedEntity(TmfModel):
    id: str = Field(min_length=1, max_length=36)
    role: str | None = Field(None, max_length=50)
    name: str | None = Field(None, max_length=300)
    referred_type: str = Field("Product", alias="@referredType", max_length=50)


class TmfNote(TmfModel):
    text: str = Field(min_length=1, max_length=MAX_NOTE)
    author: str | None = Field(None, max_length=200)


class TroubleTicketCreate(TmfModel):
    name: str = Field(min_length=1, max_length=MAX_NAME)
    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)
    severity: Severity
    ticketType: Category
    priority: Literal["1", "2", "3", "4", "critical", "high", "medium", "low"] = "3"
    channel: dict[str, str] | None = None
    relatedParty: list[RelatedParty] = Field(min_length=1, max_length=5)
    relatedEntity: list[RelatedEntity] = Field(default_factory=list, max_length=5)
    note: list[TmfNote] = Field(default_factory=list, max_length=20)
    type_: str | None = Field("TroubleTicket", alias="@type")


class TroubleTicketUpdate(TmfModel):
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME)
    description: str | None = Field(None, min_length=1, max_length=MAX_DESCRIPTION)
    severity: Severity | None = None
    priority: Literal["1", "2", "3", "4", "critical", "high", "medium", "low"] | None = None
    status: Literal["acknowledged", "inProgress", "pending", "resolved", "closed", "cancelled"] | None = None
    statusChangeReason: str | None = Field(None, min_length=1, max_length=500)
    note: list[TmfNote] = Field(default_factory=list, max_length=20)


class StatusChangeOut(BaseModel):
    status: str
    statusChangeReason: str | None = None
    changeDate: datetime


class NoteOut(BaseModel):
    id: str
    text: str
    author: str
    date: datetime


class RefOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str | None = None
    role: str | None = None
    name: str | None = None
    referred_type: str = Field(alias="@referredType")


class RelationshipOut(BaseModel):
    id: str
    relationshipType: str


class TroubleTicket(BaseModel):
    """TMF621 TroubleTicket (the attributes this facade supports)."""

    model_config = ConfigDict(populate_by_name=True)
    id: str
    href: str
    type_: Literal["TroubleTicket"] = Field("TroubleTicket", alias="@type")
    name: str
    description: str
    severity: str
    priority: str
    ticketType: str
    status: str
    statusChangeReason: str | None = None
    statusChangeHistory: list[StatusChangeOut] = Field(default_factory=list)
    creationDate: datetime
    lastUpdate: datetime
    expectedResolutionDate: datetime | None = None
    resolutionDate: datetime | None = None
    channel: dict[str, str]
    relatedParty: list[RefOut]
    relatedEntity: list[RefOut] = Field(default_factory=list)
    note: list[NoteOut] = Field(default_factory=list)
    attachment: list[dict[str, Any]] = Field(default_factory=list)
    troubleTicketRelationship: list[RelationshipOut] = Field(default_factory=list)


FIELD_NAMES = set(TroubleTicket.model_fields) - {"type_"} | {"@type"}


async def to_tmf(session, ticket: Ticket, request: Request) -> dict[str, Any]:
    history = await session.scalars(
        select(StatusChange).where(StatusChange.ticket_id == ticket.id).order_by(StatusChange.id)
    )
    notes = await session.scalars(select(Note).where(Note.ticket_id == ticket.id).order_by(Note.created_at))
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
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    now: Now,
):
    require_ticket_writer(principal)
    party = next((p for p in body.relatedParty if p.role.lower() == "customer"), None)
    if party is None:
        raise field_problem("relatedParty", "one related party with role 'customer' is required")
    customer = await customers.get(principal, party.id, field="relatedParty.id")
    product = next((e.id for e in body.relatedEntity if e.referred_type.lower() == "product"), None)
    channel = "oss" if principal.role.value == "system" else "phone"
    if body.channel and body.channel.get("name"):
        channel = TMF_CHANNELS.get(body.channel["name"])
        if channel is None:
            raise field_problem("channel.name", f"one of {', '.join(TMF_CHANNELS)}")
    try:
        ticket = await service.create_ticket(
            session,
            principal,
            customer,
            {
                "name": body.name,
                "description": body.description,
                "category": body.ticketType,
                "priority": PRIORITY_OF_TMF[body.priority],
                "severity": body.severity,
                "channel": channel,
                "installed_product_id": product,
            },
            now=now,
        )
    except Problem as exc:
        if exc.errors and exc.errors[0]["field"] == "installed_product_id":
            raise field_problem("relatedEntity.id", exc.errors[0]["message"]) from None
        raise
    for note in body.note:
        await service.add_note(session, principal, ticket, note.text, "customer", now=now)
    await session.flush()
    response.headers["Location"] = f"{BASE}/{ticket.id}"
    return await to_tmf(session, ticket, request)


@router.get(
    "",
    response_model=list[TroubleTicket],
    response_model_exclude_unset=False,
    summary="List trouble tickets (filters, fields, offset/limit; X-Total-Count)",
)
async def list_tickets(
    request: Request,
    principal: CurrentPrincipal,
    session: Session,
    status: str | None = None,
    severity: str | None = None,
    ticketType: str | None = None,
    fields: str | None = None,
    offset: int = Query(0, ge=0),
    limit: int = Query(20, ge=1, le=100),
):
    require_reader(principal)
    stmt = select(Ticket).where(ticket_visibility(principal))
    if status is not None:
        statuses = [STATUS_OF_TMF.get(s) for s in status.split(",")]
        if None in statuses:
            raise field_problem("status", f"one of {', '.join(TMF_OF_STATUS.values())}", 400)
        stmt = stmt.where(Ticket.status.in_(statuses))
    if severity is not None:
        stmt = stmt.where(Ticket.severity.in_(severity.split(",")))
    if ticketType is not None:
        stmt = stmt.where(Ticket.category.in_(ticketType.split(",")))
    for key, value in request.query_params.items():  # creationDate.gt / .gte / .lt / .lte
        if key.startswith("creationDate"):
            operator = key.partition(".")[2] or "eq"
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise field_problem(key, "not an ISO 8601 date-time", 400) from None
            if moment.tzinfo is None:
                raise field_problem(key, "give a time zone (e.g. Z)", 400)
            column = Ticket.created_at
            conditions = {
                "gt": column > moment,
                "gte": column >= moment,
                "lt": column < moment,
                "lte": column <= moment,
                "eq": column == moment,
            }
            if operator not in conditions:
                raise field_problem(key, "use creationDate.gt, .gte, .lt or .lte", 400)
            stmt = stmt.where(conditions[operator])
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    rows = await session.scalars(stmt.order_by(Ticket.created_at.desc(), Ticket.id).offset(offset).limit(limit))
    items = [select_fields(await to_tmf(session, t, request), fields) for t in rows]
    return JSONResponse(items, headers={"X-Total-Count": str(total), "X-Result-Count": str(len(items))})


@router.get("/{ticket_id}", response_model=TroubleTicket, summary="One trouble ticket")
async def get_one(
    ticket_id: str, request: Request, principal: CurrentPrincipal, session: Session, fields: str | None = None
):
    ticket = await load_ticket(session, principal, ticket_id)
    return JSONResponse(select_fields(await to_tmf(session, ticket, request), fields))


@router.patch("/{ticket_id}", response_model=TroubleTicket, summary="Update a trouble ticket (merge patch)")
async def patch(
    ticket_id: str, body: TroubleTicketUpdate, request: Request, principal: CurrentPrincipal, session: Session, now: Now
):
    ticket = await load_ticket(session, principal, ticket_id, write=True)
    changes = {}
    for name in ("name", "description", "severity"):
        value = getattr(body, name)
        if value is not None:
            changes[name] = value
    if body.priority is not None:
        changes["priority"] = PRIORITY_OF_TMF[body.priority]
    if changes:
        await service.update_fields(session, principal, ticket, changes, now=now)
    if body.status is not None and STATUS_OF_TMF[body.status] != ticket.status:
        await service.transition(
            session,
            principal,
            ticket,
            STATUS_OF_TMF[body.status],
            body.statusChangeReason,
            now=now,
            reopen_window=timedelta(days=settings_of(request).reopen_window_days),
        )
    for note in body.note:
        await service.add_note(session, principal, ticket, note.text, "customer", now=now)
    await session.flush()
    return await to_tmf(session, ticket, request)
