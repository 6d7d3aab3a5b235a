"""Kafka consumers of the analytics service.

customer-identity (the shared idempotent consumer, crm.sales.customer.v1): on
crm.sales.customer.erased the customer's pseudonym salt is forgotten and the erasure confirmed on
crm.analytics.erasure.v1. Every event of every topic reaches the store through the ingest worker
(background.py), which reads in batches rather than one transaction per event."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import CUSTOMER_TOPIC, erasure_notice
from crm_shared.envelope import CloudEvent
from crm_shared.service import ConsumerSpec

from ..services import pseudonym_service


async def apply_customer_event(session: AsyncSession, event: CloudEvent) -> None:
    if (erasure := erasure_notice(event)) is not None:
        await pseudonym_service.erase(session, erasure)


CONSUMERS: tuple[ConsumerSpec, ...] = (ConsumerSpec("customer-identity", [CUSTOMER_TOPIC], apply_customer_event),)
