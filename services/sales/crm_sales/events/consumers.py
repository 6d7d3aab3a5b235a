"""Kafka consumers of the sales service (each idempotent through the shared inbox; every event
checked against its contract first by crm_shared.service).

A handler receives the session of the consumer's unit of work and the event; the inbox row that
marks the event as processed is written in that same transaction, so a redelivered event is
skipped and a handler never applies its effect twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.db import utcnow
from crm_shared.envelope import CloudEvent
from crm_shared.service import ConsumerSpec

from ..db.pipeline_models import BranchDirectoryEntry, CustomerCount, CustomerCountMember, StaffMember

USER_TOPIC = "crm.gateway.user.v1"
BRANCH_TOPIC = "crm.gateway.branch.v1"
CUSTOMER_TOPIC = "crm.sales.customer.v1"


async def _projection_row(session: AsyncSession, event: CloudEvent, model: type, **new_row):
    """The row of a latest-state projection that ``event`` overwrites (made from ``new_row`` when
    missing, keyed by its first field), or None when a newer event already set it: a late, older
    event must not overwrite what a newer one set."""
    row = await session.get(model, next(iter(new_row.values())), with_for_update=True)
    if row is None:
        row = model(**new_row)
        session.add(row)
    elif row.event_time > event.time:
        return None
    return row


# --- staff directory: crm.gateway.user.v1 ------------------------------------------------------

USER_EVENT_TYPES = ("crm.gateway.user.created", "crm.gateway.user.updated", "crm.gateway.user.deactivated")


async def apply_user_event(session: AsyncSession, event: CloudEvent) -> None:
    """Keeps staff_members equal to the gateway's latest state of each user."""
    if event.type not in USER_EVENT_TYPES:
        return
    data = event.data
    user_id = str(data.get("id") or event.subject)
    member = await _projection_row(session, event, StaffMember, id=user_id)
    if member is None:
        return
    member.username = str(data.get("username") or "")
    member.full_name = str(data.get("full_name") or data.get("username") or "")
    member.role = str(data.get("role") or "")
    member.region_code = data.get("region_code")
    member.branch_code = data.get("branch_code")
    member.active = event.type != "crm.gateway.user.deactivated" and bool(data.get("active", True))
    member.event_time = event.time
    member.updated_at = utcnow()


# --- branch directory: crm.gateway.branch.v1 ---------------------------------------------------

BRANCH_EVENT_TYPES = ("crm.gateway.branch.opened", "crm.gateway.branch.updated", "crm.gateway.branch.closed")


async def apply_branch_event(session: AsyncSession, event: CloudEvent) -> None:
    """Keeps branch_directory equal to the gateway's latest state of each branch."""
    if event.type not in BRANCH_EVENT_TYPES:
        return
    data = event.data
    code = str(data.get("code") or event.subject)
    branch = await _projection_row(session, event, BranchDirectoryEntry, code=code, region_code="")
    if branch is None:
        return
    if data.get("region_code"):
        branch.region_code = str(data["region_code"])
    branch.active = event.type != "crm.gateway.branch.closed" and bool(data.get("active", True))
    branch.event_time = event.time
    branch.updated_at = utcnow()


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
            await _set_membership(session, duplicate_id, None, merged=True)
        if status == "merged":  # the event carries the duplicate's own state
            await _set_membership(session, customer_id, None, merged=True)
            return
    if event.type in CUSTOMER_GONE_TYPES or status == "merged":
        await _set_membership(session, customer_id, None, merged=True)
        return
    bucket = _bucket_of(data)
    if bucket is None:
        return
    await _set_membership(session, customer_id, bucket if status == "active" else None)


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


def _bucket_of(data: dict[str, Any]) -> tuple[str, str, str] | None:
    region, branch, kind = data.get("region_code"), data.get("branch_code"), data.get("kind")
    if not region or not kind:
        return None
    return str(region), str(branch or ""), str(kind)


async def _set_membership(
    session: AsyncSession, customer_id: str, bucket: tuple[str, str, str] | None, *, merged: bool = False
) -> None:
    """Counts ``customer_id`` in ``bucket``, or in none when it is None. A merged customer never
    counts again, even when its merge is seen before its creation (they travel on different keys)."""
    member = await session.get(CustomerCountMember, customer_id, with_for_update=True)
    if member is None:
        member = CustomerCountMember(
            customer_id=customer_id, region_code="", branch_code="", kind="", counted=False, merged=False
        )
        session.add(member)
    if member.merged:
        return
    current = (member.region_code, member.branch_code, member.kind) if member.counted else None
    if merged:
        member.merged = True
        bucket = None
    if bucket == current:
        return
    if current is not None:
        await _add_to_count(session, current, -1)
    member.counted = bucket is not None
    if bucket is not None:
        member.region_code, member.branch_code, member.kind = bucket
        await _add_to_count(session, bucket, +1)


async def _add_to_count(session: AsyncSession, bucket: tuple[str, str, str], delta: int) -> None:
    row = await session.get(CustomerCount, bucket, with_for_update=True)
    if row is None:
        region, branch, kind = bucket
        session.add(CustomerCount(region_code=region, branch_code=branch, kind=kind, count=max(delta, 0)))
        await session.flush()
        return
    row.count = max(row.count + delta, 0)


CONSUMERS: list[ConsumerSpec] = [
    ConsumerSpec("staff-directory", [USER_TOPIC], apply_user_event),
    ConsumerSpec("branch-directory", [BRANCH_TOPIC], apply_branch_event),
    ConsumerSpec("branch-stats", [CUSTOMER_TOPIC], apply_customer_event),
]
