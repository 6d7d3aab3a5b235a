"""The fan-out consumer: every topic of the event catalogue, each event turned into one pending
delivery per subscription that wants it, in the consumer's unit of work beside the inbox row (an
event delivered twice by Kafka makes its deliveries once)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_contracts import events as contracts
from crm_shared.db import utcnow
from crm_shared.envelope import CloudEvent
from crm_shared.service import ConsumerSpec

from ..services.delivery_service import fan_out

TOPICS = contracts.topic_names()


async def deliver_to_subscribers(session: AsyncSession, event: CloudEvent) -> None:
    await fan_out(session, event, utcnow())


CONSUMERS: tuple[ConsumerSpec, ...] = (
    # The name is the inbox key and the consumer group (<service>.<name>): keep it stable.
    ConsumerSpec("fan-out", TOPICS, deliver_to_subscribers),
)
