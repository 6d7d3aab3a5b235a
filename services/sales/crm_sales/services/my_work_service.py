"""My work: the open tasks (activities with a due time) assigned to the caller, by when they are
due, their counts for the console's reminder badge, and the overdue tasks of a manager's team.
Each task names the record it is about (the customer's, lead's or opportunity's name).

``due_reminders`` gives the tasks each person is still to be reminded of by e-mail (sent by
reminder_service through the shared outbound channel)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.auth import Principal, require_personal_data_access
from crm_shared.errors import field_problem
from crm_shared.pagination import decode_cursor, encode_cursor

from ..access import require_reassigner
from ..db.pipeline_models import Activity, Lead, Opportunity, TaskReminder
from ..domain.my_work import Due, due_of, due_window, end_of_today
from ..domain.pipeline import RelatedType
from ..events.publishers import Placement
from .activity_service import NOWHERE, activity_visibility_clause, placements_of
from .names_service import customer_names

Task = tuple[Activity, Placement, str | None]  # the activity, where its record is, the record's name


def _open_tasks(principal: Principal) -> Select:
    return select(Activity).where(
        Activity.done_at.is_(None), Activity.due_at.is_not(None), activity_visibility_clause(principal)
    )


def _in_window(stmt: Select, due: Due | None, now: datetime) -> Select:
    if due is None:
        return stmt
    start, end = due_window(due, now)
    if start is not None:
        stmt = stmt.where(Activity.due_at >= start)
    if end is not None:
        stmt = stmt.where(Activity.due_at < end)
    return stmt


def _after(cursor: str | None) -> tuple[datetime, str] | None:
    values = decode_cursor(cursor)
    if values is None:
        return None
    try:
        due_at, activity_id = values
        return datetime.fromisoformat(due_at), str(activity_id)
    except (TypeError, ValueError):
        raise field_problem(
            "cursor", "malformed cursor; pass next_cursor from the previous page unchanged", 400
        ) from None


async def _soonest_first(
    session: AsyncSession, stmt: Select, limit: int, cursor: str | None
) -> tuple[list[Task], str | None]:
    after = _after(cursor)
    if after is not None:
        stmt = stmt.where(tuple_(Activity.due_at, Activity.id) > tuple_(*after))
    rows = list(await session.scalars(stmt.order_by(Activity.due_at, Activity.id).limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].due_at.isoformat(), rows[-1].id])
    placements = await placements_of(session, rows)
    names = await related_names(session, rows)
    tasks = [
        (a, placements.get((a.related_type, a.related_id), NOWHERE), names.get((a.related_type, a.related_id)))
        for a in rows
    ]
    return tasks, next_cursor


async def my_tasks(
    session: AsyncSession, principal: Principal, now: datetime, *, due: Due | None, limit: int, cursor: str | None
) -> tuple[list[Task], str | None]:
    """The caller's open tasks, soonest due first (``due``: only overdue, today's or upcoming ones)."""
    require_personal_data_access(principal)
    stmt = _in_window(_open_tasks(principal).where(Activity.owner_id == principal.subject), due, now)
    return await _soonest_first(session, stmt, limit, cursor)


async def my_task_counts(session: AsyncSession, principal: Principal, now: datetime) -> dict[str, int]:
    """How many of the caller's open tasks are overdue, due today and upcoming (the reminder badge)."""
    require_personal_data_access(principal)
    mine = (
        select(Activity.due_at)
        .where(Activity.done_at.is_(None), Activity.due_at.is_not(None), activity_visibility_clause(principal))
        .where(Activity.owner_id == principal.subject)
        .subquery()
    )
    tomorrow = end_of_today(now)
    overdue, today, upcoming = (
        await session.execute(
            select(
                func.count().filter(mine.c.due_at < now),
                func.count().filter(mine.c.due_at >= now, mine.c.due_at < tomorrow),
                func.count().filter(mine.c.due_at >= tomorrow),
            )
        )
    ).one()
    return {Due.OVERDUE: overdue, Due.TODAY: today, Due.UPCOMING: upcoming}


async def overdue_tasks(
    session: AsyncSession,
    principal: Principal,
    now: datetime,
    *,
    owner_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Task], str | None]:
    """The overdue open tasks on records in a manager's branch or region (everything for an
    admin), most overdue first; ``owner_id`` narrows them to one person's."""
    require_reassigner(principal)
    stmt = _in_window(_open_tasks(principal), Due.OVERDUE, now)
    if owner_id is not None:
        stmt = stmt.where(Activity.owner_id == owner_id)
    return await _soonest_first(session, stmt, limit, cursor)


async def related_names(session: AsyncSession, activities: list[Activity]) -> dict[tuple[str, str], str]:
    """The name of the record each activity is about: the customer's, the lead's, the opportunity's."""
    found: dict[tuple[str, str], str] = {}
    ids: dict[str, set[str]] = defaultdict(set)
    for activity in activities:
        ids[activity.related_type].add(activity.related_id)
    customers = await customer_names(session, ids.get(RelatedType.CUSTOMER, ()))
    found.update({(str(RelatedType.CUSTOMER), cid): name for cid, name in customers.items()})
    for kind, model in ((RelatedType.LEAD, Lead), (RelatedType.OPPORTUNITY, Opportunity)):
        if ids.get(kind):
            rows = await session.execute(select(model.id, model.name).where(model.id.in_(ids[kind])))
            found.update({(str(kind), rid): name for rid, name in rows})
    return found


def task_due(activity: Activity, now: datetime) -> str:
    return str(due_of(activity.due_at, now))


async def due_reminders(session: AsyncSession, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """{owner_id: [{id, subject, due_at, due, related_name}]} of every open task overdue or due
    today whose reminder was not claimed yet (for that due time): what the reminder job sends
    (services/reminder_service.py)."""
    reminded = select(TaskReminder.activity_id).where(
        TaskReminder.activity_id == Activity.id, TaskReminder.due_at == Activity.due_at
    )
    rows = list(
        await session.scalars(
            select(Activity)
            .where(Activity.done_at.is_(None), Activity.due_at.is_not(None), Activity.due_at < end_of_today(now))
            .where(~reminded.exists())
            .order_by(Activity.owner_id, Activity.due_at)
        )
    )
    names = await related_names(session, rows)
    reminders: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for activity in rows:
        reminders[activity.owner_id].append(
            {
                "id": activity.id,
                "subject": activity.subject,
                "due_at": activity.due_at,
                "due": task_due(activity, now),
                "related_name": names.get((activity.related_type, activity.related_id)),
            }
        )
    return dict(reminders)
