"""TM Forum TMF621 Trouble Ticket facade (a subset of v4) for external systems:
/tmf-api/troubleTicket/v4/troubleTicket — create, get by id, list (filters on status,
severity, ticketType, creationDate ranges; ``fields`` selection; ``offset``/``limit``), PATCH.
TMF630 conventions: id, href, @type/@baseType/@schemaLocation, 206 for a partial page; the free
strings (severity, priority, ticketType, channel.name) in any casing through crm_shared.tmf; errors are problem details (400/404/409/422), never 500."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from crm_shared import tmf
from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.errors import OPENAPI_PROBLEMS, Problem, field_problem
from crm_shared.query import extra_query_parameters

from ..access import require_reader, require_ticket_writer
from ..db.models import MAX_NAME, Ticket
from ..db.tmf_models import TmfOriginalValue
from ..services import ticket_service
from ..services.ticket_service import NoteDraft, TicketDraft
from .deps import Customers, ReopenWindow
from .tmf_schemas import FIELD_NAMES, TroubleTicket, TroubleTicketCreate, TroubleTicketUpdate

API = "/tmf-api/troubleTicket/v4"
BASE = f"{API}/troubleTicket"
router = APIRouter(prefix=BASE, tags=["TMF621 trouble ticket"], responses=OPENAPI_PROBLEMS)
VOCABULARY = "troubleTicket"
FREE_ATTRIBUTES = {"severity": "severity", "priority": "priority", "ticketType": "category", "channel.name": "channel"}
TMF_OF_STATUS = {
    "new": "new",
    "acknowledged": "acknowledged",
    "in_progress": "inProgress",
    "pending": "pending",
    "resolved": "resolved",
    "closed": "closed",
    "cancelled": "cancelled",
}
CREATION_BOUNDS = ("gt", "gte", "lt", "lte", "eq")


def words(attribute: str) -> tmf.Vocabulary:
    return tmf.vocabulary(VOCABULARY, attribute)


def read_status(value: str, field: str) -> str:
    """TMF621's status is an enumeration, not a free string: any casing, but one of its values."""
    if not words("status").knows(value):
        raise field_problem(field, f"one of {', '.join(TMF_OF_STATUS.values())}", 422 if field == "status" else 400)
    return words("status").to_internal(value)


def free_view(ticket: Ticket, originals: dict[str, str]) -> dict[str, str]:
    """The free attributes as the client sent them, as long as they still mean the ticket's value."""
    view = {}
    for attribute, column in FREE_ATTRIBUTES.items():
        internal = getattr(ticket, column)
        original = originals.get(attribute)
        if original is not None and words(attribute).to_internal(original) != internal:
            original = None  # changed since in the CRM: its own value is the truth
        view[attribute] = tmf.shown(original, internal)
    return view


async def to_tmf(session, ticket: Ticket) -> dict[str, Any]:
    originals = (await tmf.originals_of(session, TmfOriginalValue, [ticket.id])).get(ticket.id, {})
    free = free_view(ticket, originals)
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
        schema_location=f"{API}/schema/TroubleTicket.json",
        externalId=originals.get("externalId"),
        name=ticket.name,
        description=ticket.description,
        severity=free["severity"],
        priority=free["priority"],
        ticketType=free["ticketType"],
        status=TMF_OF_STATUS[ticket.status],
        statusChangeReason=ticket.status_change_reason,
        statusChangeHistory=[
            {"status": TMF_OF_STATUS[h.to_status], "statusChangeReason": h.reason, "changeDate": h.at} for h in history
        ],
        creationDate=ticket.created_at,
        lastUpdate=ticket.updated_at,
        expectedResolutionDate=ticket.resolution_due_at,
        resolutionDate=ticket.resolved_at,
        channel={"name": free["channel.name"]},
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
    return tmf.select_fields(body, fields, FIELD_NAMES)


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
    channel_name = body.channel.name if body.channel else None
    if channel_name:
        channel = words("channel.name").to_internal(channel_name)
    draft = TicketDraft(
        name=body.name or body.description[:MAX_NAME],
        description=body.description,
        category=words("ticketType").to_internal(body.ticketType),
        priority=words("priority").to_internal(body.priority or "3"),
        severity=words("severity").to_internal(body.severity),
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
    originals = {
        "severity": body.severity,
        "priority": body.priority,
        "ticketType": body.ticketType,
        "channel.name": channel_name,
        "externalId": body.externalId,
    }
    await tmf.keep_originals(session, TmfOriginalValue, ticket.id, originals)
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
        statuses = [read_status(value, "status.filter") for value in status.split(",")]
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
        severities=words("severity").matching(severity) if severity is not None else None,
        categories=words("ticketType").matching(ticketType) if ticketType is not None else None,
        created=created,
        offset=offset,
        limit=limit,
    )
    items = [select_fields(await to_tmf(session, t), fields) for t in rows]
    return tmf.paged(items, total, offset)


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
    changes: dict[str, Any] = {
        name: value for name in ("name", "description") if (value := getattr(body, name)) is not None
    }
    for attribute, column in FREE_ATTRIBUTES.items():
        value = getattr(body, attribute, None)
        if value is not None:
            changes[column] = words(attribute).to_internal(value)
    status = read_status(body.status, "status") if body.status is not None else None
    ticket = await ticket_service.amend_ticket(
        session,
        principal,
        ticket_id,
        changes=changes,
        status=status,
        reason=body.statusChangeReason,
        notes=[NoteDraft(note.text, "customer") for note in body.note],
        now=now,
        reopen_window=reopen_window,
    )
    originals = {attribute: getattr(body, attribute, None) for attribute in ("severity", "priority", "ticketType")}
    await tmf.keep_originals(session, TmfOriginalValue, ticket.id, originals)
    await session.flush()
    return await to_tmf(session, ticket)


schemas = tmf.schema_router(API, {"TroubleTicket": TroubleTicket}, "TMF621 trouble ticket")
