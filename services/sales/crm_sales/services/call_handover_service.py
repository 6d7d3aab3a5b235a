"""The calls logged as sales activities before the tickets service owned every contact
(docs/interactions.md) become tickets' interactions, once: each is announced as
crm.sales.activity.handed_over (its state and the customer it was with), from which tickets makes
an interaction with the same id, and is removed from sales in that same transaction, audited. A
call is handed over once whatever runs it (the job on every start, several replicas: rows are
locked, skipped when another holds them, and gone once handed over; tickets' consumer makes an
interaction once per id). A call on a lead that never became a customer has no customer to be an
interaction with: it stays an activity of that lead, as do the calls of an erased customer."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import record_change
from crm_shared.auth import Principal, Role

from ..db.models import Customer
from ..db.pipeline_models import Activity, Lead, Opportunity
from ..domain.customers import CustomerStatus
from ..domain.pipeline import ActivityKind, RelatedType
from ..events.publishers import record_activity_event
from .activity_service import placements_of

# who the audit names for a change no person made
HANDOVER = Principal(
    subject="system:call-handover", role=Role.SYSTEM, username="call-handover", full_name="Calls handed over to tickets"
)


async def _customer_of(session: AsyncSession, activity: Activity) -> str | None:
    if activity.related_type == RelatedType.CUSTOMER:
        return activity.related_id
    if activity.related_type == RelatedType.OPPORTUNITY:
        return await session.scalar(select(Opportunity.customer_id).where(Opportunity.id == activity.related_id))
    return await session.scalar(select(Lead.customer_id).where(Lead.id == activity.related_id))


async def hand_over_calls(
    session: AsyncSession, *, after_id: str = "", batch_size: int = 200
) -> tuple[int, str | None]:
    """One batch of call activities (by id, after ``after_id``): the ones with a customer are
    handed over. Returns how many were, and the id to go on after (None: no more calls)."""
    calls = list(
        await session.scalars(
            select(Activity)
            .where(Activity.kind == str(ActivityKind.CALL), Activity.id > after_id)
            .order_by(Activity.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
    )
    if not calls:
        return 0, None
    placements = await placements_of(session, calls)
    handed = 0
    for call in calls:
        customer_id = await _customer_of(session, call)
        if customer_id is None:
            continue
        customer = await session.get(Customer, customer_id)
        if customer is None or customer.status == CustomerStatus.ERASED:
            continue
        placement = placements.get((call.related_type, call.related_id), (customer.region_code, customer.branch_code))
        await record_activity_event(session, "handed_over", call, placement, customer_id=customer_id)
        record_change(
            session,
            HANDOVER,
            entity_type="activity",
            entity_id=call.id,
            action="handed_over",
            changes={"interaction_id": [None, call.id], "customer_id": [None, customer_id]},
        )
        await session.delete(call)
        handed += 1
    return handed, calls[-1].id
