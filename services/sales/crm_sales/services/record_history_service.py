"""The audit history of leads and opportunities (customers have theirs in customer_service), and
the history lines of any record as the console shows them: the actor by name, from the staff
directory, whatever name the actor signed in with."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.audit import history
from crm_shared.auth import Principal, require_personal_data_access
from crm_shared.errors import field_problem
from crm_shared.models import AuditEntry
from crm_shared.pagination import decode_cursor, encode_cursor
from crm_shared.records import get_visible

from ..access import masked_changes
from ..db.pipeline_models import Lead, Opportunity
from .staff_directory_service import staff_names

HISTORY_MODELS = {"lead": Lead, "opportunity": Opportunity}


async def entries_page(
    session: AsyncSession, entity_type: str, entity_id: str, *, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """One page of a record's audit entries, oldest first, and the next page's cursor (or None)."""
    after = decode_cursor(cursor)
    if after is not None and (len(after) != 1 or not isinstance(after[0], int)):
        raise field_problem("cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400)
    entries = await history(session, entity_type, entity_id, limit=limit + 1, after_id=after[0] if after else None)
    next_cursor = encode_cursor([entries[limit - 1].id]) if len(entries) > limit else None
    return entries[:limit], next_cursor


async def record_history(
    session: AsyncSession, principal: Principal, entity_type: str, record_id: str, *, limit: int, cursor: str | None
) -> tuple[list[AuditEntry], str | None]:
    """The history of a lead or an opportunity the caller sees (404 otherwise)."""
    require_personal_data_access(principal)
    record = await get_visible(session, principal, HISTORY_MODELS[entity_type], record_id, what=entity_type)
    return await entries_page(session, entity_type, record.id, limit=limit, cursor=cursor)


async def history_lines(session: AsyncSession, principal: Principal, entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """The entries as the API answers them: the actor's name from the staff directory (the name
    written at the time when the directory does not know the actor), changes masked for the caller."""
    names = await staff_names(session, {e.actor_id for e in entries})
    return [
        {
            "id": e.id,
            "at": e.at,
            "actor_id": e.actor_id,
            "actor_name": names.get(e.actor_id, e.actor_name),
            "action": e.action,
            "changes": masked_changes(e.changes, principal),
            "operation_id": e.operation_id,
        }
        for e in entries
    ]
