"""Activities (/api/v1/sales/activities): calls, meetings, tasks and notes on a customer, lead
or opportunity, visible to whoever sees that record. The use cases are
crm_sales.services.activity_service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Session
from crm_shared.concurrency import (
    IfMatch,
    check_version,
    etag,
    flush_or_conflict,
    required_version,
    version_headers,
)
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..access import require_activity_writer
from ..domain.pipeline import ActivityKind, RelatedType
from ..events.publishers import activity_state
from ..services import activity_service
from ..services.activity_service import NewActivity
from .activity_schemas import ActivityCreate, ActivityOut, ActivityUpdate

router = APIRouter(prefix="/api/v1/sales", tags=["activities"])

WHAT = activity_service.ENTITY


def _headers(view: dict[str, Any]) -> dict[str, str]:
    return version_headers(view["version"], activity_service.activity_url(view["id"]))


@router.post(
    "/activities",
    status_code=201,
    response_model=ActivityOut,
    responses=OPENAPI_PROBLEMS,
    summary="Log a call, meeting, task or note on a customer, lead or opportunity",
)
async def create_activity(
    body: ActivityCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    require_activity_writer(principal)

    async def create() -> dict:
        return activity_state(
            *await activity_service.log_activity(session, principal, NewActivity(**body.model_dump()))
        )

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=_headers,
        flush=lambda: flush_or_conflict(session, WHAT),
    )


@router.get("/activities/{activity_id}", response_model=ActivityOut, responses=OPENAPI_PROBLEMS, summary="One activity")
async def get_activity(activity_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    activity, placement = await activity_service.get_activity(session, principal, activity_id)
    response.headers["ETag"] = etag(activity.version)
    return activity_state(activity, placement)


@router.get(
    "/activities",
    response_model=Page[ActivityOut],
    responses=OPENAPI_PROBLEMS,
    summary="Activities on records you can see, newest first (e.g. one customer's timeline)",
)
async def list_activities(
    principal: CurrentPrincipal,
    session: Session,
    related_type: RelatedType | None = None,
    related_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: ActivityKind | None = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    state: Annotated[Literal["open", "done"] | None, Query(description="open: not done yet")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    activities, next_cursor = await activity_service.list_activities(
        session,
        principal,
        related_type=related_type,
        related_id=related_id,
        kind=kind,
        owner_id=owner_id,
        state=state,
        limit=limit,
        cursor=cursor,
    )
    return {"items": [activity_state(a, placement) for a, placement in activities], "next_cursor": next_cursor}


@router.patch(
    "/activities/{activity_id}",
    response_model=ActivityOut,
    responses=OPENAPI_PROBLEMS | openapi_problems(428),
    summary="Change an activity or mark it done (optimistic concurrency)",
)
async def update_activity(
    activity_id: str,
    body: ActivityUpdate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    activity, placement = await activity_service.get_changeable_activity(session, principal, activity_id)
    check_version(WHAT, activity.version, required_version(if_match, body.version, WHAT))
    patch = body.model_dump(exclude_unset=True, exclude={"version"})
    await activity_service.change_activity(session, principal, activity, placement, patch)
    response.headers["ETag"] = etag(activity.version)
    return activity_state(activity, placement)
