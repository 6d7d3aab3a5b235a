"""Opportunities (/api/v1/sales/opportunities): a deal with a customer moving through the
pipeline stages to won or lost. The use cases are crm_sales.services.opportunity_service."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from crm_shared.api import CurrentPrincipal, ServiceDatabase, Session
from crm_shared.auth import require_personal_data_access, require_writer
from crm_shared.concurrency import (
    IfMatch,
    check_version,
    etag,
    flush_or_conflict,
    required_version,
    version_headers,
)
from crm_shared.csv_export import CSV_MEDIA_TYPE, csv_export
from crm_shared.errors import OPENAPI_PROBLEMS, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page

from ..domain.pipeline import Stage
from ..events.publishers import opportunity_state
from ..services import opportunity_service
from ..services.names_service import customer_names, opportunity_view
from ..services.opportunity_service import NewOpportunity
from .opportunity_schemas import OpportunityCreate, OpportunityOut, OpportunityUpdate

router = APIRouter(prefix="/api/v1/sales", tags=["opportunities"])

WHAT = opportunity_service.ENTITY


def _headers(view: dict[str, Any]) -> dict[str, str]:
    return version_headers(view["version"], opportunity_service.opportunity_url(view["id"]))


@router.post(
    "/opportunities",
    status_code=201,
    response_model=OpportunityOut,
    responses=OPENAPI_PROBLEMS,
    summary="Open an opportunity with a customer you can see",
)
async def create_opportunity(
    body: OpportunityCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    require_personal_data_access(principal)
    require_writer(principal)

    async def create() -> dict:
        new = NewOpportunity(**body.model_dump())
        return await opportunity_view(session, await opportunity_service.open_opportunity(session, principal, new))

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


async def opportunity_filters(
    stage: Stage | None = None,
    state: Annotated[Literal["open", "closed"] | None, Query(description="open or closed stages only")] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    branch_code: Annotated[str | None, Query(max_length=32)] = None,
) -> dict[str, Any]:
    """The filters of the opportunity list, as its export takes them too."""
    return {
        "stage": stage,
        "state": state,
        "customer_id": customer_id,
        "owner_id": owner_id,
        "branch_code": branch_code,
    }


Filters = Annotated[dict[str, Any], Depends(opportunity_filters)]
EXPORT_PAGE = 500
EXPORT_COLUMNS = (
    "id", "customer_id", "lead_id", "name", "product_line", "stage", "probability", "amount_tiyn", "currency",
    "expected_close_date", "close_reason", "closed_at", "owner_id", "owner_name", "branch_code", "region_code",
    "created_at", "updated_at",
)  # fmt: skip


@router.get(
    "/opportunities/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {}}, "description": "the opportunities as CSV, one line each, streamed"},
        **openapi_problems(400, 401, 403, 422),
    },
    summary="The opportunity list as a CSV file, with the list's filters, within the caller's visibility",
)
async def export_opportunities(
    principal: CurrentPrincipal,
    db: ServiceDatabase,
    filters: Filters,
    format: Annotated[Literal["csv"], Query(description="the file format (only csv)")] = "csv",
):
    async def fetch_page(cursor: str | None):
        async with db.read_only() as session:
            opportunities, next_cursor = await opportunity_service.list_opportunities(
                session, principal, **filters, limit=EXPORT_PAGE, cursor=cursor
            )
            return [opportunity_state(o) for o in opportunities], next_cursor

    return await csv_export(EXPORT_COLUMNS, fetch_page, filename="opportunities.csv")


@router.get(
    "/opportunities/{opportunity_id}",
    response_model=OpportunityOut,
    responses=OPENAPI_PROBLEMS,
    summary="One opportunity",
)
async def get_opportunity(opportunity_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    opportunity = await opportunity_service.get_opportunity(session, principal, opportunity_id)
    response.headers["ETag"] = etag(opportunity.version)
    return await opportunity_view(session, opportunity)


@router.get(
    "/opportunities",
    response_model=Page[OpportunityOut],
    responses=OPENAPI_PROBLEMS,
    summary="Opportunities you can see, newest first",
)
async def list_opportunities(
    principal: CurrentPrincipal,
    session: Session,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    opportunities, next_cursor = await opportunity_service.list_opportunities(
        session, principal, **filters, limit=limit, cursor=cursor
    )
    names = await customer_names(session, (o.customer_id for o in opportunities))
    items = [opportunity_state(o) | {"customer_name": names.get(o.customer_id)} for o in opportunities]
    return {"items": items, "next_cursor": next_cursor}


@router.patch(
    "/opportunities/{opportunity_id}",
    response_model=OpportunityOut,
    responses=OPENAPI_PROBLEMS | openapi_problems(428),
    summary="Move an opportunity through the stages, win or lose it, or change its details",
)
async def update_opportunity(
    opportunity_id: str,
    body: OpportunityUpdate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    opportunity = await opportunity_service.get_writable_opportunity(session, principal, opportunity_id)
    check_version(WHAT, opportunity.version, required_version(if_match, body.version, WHAT))
    patch = body.model_dump(exclude_unset=True, exclude={"version"})
    await opportunity_service.change_opportunity(session, principal, opportunity, patch)
    response.headers["ETag"] = etag(opportunity.version)
    return await opportunity_view(session, opportunity)
