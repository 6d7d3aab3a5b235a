"""The segment API (/api/v1/marketing/segments): register (marketers, Idempotency-Key), read with
the current size, page the members the caller may see."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.concurrency import flush_or_conflict
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..events.publishers import segment_state
from ..services import segment_service
from .schemas import MemberOut, SegmentCreate, SegmentOut

API = "/api/v1/marketing"
router = APIRouter(prefix=API, tags=["segments"])


@router.post(
    "/segments", status_code=201, response_model=SegmentOut, responses=OPENAPI_PROBLEMS, summary="Register a segment"
)
async def create_segment(
    body: SegmentCreate,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    async def create() -> dict[str, Any]:
        segment = await segment_service.register_segment(
            session, principal, name=body.name, criteria=body.criteria.model_dump(), now=now
        )
        return segment_state(segment) | {"size": await segment_service.segment_size(session, segment, now)}

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=lambda state: {"Location": f"{API}/segments/{state['id']}"},
        flush=lambda: flush_or_conflict(session, "segment"),
    )


@router.get("/segments", response_model=Page[SegmentOut], responses=OPENAPI_PROBLEMS, summary="Segments, newest first")
async def list_segments(
    principal: CurrentPrincipal,
    session: ReadSession,
    now: Now,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
):
    rows = await segment_service.list_segments(session, principal, limit=limit)
    items = [segment_state(row) | {"size": await segment_service.segment_size(session, row, now)} for row in rows]
    return {"items": items, "next_cursor": None}


@router.get(
    "/segments/{segment_id}",
    response_model=SegmentOut,
    responses=OPENAPI_PROBLEMS,
    summary="A segment and its size now",
)
async def get_segment(segment_id: str, principal: CurrentPrincipal, session: ReadSession, now: Now):
    segment = await segment_service.get_segment(session, principal, segment_id)
    return segment_state(segment) | {"size": await segment_service.segment_size(session, segment, now)}


@router.get(
    "/segments/{segment_id}/members",
    response_model=Page[MemberOut],
    responses=OPENAPI_PROBLEMS | openapi_problems(400),
    summary="The members you may see (your branch, region or all; never analysts)",
)
async def list_members(
    segment_id: str,
    principal: CurrentPrincipal,
    session: ReadSession,
    now: Now,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    rows, next_cursor = await segment_service.segment_members(
        session, principal, segment_id, limit=limit, cursor=cursor, now=now
    )
    items = [
        {
            "customer_id": row.id,
            "display_name": row.display_name,
            "kind": row.kind,
            "language": row.language,
            "region_code": row.region_code,
            "branch_code": row.branch_code,
        }
        for row in rows
    ]
    return {"items": items, "next_cursor": next_cursor}
