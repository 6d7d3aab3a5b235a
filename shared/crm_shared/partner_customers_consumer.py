"""The consumer that keeps a service's ``partner_customers`` (crm_shared.partner_customers) from
crm.partners.deal.v1: one line in the service's CONSUMERS."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .envelope import CloudEvent
from .partner_customers import PARTNER_DEAL_TOPIC, Home, record_partner_customer
from .service import ConsumerSpec


def partner_customers_consumer(model, home: Home | None = None, name: str = "partner-customers") -> ConsumerSpec:
    """The consumer that keeps a service's ``partner_customers`` from crm.partners.deal.v1."""

    async def apply_partner_deal_event(session: AsyncSession, event: CloudEvent) -> None:
        """An approved deal makes its customer the partner's: its partner users see that customer's records."""
        await record_partner_customer(session, model, event, home)

    return ConsumerSpec(name, [PARTNER_DEAL_TOPIC], apply_partner_deal_event)
