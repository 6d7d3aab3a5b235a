"""Kafka consumers of the orders service (each idempotent through the shared inbox; every event
is checked against its contract first, crm_shared.service.ConsumerSpec)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import CUSTOMER_TOPIC, erasure_notice, merge_notice
from crm_shared.envelope import CloudEvent
from crm_shared.partner_customers_consumer import partner_customers_consumer
from crm_shared.service import ConsumerSpec

from ..db.models import PartnerCustomer
from ..services import customer_identity_service
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


async def apply_customer_event(session: AsyncSession, event: CloudEvent) -> None:
    """A merge moves the duplicate's orders, products and billing to the survivor; an erasure
    anonymises the person's copies here and confirms. Other customer events change nothing here."""
    if (merge := merge_notice(event)) is not None:
        await customer_identity_service.apply_merge(session, merge, operation_id=event.id)
    elif (erasure := erasure_notice(event)) is not None:
        await customer_identity_service.apply_erasure(session, erasure, operation_id=event.id)


CONSUMERS: tuple[ConsumerSpec, ...] = (
    partner_customers_consumer(
        PartnerCustomer, customer_identity_service.IDENTITIES.home_id, "orders.partner-customers"
    ),
    ConsumerSpec("orders.won-opportunities", [OPPORTUNITY_TOPIC], apply_opportunity_event),
    ConsumerSpec("orders.customer-identity", [CUSTOMER_TOPIC], apply_customer_event),
)
