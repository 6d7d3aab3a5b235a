"""Latest-state projections of other services' records (the staff and branch directories)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


async def latest_state_row(session: AsyncSession, as_of: datetime, model: type, **new_row: Any) -> Any | None:
    """The row a state as of ``as_of`` overwrites (made from ``new_row`` when missing, keyed by its
    first field), or None when a later state already set it: events arrive at least once and not
    always in order, and a late, older one must not overwrite what a newer one set."""
    row = await session.get(model, next(iter(new_row.values())), with_for_update=True)
    if row is None:
        row = model(**new_row)
        session.add(row)
    elif row.event_time > as_of:
        return None
    return row
