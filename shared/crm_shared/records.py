"""One record for a request, as the visibility model allows (docs/development.md, "Visibility"):
a record the caller may not see is a 404, the same answer as a missing id, never a 403 that
would confirm it exists; a role that never writes gets 403 before anything is read.

Records carry ``id``, ``region_code`` and ``branch_code``; ``what`` is the record type as the
client knows it ("lead"), and names it in the problem.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from .auth import Principal, can_write, require_personal_data_access, require_writer, visibility_clause
from .db import utcnow
from .errors import not_found

Record = TypeVar("Record")
MAX_ID_IN_MESSAGE = 64


async def get_visible(
    session: AsyncSession,
    principal: Principal,
    model: type[Record],
    record_id: str,
    *,
    what: str,
    for_update: bool = False,
    field: str | None = None,
    visibility: ColumnElement[bool] | None = None,
) -> Record:
    """The record if the caller sees it, otherwise 404 (naming ``field`` when the id came in a
    body). ``for_update`` locks the row for the rest of the transaction; ``visibility`` replaces
    the model's own clause for records placed through another record (activities)."""
    require_personal_data_access(principal)
    clause = visibility_clause(principal, model) if visibility is None else visibility
    stmt = select(model).where(model.id == record_id, clause)
    record = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if record is None:
        raise not_found(what, record_id[:MAX_ID_IN_MESSAGE], field)
    return record


async def get_writable(
    session: AsyncSession,
    principal: Principal,
    model: type[Record],
    record_id: str,
    *,
    what: str,
    for_update: bool = True,
    field: str | None = None,
) -> Record:
    """The record if the caller may change it: 403 for roles that never write, 404 when it is not
    visible or outside the caller's writing scope; locked (``for_update``) for the rest of the
    transaction, so that two writers of one record take turns."""
    require_personal_data_access(principal)
    require_writer(principal)
    record = await get_visible(session, principal, model, record_id, what=what, for_update=for_update, field=field)
    if not can_write(principal, record.region_code, record.branch_code):
        raise not_found(what, record_id[:MAX_ID_IN_MESSAGE], field)
    return record


def mark_changed(record: Any, at: datetime | None = None) -> None:
    """A changed record's ``updated_at``, and its ``version`` one up, unless its mapper counts
    versions itself (``version_id_col``: the version then moves on at flush)."""
    record.updated_at = at or utcnow()
    if inspect(type(record)).version_id_col is None:
        record.version += 1
