"""Reads of personal data that leave an audit entry, beside the change history of the records.

- A look-up by IIN/BIN by a caller who sees identifiers masked (the call centre, API keys) tells
  that caller whether a full IIN is a customer's. Each one is audited twice: under the caller
  (entity ``identifier_lookup``, id = the caller; what was asked, masked, and which customers were
  found), which is also the window of the caller's budget (``crm_sales.domain.lookups``), and under
  each customer found (entity ``customer_access``; the customer's personal-data export lists them).
  A look-up over the budget is refused (429) and audited under the caller as
  ``identifier_lookup_refused``.
- The duplicate check of a create answers "a customer with this IIN already exists in another
  branch" to a caller who may not see that customer: audited under the existing customer
  (``customer_access``, action ``duplicate_check``: who, when, which field matched, the caller's
  branch), kept although the refused request's transaction rolls back (``Problem.kept_records``).
- A personal-data export is audited under the customer (``customer_access``, ``personal_data_exported``).

None of these entries appears in the customer's change history (entity ``customer``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import audit_entry, record_change
from crm_shared.auth import Principal, mask_identifier
from crm_shared.errors import Problem
from crm_shared.models import AuditEntry

from ..domain import lookups

IDENTIFIER_LOOKUP = "identifier_lookup"  # keyed by the caller: its admitted look-ups (the budget's window)
REFUSED_LOOKUP = "identifier_lookup_refused"  # keyed by the caller: look-ups refused over the budget
CUSTOMER_ACCESS = "customer_access"  # keyed by the customer: who found it by IIN, hit it as a duplicate, exported it
MAX_ID = 64  # audit_entries.entity_id


def caller_key(principal: Principal) -> str:
    return principal.subject[:MAX_ID]


def lookup_action(field: str) -> str:
    return f"{field}_lookup"  # iin_lookup | bin_lookup


async def lookup_refusal(session: AsyncSession, principal: Principal, *, budget: int, now: datetime) -> Problem | None:
    """None when the caller may look up one more identifier now; otherwise the 429 to answer.
    Look-ups of one caller are serialised on PostgreSQL (a transaction-scoped advisory lock), so
    that concurrent ones cannot both take the last place of the budget."""
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext(f"{IDENTIFIER_LOOKUP}:{caller_key(principal)}")))
        )
    recent = await session.scalars(
        select(AuditEntry.at)
        .where(AuditEntry.entity_type == IDENTIFIER_LOOKUP, AuditEntry.entity_id == caller_key(principal))
        .order_by(AuditEntry.id.desc())
        .limit(max(budget, 1))
    )
    wait = lookups.retry_after(list(recent), now, budget)
    if wait is None:
        return None
    return Problem(
        429,
        "Too many requests",
        f"at most {budget} look-ups by IIN/BIN per minute for callers who see identifiers masked; "
        f"try again in {wait} s",
        headers={"Retry-After": str(wait)},
        retry_after_s=wait,
    )


def record_lookup(
    session: AsyncSession,
    principal: Principal,
    *,
    field: str,
    value: str,
    found: Sequence[str],
    via: str,
    refused: bool = False,
) -> None:
    """Audits one look-up by ``field`` (iin | bin) of ``value`` (kept masked: the last four digits
    tie the entries of someone trying candidates together, without another copy of the IIN)."""
    record_change(
        session,
        principal,
        entity_type=REFUSED_LOOKUP if refused else IDENTIFIER_LOOKUP,
        entity_id=caller_key(principal),
        action=lookup_action(field),
        changes={"query": [None, mask_identifier(value)], "found": [None, list(found)], "via": [None, via]},
    )
    for customer_id in found:
        record_change(
            session,
            principal,
            entity_type=CUSTOMER_ACCESS,
            entity_id=customer_id,
            action=lookup_action(field),
            changes={"via": [None, via]},
        )


def duplicate_check_entry(principal: Principal, customer_id: str, field: str) -> AuditEntry:
    """The entry that a cross-branch duplicate answer leaves under the existing customer."""
    return audit_entry(
        principal,
        entity_type=CUSTOMER_ACCESS,
        entity_id=customer_id,
        action="duplicate_check",
        changes={"matched_field": [None, field], "caller_branch": [None, principal.branch]},
    )


def record_export(session: AsyncSession, principal: Principal, customer_id: str, services: Sequence[str]) -> None:
    record_change(
        session,
        principal,
        entity_type=CUSTOMER_ACCESS,
        entity_id=customer_id,
        action="personal_data_exported",
        changes={"services": [None, list(services)]},
    )


async def access_log(session: AsyncSession, customer_ids: Sequence[str]) -> list[AuditEntry]:
    """The audited reads of these customers, oldest first."""
    rows = await session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == CUSTOMER_ACCESS, AuditEntry.entity_id.in_(list(customer_ids)))
        .order_by(AuditEntry.id)
    )
    return list(rows)


async def identifier_lookups(
    session: AsyncSession, *, caller_id: str | None, limit: int, before_id: int | None
) -> list[AuditEntry]:
    """Look-ups by IIN/BIN (admitted and refused), newest first, of one caller or of everyone."""
    stmt = select(AuditEntry).where(AuditEntry.entity_type.in_([IDENTIFIER_LOOKUP, REFUSED_LOOKUP]))
    if caller_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == caller_id[:MAX_ID])
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(await session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))
