"""My work (/api/v1/sales/my-tasks, /api/v1/sales/overdue-tasks): the open tasks assigned to the
caller by when they are due, their counts for the console's reminder badge, and a manager's list
of overdue tasks in the branch or region. A task is completed with PATCH /activities/{id}
(done_at). The use cases are crm_sales.services.my_work_service."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from crm_shared.api import CurrentPrincipal, Now, ReadSession
from crm_shared.errors import OPENAPI_PROBLEMS
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..domain.my_work import Due
from ..events.publishers import activity_state
from ..services import my_work_service
from .activity_schemas import ActivityOut

router = APIRouter(prefix="/api/v1/sales", tags=["my work"])

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=2000)]


class TaskOut(ActivityOut):
    due: Due = Field(description="overdue, today or upcoming (Kazakhstan calendar)")
    related_name: str | None = Field(description="the name of the customer, lead or opportunity")


class TaskCountsOut(BaseModel):
    overdue: int
    today: int
    upcoming: int


def _page(tasks: list[my_work_service.Task], next_cursor: str | None, now: datetime) -> dict:
    return {
        "items": [
            activity_state(activity, placement)
            | {"due": my_work_service.task_due(activity, now), "related_name": related_name}
            for activity, placement, related_name in tasks
        ],
        "next_cursor": next_cursor,
    }


@router.get(
    "/my-tasks",
    response_model=Page[TaskOut],
    responses=OPENAPI_PROBLEMS,
    summary="Your open tasks, soonest due first (overdue, due today, upcoming)",
)
async def my_tasks(
    principal: CurrentPrincipal,
    session: ReadSession,
    now: Now,
    due: Due | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
):
    tasks, next_cursor = await my_work_service.my_tasks(session, principal, now, due=due, limit=limit, cursor=cursor)
    return _page(tasks, next_cursor, now)


@router.get(
    "/my-tasks/counts",
    response_model=TaskCountsOut,
    responses=OPENAPI_PROBLEMS,
    summary="How many of your open tasks are overdue, due today and upcoming (the reminder badge)",
)
async def my_task_counts(principal: CurrentPrincipal, session: ReadSession, now: Now):
    return await my_work_service.my_task_counts(session, principal, now)


@router.get(
    "/overdue-tasks",
    response_model=Page[TaskOut],
    responses=OPENAPI_PROBLEMS,
    summary="Overdue tasks in your branch or region, most overdue first (managers)",
)
async def overdue_tasks(
    principal: CurrentPrincipal,
    session: ReadSession,
    now: Now,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
):
    tasks, next_cursor = await my_work_service.overdue_tasks(
        session, principal, now, owner_id=owner_id, limit=limit, cursor=cursor
    )
    return _page(tasks, next_cursor, now)
