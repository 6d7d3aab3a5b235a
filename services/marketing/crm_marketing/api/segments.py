"""The segment API (/api/v1/marketing/segments): parse the request, call a use case, shape
the answer. Creates take an Idempotency-Key; changes need the version read (If-Match or a
version field); lists are newest first with a cursor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.concurrency import IfMatch, etag, flush_or_conflict, patch_changes, required_version, version_headers
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..events.publishers import segment_state
from ..services import segment_service
from .schemas import SegmentBranchCountOut, SegmentCreate, SegmentOut, SegmentUpdate

API = "/api/v1/marketing"
COLLECTION = f"{API}/segments"
WHAT = segment_service.WHAT

router = APIRouter(prefix=API, tags=["segments"])


def _headers(state: dict[str, Any]) -> dict[str, str]:
    """ETag and Location of the answer about one segment (a replayed create gets them too)."""
    return version_headers(state["version"], f"{COLLECTION}/{state['id']}")


@router.post(
    "/segments",
    status_code=201,
    response_model=SegmentOut,
    responses=OPENAPI_PROBLEMS,
    summary="Register a segment",
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
            session,
            principal,
            name=body.name,
            notes=body.notes,
            branch_code=body.branch_code,
            region_code=body.region_code,
            now=now,
        )
        return segment_state(segment)

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


@router.get(
    "/segments/{segment_id}",
    response_model=SegmentOut,
    responses=OPENAPI_PROBLEMS,
    summary="One segment",
)
async def get_segment(segment_id: str, principal: CurrentPrincipal, session: ReadSession, response: Response):
    segment = await segment_service.get_segment(session, principal, segment_id)
    response.headers["ETag"] = etag(segment.version)
    return segment_state(segment)


@router.get(
    "/segments",
    response_model=Page[SegmentOut],
    responses=OPENAPI_PROBLEMS | openapi_problems(400),
    summary="The segments you can see, newest first",
)
async def list_segments(
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")] = None,
):
    rows, next_cursor = await segment_service.list_segments(session, principal, limit=limit, cursor=cursor)
    return {"items": [segment_state(row) for row in rows], "next_cursor": next_cursor}


@router.patch(
    "/segments/{segment_id}",
    response_model=SegmentOut,
    responses=OPENAPI_PROBLEMS | openapi_problems(428),
    summary="Change a segment (optimistic concurrency: If-Match or version)",
)
async def update_segment(
    segment_id: str,
    body: SegmentUpdate,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
):
    segment = await segment_service.change_segment(
        session,
        principal,
        segment_id,
        expected_version=required_version(if_match, body.version, WHAT),
        changes=patch_changes(body, not_null=("name",)),
        now=now,
    )
    response.headers["ETag"] = etag(segment.version)
    return segment_state(segment)


@router.get(
    "/segment-counts",
    response_model=list[SegmentBranchCountOut],
    responses=openapi_problems(401),
    summary="Segments per branch (no personal data: analysts see every branch)",
)
async def segment_counts(principal: CurrentPrincipal, session: ReadSession):
    counts = await segment_service.branch_counts(session, principal)
    return [
        {"region_code": row.region_code, "branch_code": row.branch_code, "segments": row.segments} for row in counts
    ]
