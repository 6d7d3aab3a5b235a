"""Leads (/api/v1/sales/leads): registration, qualification, assignment and conversion into a
customer plus an opportunity. The use cases are crm_sales.services.lead_service."""

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

from ..domain.pipeline import LeadSource, LeadStatus, ProductLine
from ..events.publishers import lead_state
from ..services import customer_service, lead_service
from ..services.lead_service import ConversionOpportunity, NewLead
from ..services.names_service import opportunity_view
from .customer_schemas import phone_filter
from .lead_schemas import ConversionOut, LeadConvert, LeadCreate, LeadOut, LeadUpdate, customer_over_defaults

router = APIRouter(prefix="/api/v1/sales", tags=["leads"])

WHAT = lead_service.ENTITY


def _headers(view: dict[str, Any]) -> dict[str, str]:
    return version_headers(view["version"], lead_service.lead_url(view["id"]))


@router.post("/leads", status_code=201, response_model=LeadOut, responses=OPENAPI_PROBLEMS, summary="Register a lead")
async def create_lead(
    body: LeadCreate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    idempotency_key: IdempotencyKey = None,
):
    require_personal_data_access(principal)
    require_writer(principal)

    async def create() -> dict:
        return lead_state(await lead_service.register_lead(session, principal, NewLead(**body.model_dump())))

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


async def lead_filters(
    status: LeadStatus | None = None,
    source: LeadSource | None = None,
    interest: ProductLine | None = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    branch_code: Annotated[str | None, Query(max_length=32)] = None,
    phone: Annotated[str | None, Query(max_length=40, description="any Kazakhstan notation")] = None,
) -> dict[str, Any]:
    """The filters of the lead list, as its export takes them too."""
    return {
        "status": status,
        "source": source,
        "interest": interest,
        "owner_id": owner_id,
        "branch_code": branch_code,
        "phone": phone_filter(phone),
    }


Filters = Annotated[dict[str, Any], Depends(lead_filters)]
EXPORT_PAGE = 500
EXPORT_COLUMNS = (
    "id", "source", "status", "disqualify_reason", "name", "phone", "email", "company_name", "interest", "notes",
    "campaign_id", "partner_id", "owner_id", "owner_name", "branch_code", "region_code", "customer_id",
    "opportunity_id", "converted_at", "created_at", "updated_at",
)  # fmt: skip


@router.get(
    "/leads/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {CSV_MEDIA_TYPE: {}}, "description": "the leads as CSV, one line each, streamed"},
        **openapi_problems(400, 401, 403, 422),
    },
    summary="The lead list as a CSV file, with the list's filters, within the caller's visibility",
)
async def export_leads(
    principal: CurrentPrincipal,
    db: ServiceDatabase,
    filters: Filters,
    format: Annotated[Literal["csv"], Query(description="the file format (only csv)")] = "csv",
):
    require_personal_data_access(principal)

    async def fetch_page(cursor: str | None):
        async with db.read_only() as session:
            leads, next_cursor = await lead_service.list_leads(
                session, principal, **filters, limit=EXPORT_PAGE, cursor=cursor
            )
            return [lead_state(lead) for lead in leads], next_cursor

    return await csv_export(EXPORT_COLUMNS, fetch_page, filename="leads.csv")


@router.get("/leads/{lead_id}", response_model=LeadOut, responses=OPENAPI_PROBLEMS, summary="One lead")
async def get_lead(lead_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    lead = await lead_service.get_lead(session, principal, lead_id)
    response.headers["ETag"] = etag(lead.version)
    return lead_state(lead)


@router.get(
    "/leads", response_model=Page[LeadOut], responses=OPENAPI_PROBLEMS, summary="Leads you can see, newest first"
)
async def list_leads(
    principal: CurrentPrincipal,
    session: Session,
    filters: Filters,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    require_personal_data_access(principal)
    leads, next_cursor = await lead_service.list_leads(session, principal, **filters, limit=limit, cursor=cursor)
    return {"items": [lead_state(lead) for lead in leads], "next_cursor": next_cursor}


@router.patch(
    "/leads/{lead_id}",
    response_model=LeadOut,
    responses=OPENAPI_PROBLEMS | openapi_problems(428),
    summary="Change a lead's details or status, or assign it to another owner (optimistic concurrency)",
)
async def update_lead(
    lead_id: str,
    body: LeadUpdate,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
):
    lead = await lead_service.get_writable_lead(session, principal, lead_id)
    check_version(WHAT, lead.version, required_version(if_match, body.version, WHAT))
    await lead_service.change_lead(session, principal, lead, body.model_dump(exclude_unset=True, exclude={"version"}))
    response.headers["ETag"] = etag(lead.version)
    return lead_state(lead)


@router.post(
    "/leads/{lead_id}/convert",
    response_model=ConversionOut,
    responses=OPENAPI_PROBLEMS,
    summary="Convert a qualified lead: create (or link) the customer and open an opportunity, atomically",
)
async def convert_lead(
    lead_id: str,
    body: LeadConvert,
    principal: CurrentPrincipal,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
):
    async def create() -> dict:
        lead = await lead_service.get_writable_lead(session, principal, lead_id)
        if if_match is not None:
            check_version(WHAT, lead.version, required_version(if_match, None, WHAT))
        conversion = await lead_service.convert_lead(
            session,
            principal,
            lead,
            customer_id=body.customer_id,
            new_customer=None
            if body.customer is None
            else lambda defaults: customer_over_defaults(defaults, body.customer),
            opportunity=ConversionOpportunity(**body.opportunity.model_dump()),
        )
        return {
            "lead": lead_state(conversion.lead),
            "customer": customer_service.customer_view(conversion.customer, principal),
            "customer_created": conversion.customer_created,
            "opportunity": await opportunity_view(session, conversion.opportunity),
        }

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json") | {"lead_id": lead_id},
        response,
        create=create,
        headers=lambda result: {"ETag": etag(result["lead"]["version"])},
        flush=lambda: customer_service.flush_or_conflict(session),
        status_code=200,
    )
