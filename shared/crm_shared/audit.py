"""Audit history: every change to a record, who made it, and old -> new values."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import Principal
from .models import AuditEntry


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value changed, as {field: [old, new]}."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


# Bookkeeping fields a creation entry leaves out: the entry itself says when, and which record.
BOOKKEEPING_FIELDS = ("id", "version", "created_at", "updated_at")


def creation_changes(state: dict[str, Any], leave_out: tuple[str, ...] = BOOKKEEPING_FIELDS) -> dict[str, list[Any]]:
    """What the audit entry of a new record shows: {field: [None, value]} for every field set."""
    return {k: [None, v] for k, v in state.items() if v is not None and k not in leave_out}


def audit_entry(
    principal: Principal,
    *,
    entity_type: str,
    entity_id: str,
    action: str,
    changes: dict[str, list[Any]] | None = None,
    operation_id: str | None = None,
) -> AuditEntry:
    """An audit entry not yet added to any session (``record_change`` adds it to the caller's; a
    refusal keeps it with ``Problem.kept_records``)."""
    return AuditEntry(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        actor_id=principal.subject,
        actor_name=principal.display_name,
        changes=_jsonable(changes or {}),
        operation_id=operation_id,
    )


def record_change(
    session: AsyncSession,
    principal: Principal,
    *,
    entity_type: str,
    entity_id: str,
    action: str,
    changes: dict[str, list[Any]] | None = None,
    operation_id: str | None = None,
) -> AuditEntry:
    entry = audit_entry(
        principal,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        changes=changes,
        operation_id=operation_id,
    )
    session.add(entry)
    return entry


async def history(
    session: AsyncSession, entity_type: str, entity_id: str, limit: int = 200, after_id: int | None = None
) -> list[AuditEntry]:
    """The entries of one record, oldest first; ``after_id`` continues after an entry (pagination)."""
    stmt = select(AuditEntry).where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
    if after_id is not None:
        stmt = stmt.where(AuditEntry.id > after_id)
    rows = await session.scalars(stmt.order_by(AuditEntry.id).limit(limit))
    return list(rows)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
