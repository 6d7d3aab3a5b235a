"""The analytics service publishes one event: crm.analytics.erasure.confirmed on
crm.analytics.erasure.v1 (ids and counts only), when it has cut the link between an erased
customer and the event store (sales collects it into the erasure request). Written through the
outbox in the consumer's transaction."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ErasureNotice, erasure_confirmation
from crm_shared.outbox import EventWriter, event_type

SERVICE = "analytics"
ERASURE_CONFIRMED = event_type(SERVICE, "erasure", "confirmed")

EVENTS = EventWriter(SERVICE)


async def publish_erasure_confirmed(session: AsyncSession, notice: ErasureNotice, records: dict[str, int]) -> None:
    await EVENTS.add(
        session,
        aggregate="erasure",
        action="confirmed",
        subject=notice.erasure_id,
        data=erasure_confirmation(SERVICE, notice, records),
    )
