"""The customer's calls and visits on the sales side: a projection of the tickets service's
interactions (crm.tickets.interaction.v1; tickets owns every contact, docs/interactions.md), kept
by the customer-interactions consumer and shown on the customer's card. The copy follows sales'
own merges (a duplicate's contacts move to the survivor) and erasures (the summaries go)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, require_personal_data_access
from crm_shared.records import get_visible

from ..db.models import Customer, CustomerInteraction
from ..domain.customers import CustomerStatus

MAX_MERGE_HOPS = 16


async def _home_of(session: AsyncSession, customer_id: str) -> tuple[str, bool]:
    """The customer a contact belongs to now (the survivor of any merges) and whether it is erased."""
    for _ in range(MAX_MERGE_HOPS):
        customer = await session.get(Customer, customer_id)
        if customer is None:
            return customer_id, False
        if customer.status == CustomerStatus.MERGED and customer.merged_into_id:
            customer_id = customer.merged_into_id
            continue
        return customer_id, customer.status == CustomerStatus.ERASED
    return customer_id, False


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


async def record_interaction(session: AsyncSession, state: dict[str, Any]) -> None:
    """Keeps the copy equal to tickets' latest state of the interaction (a redelivered or late,
    older state never overwrites a newer one)."""
    row = await session.get(CustomerInteraction, state["id"], with_for_update=True)
    if row is not None and row.version >= state["version"]:
        return
    customer_id, erased = await _home_of(session, str(state["customer_id"]))
    if row is None:
        row = CustomerInteraction(id=state["id"])
        session.add(row)
    row.customer_id = customer_id
    row.channel = state["channel"]
    row.direction = state["direction"]
    row.started_at = _time(state["started_at"])
    row.ended_at = _time(state.get("ended_at"))
    row.outcome = state.get("outcome")
    row.summary = None if erased else state.get("summary")
    row.ticket_id = state.get("ticket_id")
    row.agent_id = state["agent_id"]
    row.agent_name = state["agent_name"]
    row.branch_code = state["branch_code"]
    row.region_code = state["region_code"]
    row.version = state["version"]


async def move_interactions(session: AsyncSession, duplicate_id: str, survivor_id: str) -> None:
    """After a merge: the duplicate's contacts are the survivor's."""
    await session.execute(
        update(CustomerInteraction)
        .where(CustomerInteraction.customer_id == duplicate_id)
        .values(customer_id=survivor_id)
    )


async def forget_summaries(session: AsyncSession, customer_ids: list[str]) -> int:
    """After an erasure: what was said in the person's contacts is gone (when and who stays)."""
    result = await session.execute(
        update(CustomerInteraction)
        .where(CustomerInteraction.customer_id.in_(customer_ids), CustomerInteraction.summary.is_not(None))
        .values(summary=None)
    )
    return result.rowcount or 0


async def customer_interactions(
    session: AsyncSession, principal: Principal, customer_id: str, *, limit: int
) -> list[CustomerInteraction]:
    """The customer's calls and visits, newest first, as visible as the customer (404 otherwise)."""
    require_personal_data_access(principal)
    customer = await get_visible(session, principal, Customer, customer_id, what="customer")
    rows = await session.scalars(
        select(CustomerInteraction)
        .where(CustomerInteraction.customer_id == customer.id)
        .order_by(CustomerInteraction.started_at.desc(), CustomerInteraction.id)
        .limit(limit)
    )
    return list(rows)
