"""Leads (/api/v1/sales/leads): registration, qualification, assignment and conversion into a
customer plus an opportunity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictInt, TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.api import CurrentPrincipal, Session
from crm_shared.audit import creation_changes, diff, record_change
from crm_shared.auth import Principal, require_personal_data_access, require_writer, visibility_clause
from crm_shared.concurrency import (
    IfMatch,
    check_version,
    etag,
    flush_or_conflict,
    required_version,
    version_headers,
)
from crm_shared.db import new_id, utcnow
from crm_shared.errors import OPENAPI_PROBLEMS, conflict, field_problem, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from crm_shared.records import get_visible, get_writable, mark_changed
from crm_shared.schemas import Strict

from .. import customer_service
from ..db.models import Customer
from ..db.pipeline_models import Lead, Opportunity
from ..domain.customers import CustomerStatus
from ..domain.pipeline import (
    LeadSource,
    LeadStatus,
    ProductLine,
    Stage,
    check_lead_convertible,
    check_lead_update,
    clean_text,
)
from ..events.publishers import lead_state, opportunity_state, record_lead_event
from .customer_schemas import CustomerCreate, CustomerOut, Email, Phone, phone_filter
from .opportunities import OpportunityOut, create_opportunity_record
from .pipeline_common import (
    newest_first_page,
    reject_nulls,
    resolve_owner,
)

router = APIRouter(prefix="/api/v1/sales", tags=["leads"])

ENTITY = "lead"
LEADS_PATH = "/api/v1/sales/leads"
MAX_TEXT = 4000


Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Reference = Annotated[str, Field(min_length=1, max_length=64)]


class LeadCreate(Strict):
    source: LeadSource
    name: Name = Field(description="the person (or the company's contact) to talk to")
    phone: Phone | None = Field(None, description="any Kazakhstan notation; stored as E.164")
    email: Email | None = None
    company_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    interest: ProductLine
    notes: Text | None = None
    campaign_id: Reference | None = Field(None, description="the campaign the lead answered (source campaign)")
    partner_id: Reference | None = Field(None, description="the dealer/agent who brought it (source partner)")
    owner_id: Annotated[str, Field(max_length=200)] | None = Field(
        None, description="a staff member in your scope; default you. The lead is placed in the owner's branch"
    )


class LeadUpdate(Strict):
    """Only the fields sent change. ``owner_id`` assigns the lead (to a staff member in your scope)."""

    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")
    status: LeadStatus | None = None
    disqualify_reason: Text | None = None
    name: Name | None = None
    phone: Phone | None = None
    email: Email | None = None
    company_name: Annotated[str, Field(min_length=1, max_length=300)] | None = None
    interest: ProductLine | None = None
    notes: Text | None = None
    owner_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class OpportunityDraft(Strict):
    """The opportunity a conversion opens (all optional: defaults from the lead)."""

    name: Name | None = Field(None, description="default: '<interest> for <customer>'")
    stage: Stage = Stage.QUALIFICATION
    amount_tiyn: StrictInt = Field(0, ge=0, description="KZT in tiyn (1 KZT = 100 tiyn), an integer")
    probability: StrictInt | None = Field(None, ge=0, le=100)
    expected_close_date: date | None = None


class LeadConvert(Strict):
    """Link an existing customer (customer_id) or register a new one (customer); not both.

    A new customer's phone and e-mail default to the lead's."""

    customer_id: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    customer: dict[str, Any] | None = Field(None, description="a customer create body (kind individual|business)")
    opportunity: OpportunityDraft = Field(default_factory=OpportunityDraft)


class LeadOut(BaseModel):
    id: str
    source: LeadSource
    status: LeadStatus
    disqualify_reason: str | None
    name: str
    phone: str | None
    email: str | None
    company_name: str | None
    interest: ProductLine
    notes: str | None
    campaign_id: str | None
    partner_id: str | None
    owner_id: str
    owner_name: str
    branch_code: str
    region_code: str
    customer_id: str | None
    opportunity_id: str | None
    converted_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class ConversionOut(BaseModel):
    lead: LeadOut
    customer: CustomerOut
    customer_created: bool = Field(description="false when an existing customer was linked")
    opportunity: OpportunityOut


def lead_url(lead_id: str) -> str:
    return f"{LEADS_PATH}/{lead_id}"


def _headers(view: dict[str, Any]) -> dict[str, str]:
    return version_headers(view["version"], lead_url(view["id"]))


# --- create / read / list ------------------------------------------------------------------------


async def register_lead(session: AsyncSession, principal: Principal, body: LeadCreate) -> Lead:
    """A new lead in the owner's branch, audited, with its crm.sales.lead.created event; the
    caller's transaction commits it."""
    require_personal_data_access(principal)
    require_writer(principal)
    name = clean_text(body.name)
    if not name:
        raise field_problem("name", "must not be blank")
    if body.phone is None and body.email is None:
        raise field_problem("phone", "a lead needs a phone or an e-mail to be contacted")
    owner = await resolve_owner(session, principal, body.owner_id, field="owner_id")
    now = utcnow()
    lead = Lead(
        id=new_id(),
        source=body.source,
        status=LeadStatus.NEW,
        name=name,
        phone=body.phone,
        email=body.email,
        company_name=clean_text(body.company_name),
        interest=body.interest,
        notes=body.notes,
        campaign_id=body.campaign_id,
        partner_id=body.partner_id,
        owner_id=owner.id,
        owner_name=owner.name,
        branch_code=owner.branch_code,
        region_code=owner.region_code,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(lead)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=lead.id,
        action="created",
        changes=creation_changes(lead_state(lead)),
    )
    await record_lead_event(session, "created", lead)
    return lead


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
        return lead_state(await register_lead(session, principal, body))

    return await create_once(
        session,
        principal,
        idempotency_key,
        body.model_dump(mode="json"),
        response,
        create=create,
        headers=_headers,
        flush=lambda: flush_or_conflict(session, ENTITY),
    )


@router.get("/leads/{lead_id}", response_model=LeadOut, responses=OPENAPI_PROBLEMS, summary="One lead")
async def get_lead(lead_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    lead = await get_visible(session, principal, Lead, lead_id, what=ENTITY)
    response.headers["ETag"] = etag(lead.version)
    return lead_state(lead)


@router.get(
    "/leads", response_model=Page[LeadOut], responses=OPENAPI_PROBLEMS, summary="Leads you can see, newest first"
)
async def list_leads(
    principal: CurrentPrincipal,
    session: Session,
    status: LeadStatus | None = None,
    source: LeadSource | None = None,
    interest: ProductLine | None = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    branch_code: Annotated[str | None, Query(max_length=32)] = None,
    phone: Annotated[str | None, Query(max_length=40, description="any Kazakhstan notation")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    require_personal_data_access(principal)
    stmt = select(Lead).where(visibility_clause(principal, Lead))
    for column, value in (
        (Lead.status, status),
        (Lead.source, source),
        (Lead.interest, interest),
        (Lead.owner_id, owner_id),
        (Lead.branch_code, branch_code),
        (Lead.phone, phone_filter(phone)),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    rows, next_cursor = await newest_first_page(session, stmt, Lead, limit, cursor)
    return {"items": [lead_state(lead) for lead in rows], "next_cursor": next_cursor}


# --- update / assign -----------------------------------------------------------------------------

UPDATABLE = ("status", "disqualify_reason", "name", "phone", "email", "company_name", "interest", "notes")
NOT_NULL = ("status", "name", "interest", "owner_id")


async def change_lead(session: AsyncSession, principal: Principal, lead: Lead, body: LeadUpdate) -> Lead:
    """Applies the fields sent to a writable lead (its version already checked), audited, with
    its crm.sales.lead.updated (or .assigned) event when anything changed."""
    sent = body.model_fields_set - {"version"}
    reject_nulls(body, NOT_NULL)
    if "name" in sent and not clean_text(body.name):
        raise field_problem("name", "must not be blank")
    if "status" in sent:
        check_lead_update(
            LeadStatus(lead.status),
            body.status,
            body.disqualify_reason if "disqualify_reason" in sent else lead.disqualify_reason,
        )
    if lead.status in (LeadStatus.CONVERTED, LeadStatus.DISQUALIFIED) and sent - {"owner_id", "notes", "status"}:
        raise conflict(
            f"lead {lead.id} is {lead.status}; only its notes and owner can change",
            errors=[
                {
                    "field": next(iter(sorted(sent - {"owner_id", "notes", "status"}))),
                    "message": f"the lead is {lead.status}",
                }
            ],
        )
    before = lead_state(lead)
    for field in UPDATABLE:
        if field in sent:
            value = getattr(body, field)
            setattr(lead, field, clean_text(value) if field in ("name", "company_name") else value)
    if lead.status != LeadStatus.DISQUALIFIED and "disqualify_reason" in sent and body.disqualify_reason:
        raise field_problem("disqualify_reason", "only a disqualified lead has a disqualify reason")
    assigned = False
    if "owner_id" in sent and body.owner_id != lead.owner_id:
        owner = await resolve_owner(session, principal, body.owner_id, field="owner_id")
        lead.owner_id, lead.owner_name = owner.id, owner.name
        lead.branch_code, lead.region_code = owner.branch_code, owner.region_code
        assigned = True
    changes = diff(before, lead_state(lead))
    if changes:
        mark_changed(lead)
        record_change(
            session,
            principal,
            entity_type=ENTITY,
            entity_id=lead.id,
            action="assigned" if assigned else "updated",
            changes=changes,
        )
        await record_lead_event(session, "assigned" if assigned else "updated", lead)
    return lead


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
    lead = await get_writable(session, principal, Lead, lead_id, what=ENTITY)
    check_version(ENTITY, lead.version, required_version(if_match, body.version, ENTITY))
    await change_lead(session, principal, lead, body)
    response.headers["ETag"] = etag(lead.version)
    return lead_state(lead)


# --- conversion ----------------------------------------------------------------------------------

CUSTOMER_CREATE = TypeAdapter(CustomerCreate)


def _customer_request(lead: Lead, raw: dict[str, Any]):
    """Validates the new customer's body, with the lead's phone, e-mail and branch as defaults;
    errors name the field under ``customer`` (e.g. customer.iin)."""
    defaults = {"phone": lead.phone, "email": lead.email, "branch_code": lead.branch_code}
    body = {k: v for k, v in defaults.items() if v is not None} | raw
    try:
        return CUSTOMER_CREATE.validate_python(body)
    except ValidationError as exc:
        raise RequestValidationError([_under_customer(err) for err in exc.errors(include_context=False)]) from None


def _under_customer(error: dict[str, Any]) -> dict[str, Any]:
    loc = list(error["loc"])
    if loc and loc[0] in ("individual", "business"):  # the union member's tag adds nothing for the client
        loc = loc[1:]
    return error | {"loc": ("body", "customer", *loc)}


async def _linked_customer(session: AsyncSession, principal: Principal, customer_id: str) -> Customer:
    customer = await customer_service.get_visible_customer(session, principal, customer_id, field="customer_id")
    if customer.status == CustomerStatus.MERGED:
        raise conflict(
            f"customer_id: customer {customer.id} was merged into {customer.merged_into_id}; link that one",
            merged_into_id=customer.merged_into_id,
            errors=[{"field": "customer_id", "message": "was merged into another customer"}],
        )
    return customer


async def convert(
    session: AsyncSession, principal: Principal, lead: Lead, body: LeadConvert
) -> tuple[Customer, bool, Opportunity]:
    """Converts a writable lead: links or registers the customer (a new one belongs to the lead's
    owner, as the opportunity does) and opens the opportunity, each audited with its events.
    Returns the customer, whether it was created, and the opportunity."""
    check_lead_convertible(LeadStatus(lead.status))
    if (body.customer_id is None) == (body.customer is None):
        raise field_problem(
            "customer_id", "send either customer_id (link an existing customer) or customer (register one)"
        )
    if body.customer_id is not None:
        customer = await _linked_customer(session, principal, body.customer_id)
        created = False
    else:
        customer = await customer_service.create_customer(
            session,
            principal,
            _customer_request(lead, body.customer),
            owner_id=lead.owner_id,
            owner_name=lead.owner_name,
        )
        created = True

    draft = body.opportunity
    opportunity = await create_opportunity_record(
        session,
        principal,
        customer=customer,
        lead_id=lead.id,
        name=clean_text(draft.name)
        or f"{ProductLine(lead.interest).name.replace('_', ' ').title()} for {_display_name(customer)}"[:200],
        product_line=lead.interest,
        stage=draft.stage,
        amount_tiyn=draft.amount_tiyn,
        probability=draft.probability,
        expected_close_date=draft.expected_close_date,
        owner_id=lead.owner_id,
        owner_name=lead.owner_name,
    )
    before = lead_state(lead)
    now = utcnow()
    lead.status = LeadStatus.CONVERTED
    lead.customer_id = customer.id
    lead.opportunity_id = opportunity.id
    lead.converted_at = now
    mark_changed(lead, now)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=lead.id,
        action="converted",
        changes=diff(before, lead_state(lead)),
    )
    await record_lead_event(session, "converted", lead)
    return customer, created, opportunity


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
        lead = await get_writable(session, principal, Lead, lead_id, what=ENTITY)
        if if_match is not None:
            check_version(ENTITY, lead.version, required_version(if_match, None, ENTITY))
        customer, created, opportunity = await convert(session, principal, lead, body)
        return {
            "lead": lead_state(lead),
            "customer": customer_service.customer_view(customer, principal),
            "customer_created": created,
            "opportunity": opportunity_state(opportunity),
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


def _display_name(customer: Customer) -> str:
    if customer.legal_name:
        return customer.legal_name
    return " ".join(p for p in (customer.first_name, customer.last_name) if p) or customer.id
