"""Pseudonymous customer keys: one random salt per customer in the operational database, the key
HMAC(salt, customer id). Erasure deletes the salt, which cuts the link between the person and
every row of the event store; the erasure is then confirmed on crm.analytics.erasure.v1.

A customer merged into another keeps its salt but names its final survivor: its key is then the
survivor's (``keys_for``), so the person's facts count once, and erasing the survivor (whose
notice names the duplicates too) leaves both without a salt."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import MAX_HOPS, ErasureNotice
from crm_shared.db import utcnow

from ..db.models import CustomerPseudonym
from ..domain.projection import customer_key
from ..events.publishers import publish_erasure_confirmed


async def keys_for(session: AsyncSession, customer_ids: Iterable[str]) -> dict[str, str]:
    """customer id -> its key (a merged customer's: its survivor's), making the salts of customers
    seen for the first time."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    found = await _pseudonyms(session, wanted)
    await _make_salts(session, [c for c in wanted if c not in found])
    found.update(await _pseudonyms(session, [c for c in wanted if c not in found]))
    # a merged customer's key is its survivor's; an erased one's stays the erased key
    owners = {c: (found[c][1] if found[c][0] else None) or c for c in wanted}
    found.update(await _pseudonyms(session, [owner for owner in set(owners.values()) if owner not in found]))
    return {c: customer_key(found.get(owner, (None, None))[0], owner) for c, owner in owners.items()}


async def merge(session: AsyncSession, duplicate_id: str, survivor_id: str) -> tuple[str, str] | None:
    """Records that ``duplicate_id`` was merged into ``survivor_id`` (or into whoever that one was
    merged into since); returns (the duplicate's key until now, its key from now on) when the
    store's rows must be re-keyed, None when nothing changes (a replayed merge, a cycle)."""
    final = survivor_id
    for _ in range(MAX_HOPS):
        onward = (await _pseudonyms(session, [final])).get(final, (None, None))[1]
        if onward is None:
            break
        final = onward
    if final == duplicate_id:
        return None
    await _make_salts(session, [duplicate_id, final])
    duplicate = await session.get(CustomerPseudonym, duplicate_id, with_for_update=True)
    assert duplicate is not None
    if duplicate.survivor_id == final:
        return None  # a replayed merge
    before = (await keys_for(session, [duplicate_id]))[duplicate_id]
    # the customers merged into the duplicate earlier follow it to its survivor
    await session.execute(
        update(CustomerPseudonym).where(CustomerPseudonym.survivor_id == duplicate_id).values(survivor_id=final)
    )
    duplicate.survivor_id = final
    await session.flush()
    after = (await keys_for(session, [duplicate_id]))[duplicate_id]
    return (before, after) if before != after else None


async def erase(session: AsyncSession, notice: ErasureNotice) -> dict[str, int]:
    """Forgets the salts of the erased customer (and of those merged into it) and confirms.
    Idempotent: a second time there is nothing left to forget, and it confirms again."""
    ids = sorted(set(notice.customer_ids))
    now = utcnow()
    forgotten = 0
    for customer_id in ids:
        pseudonym = await session.get(CustomerPseudonym, customer_id, with_for_update=True)
        if pseudonym is None:
            session.add(CustomerPseudonym(customer_id=customer_id, salt=None, created_at=now, erased_at=now))
            continue
        if pseudonym.salt is not None:
            forgotten += 1
        pseudonym.salt, pseudonym.erased_at = None, pseudonym.erased_at or now
    await session.flush()
    records = {"pseudonyms": forgotten}
    await publish_erasure_confirmed(session, notice, records)
    return records


async def _pseudonyms(session: AsyncSession, customer_ids: list[str]) -> dict[str, tuple[str | None, str | None]]:
    """customer id -> (its salt, its survivor), for those that have a row."""
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(CustomerPseudonym.customer_id, CustomerPseudonym.salt, CustomerPseudonym.survivor_id).where(
            CustomerPseudonym.customer_id.in_(customer_ids)
        )
    )
    return {customer_id: (salt, survivor) for customer_id, salt, survivor in rows.tuples().all()}


async def _make_salts(session: AsyncSession, customer_ids: list[str]) -> None:
    """A salt for each customer that has no row yet (a row, once made, is never made again)."""
    if customer_ids:
        now = utcnow()
        await session.execute(
            _insert_ignoring_existing(session).values(
                [
                    {"customer_id": c, "salt": secrets.token_hex(16), "created_at": now}
                    for c in sorted(set(customer_ids))
                ]
            )
        )


def _insert_ignoring_existing(session: AsyncSession):
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(CustomerPseudonym).on_conflict_do_nothing(index_elements=["customer_id"])
