"""One customer across every service, in partners: when sales merges a duplicate into a survivor,
the duplicate's deals, claim and commission lines belong to the survivor (the partner that brought
either keeps being paid); when sales erases a customer, the names, identifier and phone kept in
its deals are replaced, the commission lines (ids and amounts, the books) stay, and the service
confirms on crm.partners.erasure.v1. Both arrive as events, in any order, any number of times."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ERASED_NAME, CustomerIdentities, ErasureNotice, Home, MergeNotice, scrub_audit

from ..db.models import CommissionLine, CustomerAlias, CustomerClaim, Deal, ErasedCustomer
from ..events.publishers import publish_erasure_confirmed

IDENTITIES = CustomerIdentities(CustomerAlias, ErasedCustomer)


async def home_of(session: AsyncSession, customer_id: str) -> Home:
    return await IDENTITIES.home(session, customer_id)


async def apply_merge(session: AsyncSession, notice: MergeNotice) -> dict[str, int]:
    applied = await IDENTITIES.record_merge(session, notice)
    moved = list(applied.moved_ids)
    if not moved:
        return {}
    counts = {}
    for model in (Deal, CustomerClaim, CommissionLine):
        result = await session.execute(
            update(model).where(model.customer_id.in_(moved)).values(customer_id=applied.survivor_id)
        )
        counts[model.__tablename__] = result.rowcount or 0
    return counts


def anonymised(customer: dict) -> dict:
    kept = {"kind": customer.get("kind")}
    if customer.get("kind") == "business":
        return kept | {"legal_name": ERASED_NAME, "bin": "", "phone": ""}
    return kept | {"first_name": ERASED_NAME, "last_name": "", "iin": "", "phone": ""}


def erased_key(record_id: str) -> str:
    return "erased:" + record_id[:13]


async def apply_erasure(session: AsyncSession, notice: ErasureNotice) -> dict[str, int]:
    ids = list(await IDENTITIES.record_erasure(session, notice))
    deals = list(await session.scalars(select(Deal).where(Deal.customer_id.in_(ids)).with_for_update()))
    for deal in deals:
        deal.customer = anonymised(deal.customer)
        deal.customer_key = erased_key(deal.id)  # the key is the IIN/BIN
    claims = list(
        await session.scalars(select(CustomerClaim).where(CustomerClaim.customer_id.in_(ids)).with_for_update())
    )
    for claim in claims:
        claim.customer_key = erased_key(claim.deal_id)
    await session.flush()
    await scrub_audit(session, "deal", [d.id for d in deals], lambda name: name == "customer")
    records = {"deals": len(deals), "customer_claims": len(claims)}
    await publish_erasure_confirmed(session, notice, records)
    return records
