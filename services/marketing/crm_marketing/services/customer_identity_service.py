"""One customer across every service, in marketing: a merge moves the duplicate's products,
deliveries and loyalty points to the survivor (the duplicate's account is closed into the
survivor's); an erasure drops the projection's name, phone and e-mail and the deliveries'
addresses, then confirms on crm.marketing.erasure.v1. Both are idempotent (the alias and erasure
tables of crm_shared.customer_identity)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ERASED_NAME, CustomerIdentities, ErasureNotice, Home, MergeNotice
from crm_shared.db import utcnow

from ..db.models import (
    CustomerAlias,
    CustomerInvoice,
    CustomerProduct,
    CustomerProfile,
    CustomerTicket,
    Delivery,
    ErasedCustomer,
    LoyaltyAccount,
    LoyaltyEntry,
)
from ..events.publishers import erasure_confirmed

IDENTITIES = CustomerIdentities(CustomerAlias, ErasedCustomer)


async def home_of(session: AsyncSession, customer_id: str) -> Home:
    return await IDENTITIES.home(session, customer_id)


async def apply_merge(session: AsyncSession, notice: MergeNotice) -> dict[str, int]:
    applied = await IDENTITIES.record_merge(session, notice)
    moved = list(applied.moved_ids)
    if not moved:
        return {}
    survivor = applied.survivor_id
    products = await session.execute(
        update(CustomerProduct).where(CustomerProduct.customer_id.in_(moved)).values(customer_id=survivor)
    )
    await session.execute(
        update(CustomerTicket).where(CustomerTicket.customer_id.in_(moved)).values(customer_id=survivor)
    )
    await session.execute(
        update(CustomerInvoice).where(CustomerInvoice.customer_id.in_(moved)).values(customer_id=survivor)
    )
    await session.execute(
        update(CustomerProfile).where(CustomerProfile.id.in_(moved)).values(status="merged", marketing_consent=False)
    )
    points = await _move_points(session, moved, survivor, utcnow())
    return {"installed_products": products.rowcount or 0, "points": points}


async def _move_points(session: AsyncSession, moved: list[str], survivor_id: str, now: datetime) -> int:
    """The duplicates' balances join the survivor's account (opened for it when it had none)."""
    ids = sorted({*moved, survivor_id})
    accounts = {
        account.customer_id: account
        for account in await session.scalars(
            select(LoyaltyAccount)
            .where(LoyaltyAccount.customer_id.in_(ids))
            .order_by(LoyaltyAccount.customer_id)
            .with_for_update()
        )
    }
    duplicates = [accounts[i] for i in moved if i in accounts and i != survivor_id]
    if not duplicates:
        return 0
    target = accounts.get(survivor_id)
    if target is None:  # the survivor takes over the first duplicate's card
        first = duplicates.pop(0)
        await session.execute(
            update(LoyaltyEntry).where(LoyaltyEntry.customer_id == first.customer_id).values(customer_id=survivor_id)
        )
        moved_points = first.points
        first.customer_id = survivor_id
        target = first
    else:
        moved_points = 0
    for account in duplicates:
        await session.execute(
            update(LoyaltyEntry).where(LoyaltyEntry.customer_id == account.customer_id).values(customer_id=survivor_id)
        )
        target.points += account.points
        moved_points += account.points
        await session.delete(account)
    target.updated_at = now
    return moved_points


async def apply_erasure(session: AsyncSession, notice: ErasureNotice) -> dict[str, int]:
    ids = list(await IDENTITIES.record_erasure(session, notice))
    profiles = await session.execute(
        update(CustomerProfile)
        .where(CustomerProfile.id.in_(ids))
        .values(display_name=ERASED_NAME, phone=None, email=None, marketing_consent=False)
    )
    deliveries = await session.execute(update(Delivery).where(Delivery.customer_id.in_(ids)).values(address=None))
    records = {"customers": profiles.rowcount or 0, "deliveries": deliveries.rowcount or 0}
    await erasure_confirmed(session, notice, records)
    return records
