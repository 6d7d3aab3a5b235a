"""The marketing service's events, written through the outbox in the caller's transaction and
published by the relay after the commit (contracts in contracts/crm_contracts/events/):
crm.marketing.segment.v1: created (the segment's state); crm.marketing.campaign.v1: launched,
completed, response_recorded, conversion_attributed, opted_out (ids, counts and times, no personal
data; keyed by campaign); crm.marketing.erasure.v1: confirmed (ids and counts only), which sales
collects into an erasure request."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ErasureNotice, erasure_confirmation
from crm_shared.outbox import EventWriter, event_type, topic_name
from crm_shared.timefmt import iso

from ..db.models import Campaign, Delivery, Segment

SERVICE = "marketing"
AGGREGATE = "segment"
TOPIC = topic_name(SERVICE, AGGREGATE)
CREATED = event_type(SERVICE, AGGREGATE, "created")
CAMPAIGN = "campaign"
CAMPAIGN_TOPIC = topic_name(SERVICE, CAMPAIGN)

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


async def _campaign_event(session: AsyncSession, campaign: Campaign, action: str, data: dict[str, Any]) -> None:
    await EVENTS.add(
        session, aggregate=CAMPAIGN, action=action, subject=campaign.id, data={"campaign_id": campaign.id} | data
    )


def _recipient(delivery: Delivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery.id,
        "customer_id": delivery.customer_id,
        "region_code": delivery.region_code,
        "branch_code": delivery.branch_code,
    }


async def campaign_launched(session: AsyncSession, campaign: Campaign, targeted: int) -> None:
    offer = campaign.offer or {}
    await _campaign_event(
        session,
        campaign,
        "launched",
        {
            "segment_id": campaign.segment_id,
            "channel": campaign.channel,
            "offering_id": offer.get("offering_id"),
            "targeted": targeted,
            "launched_at": iso(campaign.launched_at),
        },
    )


async def campaign_completed(session: AsyncSession, campaign: Campaign, stats: dict[str, int]) -> None:
    await _campaign_event(
        session,
        campaign,
        "completed",
        {"channel": campaign.channel, "stats": stats, "completed_at": iso(campaign.completed_at)},
    )


async def campaign_response(session: AsyncSession, campaign: Campaign, delivery: Delivery) -> None:
    await _campaign_event(
        session, campaign, "response_recorded", _recipient(delivery) | {"responded_at": iso(delivery.responded_at)}
    )


async def campaign_conversion(session: AsyncSession, campaign: Campaign, delivery: Delivery) -> None:
    data = _recipient(delivery) | {
        "order_id": delivery.conversion_order_id,
        "offering_id": (campaign.offer or {}).get("offering_id"),
        "converted_at": iso(delivery.converted_at),
    }
    await _campaign_event(session, campaign, "conversion_attributed", data)


async def campaign_opt_out(session: AsyncSession, campaign: Campaign, delivery: Delivery) -> None:
    await _campaign_event(
        session,
        campaign,
        "opted_out",
        _recipient(delivery) | {"channel": campaign.channel, "opted_out_at": iso(delivery.opted_out_at)},
    )
