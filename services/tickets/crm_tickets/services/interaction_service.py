"""The call-centre flow: find the caller by phone (any notation) and see their open tickets,
installed products and known outages at once; log interactions (call start, end, outcome)
against the customer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, visibility_clause
from crm_shared.clients.sales import CustomerRef, SalesCustomers
from crm_shared.db import new_id
from crm_shared.errors import conflict, field_problem, not_found
from crm_shared.records import mark_changed

from ..access import require_reader, require_ticket_writer, ticket_visibility
from ..db.models import Incident, InstalledProduct, Interaction, Ticket
from ..domain.workflow import OPEN_STATUSES
from ..events.publishers import publish_interaction
from .customer_identity_service import check_in_use, home_of


@dataclass(frozen=True)
class CallerCard:
    """One customer with the caller's phone number, as the agent sees them."""

    customer: CustomerRef
    open_tickets: list[Ticket]
    installed_products: list[InstalledProduct]
    known_outages: list[Incident]


@dataclass(frozen=True)
class InteractionStart:
    customer_id: str
    channel: str = "phone"
    direction: str = "inbound"  # inbound | outbound
    started_at: datetime | None = None  # None: now
    summary: str | None = None


@dataclass(frozen=True)
class InteractionEnding:
    outcome: str
    ended_at: datetime | None = None  # None: now
    summary: str | None = None
    ticket_id: str | None = None


async def find_callers(
    session: AsyncSession, principal: Principal, customers: SalesCustomers, phone: str
) -> list[CallerCard]:
    require_reader(principal)
    return [
        await caller_card(session, principal, customer) for customer in await customers.find_by_phone(principal, phone)
    ]


async def caller_card(session: AsyncSession, principal: Principal, customer: CustomerRef) -> CallerCard:
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
    return CallerCard(customer, list(tickets), list(products), list(outages))


async def start_interaction(
    session: AsyncSession, principal: Principal, customers: SalesCustomers, start: InteractionStart, *, now: datetime
) -> Interaction:
    require_ticket_writer(principal)
    customer = await customers.get(principal, start.customer_id)
    await check_in_use(session, customer)
    interaction = Interaction(
        id=new_id(),
        customer_id=customer.id,
        channel=start.channel,
        direction=start.direction,
        started_at=start.started_at or now,
        summary=start.summary,
        agent_id=principal.subject,
        agent_name=principal.display_name,
        branch_code=customer.branch_code,
        region_code=customer.region_code,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(interaction)
    await session.flush()
    await publish_interaction(session, interaction, "started")
    return interaction


async def end_interaction(
    session: AsyncSession, principal: Principal, interaction_id: str, end: InteractionEnding, *, now: datetime
) -> Interaction:
    """Only the agent who started it ends it (another agent's interaction is not found)."""
    require_ticket_writer(principal)
    interaction = await session.scalar(select(Interaction).where(Interaction.id == interaction_id).with_for_update())
    if interaction is None or interaction.agent_id != principal.subject:
        raise not_found("interaction", interaction_id[:64])
    if interaction.ended_at is not None:
        raise conflict("this interaction has already ended")
    if end.ticket_id is not None:
        ticket = await session.scalar(select(Ticket).where(Ticket.id == end.ticket_id, ticket_visibility(principal)))
        if ticket is None or ticket.customer_id != interaction.customer_id:
            raise field_problem("ticket_id", "no such ticket of this customer")
        interaction.ticket_id = ticket.id
    ended = end.ended_at or now
    if ended < interaction.started_at:
        raise field_problem("ended_at", "is before the start of the interaction")
    interaction.ended_at = ended
    interaction.outcome = end.outcome
    if end.summary is not None:
        interaction.summary = end.summary
    mark_changed(interaction, now)
    await session.flush()
    await publish_interaction(session, interaction, "ended")
    return interaction


async def list_interactions(
    session: AsyncSession, principal: Principal, customer_id: str, *, limit: int
) -> list[Interaction]:
    """A customer's interactions in the caller's reach, newest first."""
    require_reader(principal)
    rows = await session.scalars(
        select(Interaction)
        .where(Interaction.customer_id == customer_id, visibility_clause(principal, Interaction))
        .order_by(Interaction.started_at.desc())
        .limit(limit)
    )
    return list(rows)


# A call logged in sales before tickets owned contacts: sales' activity carries no direction, and its
# outcome is free text (kept in the summary).
HANDED_OVER_DIRECTION = "outbound"
HANDED_OVER_OUTCOME = "other"
SUMMARY_LENGTH = 2000


def handed_over_summary(call: dict) -> str:
    parts = [call.get("subject"), call.get("outcome"), call.get("body")]
    return "\n".join(str(p).strip() for p in parts if p and str(p).strip())[:SUMMARY_LENGTH]


async def take_over_sales_call(session: AsyncSession, call: dict) -> Interaction | None:
    """A call activity sales handed over (crm.sales.activity.handed_over) becomes an interaction
    with the activity's id, ended when it happened, once (a redelivery finds it there); it is
    announced like any other (``ended``) so that sales' copy shows it on the customer's card."""
    if await session.get(Interaction, call["id"]) is not None:
        return None
    home = await home_of(session, call["customer_id"])
    happened = datetime.fromisoformat(call.get("done_at") or call.get("due_at") or call["created_at"])
    interaction = Interaction(
        id=call["id"],
        customer_id=home.customer_id,
        channel="phone",
        direction=HANDED_OVER_DIRECTION,
        started_at=happened,
        ended_at=happened,
        outcome=HANDED_OVER_OUTCOME,
        summary=None if home.erased else handed_over_summary(call) or None,
        agent_id=call["owner_id"],
        agent_name=call["owner_name"],
        branch_code=call["branch_code"],
        region_code=call["region_code"],
        created_at=happened,
        updated_at=happened,
        version=1,
    )
    session.add(interaction)
    await session.flush()
    await publish_interaction(session, interaction, "ended")
    return interaction
