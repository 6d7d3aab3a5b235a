"""Pseudonymous customer keys: one random salt per customer in the operational database, the key
HMAC(salt, customer id). Erasure deletes the salt, which cuts the link between the person and
every row of the event store; the erasure is then confirmed on crm.analytics.erasure.v1."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.customer_identity import ErasureNotice
from crm_shared.db import utcnow

from ..db.models import CustomerPseudonym
from ..domain.projection import customer_key
from ..events.publishers import publish_erasure_confirmed


async def keys_for(session: AsyncSession, customer_ids: Iterable[str]) -> dict[str, str]:
    """customer id -> its key, making the salts of customers seen for the first time."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return {}
    salts = await _salts(session, wanted)
    missing = [customer_id for customer_id in wanted if customer_id not in salts]
    if missing:
        now = utcnow()
        await session.execute(
            _insert_ignoring_existing(session).values(
                [{"customer_id": c, "salt": secrets.token_hex(16), "created_at": now} for c in missing]
            )
        )
        salts.update(await _salts(session, missing))
    return {customer_id: customer_key(salts.get(customer_id), customer_id) for customer_id in wanted}


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


async def _salts(session: AsyncSession, customer_ids: list[str]) -> dict[str, str | None]:
    rows = await session.execute(
        select(CustomerPseudonym.customer_id, CustomerPseudonym.salt).where(
            CustomerPseudonym.customer_id.in_(customer_ids)
        )
    )
    return dict(rows.tuples().all())


def _insert_ignoring_existing(session: AsyncSession):
    if session.bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(CustomerPseudonym).on_conflict_do_nothing(index_elements=["customer_id"])
