"""The call-centre flow: find the caller by phone (any notation) and see their open tickets,
installed products and known outages in one request; log interactions (call start, end,
outcome) against the customer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.concurrency import version_headers
from crm_shared.errors import OPENAPI_PROBLEMS

from ..db.models import InstalledProduct
from ..events.publishers import incident_categories, interaction_state, ticket_state
from ..services import interaction_service
from ..services.interaction_service import CallerCard
from .deps import Customers
from .schemas import InteractionCreate, InteractionEnd

router = APIRouter(prefix="/api/v1/tickets", tags=["call centre"], responses=OPENAPI_PROBLEMS)


def product_state(p: InstalledProduct) -> dict[str, Any]:
    return {
        "id": p.id,
        "offering_id": p.offering_id,
        "offering_name": p.offering_name,
        "product_line": p.product_line,
        "status": p.status,
        "service_address": p.service_address,
    }


def card_body(card: CallerCard) -> dict[str, Any]:
    return {
        "customer": card.customer.public(),
        "open_tickets": [ticket_state(t) for t in card.open_tickets],
        "installed_products": [product_state(p) for p in card.installed_products],
        "known_outages": [
            {"incident_id": i.id, "title": i.title, "area": i.area, "categories": incident_categories(i)}
            for i in card.known_outages
        ],
    }


@router.get("/callers", summary="Find the caller by phone: customers, open tickets, products, outages")
async def find_caller(
    principal: CurrentPrincipal,
    session: ReadSession,
    customers: Customers,
    phone: str = Query(min_length=5, max_length=32, description="any notation, e.g. 8 701 123 45 67"),
):
    cards = await interaction_service.find_callers(session, principal, customers, phone)
    return {"items": [card_body(card) for card in cards]}


@router.post("/interactions", status_code=201, summary="Log the start of a call (or visit) with a customer")
async def start_interaction(
    body: InteractionCreate,
    response: Response,
    principal: CurrentPrincipal,
    session: Session,
    customers: Customers,
    now: Now,
):
    interaction = await interaction_service.start_interaction(session, principal, customers, body.start(), now=now)
    response.headers.update(version_headers(1, f"/api/v1/tickets/interactions/{interaction.id}"))
    return interaction_state(interaction)


@router.post("/interactions/{interaction_id}/end", summary="Log the end of a call and its outcome")
async def end_interaction(
    interaction_id: str, body: InteractionEnd, principal: CurrentPrincipal, session: Session, now: Now
):
    interaction = await interaction_service.end_interaction(session, principal, interaction_id, body.ending(), now=now)
    return interaction_state(interaction)


@router.get("/interactions", summary="A customer's interactions, newest first")
async def list_interactions(
    principal: CurrentPrincipal,
    session: ReadSession,
    customer_id: str = Query(min_length=1, max_length=36),
    limit: int = Query(50, ge=1, le=200),
):
    interactions = await interaction_service.list_interactions(session, principal, customer_id, limit=limit)
    return {"items": [interaction_state(i) for i in interactions]}
