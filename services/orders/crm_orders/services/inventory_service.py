"""Installed products: what customers have running (made and changed by completed orders,
crm_orders.services.order_service), read by staff over REST and by other services over gRPC."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, require_personal_data_access, visibility_clause
from crm_shared.errors import Problem, field_problem
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.records import get_visible

from ..access import require_reader
from ..db.models import InstalledProduct

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

# REST answers by the caller's role and API-key scope (orders:read); InventoryService (gRPC)
# answers other services, which ask with their user's identity, by visibility alone.


async def customer_products(
    session: AsyncSession, principal: Principal, customer_id: str, *, include_terminated: bool
) -> list[InstalledProduct]:
    require_reader(principal)
    stmt = (
        select(InstalledProduct)
        .where(InstalledProduct.customer_id == customer_id, visibility_clause(principal, InstalledProduct))
        .order_by(InstalledProduct.activated_at.desc(), InstalledProduct.id)
    )
    if not include_terminated:
        stmt = stmt.where(InstalledProduct.status != "terminated")
    return list(await session.scalars(stmt))


async def installed_product(session: AsyncSession, principal: Principal, product_id: str) -> InstalledProduct:
    require_reader(principal)
    return await visible_product(session, principal, product_id)


async def visible_product(session: AsyncSession, principal: Principal, product_id: str) -> InstalledProduct:
    return await get_visible(session, principal, InstalledProduct, product_id, what="installed product")


async def customer_products_page(
    session: AsyncSession, principal: Principal, customer_id: str, *, page_size: int, page_token: str
) -> tuple[list[InstalledProduct], str]:
    """A page of the customer's products, newest first, and the token of the next page ("" on
    the last); a bad request is refused naming its field (``page_size`` 0 means the default)."""
    require_personal_data_access(principal)
    if not customer_id:
        raise field_problem("customer_id", "required")
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise field_problem("page_size", f"must be 0..{MAX_PAGE_SIZE}")
    size = page_size or DEFAULT_PAGE_SIZE
    try:
        after = decode_cursor(page_token)
    except Problem:
        after = ["malformed"]  # reported below, naming the request's own field
    stmt = select(InstalledProduct).where(
        InstalledProduct.customer_id == customer_id, visibility_clause(principal, InstalledProduct)
    )
    if after:
        try:
            if len(after) != 2 or not all(isinstance(v, str) for v in after):
                raise ValueError
            activated = datetime.fromisoformat(after[0])
        except ValueError:
            raise field_problem("page_token", "malformed; pass next_page_token unchanged") from None
        stmt = stmt.where(
            or_(
                InstalledProduct.activated_at < activated,
                and_(InstalledProduct.activated_at == activated, InstalledProduct.id > after[1]),
            )
        )
    rows = list(
        await session.scalars(stmt.order_by(InstalledProduct.activated_at.desc(), InstalledProduct.id).limit(size + 1))
    )
    if len(rows) <= size:
        return rows, ""
    rows = rows[:size]
    return rows, encode_cursor([rows[-1].activated_at.isoformat(), rows[-1].id])


async def products_at_offset(
    session: AsyncSession,
    principal: Principal,
    *,
    customer_id: str | None,
    statuses: list[str] | None,
    offering_id: str | None,
    offset: int,
    limit: int,
) -> tuple[int, list[InstalledProduct]]:
    """(how many installed products the caller sees with these filters, the slice at offset):
    TMF637 paging, newest first."""
    require_reader(principal)
    stmt = select(InstalledProduct).where(visibility_clause(principal, InstalledProduct))
    if customer_id:
        stmt = stmt.where(InstalledProduct.customer_id == customer_id)
    if statuses is not None:
        stmt = stmt.where(InstalledProduct.status.in_(statuses))
    if offering_id:
        stmt = stmt.where(InstalledProduct.offering_id == offering_id)
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    ordered = stmt.order_by(InstalledProduct.activated_at.desc(), InstalledProduct.id)
    return total or 0, list(await session.scalars(ordered.offset(offset).limit(limit)))
