"""Opportunities (/api/v1/sales/opportunities): a deal with a customer moving through the
pipeline stages to won or lost. A won opportunity emits crm.sales.opportunity.won (the orders
service turns it into an order)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, BeforeValidator, Field, StrictInt
from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_shared.api import CurrentPrincipal, Session
from crm_shared.audit import BOOKKEEPING_FIELDS, creation_changes, diff, record_change
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
from crm_shared.domain import InvalidField
from crm_shared.errors import OPENAPI_PROBLEMS, conflict, field_problem, openapi_problems
from crm_shared.idempotency import IdempotencyKey, create_once
from crm_shared.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from crm_shared.records import get_visible, get_writable, mark_changed
from crm_shared.schemas import Strict

from .. import customer_service
from ..access import check_may_open_opportunity_for
from ..branch_directory import region_of_open_branch
from ..db.models import Customer
from ..db.pipeline_models import Opportunity, StaffMember
from ..domain.customers import CustomerStatus
from ..domain.pipeline import (
    CLOSED_STAGES,
    OPEN_STAGES,
    ProductLine,
    Stage,
    check_close_reason,
    check_stage_transition,
    clean_text,
    probability_for,
)
from ..events.publishers import opportunity_state, record_opportunity_event
from .pipeline_common import (
    active_staff,
    member_sees,
    newest_first_page,
    reject_nulls,
)

router = APIRouter(prefix="/api/v1/sales", tags=["opportunities"])

ENTITY = "opportunity"
OPPORTUNITIES_PATH = "/api/v1/sales/opportunities"
MAX_AMOUNT_TIYN = 10**15  # 10 trillion KZT: far above any real deal, far below BIGINT


def _tiyn(value: Any) -> Any:
    """Money is an integer number of tiyn: an integer, or a string of digits (for clients whose
    numbers are doubles); never a float, not even 100.0, and never a fraction."""
    if isinstance(value, bool):
        raise PydanticCustomError("tiyn", "must be an integer number of tiyn, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        raise PydanticCustomError("tiyn", "must be an integer number of tiyn (1 KZT = 100 tiyn), not a float")
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit():
            return int(text)
        if "." in text or "," in text:
            raise PydanticCustomError("tiyn", "must be a whole number of tiyn (1 KZT = 100 tiyn); no fractions")
        raise PydanticCustomError("tiyn", "must be an integer number of tiyn")
    raise PydanticCustomError("tiyn", "must be an integer number of tiyn")


AmountTiyn = Annotated[
    int,
    BeforeValidator(_tiyn),
    Field(ge=0, le=MAX_AMOUNT_TIYN, description="KZT in tiyn (1 KZT = 100 tiyn), an integer"),
]
Probability = Annotated[StrictInt, Field(ge=0, le=100, description="percent; default by stage")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(max_length=4000)]


class OpportunityCreate(Strict):
    customer_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: Name
    product_line: ProductLine | None = None
    stage: Literal["prospecting", "qualification", "proposal", "negotiation"] = "prospecting"
    amount_tiyn: AmountTiyn = 0
    probability: Probability | None = None
    expected_close_date: date | None = None
    owner_id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="a staff member in your scope who can see the customer; default you"
    )


class OpportunityUpdate(Strict):
    """Only the fields sent change. Moving to closed_won/closed_lost closes the opportunity
    (close_reason required for lost); closed opportunities do not change any more."""

    version: StrictInt | None = Field(None, description="the version read; alternative to If-Match")
    name: Name | None = None
    product_line: ProductLine | None = None
    stage: Stage | None = None
    amount_tiyn: AmountTiyn | None = None
    probability: Probability | None = None
    expected_close_date: date | None = None
    close_reason: Reason | None = None


class OpportunityOut(BaseModel):
    id: str
    customer_id: str
    lead_id: str | None
    name: str
    product_line: ProductLine | None
    stage: Stage
    probability: int
    amount_tiyn: int
    currency: Literal["KZT"]
    expected_close_date: date | None
    close_reason: str | None
    closed_at: datetime | None
    owner_id: str
    owner_name: str
    branch_code: str
    region_code: str
    version: int
    created_at: datetime
    updated_at: datetime


def opportunity_url(opportunity_id: str) -> str:
    return f"{OPPORTUNITIES_PATH}/{opportunity_id}"


def _headers(view: dict[str, Any]) -> dict[str, str]:
    return version_headers(view["version"], opportunity_url(view["id"]))


async def create_opportunity_record(
    session: AsyncSession,
    principal: Principal,
    *,
    customer: Customer,
    name: str,
    stage: Stage | str,
    amount_tiyn: int,
    probability: int | None,
    expected_close_date: date | None,
    owner_id: str,
    owner_name: str,
    product_line: str | None = None,
    lead_id: str | None = None,
) -> Opportunity:
    """Opens an opportunity on ``customer`` (placed in the customer's branch), audited, with its
    crm.sales.opportunity.created event; the caller's transaction commits it."""
    stage = Stage(stage)
    if stage in CLOSED_STAGES:
        raise InvalidField("stage", f"an opportunity opens in an open stage ({', '.join(OPEN_STAGES)})")
    await region_of_open_branch(
        session,
        customer.branch_code,
        field="customer_id",
        whose="no opportunity can be opened in this customer's branch",
    )
    now = utcnow()
    opportunity = Opportunity(
        id=new_id(),
        customer_id=customer.id,
        lead_id=lead_id,
        name=name,
        product_line=product_line,
        stage=stage,
        probability=probability_for(stage, probability),
        amount_tiyn=amount_tiyn,
        expected_close_date=expected_close_date,
        owner_id=owner_id,
        owner_name=owner_name,
        branch_code=customer.branch_code,
        region_code=customer.region_code,
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(opportunity)
    record_change(
        session,
        principal,
        entity_type=ENTITY,
        entity_id=opportunity.id,
        action="created",
        changes=creation_changes(opportunity_state(opportunity), (*BOOKKEEPING_FIELDS, "currency")),
    )
    await record_opportunity_event(session, "created", opportunity)
    return opportunity


async def _opportunity_customer(session: AsyncSession, principal: Principal, customer_id: str) -> Customer:
    customer = await customer_service.get_visible_customer(session, principal, customer_id, field="customer_id")
    if customer.status == CustomerStatus.MERGED:
        raise conflict(
            f"customer_id: customer {customer.id} was merged into {customer.merged_into_id}",
            merged_into_id=customer.merged_into_id,
            errors=[{"field": "customer_id", "message": "was merged into another customer"}],
        )
    check_may_open_opportunity_for(principal, customer.region_code, customer.branch_code)
    return customer


async def _owner_for(
    session: AsyncSession, principal: Principal, owner_id: str | None, customer: Customer
) -> StaffMember | None:
    """None: the caller owns it. Otherwise a staff member in the caller's scope who sees the customer."""
    if owner_id is None or owner_id == principal.subject:
        return None
    member = await active_staff(session, principal, owner_id, field="owner_id")
    if not member_sees(member, customer.region_code, customer.branch_code):
        raise InvalidField("owner_id", "this staff member cannot see the customer (another branch or region)")
    return member


async def open_opportunity(session: AsyncSession, principal: Principal, body: OpportunityCreate) -> Opportunity:
    """A new opportunity with a customer the caller may change, owned by the caller or by a staff
    member in the caller's scope who sees the customer; audited, with its event."""
    require_personal_data_access(principal)
    require_writer(principal)
    name = clean_text(body.name)
    if not name:
        raise field_problem("name", "must not be blank")
    customer = await _opportunity_customer(session, principal, body.customer_id)
    owner = await _owner_for(session, principal, body.owner_id, customer)
    return await create_opportunity_record(
        session,
        principal,
        customer=customer,
        name=name,
        stage=body.stage,
        amount_tiyn=body.amount_tiyn,
        probability=body.probability,
        expected_close_date=body.expected_close_date,
        product_line=body.product_line,
        owner_id=owner.id if owner else principal.subject,
        owner_name=(owner.full_name or owner.username) if owner else principal.username,
    )


UPDATABLE = ("name", "product_line", "amount_tiyn", "expected_close_date")
NOT_NULL = ("name", "stage", "amount_tiyn")


async def change_opportunity(
    session: AsyncSession, principal: Principal, opportunity: Opportunity, body: OpportunityUpdate
) -> Opportunity:
    """Applies the fields sent to a writable opportunity (its version already checked): a stage
    move, a win or a loss (with its reason), or details; audited, with its event when anything
    changed (crm.sales.opportunity.won, .lost or .updated)."""
    reject_nulls(body, NOT_NULL)
    sent = body.model_fields_set - {"version"}
    current = Stage(opportunity.stage)
    if current in CLOSED_STAGES and sent:
        raise conflict(
            f"opportunity {opportunity.id} is {current}; a closed opportunity does not change",
            errors=[{"field": "stage", "message": f"the opportunity is {current}"}],
        )
    if "name" in sent and not clean_text(body.name):
        raise field_problem("name", "must not be blank")
    target = body.stage if "stage" in sent else current
    check_stage_transition(current, target)
    close_reason = clean_text(body.close_reason) if "close_reason" in sent else None
    if close_reason and target not in CLOSED_STAGES:
        raise field_problem("close_reason", "only a won or lost opportunity has a close reason")
    check_close_reason(target, close_reason)

    before = opportunity_state(opportunity)
    for field in UPDATABLE:
        if field in sent:
            value = getattr(body, field)
            setattr(opportunity, field, clean_text(value) if field == "name" else value)
    if "probability" in sent or target != current:
        requested = body.probability if "probability" in sent else None
        opportunity.probability = probability_for(target, requested)
    now = utcnow()
    if target != current:
        opportunity.stage = target
        if target in CLOSED_STAGES:
            opportunity.closed_at = now
            opportunity.close_reason = close_reason
    changes = diff(before, opportunity_state(opportunity))
    if changes:
        action = (
            {Stage.CLOSED_WON: "won", Stage.CLOSED_LOST: "lost"}.get(target, "updated")
            if target != current
            else "updated"
        )
        mark_changed(opportunity, now)
        record_change(session, principal, entity_type=ENTITY, entity_id=opportunity.id, action=action, changes=changes)
        await record_opportunity_event(session, action, opportunity)
    return opportunity


# --- endpoints -----------------------------------------------------------------------------------


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
        return opportunity_state(await open_opportunity(session, principal, body))

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


@router.get(
    "/opportunities/{opportunity_id}",
    response_model=OpportunityOut,
    responses=OPENAPI_PROBLEMS,
    summary="One opportunity",
)
async def get_opportunity(opportunity_id: str, principal: CurrentPrincipal, session: Session, response: Response):
    opportunity = await get_visible(session, principal, Opportunity, opportunity_id, what=ENTITY)
    response.headers["ETag"] = etag(opportunity.version)
    return opportunity_state(opportunity)


@router.get(
    "/opportunities",
    response_model=Page[OpportunityOut],
    responses=OPENAPI_PROBLEMS,
    summary="Opportunities you can see, newest first",
)
async def list_opportunities(
    principal: CurrentPrincipal,
    session: Session,
    stage: Stage | None = None,
    state: Annotated[Literal["open", "closed"] | None, Query(description="open or closed stages only")] = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    owner_id: Annotated[str | None, Query(max_length=200)] = None,
    branch_code: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
):
    require_personal_data_access(principal)
    stmt = select(Opportunity).where(visibility_clause(principal, Opportunity))
    for column, value in (
        (Opportunity.stage, stage),
        (Opportunity.customer_id, customer_id),
        (Opportunity.owner_id, owner_id),
        (Opportunity.branch_code, branch_code),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if state is not None:
        stmt = stmt.where(Opportunity.stage.in_([str(s) for s in (OPEN_STAGES if state == "open" else CLOSED_STAGES)]))
    rows, next_cursor = await newest_first_page(session, stmt, Opportunity, limit, cursor)
    return {"items": [opportunity_state(o) for o in rows], "next_cursor": next_cursor}


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
    opportunity = await get_writable(session, principal, Opportunity, opportunity_id, what=ENTITY)
    check_version(ENTITY, opportunity.version, required_version(if_match, body.version, ENTITY))
    await change_opportunity(session, principal, opportunity, body)
    response.headers["ETag"] = etag(opportunity.version)
    return opportunity_state(opportunity)
