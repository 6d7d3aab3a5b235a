"""Use cases of segments: register one, read it with its current size, page its members. Members
are computed from the projections at the time of asking: only active customers with marketing
consent are ever members, so a withdrawal (the consent event) takes a customer out of every
segment at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal
from crm_shared.domain import RecordNotFound
from crm_shared.errors import field_problem
from crm_shared.pagination import decode_cursor, encode_cursor

from .. import access
from ..db.models import CustomerInvoice, CustomerProduct, CustomerProfile, CustomerTicket, LoyaltyAccount, Segment
from ..domain.campaigns import local_date
from ..domain.segments import Criteria, clean_criteria, clean_name
from ..events import publishers

WHAT = "segment"


async def register_segment(
    session: AsyncSession, principal: Principal, *, name: str, criteria: dict[str, Any], now: datetime
) -> Segment:
    access.require_marketer(principal, "create segments")
    segment = Segment(
        name=clean_name(name),
        criteria=clean_criteria(criteria).as_json(),
        owner_id=principal.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(segment)
    await session.flush()
    await publishers.segment_created(session, segment)
    return segment


async def get_segment(
    session: AsyncSession, principal: Principal, segment_id: str, field: str | None = None
) -> Segment:
    access.require_staff(principal)
    segment = await session.get(Segment, segment_id)
    if segment is None:
        if field:
            raise field_problem(field, f"segment {segment_id} does not exist", 422)
        raise RecordNotFound("segment", segment_id)
    return segment


def criteria_of(segment: Segment) -> Criteria:
    return clean_criteria(segment.criteria)


def members_query(criteria: Criteria, now: datetime, *, consenting: bool = True) -> Select:
    """The members as a SELECT of customer profiles (active status always required, and consent
    unless ``consenting`` is False: launch counts the opted-out ones as suppressed)."""
    conditions = [CustomerProfile.status == "active"]
    if consenting:
        conditions.append(CustomerProfile.marketing_consent.is_(True))
    if criteria.region_codes:
        conditions.append(CustomerProfile.region_code.in_(criteria.region_codes))
    if criteria.branch_codes:
        conditions.append(CustomerProfile.branch_code.in_(criteria.branch_codes))
    if criteria.kinds:
        conditions.append(CustomerProfile.kind.in_(criteria.kinds))
    if criteria.languages:
        conditions.append(CustomerProfile.language.in_(criteria.languages))
    if criteria.min_tenure_days is not None:
        conditions.append(CustomerProfile.registered_at <= now - timedelta(days=criteria.min_tenure_days))
    product_filters = []
    if criteria.product_lines:
        product_filters.append(CustomerProduct.product_line.in_(criteria.product_lines))
    if criteria.offering_ids:
        product_filters.append(CustomerProduct.offering_id.in_(criteria.offering_ids))
    if product_filters:
        conditions.append(
            exists().where(
                CustomerProduct.customer_id == CustomerProfile.id,
                CustomerProduct.status != "terminated",
                *product_filters,
            )
        )
    if criteria.has_open_tickets is not None:
        open_ticket = exists().where(CustomerTicket.customer_id == CustomerProfile.id, CustomerTicket.open.is_(True))
        conditions.append(open_ticket if criteria.has_open_tickets else ~open_ticket)
    if criteria.tiers:
        tiers = [tier for tier in criteria.tiers if tier != "none"]
        enrolled = exists().where(LoyaltyAccount.customer_id == CustomerProfile.id)
        tier_conditions = []
        if tiers:
            tier_conditions.append(
                exists().where(LoyaltyAccount.customer_id == CustomerProfile.id, LoyaltyAccount.tier.in_(tiers))
            )
        if "none" in criteria.tiers:
            tier_conditions.append(~enrolled)
        conditions.append(or_(*tier_conditions))
    if criteria.payment_statuses:
        conditions.append(or_(*(_payment_status(status, now) for status in criteria.payment_statuses)))
    return select(CustomerProfile).where(and_(*conditions))


def _payment_status(status: str, now: datetime):
    """The customer's invoices say ``status`` (segments.PAYMENT_STATUSES), on today's date in
    Kazakhstan: an invoice is overdue from the day after its due date."""
    today = local_date(now)
    invoices = CustomerInvoice.customer_id == CustomerProfile.id
    unpaid = CustomerInvoice.paid_tiyn < CustomerInvoice.amount_tiyn
    if status == "overdue":
        return exists().where(invoices, unpaid, CustomerInvoice.due_on < today)
    if status == "due":
        return exists().where(invoices, unpaid, CustomerInvoice.due_on >= today)
    if status == "paid":
        return and_(exists().where(invoices), ~exists().where(invoices, unpaid))
    return ~exists().where(invoices)


async def segment_size(session: AsyncSession, segment: Segment, now: datetime) -> int:
    query = members_query(criteria_of(segment), now).with_only_columns(func.count()).order_by(None)
    return int(await session.scalar(query) or 0)


async def segment_members(
    session: AsyncSession, principal: Principal, segment_id: str, *, limit: int, cursor: str | None, now: datetime
) -> tuple[list[CustomerProfile], str | None]:
    """One page of the members the caller may see (their branch / region / all; 403 for analysts)."""
    segment = await get_segment(session, principal, segment_id)
    query = members_query(criteria_of(segment), now).where(access.visible_customers(principal, CustomerProfile))
    after = decode_cursor(cursor)
    if after is not None:
        if not isinstance(after, list) or len(after) != 1:
            raise field_problem("cursor", "malformed cursor; pass next_cursor unchanged", 400)
        query = query.where(CustomerProfile.id > str(after[0]))
    rows = list(await session.scalars(query.order_by(CustomerProfile.id).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], encode_cursor([rows[limit - 1].id])


async def list_segments(session: AsyncSession, principal: Principal, *, limit: int) -> list[Segment]:
    access.require_staff(principal)
    return list(await session.scalars(select(Segment).order_by(Segment.created_at.desc(), Segment.id).limit(limit)))
