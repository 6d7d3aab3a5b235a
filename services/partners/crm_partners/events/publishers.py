"""The partner events, on topic crm.partners.partner.v1 keyed by the partner's id: each
carries the record's full state after the change. They are written through the outbox in the
caller's transaction and published by the relay after the commit. Their contracts are in
contracts/crm_contracts/events/ (topics/crm.partners.partner.v1.yaml and one schema per type)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.outbox import EventWriter, event_type, topic_name
from crm_shared.timefmt import iso

from ..db.models import Partner

SERVICE = "partners"
AGGREGATE = "partner"
TOPIC = topic_name(SERVICE, AGGREGATE)
CREATED = event_type(SERVICE, AGGREGATE, "created")
UPDATED = event_type(SERVICE, AGGREGATE, "updated")

EVENTS = EventWriter(SERVICE)


def partner_state(partner: Partner) -> dict[str, Any]:
    """The partner as JSON-ready values: every event's payload, and the API's answer."""
    return {
        "id": partner.id,
        "name": partner.name,
        "notes": partner.notes,
        "owner_id": partner.owner_id,
        "branch_code": partner.branch_code,
        "region_code": partner.region_code,
        "version": partner.version,
        "created_at": iso(partner.created_at),
        "updated_at": iso(partner.updated_at),
    }


async def partner_created(session: AsyncSession, partner: Partner) -> None:
    await _record(session, "created", partner)


async def partner_updated(session: AsyncSession, partner: Partner) -> None:
    await _record(session, "updated", partner)


async def _record(session: AsyncSession, action: str, partner: Partner) -> None:
    await EVENTS.add(
        session,
        aggregate=AGGREGATE,
        action=action,
        subject=partner.id,
        data=partner_state(partner),
        region=partner.region_code,
        branch=partner.branch_code,
    )
