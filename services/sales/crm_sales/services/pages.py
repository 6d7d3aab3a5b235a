"""Newest-first cursor pages, as the pipeline lists (leads, opportunities, activities) return them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.errors import field_problem
from crm_shared.pagination import decode_cursor, encode_cursor


def after_created(cursor: str | None) -> tuple[datetime, str] | None:
    """The (created_at, id) a newest-first list continues after."""
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        created_at, record_id = values
        return datetime.fromisoformat(created_at), str(record_id)
    except (TypeError, ValueError):
        raise field_problem(
            "cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400
        ) from None


async def newest_first_page(
    session: AsyncSession, stmt: Select, model: Any, limit: int, cursor: str | None
) -> tuple[list[Any], str | None]:
    """One page of ``stmt`` (selecting ``model``), newest first, and the next page's cursor (or None)."""
    after = after_created(cursor)
    if after is not None:
        stmt = stmt.where(tuple_(model.created_at, model.id) < tuple_(*after))
    rows = list(await session.scalars(stmt.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)))
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], encode_cursor([last.created_at.isoformat(), last.id])
    return rows, None
