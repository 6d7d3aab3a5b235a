"""One customer across every service: what a service that keeps records of sales' customers does
when sales merges two of them or erases one (``crm.sales.customer.merged`` and
``crm.sales.customer.erased`` on ``crm.sales.customer.v1``).

A service keeps two small tables, declared with the mixins here on its own base
(``class CustomerAlias(CustomerAliasColumns, OrdersBase)``):

- ``customer_aliases``: duplicate -> survivor, one row per customer merged away, always pointing at
  the final survivor (a merge of the survivor later re-points the older rows), so that a record or
  an event that arrives for the duplicate after the merge (in any order) finds its home;
- ``erased_customers``: the customers whose personal data was erased, so that a merge or a record
  arriving after the erasure is anonymised (or refused) too.

``CustomerIdentities`` works on them; the service's own use cases move and anonymise its rows.
``lock_customer`` serialises the consumer that re-homes a duplicate's records with a request that
writes a record for that customer at the same moment (PostgreSQL advisory locks; SQLite writers
are serialised anyway), so a record is never written for the duplicate after its records moved.

The rest is what every such service needs for an erasure: the audit entries of its records
without the old values (``scrub_audit``), the events it already published about them forgotten
(``forget_published``: a later ``crm outbox replay`` cannot send the person's data again), and
the payload of its confirmation (``erasure_confirmation``), which sales waits for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .db import UTCDateTime, utcnow
from .envelope import CloudEvent
from .errors import Problem
from .models import AuditEntry, OutboxEvent
from .timefmt import iso

log = logging.getLogger("crm.customer_identity")

CUSTOMER_TOPIC = "crm.sales.customer.v1"
MERGED = "crm.sales.customer.merged"
ERASED = "crm.sales.customer.erased"
# What an erased person's name becomes wherever a service kept it, and what replaces free text
# (notes, descriptions, summaries) that may quote them.
ERASED_NAME = "Erased customer"
ERASED_TEXT = "[erased]"
# A merge of a merge of a merge ...: more hops than this is a cycle, which sales never makes.
MAX_HOPS = 20
# The first key of the two-key advisory lock: this module's locks, apart from anyone else's.
_LOCK_CLASS = 0x43524D31  # "CRM1"


# --- what sales announces ----------------------------------------------------------------------


@dataclass(frozen=True)
class MergeNotice:
    duplicate_id: str
    survivor_id: str
    merged_at: datetime
    survivor_name: str | None  # the survivor's display name, when the event carries its state


@dataclass(frozen=True)
class ErasureNotice:
    erasure_id: str
    customer_id: str
    customer_ids: tuple[str, ...]  # the customer and the duplicates merged into it
    requested_at: datetime


def merge_notice(event: CloudEvent) -> MergeNotice | None:
    """The merge an event announces (None for any other event)."""
    if event.type != MERGED:
        return None
    data = event.data
    survivor = str(data.get("survivor_id") or data.get("id") or event.subject)
    merged_at = data.get("merged_at")
    return MergeNotice(
        duplicate_id=str(data["duplicate_id"]),
        survivor_id=survivor,
        merged_at=datetime.fromisoformat(merged_at) if merged_at else event.time,
        survivor_name=str(data["display_name"]) if data.get("display_name") else None,
    )


def erasure_notice(event: CloudEvent) -> ErasureNotice | None:
    """The erasure an event announces (None for any other event)."""
    if event.type != ERASED:
        return None
    data = event.data
    customer_id = str(data["customer_id"])
    ids = [customer_id, *(str(i) for i in data.get("customer_ids") or ())]
    return ErasureNotice(
        erasure_id=str(data["erasure_id"]),
        customer_id=customer_id,
        customer_ids=tuple(dict.fromkeys(ids)),
        requested_at=datetime.fromisoformat(data["requested_at"]) if data.get("requested_at") else event.time,
    )


# --- the two tables ----------------------------------------------------------------------------


class CustomerAliasColumns:
    """Mixin of a service's ``customer_aliases`` table: a customer merged away, and its survivor."""

    duplicate_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(String(36), index=True)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ErasedCustomerColumns:
    """Mixin of a service's ``erased_customers`` table: a customer whose personal data was erased."""

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    erasure_id: Mapped[str] = mapped_column(String(36))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


async def lock_customer(session: AsyncSession, customer_id: str) -> None:
    """Holds the customer's lock until the transaction ends (PostgreSQL; a no-op on SQLite, whose
    writers run one at a time). Take the locks of a merge chain in its direction, duplicate
    before survivor, as ``CustomerIdentities.home`` does."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:customer_id))"),
            {"lock_class": _LOCK_CLASS, "customer_id": customer_id},
        )


async def lock_customers(session: AsyncSession, customer_ids: Collection[str]) -> None:
    """``lock_customer`` for many customers in one statement, in the order given."""
    if not customer_ids or session.bind is None or session.bind.dialect.name != "postgresql":
        return
    await session.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(:lock_class, hashtext(customer_id))) "
            "FROM (SELECT customer_id FROM unnest(CAST(:customer_ids AS text[])) WITH ORDINALITY "
            "AS asked(customer_id, position) ORDER BY position) AS ordered"
        ),
        {"lock_class": _LOCK_CLASS, "customer_ids": list(customer_ids)},
    )


@dataclass(frozen=True)
class Home:
    """Where a record for ``asked`` belongs: ``customer_id`` (the survivor when ``asked`` was
    merged away), and whether that customer's personal data was erased."""

    asked: str
    customer_id: str
    erased: bool

    @property
    def moved(self) -> bool:
        return self.customer_id != self.asked


@dataclass(frozen=True)
class MergeApplied:
    survivor_id: str  # the final survivor (the notice's, or the one it was merged into since)
    moved_ids: tuple[str, ...]  # the customers whose records now belong to the survivor
    survivor_erased: bool
    new: bool  # False when this merge was known already (a replay, another copy of the event)


@dataclass(frozen=True)
class CustomerIdentities:
    """The alias and erasure tables of one service (its models, made with the mixins above)."""

    aliases: Any  # a mapped class with CustomerAliasColumns
    erasures: Any  # a mapped class with ErasedCustomerColumns

    async def home(self, session: AsyncSession, customer_id: str) -> Home:
        """Locks the customer (and every survivor along its merges) for the rest of the
        transaction and says where its records belong: call it before writing a record for
        ``customer_id``, so that a merge or an erasure applied at the same moment waits for the
        record, or the record for it."""
        current = customer_id
        for _ in range(MAX_HOPS):
            await lock_customer(session, current)
            survivor = await session.scalar(
                select(self.aliases.survivor_id).where(self.aliases.duplicate_id == current)
            )
            if survivor is None or survivor == current:
                break
            current = survivor
        erased = await session.scalar(
            select(self.erasures.customer_id).where(self.erasures.customer_id.in_({customer_id, current}))
        )
        return Home(asked=customer_id, customer_id=current, erased=erased is not None)

    async def homes(self, session: AsyncSession, customer_ids: Collection[str]) -> dict[str, str]:
        """``home`` of many customers at once (for a batch of events): each asked customer and then
        each survivor is locked, in a stable order, and every asked id maps to the customer its
        records belong to now (aliases always name the final survivor)."""
        asked = sorted(set(customer_ids))
        await lock_customers(session, asked)
        found: dict[str, str] = {}
        for start in range(0, len(asked), 1000):
            rows = await session.execute(
                select(self.aliases.duplicate_id, self.aliases.survivor_id).where(
                    self.aliases.duplicate_id.in_(asked[start : start + 1000])
                )
            )
            found.update({duplicate: survivor for duplicate, survivor in rows})
        await lock_customers(session, sorted(set(found.values()) - set(asked)))
        return {customer_id: found.get(customer_id, customer_id) for customer_id in asked}

    async def home_id(self, session: AsyncSession, customer_id: str) -> str:
        """The customer a record for ``customer_id`` belongs to now (``home``'s, locked likewise)."""
        return (await self.home(session, customer_id)).customer_id

    async def is_erased(self, session: AsyncSession, customer_id: str) -> bool:
        found = await session.scalar(select(self.erasures.customer_id).where(self.erasures.customer_id == customer_id))
        return found is not None

    async def record_merge(self, session: AsyncSession, notice: MergeNotice) -> MergeApplied:
        """Remembers duplicate -> survivor (the final survivor, when the survivor was merged away
        since) and re-points the aliases that pointed at the duplicate, whatever order the merges
        arrive in. Returns whose records must now move to the survivor: the duplicate and the
        customers merged into it before."""
        await lock_customer(session, notice.duplicate_id)
        final = await self.home(session, notice.survivor_id)
        if final.customer_id == notice.duplicate_id:  # sales never merges into a merged customer
            log.error("merging %s into %s would make a cycle; ignored", notice.duplicate_id, notice.survivor_id)
            return MergeApplied(final.customer_id, (), final.erased, False)
        existing = await session.get(self.aliases, notice.duplicate_id, with_for_update=True)
        new = existing is None or existing.survivor_id != final.customer_id
        if existing is None:
            session.add(
                self.aliases(
                    duplicate_id=notice.duplicate_id,
                    survivor_id=final.customer_id,
                    merged_at=notice.merged_at,
                    recorded_at=utcnow(),
                )
            )
        elif existing.survivor_id != final.customer_id:
            existing.survivor_id = final.customer_id
        earlier = list(
            await session.scalars(
                select(self.aliases.duplicate_id).where(self.aliases.survivor_id == notice.duplicate_id)
            )
        )
        if earlier:
            await session.execute(
                update(self.aliases)
                .where(self.aliases.survivor_id == notice.duplicate_id)
                .values(survivor_id=final.customer_id)
            )
        await session.flush()
        erased = final.erased or await self.is_erased(session, notice.duplicate_id)
        return MergeApplied(final.customer_id, (notice.duplicate_id, *earlier), erased, new)

    async def record_erasure(self, session: AsyncSession, notice: ErasureNotice) -> tuple[str, ...]:
        """Remembers every id of the erased person (the ones the notice names and the ones known
        here to have been merged into them) and returns them: their records are to be anonymised."""
        ids = list(notice.customer_ids)
        merged_in = await session.scalars(select(self.aliases.duplicate_id).where(self.aliases.survivor_id.in_(ids)))
        ids += [i for i in merged_in if i not in ids]
        for customer_id in sorted(ids, key=lambda i: i == notice.customer_id):  # duplicates first
            await lock_customer(session, customer_id)
        known = set(await session.scalars(select(self.erasures.customer_id).where(self.erasures.customer_id.in_(ids))))
        for customer_id in ids:
            if customer_id not in known:
                session.add(
                    self.erasures(
                        customer_id=customer_id,
                        erasure_id=notice.erasure_id,
                        requested_at=notice.requested_at,
                        recorded_at=utcnow(),
                    )
                )
        await session.flush()
        return tuple(ids)


# --- erasure: audit, published events, the confirmation ----------------------------------------


async def scrub_audit(
    session: AsyncSession, entity_type: str, entity_ids: Collection[str], redact: Callable[[str], bool]
) -> int:
    """Replaces the old and new values of the fields ``redact`` names in the audit entries of
    these records with ERASED_TEXT: who changed what and when stays, the values go. Returns how
    many entries changed."""
    if not entity_ids:
        return 0
    changed = 0
    entries = await session.scalars(
        select(AuditEntry).where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id.in_(list(entity_ids)))
    )
    for entry in entries:
        changes = dict(entry.changes or {})
        scrubbed = {field: _redacted(values) if redact(field) else values for field, values in changes.items()}
        if scrubbed != changes:
            entry.changes = scrubbed  # a new dict: the JSON column notices the assignment
            changed += 1
    return changed


def _redacted(values: Any) -> Any:
    if isinstance(values, list):
        return [None if v is None else ERASED_TEXT for v in values]
    return None if values is None else ERASED_TEXT


async def forget_published(session: AsyncSession, subjects: Iterable[str]) -> int:
    """Deletes the outbox rows already published about these records (their payloads carry the
    person's data), so that no replay sends them again; events not yet sent still go out, before
    the erasure's own. Returns how many were deleted."""
    wanted = list(dict.fromkeys(subjects))
    deleted = 0
    for start in range(0, len(wanted), 500):
        result = await session.execute(
            delete(OutboxEvent).where(
                OutboxEvent.subject.in_(wanted[start : start + 500]), OutboxEvent.sent_at.is_not(None)
            )
        )
        deleted += result.rowcount or 0
    return deleted


def erasure_confirmation(service: str, notice: ErasureNotice, records: dict[str, int]) -> dict[str, Any]:
    """The payload of crm.<service>.erasure.confirmed: ids and counts, never personal data."""
    return {
        "erasure_id": notice.erasure_id,
        "customer_id": notice.customer_id,
        "service": service,
        "confirmed_at": iso(utcnow()),
        "records": {kind: int(count) for kind, count in records.items()},
    }


# --- new records for a customer that sales merged away or erased --------------------------------


def refuse_unless_in_use(customer: Any, field: str = "customer_id") -> None:
    """409 for a new record of a customer sales reports merged (naming the survivor, where the
    record belongs) or erased. ``customer`` is what sales answered (crm_shared.clients.sales.CustomerRef)."""
    if customer.status == "merged":
        survivor = customer.merged_into_id or ""
        raise Problem(
            409,
            "Conflict",
            f"{field}: customer {customer.id} was merged into {survivor}; use that customer",
            merged_into_id=survivor or None,
            merged_into_url=f"/api/v1/sales/customers/{survivor}" if survivor else None,
            errors=[{"field": field, "message": f"merged into {survivor}"}],
        )
    if customer.status == "erased":
        refuse_erased(customer.id, field)


def refuse_erased(customer_id: str, field: str = "customer_id") -> None:
    raise Problem(
        409,
        "Conflict",
        f"{field}: customer {customer_id} was erased on request; it takes no new records",
        errors=[{"field": field, "message": "erased"}],
    )
