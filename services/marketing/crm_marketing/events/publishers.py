"""The segment events, on topic crm.marketing.segment.v1 keyed by the segment's id: each
carries the record's full state after the change. They are written through the outbox in the
caller's transaction and published by the relay after the commit. Their contracts are in
contracts/crm_contracts/events/ (topics/crm.marketing.segment.v1.yaml and one schema per type)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.outbox import EventWriter, event_type, topic_name
from crm_shared.timefmt import iso

from ..db.models import Segment

SERVICE = "marketing"
AGGREGATE = "segment"
TOPIC = topic_name(SERVICE, AGGREGATE)
CREATED = event_type(SERVICE, AGGREGATE, "created")
UPDATED = event_type(SERVICE, AGGREGATE, "updated")

EVENTS = EventWriter(SERVICE)


def segment_state(segment: Segment) -> dict[str, Any]:
    """The segment as JSON-ready values: every event's payload, and the API's answer."""
    return {
        "id": segment.id,
        "name": segment.name,
        "notes": segment.notes,
        "owner_id": segment.owner_id,
        "branch_code": segment.branch_code,
        "region_code": segment.region_code,
        "version": segment.version,
        "created_at": iso(segment.created_at),
        "updated_at": iso(segment.updated_at),
    }


async def segment_created(session: AsyncSession, segment: Segment) -> None:
    await _record(session, "created", segment)


async def segment_updated(session: AsyncSession, segment: Segment) -> None:
    await _record(session, "updated", segment)


async def _record(session: AsyncSession, action: str, segment: Segment) -> None:
    await EVENTS.add(
        session,
        aggregate=AGGREGATE,
        action=action,
        subject=segment.id,
        data=segment_state(segment),
        region=segment.region_code,
        branch=segment.branch_code,
    )
