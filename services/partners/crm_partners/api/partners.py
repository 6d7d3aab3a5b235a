"""The partner API (/api/v1/partners/partners): parse the request, call a use case, shape
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

from ..events.publishers import partner_state
from ..services import partner_service
from .schemas import PartnerBranchCountOut, PartnerCreate, PartnerOut, PartnerUpdate

API = "/api/v1/partners"
COLLECTION = f"{API}/partners"
WHAT = partner_service.WHAT

router = APIRouter(prefix=API, tags=["partners"])


def _headers(state: dict[str, Any]) -> dict[str, str]:
    """ETag and Location of the answer about one partner (a replayed create gets them too)."""
    return version_headers(state["version"], f"{COLLECTION}/{state['id']}")


@router.post(
    "/partners",
    status_code=201,
    response_model=PartnerOut,
    responses=OPENAPI_PROBLEMS,
    summary="Register a partner",
)
async def create_partner(
    body: PartnerCreate,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    async def create() -> dict[str, Any]:
        partner = await partner_service.register_partner(
            session,
            principal,
            name=body.name,
            notes=body.notes,
            branch_code=body.branch_code,
            region_code=body.region_code,
            now=now,
        )
        return partner_state(partner)

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
    "/partners/{partner_id}",
    response_model=PartnerOut,
    responses=OPENAPI_PROBLEMS,
    summary="One partner",
)
async def get_partner(partner_id: str, principal: CurrentPrincipal, session: ReadSession, response: Response):
    partner = await partner_service.get_partner(session, principal, partner_id)
    response.headers["ETag"] = etag(partner.version)
    return partner_state(partner)


@router.get(
    "/partners",
    response_model=Page[PartnerOut],
    responses=OPENAPI_PROBLEMS | openapi_problems(400),
    summary="The partners you can see, newest first",
)
async def list_partners(
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000, description="next_cursor of the previous page")] = None,
):
    rows, next_cursor = await partner_service.list_partners(session, principal, limit=limit, cursor=cursor)
    return {"items": [partner_state(row) for row in rows], "next_cursor": next_cursor}


@router.patch(
    "/partners/{partner_id}",
    response_model=PartnerOut,
    responses=OPENAPI_PROBLEMS | openapi_problems(428),
    summary="Change a partner (optimistic concurrency: If-Match or version)",
)
async def update_partner(
    partner_id: str,
    body: PartnerUpdate,
    principal: CurrentPrincipal,
    session: Session,
    now: Now,
    response: Response,
    if_match: IfMatch = None,
):
    partner = await partner_service.change_partner(
        session,
        principal,
        partner_id,
        expected_version=required_version(if_match, body.version, WHAT),
        changes=patch_changes(body, not_null=("name",)),
        now=now,
    )
    response.headers["ETag"] = etag(partner.version)
    return partner_state(partner)


@router.get(
    "/partner-counts",
    response_model=list[PartnerBranchCountOut],
    responses=openapi_problems(401),
    summary="Partners per branch (no personal data: analysts see every branch)",
)
async def partner_counts(principal: CurrentPrincipal, session: ReadSession):
    counts = await partner_service.branch_counts(session, principal)
    return [
        {"region_code": row.region_code, "branch_code": row.branch_code, "partners": row.partners} for row in counts
    ]
