"""Kafka consumers of the sales service (each idempotent through the shared inbox; every event
checked against its contract first by crm_shared.service).

A handler receives the session of the consumer's unit of work and the event; the inbox row that
marks the event as processed is written in that same transaction, so a redelivered event is
skipped and a handler never applies its effect twice. The handlers read the event and leave the
effect to the projections in crm_sales.services.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_contracts.events import erasure_confirmation_topics
from crm_shared.envelope import CloudEvent
from crm_shared.partner_customers_consumer import partner_customers_consumer
from crm_shared.service import ConsumerSpec

from ..db.models import PartnerCustomer
from ..services import (
    branch_directory_service,
    customer_interaction_service,
    customer_service,
    erasure_service,
    staff_directory_service,
    stats_service,
)
from .publishers import CUSTOMER_TOPIC

USER_TOPIC = "crm.gateway.user.v1"
BRANCH_TOPIC = "crm.gateway.branch.v1"
INTERACTION_TOPIC = "crm.tickets.interaction.v1"


# --- staff directory: crm.gateway.user.v1 ------------------------------------------------------

USER_EVENT_TYPES = ("crm.gateway.user.created", "crm.gateway.user.updated", "crm.gateway.user.deactivated")


async def apply_user_event(session: AsyncSession, event: CloudEvent) -> None:
    """Keeps staff_members equal to the gateway's latest state of each user."""
    if event.type not in USER_EVENT_TYPES:
        return
    data = event.data
    await staff_directory_service.record_staff_member(
        session,
        str(data.get("id") or event.subject),
        username=str(data.get("username") or ""),
        full_name=str(data.get("full_name") or data.get("username") or ""),
        role=str(data.get("role") or ""),
        region_code=data.get("region_code"),
        branch_code=data.get("branch_code"),
        active=event.type != "crm.gateway.user.deactivated" and bool(data.get("active", True)),
        as_of=event.time,
        email=data.get("email") or None,
        language=data.get("language"),
    )


# --- branch directory: crm.gateway.branch.v1 ---------------------------------------------------

BRANCH_EVENT_TYPES = ("crm.gateway.branch.opened", "crm.gateway.branch.updated", "crm.gateway.branch.closed")


async def apply_branch_event(session: AsyncSession, event: CloudEvent) -> None:
    """Keeps branch_directory equal to the gateway's latest state of each branch."""
    if event.type not in BRANCH_EVENT_TYPES:
        return
    data = event.data
    await branch_directory_service.record_branch(
        session,
        str(data.get("code") or event.subject),
        region_code=str(data["region_code"]) if data.get("region_code") else None,
        active=event.type != "crm.gateway.branch.closed" and bool(data.get("active", True)),
        as_of=event.time,
    )


# --- branch stats: crm.sales.customer.v1 -------------------------------------------------------

# Event types after which the customer they are about never counts again.
CUSTOMER_GONE_TYPES = ("crm.sales.customer.deleted", "crm.sales.customer.erased")


async def apply_customer_event(session: AsyncSession, event: CloudEvent) -> None:
    """Keeps the per region/branch/kind count of active customers.

    created +1; merged -1 for the duplicate; any event carrying a customer's state moves the
    customer to the bucket of its current region/branch/kind (e.g. after a reassignment), and a
    customer whose status is no longer active leaves the counts.
    """
    data = event.data
    customer_id = str(data.get("id") or event.subject)
    status = str(data.get("status") or "active").lower()
    if event.type == "crm.sales.customer.merged":
        for duplicate_id in merged_duplicate_ids(data):
            await stats_service.count_customer(session, duplicate_id, None, merged=True)
        if status == "merged":  # the event carries the duplicate's own state
            await stats_service.count_customer(session, customer_id, None, merged=True)
            return
    if event.type in CUSTOMER_GONE_TYPES or status == "merged":
        await stats_service.count_customer(session, customer_id, None, merged=True)
        return
    bucket = _bucket_of(data)
    if bucket is None:
        return
    await stats_service.count_customer(session, customer_id, bucket if status == "active" else None)


def merged_duplicate_ids(data: dict[str, Any]) -> list[str]:
    """The customers a merge folded into the survivor, when the event carries the survivor's state."""
    ids: list[str] = []
    for key in ("duplicate_id", "merged_id", "merged_from_id"):
        if data.get(key):
            ids.append(str(data[key]))
    for key in ("duplicate_ids", "merged_ids", "merged_from"):
        value = data.get(key)
        if isinstance(value, list):
            ids.extend(str(v) for v in value if v)
        elif isinstance(value, str) and value:
            ids.append(value)
    return list(dict.fromkeys(ids))


def _bucket_of(data: dict[str, Any]) -> stats_service.Bucket | None:
    region, branch, kind = data.get("region_code"), data.get("branch_code"), data.get("kind")
    if not region or not kind:
        return None
    return str(region), str(branch or ""), str(kind)


# --- customer interactions: crm.tickets.interaction.v1 -----------------------------------------

INTERACTION_EVENT_TYPES = ("crm.tickets.interaction.started", "crm.tickets.interaction.ended")


async def apply_interaction_event(session: AsyncSession, event: CloudEvent) -> None:
    """Keeps the copy of tickets' calls and visits that the customer's card shows."""
    if event.type in INTERACTION_EVENT_TYPES:
        await customer_interaction_service.record_interaction(session, event.data)


# --- erasure confirmations: crm.<service>.erasure.v1 -------------------------------------------

# Every service that confirms erasures has such a topic in the catalogue; a new one is read after
# a restart, with nothing listed here.
ERASURE_TOPICS = sorted(erasure_confirmation_topics().values())


async def apply_erasure_confirmation(session: AsyncSession, event: CloudEvent) -> None:
    """A service confirmed that it anonymised its copies: recorded on the erasure request."""
    if not event.type.endswith(".erasure.confirmed"):
        return
    data = event.data
    await erasure_service.record_confirmation(
        session,
        service=str(data["service"]),
        erasure_id=str(data["erasure_id"]),
        confirmed_at=datetime.fromisoformat(data["confirmed_at"]) if data.get("confirmed_at") else event.time,
        records=dict(data.get("records") or {}),
        event_id=event.id,
    )


CONSUMERS: list[ConsumerSpec] = [
    ConsumerSpec("staff-directory", [USER_TOPIC], apply_user_event),
    ConsumerSpec("branch-directory", [BRANCH_TOPIC], apply_branch_event),
    ConsumerSpec("branch-stats", [CUSTOMER_TOPIC], apply_customer_event),
    partner_customers_consumer(PartnerCustomer, customer_service.current_customer_id),
    ConsumerSpec("customer-interactions", [INTERACTION_TOPIC], apply_interaction_event),
    *([ConsumerSpec("erasure-confirmations", ERASURE_TOPICS, apply_erasure_confirmation)] if ERASURE_TOPICS else []),
]
