"""The marketing service's events, written through the outbox in the caller's transaction and
published by the relay after the commit (contracts in contracts/crm_contracts/events/):
crm.marketing.segment.v1: created (the segment's state); crm.marketing.erasure.v1: confirmed (ids
and counts only), which sales collects into an erasure request."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ErasureNotice, erasure_confirmation
from crm_shared.outbox import EventWriter, event_type, topic_name
from crm_shared.timefmt import iso

from ..db.models import Segment

SERVICE = "marketing"
AGGREGATE = "segment"
TOPIC = topic_name(SERVICE, AGGREGATE)
CREATED = event_type(SERVICE, AGGREGATE, "created")

EVENTS = EventWriter(SERVICE)


def segment_state(segment: Segment) -> dict[str, Any]:
    """The segment as JSON-ready values: the event's payload, and the API's answer (plus size)."""
    return {
        "id": segment.id,
        "name": segment.name,
        "criteria": segment.criteria,
        "owner_id": segment.owner_id,
        "version": segment.version,
        "created_at": iso(segment.created_at),
        "updated_at": iso(segment.updated_at),
    }


async def segment_created(session: AsyncSession, segment: Segment) -> None:
    await EVENTS.add(session, aggregate=AGGREGATE, action="created", subject=segment.id, data=segment_state(segment))


async def erasure_confirmed(session: AsyncSession, notice: ErasureNotice, records: dict[str, int]) -> None:
    await EVENTS.add(
        session,
        aggregate="erasure",
        action="confirmed",
        subject=notice.erasure_id,
        data=erasure_confirmation(SERVICE, notice, records),
    )
