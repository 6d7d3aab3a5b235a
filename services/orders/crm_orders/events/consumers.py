"""Kafka consumers of the orders service (each idempotent through the shared inbox)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.envelope import CloudEvent

from ..order_service import draft_from_opportunity

OPPORTUNITY_TOPIC = "crm.sales.opportunity.v1"


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topics: list[str]
    handler: Callable[[AsyncSession, CloudEvent], Awaitable[None]]


async def apply_opportunity_event(session: AsyncSession, event: CloudEvent) -> None:
    """A won opportunity starts a draft order for its customer (one per opportunity)."""
    if event.type != "crm.sales.opportunity.won":
        return
    await draft_from_opportunity(session, event.data)


CONSUMERS: tuple[ConsumerSpec, ...] = (
    ConsumerSpec("orders.won-opportunities", [OPPORTUNITY_TOPIC], apply_opportunity_event),
)
