"""The customers as the TM Forum facades (TMF629 Customer, TMF632 Party) page through them:
offset and total (TMF630), within the caller's visibility."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, visibility_clause

from ..access import require_reader
from ..db.models import Customer


async def customers_at_offset(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: str | None,
    statuses: list[str] | None,
    offset: int,
    limit: int,
) -> tuple[int, list[Customer]]:
    """(how many customers the caller sees with these filters, the slice at offset, newest first)."""
    require_reader(principal)
    stmt = select(Customer).where(visibility_clause(principal, Customer))
    if kind is not None:
        stmt = stmt.where(Customer.kind == kind)
    if statuses is not None:
        stmt = stmt.where(Customer.status.in_(statuses))
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    ordered = stmt.order_by(Customer.created_at.desc(), Customer.id)
    return total or 0, list(await session.scalars(ordered.offset(offset).limit(limit)))
