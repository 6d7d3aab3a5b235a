"""Kafka consumers of the orders service (each idempotent through the shared inbox; every event
is checked against its contract first, crm_shared.service.ConsumerSpec)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.envelope import CloudEvent
from crm_shared.service import ConsumerSpec

from ..services.order_service import WonOpportunity, draft_from_opportunity

OPPORTUNITY_TOPIC = "crm.sales.opportunity.v1"


async def apply_opportunity_event(session: AsyncSession, event: CloudEvent) -> None:
    """A won opportunity starts a draft order for its customer (one per opportunity)."""
    if event.type != "crm.sales.opportunity.won":
        return
    data = event.data
    opportunity = WonOpportunity(
        id=str(data["id"]),
        customer_id=str(data["customer_id"]),
        branch_code=str(data["branch_code"]),
        region_code=str(data["region_code"]),
        owner_id=str(data["owner_id"]) if data.get("owner_id") else None,
        owner_name=str(data.get("owner_name") or ""),
    )
    await draft_from_opportunity(session, opportunity)


CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec("orders.won-opportunities", [OPPORTUNITY_TOPIC], apply_opportunity_event),
)
