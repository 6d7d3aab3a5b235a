"""Aggregates without personal data: active customers per region, branch and kind.

The counts are a projection the branch-stats consumer keeps from crm.sales.customer.v1, so they
trail the customer records by the consumer's lag. Each customer is remembered in the bucket it is
counted in (customer_count_members), so that a customer who moves branch, or is merged away, is
taken out of the right bucket.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal

from ..access import require_stats_reader, stats_place
from ..db.pipeline_models import CustomerCount, CustomerCountMember

Bucket = tuple[str, str, str]  # (region_code, branch_code, kind)


async def customer_counts(
    session: AsyncSession,
    principal: Principal,
    *,
    region_code: str | None = None,
    branch_code: str | None = None,
    kind: str | None = None,
) -> list[CustomerCount]:
    """The non-empty buckets the caller may read (managers: their own branch or region)."""
    require_stats_reader(principal)
    stmt = select(CustomerCount).where(CustomerCount.count > 0)
    own_region, own_branch = stats_place(principal)
    if own_branch is not None:
        stmt = stmt.where(CustomerCount.branch_code == own_branch)
    if own_region is not None:
        stmt = stmt.where(CustomerCount.region_code == own_region)
    for column, value in (
        (CustomerCount.region_code, region_code),
        (CustomerCount.branch_code, branch_code),
        (CustomerCount.kind, kind),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    order = (CustomerCount.region_code, CustomerCount.branch_code, CustomerCount.kind)
    return list(await session.scalars(stmt.order_by(*order)))


async def count_customer(
    session: AsyncSession, customer_id: str, bucket: Bucket | None, *, merged: bool = False
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


async def _add_to_count(session: AsyncSession, bucket: Bucket, delta: int) -> None:
    row = await session.get(CustomerCount, bucket, with_for_update=True)
    if row is None:
        region, branch, kind = bucket
        session.add(CustomerCount(region_code=region, branch_code=branch, kind=kind, count=max(delta, 0)))
        await session.flush()
        return
    row.count = max(row.count + delta, 0)
