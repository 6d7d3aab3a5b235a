"""The call-centre flow: find the caller by phone (any notation) and see their open tickets,
installed products and known outages in one request; log interactions (call start, end,
outcome) against the customer."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from sqlalchemy import or_, select

from crm_shared.auth import visibility_clause
from crm_shared.concurrency import version_headers
from crm_shared.db import new_id
from crm_shared.errors import OPENAPI_PROBLEMS, conflict, field_problem, not_found
from crm_shared.outbox import EventWriter
from crm_shared.records import mark_changed

from .. import ticket_service as service
from ..access import require_reader, require_ticket_writer, ticket_visibility
from ..customers import CustomerRef
from ..db.models import Incident, InstalledProduct, Interaction, Ticket
from ..domain.workflow import OPEN_STATUSES
from .deps import CurrentPrincipal, Customers, Now, Session
from .schemas import InteractionCreate, InteractionEnd

router = APIRouter(prefix="/api/v1/tickets", tags=["call centre"], responses=OPENAPI_PROBLEMS)
EVENTS = EventWriter("tickets")


def product_state(p: InstalledProduct) -> dict:
    return {
        "id": p.id,
        "offering_id": p.offering_id,
        "offering_name": p.offering_name,
        "product_line": p.product_line,
        "status": p.status,
        "service_address": p.service_address,
    }


async def caller_card(session, principal, customer: CustomerRef) -> dict:
    tickets = await session.scalars(
        select(Ticket)
        .where(
            ticket_visibility(principal),
            Ticket.customer_id == customer.id,
            Ticket.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .order_by(Ticket.created_at.desc())
    )
    products = await session.scalars(
        select(InstalledProduct).where(
            InstalledProduct.customer_id == customer.id, InstalledProduct.terminated.is_(False)
        )
    )
    outages = await session.scalars(
        select(Incident).where(
            Incident.status == "open",
            Incident.region_code == customer.region_code,
            or_(Incident.branch_code.is_(None), Incident.branch_code == customer.branch_code),
        )
    )
    return {
        "customer": customer.public(),
        "open_tickets": [service.ticket_state(t) for t in tickets],
        "installed_products": [product_state(p) for p in products],
        "known_outages": [
            {
                "incident_id": i.id,
                "title": i.title,
                "area": i.area,
                "categories": [c for c in i.categories.split(",") if c],
            }
            for i in outages
        ],
    }


@router.get("/callers", summary="Find the caller by phone: customers, open tickets, products, outages")
async def find_caller(
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    phone: str = Query(min_length=5, max_length=32, description="any notation, e.g. 8 701 123 45 67"),
):
    require_reader(principal)
    found = await customers.find_by_phone(principal, phone)
    return {"items": [await caller_card(session, principal, c) for c in found]}


def interaction_state(i: Interaction) -> dict:
    return {
        "id": i.id,
        "version": i.version,
        "customer_id": i.customer_id,
        "channel": i.channel,
        "direction": i.direction,
        "started_at": i.started_at.isoformat(),
        "ended_at": i.ended_at.isoformat() if i.ended_at else None,
        "outcome": i.outcome,
        "summary": i.summary,
        "ticket_id": i.ticket_id,
        "agent_id": i.agent_id,
        "agent_name": i.agent_name,
        "branch_code": i.branch_code,
        "region_code": i.region_code,
    }


@router.post("/interactions", status_code=201, summary="Log the start of a call (or visit) with a customer")
async def start_interaction(
    body: InteractionCreate,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    now: Now,
):
    require_ticket_writer(principal)
    customer = await customers.get(principal, body.customer_id)
    interaction = Interaction(
        id=new_id(),
        customer_id=customer.id,
        channel=body.channel,
        direction=body.direction,
        started_at=body.started_at or now,
        summary=body.summary,
        agent_id=principal.subject,
        agent_name=principal.username,
        branch_code=customer.branch_code,
        region_code=customer.region_code,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(interaction)
    await session.flush()
    await EVENTS.add(
        session,
        aggregate="interaction",
        action="started",
        subject=interaction.id,
        data=interaction_state(interaction),
        region=interaction.region_code,
        branch=interaction.branch_code,
    )
    response.headers.update(version_headers(1, f"/api/v1/tickets/interactions/{interaction.id}"))
    return interaction_state(interaction)


@router.post("/interactions/{interaction_id}/end", summary="Log the end of a call and its outcome")
async def end_interaction(
    interaction_id: str, body: InteractionEnd, principal: CurrentPrincipal, session: Session, now: Now
):
    require_ticket_writer(principal)
    interaction = await session.scalar(select(Interaction).where(Interaction.id == interaction_id).with_for_update())
    if interaction is None or interaction.agent_id != principal.subject:
        raise not_found("interaction", interaction_id[:64])
    if interaction.ended_at is not None:
        raise conflict("this interaction has already ended")
    if body.ticket_id is not None:
        ticket = await session.scalar(select(Ticket).where(Ticket.id == body.ticket_id, ticket_visibility(principal)))
        if ticket is None or ticket.customer_id != interaction.customer_id:
            raise field_problem("ticket_id", "no such ticket of this customer")
        interaction.ticket_id = ticket.id
    ended = body.ended_at or now
    if ended < interaction.started_at:
        raise field_problem("ended_at", "is before the start of the interaction")
    interaction.ended_at = ended
    interaction.outcome = body.outcome
    if body.summary is not None:
        interaction.summary = body.summary
    mark_changed(interaction, now)
    await session.flush()
    await EVENTS.add(
        session,
        aggregate="interaction",
        action="ended",
        subject=interaction.id,
        data=interaction_state(interaction),
        region=interaction.region_code,
        branch=interaction.branch_code,
    )
    return interaction_state(interaction)


@router.get("/interactions", summary="A customer's interactions, newest first")
async def list_interactions(
    principal: CurrentPrincipal,
    session: Session,
    customer_id: str = Query(min_length=1, max_length=36),
    limit: int = Query(50, ge=1, le=200),
):
    require_reader(principal)
    rows = await session.scalars(
        select(Interaction)
        .where(Interaction.customer_id == customer_id, visibility_clause(principal, Interaction))
        .order_by(Interaction.started_at.desc())
        .limit(limit)
    )
    return {"items": [interaction_state(i) for i in rows]}
