"""The partner API (/api/v1/partners/partners): register (Idempotency-Key), read, list, change
(PATCH; If-Match or a version field is checked when sent)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from crm_shared.api import CurrentPrincipal, Now, ReadSession, Session
from crm_shared.concurrency import IfMatch, etag, flush_or_conflict, patch_changes, required_version, version_headers
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..events.publishers import partner_view
from ..services import partner_service
from ..services.partner_service import NewPartner
from .schemas import PartnerCreate, PartnerOut, PartnerUpdate

API = "/api/v1/partners"
COLLECTION = f"{API}/partners"
WHAT = partner_service.WHAT

router = APIRouter(prefix=API, tags=["partners"])


def _headers(state: dict[str, Any]) -> dict[str, str]:
    return version_headers(state["version"], f"{COLLECTION}/{state['id']}")


def _optional_version(if_match: str | None, body_version: int | None) -> int | None:
    """The version the change is based on, when the caller sent one. The issue's contract lets a
    channel manager activate a partner with a bare {"status": "active"}, so none is required."""
    if if_match is None and body_version is None:
        return None
    return required_version(if_match, body_version, WHAT)


@router.post(
    "/partners",
    status_code=201,
    response_model=PartnerOut,
    responses=OPENAPI_PROBLEMS,
    summary="Register a dealer, agent or installer (admin, channel manager)",
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
        new = NewPartner(
            name=body.name,
            bin=body.bin,
            kind=body.kind,
            region_codes=body.region_codes,
            branch_codes=body.branch_codes,
            commission_plan=body.commission_plan.model_dump(mode="json"),
            status=body.status,
            contract_start=body.contract_start,
            contract_end=body.contract_end,
            contacts=[c.model_dump(mode="json") for c in body.contacts],
            bank_details=body.bank_details.model_dump(mode="json") if body.bank_details else None,
        )
        return partner_view(await partner_service.register_partner(session, principal, new, now))

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


@router.get("/partners/{partner_id}", response_model=PartnerOut, responses=OPENAPI_PROBLEMS, summary="One partner")
async def get_partner(partner_id: str, principal: CurrentPrincipal, session: ReadSession, response: Response):
    partner = await partner_service.get_partner(session, principal, partner_id)
    response.headers["ETag"] = etag(partner.version)
    return partner_view(partner)


@router.get(
    "/partners",
    response_model=Page[PartnerOut],
    responses=OPENAPI_PROBLEMS | openapi_problems(400),
    summary="The partners you can see, newest first (a partner user: its own)",
)
async def list_partners(
    principal: CurrentPrincipal,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
):
    rows, next_cursor = await partner_service.list_partners(
        session, principal, limit=limit, cursor=cursor, status=status
    )
    return {"items": [partner_view(row) for row in rows], "next_cursor": next_cursor}


@router.patch(
    "/partners/{partner_id}",
    response_model=PartnerOut,
    responses=OPENAPI_PROBLEMS,
    summary="Change a partner: status, plan, regions, contract, contacts, bank details",
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
    changes = patch_changes(body, not_null=("name", "status", "region_codes", "commission_plan"))
    if "commission_plan" in changes:
        changes["commission_plan"] = body.commission_plan.model_dump(mode="json")
    partner = await partner_service.change_partner(
        session,
        principal,
        partner_id,
        expected_version=_optional_version(if_match, body.version),
        changes=changes,
        now=now,
    )
    response.headers["ETag"] = etag(partner.version)
    return partner_view(partner)
